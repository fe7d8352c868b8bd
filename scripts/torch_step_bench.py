"""PyTorch reference for the engine step benchmarks (docs/perf.md).

Times one training step (forward + backward + SGD update) of the four models
named in the engine benchmarks, in float64 on ONE thread, so they can be
compared side by side with `go test ./engine -bench Step -cpu 1`.

    /usr/bin/python3 scripts/torch_step_bench.py [--reps 200]

Needs Debian's python3-torch (1.13) and libopenblas0-openmp (apt-get install python3-torch
libopenblas0-openmp); they install into the system /usr/bin/python3.
"""
import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
torch.set_default_dtype(torch.float64)
torch.manual_seed(1)


def cnn():
    m = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(784, 10))
    x = torch.rand(32, 1, 28, 28)
    y = torch.randint(0, 10, (32,))
    return m, lambda: F.cross_entropy(m(x), y)


class Seq(nn.Module):
    def __init__(self, cell):
        super().__init__()
        self.cell = cell(32, 64, batch_first=True)
        self.out = nn.Linear(64, 32)

    def forward(self, tokens):
        h, _ = self.cell(F.one_hot(tokens, 32).to(torch.float64))
        return self.out(h)


def seq(cell):
    m = Seq(cell)
    x = torch.randint(0, 32, (16, 32))
    y = torch.randint(0, 32, (16, 32))
    return m, lambda: F.cross_entropy(m(x).reshape(-1, 32), y.reshape(-1))


class Block(nn.Module):
    """Pre-norm transformer block as in the trace format."""

    def __init__(self, d, h, dff):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, h, batch_first=True)
        self.ff1, self.ff2 = nn.Linear(d, dff), nn.Linear(dff, d)

    def forward(self, x):
        a = self.ln1(x)
        x = x + self.attn(a, a, a, need_weights=False)[0]
        return x + self.ff2(F.relu(self.ff1(self.ln2(x))))


class Attn(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(16, 32)
        t = torch.arange(16).unsqueeze(1)
        div = torch.pow(10000.0, torch.arange(0, 32, 2) / 32)
        pe = torch.zeros(16, 32)
        pe[:, 0::2], pe[:, 1::2] = torch.sin(t / div), torch.cos(t / div)
        self.register_buffer("pe", pe)
        self.block = Block(32, 2, 64)
        self.out = nn.Linear(32, 16)

    def forward(self, tokens):
        return self.out(self.block(self.embed(tokens) + self.pe))


def attention():
    m = Attn()
    x = torch.randint(0, 16, (16, 16))
    y = torch.randint(0, 16, (16, 16))
    return m, lambda: F.cross_entropy(m(x).reshape(-1, 16), y.reshape(-1))


def time_step(build, reps):
    model, loss_fn = build()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)

    def step():
        opt.zero_grad()
        loss_fn().backward()
        opt.step()

    for _ in range(10):
        step()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=200)
    args = ap.parse_args()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, float64")
    for name, build in [("CNN", cnn), ("RNN", lambda: seq(nn.RNN)),
                        ("LSTM", lambda: seq(nn.LSTM)), ("GRU", lambda: seq(nn.GRU)),
                        ("Attention", attention)]:
        print(f"{name:10s} median {time_step(build, args.reps) * 1e3:8.3f} ms/step")


if __name__ == "__main__":
    main()
