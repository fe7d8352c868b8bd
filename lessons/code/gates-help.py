"""Gates help: check the LSTM's per-step ledger of W_hh with PyTorch.

Download trace.json from the lesson's widget (the race's LSTM with the
weights of the step on screen, on one probe sequence), then run
    python3 gates-help.py trace.json
It loads the trace into nn.LSTM (one cell, used at every step) and
backpropagates; then it runs the same cell in a loop with a copy of its own
of weight_hh at every step, and checks that the copies' gradients (the
page's per-step contributions) add up to weight_hh.grad, and that this
equals the trace's gradient.
"""
# test: gate-race trace.json 40
# test: gate-race trace.json 40 {"task": "remember-first", "T": 10}
import json, sys
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
trace = json.load(open(sys.argv[1]))
T = lambda t: torch.tensor(t["data"]).reshape(t["shape"])
L = {l["name"]: l for l in trace["layers"]}
P = {k: T(v) for k, v in L["cell"]["params"].items()}
out = {k: T(v) for k, v in L["out"]["params"].items()}
x, y = T(trace["input"]), T(trace["target"])
if "onehot" in L:  # remember-the-first-symbol reads tokens
    x = F.one_hot(x.long(), L["onehot"]["attrs"]["num_classes"]).double()
    loss = lambda h: F.cross_entropy(F.linear(h, out["weight"], out["bias"]), y.long())
else:              # the adding problem reads (value, marker) pairs
    loss = lambda h: F.mse_loss(F.linear(h, out["weight"], out["bias"]), y)
B, steps, I = x.shape
H = P["weight_hh"].shape[1]

# in-code:begin per-step
# One cell, used at every step: nn.LSTM with the trace's weights.
lstm = nn.LSTM(I, H, batch_first=True)
with torch.no_grad():
    for k, v in P.items():
        getattr(lstm, k + "_l0").copy_(v)
hs, _ = lstm(x)
loss(hs[:, -1]).backward()  # weight_hh_l0.grad: sum over the steps

# The same cell in a loop (gates i, f, g, o), a W_hh copy per step.
whh = P["weight_hh"].repeat(steps, 1, 1).requires_grad_()
h = c = torch.zeros(B, H)
for t in range(steps):
    a = x[:, t] @ P["weight_ih"].T + P["bias_ih"]
    a = a + h @ whh[t].T + P["bias_hh"]
    i, f, g, o = a.chunk(4, dim=1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(c)
loss(h).backward()  # whh.grad[t]: step t's contribution
total = whh.grad.sum(0)
# in-code:end per-step

grad = lstm.weight_hh_l0.grad
want = T(L["cell"]["grads"]["weight_hh"])
err = max((total - grad).abs().max().item(), (grad - want).abs().max().item()) / grad.abs().max().item()
norms = whh.grad.flatten(1).norm(dim=1)
print(f"{steps} steps; |sum of contributions - .grad|, |.grad - trace| <= {err:.1e} of max|.grad|; "
      f"|step 1's| / |step {steps - 1}'s| = {norms[1] / norms[-1]:.2g} (step 0 reads h0 = 0)")
sys.exit(0 if err <= 1e-9 else 1)
