"""Vanishing and exploding: the size of every step's piece, and clipping.

Download the step trace and the JSON data from the grad-flow widget (or the
cliff widget), then run  python3 vanishing-and-exploding.py TRACE.json DATA.json
It rebuilds the RNN from the trace, keeps every dL/dh_t and computes every
step's piece of dL/dW_hh (Pascanu et al. 2013, eq. 4). Grad-flow page: it
checks, step by step, every piece's size (data.contrib), ||dL/dh_t||
(data.hgrad) and its bound (gamma lambda_1)^(T-t) ||dL/dh_T|| (data.hbound),
the oldest-to-last ratio, lambda_1, rho and the loss. Cliff page (no per-step
ledger): the current point's loss and ||g|| (data.paths[].cur), and that
clip_grad_norm_ scales g to the threshold, unturned, when the page clipped.
Both: the pieces add up to .grad, which equals the trace's.
"""
# test: grad-flow trace.json+json 0
# test: grad-flow trace.json+json 10 {"lambda1": 4, "act": "sigmoid", "T": 40, "seed": 3}
# test: cliff trace.json+json 58
import json, sys
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
trace, page = (json.load(open(f)) for f in sys.argv[1:3])
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
lossval = loss(head(h))
lossval.backward()

# in-code:begin sizes
prev = [torch.zeros_like(hs[0])] + hs[:-1]
# the activation's derivative, from h
slope = {torch.tanh: lambda h: 1 - h ** 2, torch.sigmoid: lambda h: h * (1 - h), torch.relu: lambda h: (h > 0).double()}[act]
# step t's piece of dL/dW_hh, and its size
pieces = [(h.grad * slope(h)).T @ p for h, p in zip(hs, prev)]
sizes = torch.stack([p.norm() for p in pieces])
# lambda_1: the largest singular value of W_hh
lam = torch.linalg.matrix_norm(W["weight_hh"].detach(), 2)
gn = torch.stack([h.grad.norm() for h in hs])   # ||dL/dh_t||
n = len(hs)
bound = (gamma * lam) ** torch.arange(n - 1, -1, -1) * gn[-1]
bound_ok = bool((gn <= bound * (1 + 1e-9)).all())
# in-code:end sizes

g = W["weight_hh"].grad.clone()          # (clip_grad_norm_ below rescales .grad in place)
pairs = {"sum = .grad": (sum(pieces), g), ".grad = trace": (torch.cat([T(cell["grads"][k]).flatten() for k in W]), torch.cat([W[k].grad.flatten() for k in W]))}
if page["experiment"] == "grad-flow":
    d = page["data"]
    pairs.update({"data.contrib": (d["contrib"], sizes), "data.hgrad": (d["hgrad"], gn), "data.hbound": (d["hbound"], bound),
                  "data.ratio, lambda, rho, loss": ([d["ratio"], d["lambda"], d["rho"], d["loss"]],
                  torch.stack([sizes[1] / sizes[-1], lam, torch.linalg.eigvals(W["weight_hh"].detach()).abs().max(), lossval]))})

# in-code:begin clip
# what the widget trains: the cell, or the cliff's w and b
params = list(W.values())
if trace["model"] == "cliff":   # w = W_hh, b = W_ih[0, 1]; W_ih[0, 0] is frozen
    W["weight_ih"].grad[:, 0] = 0
    params = [W["weight_hh"], W["weight_ih"]]
before = torch.cat([p.grad.flatten() for p in params])
threshold = page["params"].get("threshold", 1.0)
# returns ||g||; over the threshold, every .grad is rescaled
# in place by threshold / (||g|| + 1e-6)
norm = torch.nn.utils.clip_grad_norm_(params, threshold)
after = torch.cat([p.grad.flatten() for p in params])
# in-code:end clip
clip_ok = after.norm().item() <= threshold * (1 + 1e-9) and F.cosine_similarity(after, before, 0).item() > 1 - 1e-12
if trace["model"] == "cliff":                # the path the trace is from: the clipped one unless clip is off
    cur = [p for p in page["data"]["paths"] if p["clip"] == (page["params"]["clip"] != "off")][0]["cur"]
    pairs["data.paths[].cur (loss, norm)"] = ([cur["loss"], cur["norm"]], torch.stack([lossval, norm]))
    clip_ok = clip_ok and cur["clipped"] == (page["params"]["clip"] != "off" and norm.item() > threshold)
def rel(a, b, floor):  # per entry, relative to the entry (or to floor * the largest, for tiny ones)
    a, b = torch.as_tensor(a, dtype=torch.float64).flatten(), b.detach().flatten()
    return ((a - b).abs() / b.abs().clamp(min=floor * b.abs().max().item() + 1e-300)).max().item()
# sizes that vanish are the point of the page: compare each to itself, however small
rel = {k: rel(a, b, 0 if k.startswith("data.") else 1e-3) for k, (a, b) in pairs.items()}
bad = [k for k, e in rel.items() if not e <= 1e-9] + [k for k, ok in (("bound", bound_ok), ("clip", clip_ok)) if not ok]
far = f"20 steps back {sizes[-21] / sizes[-1]:.1e}, " if n > 20 else ""
print(f"{page['experiment']}, {n} steps, lambda_1 {lam:.3g}: piece/last piece {far}oldest {sizes[1] / sizes[-1]:.1e}; "
      f"||g|| {norm:.3g} clipped to {after.norm():.3g}, same direction; page's {', '.join(pairs)} vs PyTorch: max relative error {max(rel.values()):.1e}" + (f"; MISMATCH {bad}" if bad else ""))
sys.exit(1 if bad else 0)
