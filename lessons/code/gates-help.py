"""Gates help: check the LSTM's per-step ledger of W_hh with PyTorch.

Download the step trace and the JSON data from the lesson's widget (the pass
the LSTM's profile on the page measured: the whole probe batch, with the
weights of the step the profile was measured at), then run
    python3 gates-help.py TRACE.json DATA.json
It loads the trace into nn.LSTM (one cell, used at every step) and
backpropagates; then it runs the same cell in a loop with a copy of its own
of weight_hh at every step: copy t's .grad is step t's contribution. The
copies add up to weight_hh.grad, which equals the trace's gradient, and the
page's LSTM profile (data.profiles[1]: every step's contribution size, last
step first) is checked step by step against the copies' .grad norms. The
RNN's and GRU's profiles are not in the trace.
"""
# test: gate-race trace.json+json 45
# test: gate-race trace.json+json 40 {"batch": 1}
# test: gate-race trace.json+json 40 {"task": "remember-first", "T": 10, "batch": 1}
import json, sys
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
trace, page = (json.load(open(f)) for f in sys.argv[1:3])
T = lambda t: torch.tensor(t["data"], dtype=torch.float64).reshape(t["shape"])
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

grad, d = lstm.weight_hh_l0.grad, page["data"]
pairs = {"sum = .grad": (total, grad), ".grad = trace": (L["cell"]["grads"]["weight_hh"]["data"], grad)}
norms = whh.grad.flatten(1).norm(dim=1)
pairs["data.profiles[1]"] = (d["profiles"][1], norms.flip(0)[:-1])   # last step first; step 0's (zero) left out
def rel(a, b, floor):  # per entry, relative to the entry (or to floor * the largest, for tiny ones)
    a, b = torch.as_tensor(a, dtype=torch.float64).flatten(), b.detach().flatten()
    return ((a - b).abs() / b.abs().clamp(min=floor * b.abs().max().item() + 1e-300)).max().item()
# the profile's far steps are tiny, and the point: compare each to itself
rel = {k: rel(a, b, 0 if k.startswith("data.") else 1e-3) for k, (a, b) in pairs.items()}
bad = [k for k, e in rel.items() if not e <= 1e-9]
print(f"{steps} steps, a probe batch of {B} (profile of step {d['profileStep']}); |step 1's| / |step {steps - 1}'s| = {norms[1] / norms[-1]:.2g} (step 0 reads h0 = 0); "
      f"page's {', '.join(pairs)} vs PyTorch: max relative error {max(rel.values()):.1e}" + (f"; MISMATCH {bad}" if bad else ""))
sys.exit(1 if bad else 0)
