"""A character model: check the per-character ledger of W_hh with PyTorch.

Download the step trace (trace.json) and the frame (.json) from the lesson's
widget (the weights of the step on screen and the batch of the next training
step: 16 windows of text), then run
    python3 a-character-model.py trace.json char-model.json
It loads the trace into nn.GRU (or nn.LSTM / nn.RNN, whichever cell the
widget trained) and backpropagates the loss of every next-character guess;
then it runs the same cell in a loop over the characters with a copy of its
own of weight_hh at every step, and checks that the copies' gradients (one
per character) add up to weight_hh.grad, and that this equals the trace's.
From the page it checks the parameter counts (static.weights, cellWeights).
The page's reach (data.reach: each step's piece for one held-out prediction)
is not comparable: the frame names its characters as text (static.context)
but not the 51st one read before them nor the vocabulary's numbering, and
the trace holds the training batch instead.
"""
# test: char-model trace.json+json 20
# test: char-model trace.json+json 20 {"cell": "lstm"}
# test: char-model trace.json+json 20 {"cell": "rnn"}
import json, sys
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
trace, page = (json.load(open(f)) for f in sys.argv[1:3])
T = lambda t: torch.tensor(t["data"], dtype=torch.float64).reshape(t["shape"])
L = {l["name"]: l for l in trace["layers"]}
kind, V = L["cell"]["type"], L["onehot"]["attrs"]["num_classes"]
P = {k: T(v) for k, v in L["cell"]["params"].items()}
W, b = T(L["out"]["params"]["weight"]), T(L["out"]["params"]["bias"])
x = F.one_hot(T(trace["input"]).long(), V).double()   # [B, T, V]
y = T(trace["target"]).long()
loss = lambda hs: F.cross_entropy(F.linear(hs, W, b).flatten(0, 1), y.flatten())
B, steps, H = x.shape[0], x.shape[1], P["weight_hh"].shape[1]


def step(xt, h, c, whh):
    """One use of the cell, with weight_hh = whh (torch's gate orders)."""
    gi, gh = xt @ P["weight_ih"].T + P["bias_ih"], h @ whh.T + P["bias_hh"]
    if kind == "rnn":
        return torch.tanh(gi + gh), c
    if kind == "gru":
        (ir, iz, i_n), (hr, hz, h_n) = gi.chunk(3, 1), gh.chunk(3, 1)
        r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
        return (1 - z) * torch.tanh(i_n + r * h_n) + z * h, c
    i, f, g, o = (gi + gh).chunk(4, 1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


# in-code:begin per-step
# One cell for every character (nn.GRU, nn.LSTM or nn.RNN).
Cell = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind]
cell = Cell(V, H, batch_first=True)
with torch.no_grad():
    for k, v in P.items():
        getattr(cell, k + "_l0").copy_(v)
hs, _ = cell(x)
loss(hs).backward()  # weight_hh_l0.grad: sum over the characters

# The same cell in a loop, a copy of W_hh for each character.
whh = P["weight_hh"].repeat(steps, 1, 1).requires_grad_()
h = c = torch.zeros(B, H)
outs = []
for t in range(steps):
    h, c = step(x[:, t], h, c, whh[t])
    outs.append(h)
loss(torch.stack(outs, dim=1)).backward()  # whh.grad[t]: char t's
total = whh.grad.sum(0)
# in-code:end per-step

grad, st = cell.weight_hh_l0.grad, page["static"]
size = sum(p.numel() for p in cell.parameters())
pairs = {"static.weights, cellWeights": ([st["weights"], st["cellWeights"]], torch.tensor([size + W.numel() + b.numel(), size])),
         "sum = .grad": (total, grad), ".grad = trace": (L["cell"]["grads"]["weight_hh"]["data"], grad)}
def rel(a, b):  # per entry, relative to the entry (or to 1e-3 of the largest, for tiny ones)
    a, b = torch.as_tensor(a, dtype=torch.float64).flatten(), b.detach().double().flatten()
    return ((a - b).abs() / b.abs().clamp(min=1e-3 * b.abs().max().item() + 1e-300)).max().item()
rel = {k: rel(a, b) for k, (a, b) in pairs.items()}
bad = [k for k, e in rel.items() if not e <= 1e-9]
print(f"{kind}, {B} windows of {steps} characters; page's {', '.join(pairs)} vs PyTorch: max relative error {max(rel.values()):.1e}" + (f"; MISMATCH {bad}" if bad else ""))
sys.exit(1 if bad else 0)
