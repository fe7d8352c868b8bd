"""Vanishing and exploding: the size of every step's piece, and clipping.

Download trace.json from the lesson's grad-flow widget (or from the cliff
widget), then run
    python3 vanishing-and-exploding.py trace.json [threshold]
It rebuilds the RNN from the trace (tanh, ReLU or sigmoid cell), runs it in a
loop keeping every dL/dh_t, and checks: the per-step pieces of dL/dW_hh (eq. 4
of Pascanu et al. 2013) add up to .grad, which equals the trace's; no
||dL/dh_t|| exceeds the bound (gamma * lambda_1)^(T-t) ||dL/dh_T||; and
torch.nn.utils.clip_grad_norm_ (threshold 1 unless given) scales the gradient
to the threshold without turning it. It prints the pieces' sizes relative to
the last step's.
"""
# test: grad-flow trace.json 0
# test: grad-flow trace.json 10 {"lambda1": 4, "act": "sigmoid", "T": 40, "seed": 3}
# test: cliff trace.json 58
import json, sys
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
trace = json.load(open(sys.argv[1]))
T = lambda t: torch.tensor(t["data"], dtype=torch.float64).reshape(t["shape"])
L = {l["type"]: l for l in trace["layers"]}
cell = L.get("rnn") or L["elman_rnn"]
act = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}[cell["attrs"].get("nonlinearity", "tanh")]
gamma = 0.25 if act is torch.sigmoid else 1.0               # the activation's largest slope
x, y = T(trace["input"]), T(trace["target"])
if "one_hot" in L:
    x = F.one_hot(x.long(), L["one_hot"]["attrs"]["num_classes"]).double()
W = {n: T(v).requires_grad_() for n, v in cell["params"].items()}
head = lambda h: F.linear(h, T(L["linear"]["params"]["weight"]), T(L["linear"]["params"]["bias"])) if "linear" in L else h
loss = lambda z: F.cross_entropy(z, y.long()) if trace["loss"]["type"] == "cross_entropy" else F.mse_loss(z, y)

h, hs = torch.zeros(x.shape[0], cell["attrs"]["hidden_size"]), []
for t in range(x.shape[1]):                                 # one cell, the same W_hh at every step
    h = act(x[:, t] @ W["weight_ih"].T + W["bias_ih"] + h @ W["weight_hh"].T + W["bias_hh"])
    h.retain_grad()
    hs.append(h)
loss(head(h)).backward()

# in-code:begin sizes
prev = [torch.zeros_like(hs[0])] + hs[:-1]
def slope(h):               # the activation's derivative, from h
    if act is torch.tanh:
        return 1 - h ** 2
    return h * (1 - h) if act is torch.sigmoid else (h > 0).double()
# step t's piece of dL/dW_hh
pieces = [(h.grad * slope(h)).T @ p for h, p in zip(hs, prev)]
# its size relative to the last step's: tiny far back
last = pieces[-1].norm().item()
ratio = [p.norm().item() / last for p in pieces]
# lambda_1: the largest singular value of W_hh
lam = torch.linalg.matrix_norm(W["weight_hh"].detach(), 2).item()
gn = [h.grad.norm().item() for h in hs]   # ||dL/dh_t||
n = len(hs)
bound = [(gamma * lam) ** (n - 1 - t) * gn[-1] for t in range(n)]
bound_ok = all(g <= b * (1 + 1e-9) for g, b in zip(gn, bound))
# in-code:end sizes
g = W["weight_hh"].grad
err = max((sum(pieces) - g).abs().max().item(), max((W[n].grad - T(cell["grads"][n])).abs().max().item() for n in W))
ok = err <= 1e-12 * max(1.0, g.abs().max().item()) and bound_ok

# in-code:begin clip
# what the widget trains: the cliff's w and b, or the cell
params = list(W.values())
if trace["model"] == "cliff":
    params = [W["weight_hh"], W["weight_ih"]]
before = torch.cat([p.grad.flatten() for p in params])
threshold = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
# returns ||g||; over the threshold, every .grad is rescaled
# in place by threshold / (||g|| + 1e-6)
norm = torch.nn.utils.clip_grad_norm_(params, threshold)
after = torch.cat([p.grad.flatten() for p in params])
# in-code:end clip
# (the cliff trains w = W_hh and b = W_ih[:, 1]; W_ih[:, 0] is frozen, its gradient 0 up to rounding)
ok = ok and after.norm().item() <= threshold * (1 + 1e-9) and F.cosine_similarity(after, before, 0).item() > 1 - 1e-12
far = f"20 steps back {ratio[-21]:.1e}, " if n > 20 else ""
print(f"{n} steps, lambda_1 {lam:.3g}: |piece|/|last piece| {far}oldest nonzero {ratio[1]:.1e}; bound holds: {bound_ok}; "
      f"sum of pieces vs .grad vs trace <= {err:.1e}; ||g|| {norm.item():.3g} clipped to {after.norm().item():.3g}, same direction")
sys.exit(0 if ok else 1)
