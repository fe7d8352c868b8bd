"""One cell, many time steps: nn.RNN is one cell in a loop.

Download trace.json from the lesson's widget (the cell on the word on
screen), then run
    python3 one-cell-many-time-steps.py trace.json
It loads the trace's weights into nn.RNN and into one nn.RNNCell, runs the
cell in a loop over the word, and checks that the loop computes exactly
nn.RNN's hidden states: the same four tensors at every step. Then it gives
every step a copy of its own of the weights (the unshared RNN: T times the
parameters); each copy's .grad is that step's contribution, and they add up
to the shared cell's .grad, which equals the trace's.
"""
# test: rnn-unroll trace.json 5
# test: rnn-unroll trace.json 3 {"word": "sequence", "T": 8, "hidden": 5, "seed": 7}
import json, sys
import torch
import torch.nn.functional as F
from torch import nn

torch.set_default_dtype(torch.float64)
trace = json.load(open(sys.argv[1]))
T = lambda t: torch.tensor(t["data"], dtype=torch.float64).reshape(t["shape"])
layer = trace["layers"][1]
I, H = layer["attrs"]["input_size"], layer["attrs"]["hidden_size"]
x = F.one_hot(T(trace["input"]).long(), I).double()        # [1, steps, 26]: one letter per step
target, steps = T(trace["target"]), x.shape[1]
names = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]

# in-code:begin loop
rnn, cell = nn.RNN(I, H, batch_first=True), nn.RNNCell(I, H)
for n in names:             # the same four tensors in both
    w = T(layer["params"][n])
    getattr(rnn, n + "_l0").data = getattr(cell, n).data = w
hs, _ = rnn(x)                           # [1, steps, H]
h, loop = torch.zeros(1, H), []
for t in range(steps):      # one cell, used at every step
    h = cell(x[:, t], h)
    loop.append(h)
# cell.weight_hh.grad: every step's use, added up
F.mse_loss(torch.stack(loop, 1), target).backward()

# the unshared RNN: step t uses copies[...][t], nothing shared
copies = []
for n in names:             # steps copies of each tensor
    w = getattr(cell, n).detach()
    copies.append(w.repeat(steps, *[1] * w.dim()).requires_grad_())
w_ih, w_hh, b_ih, b_hh = copies
h, out = torch.zeros(1, H), []
for t in range(steps):
    a = x[:, t] @ w_ih[t].T + b_ih[t] + h @ w_hh[t].T + b_hh[t]
    h = torch.tanh(a)
    out.append(h)
# copies[i].grad[t]: step t's contribution
F.mse_loss(torch.stack(out, 1), target).backward()
# in-code:end loop

same = (torch.stack(loop, 1) - hs).abs().max().item()
err = max(max((c.grad.sum(0) - getattr(cell, n).grad).abs().max().item(),
              (getattr(cell, n).grad - T(layer["grads"][n])).abs().max().item()) for c, n in zip(copies, names))
shared, unshared = sum(p.numel() for p in cell.parameters()), sum(c.numel() for c in copies)
print(f"{steps} steps: loop vs nn.RNN <= {same:.1e}; {shared} shared parameters vs {unshared} unshared; "
      f"|sum of per-step contributions - .grad|, |.grad - trace| <= {err:.1e}")
sys.exit(0 if same <= 1e-15 and err <= 1e-12 and unshared == steps * shared else 1)
