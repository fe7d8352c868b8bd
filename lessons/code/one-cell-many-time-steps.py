"""One cell, many time steps: nn.RNN is one cell in a loop.

Download the step trace (trace.json) and the frame (.json) from the lesson's
widget (the word and the step on screen), then run
    python3 one-cell-many-time-steps.py trace.json rnn-unroll.json
It loads the trace's weights into nn.RNN and into one nn.RNNCell, runs the
cell in a loop over the word, and checks the page's uses of the cell, step by
step, against the loop: every hidden state so far (data.hidden), the step on
screen's W_ih x_t, W_hh h_t-1, their sum and h_t (data.cur), and the counts
(data.counts: params, uses, unshared); the loop against nn.RNN. Then it gives
every step a copy of its own of the weights (the unshared RNN); each copy's
.grad is that step's contribution, and they add up to the shared cell's
.grad, which equals the trace's. (The page shows this lesson's forward pass
only, so the per-step gradients are checked against the trace.)
"""
# test: rnn-unroll trace.json+json 5
# test: rnn-unroll trace.json+json 3 {"word": "sequence", "T": 8, "hidden": 5, "seed": 7}
import json, sys
import torch
import torch.nn.functional as F
from torch import nn

torch.set_default_dtype(torch.float64)
trace, page = (json.load(open(f)) for f in sys.argv[1:3])
T = lambda t: torch.tensor(t["data"], dtype=torch.float64).reshape(t["shape"])
layer = trace["layers"][1]
I, H = layer["attrs"]["input_size"], layer["attrs"]["hidden_size"]
x = F.one_hot(T(trace["input"]).long(), I).double()        # [1, steps, 26]: one letter per step
target, steps = T(trace["target"]), x.shape[1]
names = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]

# in-code:begin loop
rnn, cell = nn.RNN(I, H, batch_first=True), nn.RNNCell(I, H)
for n in names:             # the same four tensors in both
    getattr(rnn, n + "_l0").data = getattr(cell, n).data = T(layer["params"][n])
hs, _ = rnn(x)                           # [1, steps, H]
h, loop = torch.zeros(1, H), [torch.zeros(1, H)]
for t in range(steps):      # one cell, used at every step
    h = cell(x[:, t], h)
    loop.append(h)
F.mse_loss(torch.stack(loop[1:], 1), target).backward()  # cell's .grad: every step's use, added up

# the unshared RNN: step t uses copies of its own, w_ih[t], w_hh[t], ...
w_ih, w_hh, b_ih, b_hh = copies = [getattr(cell, n).detach().expand(steps, *getattr(cell, n).shape).clone().requires_grad_() for n in names]
h, out = torch.zeros(1, H), []
for t in range(steps):
    h = torch.tanh(x[:, t] @ w_ih[t].T + b_ih[t] + h @ w_hh[t].T + b_hh[t])
    out.append(h)
F.mse_loss(torch.stack(out, 1), target).backward()      # copies[i].grad[t]: step t's contribution
# in-code:end loop

d, n = page["data"], page["step"]
c, shared = d["counts"], sum(p.numel() for p in cell.parameters())
pairs = {"data.hidden": (d["hidden"], torch.cat(loop[1:n + 1])), "loop = nn.RNN": (torch.cat(loop[1:]), hs[0]),
         "data.counts": ([c["params"], c["uses"], c["unshared"]], torch.tensor([shared, c["T"] * H * (I + H), c["T"] * shared]))}
if n:
    W_ih, W_hh, b = cell.weight_ih.detach(), cell.weight_hh.detach(), cell.bias_ih + cell.bias_hh
    wx, wh = x[0, n - 1] @ W_ih.T, loop[n - 1][0] @ W_hh.T
    pairs["data.cur (wx, wh, a, h)"] = ([d["cur"][k] for k in ("wx", "wh", "a", "h")], torch.stack([wx, wh, wx + wh + b, loop[n][0]]))
g = torch.cat([getattr(cell, nm).grad.flatten() for nm in names])
pairs["sum = .grad"] = (torch.cat([cp.grad.sum(0).flatten() for cp in copies]), g)
pairs[".grad = trace"] = ([v for nm in names for v in layer["grads"][nm]["data"]], g)
def rel(a, b):  # per entry, relative to the entry (or to 1e-3 of the largest, for tiny ones)
    a, b = torch.as_tensor(a, dtype=torch.float64).flatten(), b.detach().flatten()
    return ((a - b).abs() / b.abs().clamp(min=1e-3 * b.abs().max().item() + 1e-300)).max().item()
rel = {k: rel(a, b) for k, (a, b) in pairs.items()}
bad = [k for k, e in rel.items() if not e <= 1e-9]
print(f"{steps} steps, step {n}: page's {', '.join(pairs)} vs PyTorch: max relative error {max(rel.values()):.1e}" + (f"; MISMATCH {bad}" if bad else ""))
sys.exit(1 if bad else 0)
