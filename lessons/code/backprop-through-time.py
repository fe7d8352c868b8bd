"""Backprop through time: the ledger of W_hh, in PyTorch.

Download the step trace (trace.json) and the frame (.json) from the lesson's
widget (the training step and time step on screen), then run
    python3 backprop-through-time.py trace.json bptt-ledger.json
It rebuilds the RNN (tanh cell, last step, linear) from the trace and runs
the cell in a loop, keeping every hidden state's gradient dL/dh_k. With
delta_k = (1 - h_k^2) * dL/dh_k, step k's piece of dL/dW_hh is Pascanu et
al.'s (2013, eq. 4) delta_k^T h_(k-1) (of W_ih: delta_k^T x_k; of the biases:
delta_k summed over the batch). It checks that these pieces are autograd's
own (one copy of the parameter per step), then the page's ledger against
them, piece by piece: every time step's contribution size (data.norms),
||dL/dh_t|| (data.hiddenGrad), the running sum of the last `added` steps
(data.sum), the inspected contribution and its size (data.inspect), the
shown step's row of the heat map (data.heat.log10) and the engine's dW
(data.engine); and that .grad equals the trace's gradient.
"""
# test: bptt-ledger trace.json+json 25
# test: bptt-ledger trace.json+json 20 {"task": "adding", "T": 12, "param": "bias", "inspect": 7}
# test: bptt-ledger trace.json+json 37 {"param": "weight_ih"}
import json, sys
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
trace, page = (json.load(open(f)) for f in sys.argv[1:3])
T = lambda t: torch.tensor(t["data"], dtype=torch.float64).reshape(t["shape"])
L = {l["type"]: l for l in trace["layers"]}
x, y = T(trace["input"]), T(trace["target"])
if "one_hot" in L:
    x = F.one_hot(x.long(), L["one_hot"]["attrs"]["num_classes"]).double()
B, steps, H = x.shape[0], x.shape[1], L["rnn"]["attrs"]["hidden_size"]
W = {n: T(v).requires_grad_() for n, v in L["rnn"]["params"].items()}
out = {n: T(v) for n, v in L["linear"]["params"].items()}
loss = lambda h: (F.cross_entropy(F.linear(h, out["weight"], out["bias"]), y.long()) if trace["loss"]["type"] == "cross_entropy"
                  else F.mse_loss(F.linear(h, out["weight"], out["bias"]), y))

def run(w):                                    # w(t, name): the tensor step t uses
    h, hs = torch.zeros(B, H), []
    for t in range(steps):
        h = torch.tanh(x[:, t] @ w(t, "weight_ih").T + w(t, "bias_ih") + h @ w(t, "weight_hh").T + w(t, "bias_hh"))
        h.retain_grad()
        hs.append(h)
    return loss(h), hs

# in-code:begin ledger
L_T, hs = run(lambda t, n: W[n])  # one W_hh for every step
L_T.backward()             # W_hh.grad, and h_k.grad = dL/dh_k
prev = [torch.zeros(B, H)] + hs[:-1]     # h_(k-1); h_0 = 0
# eq. 4, term k: ((1 - h_k^2) * dL/dh_k)^T h_(k-1)
pieces = [((1 - h ** 2) * h.grad).T @ p for h, p in zip(hs, prev)]
total = sum(pieces)        # = W_hh.grad
# in-code:end ledger

param = page["params"]["param"]        # the parameter the page's ledger shows
names = ["bias_ih", "bias_hh"] if param == "bias" else [param]   # biases side by side: [H, 2]
side = lambda ts, *lead: torch.stack(ts, -1).reshape(*lead, -1)
delta = [(1 - h ** 2) * h.grad for h in hs]
pieces = torch.stack({"weight_hh": pieces, "weight_ih": [d.T @ x[:, k] for k, d in enumerate(delta)],
                      "bias": [torch.stack([d.sum(0)] * 2, 1) for d in delta]}[param]).flatten(1)
copies = {n: W[n].detach().expand(steps, *W[n].shape).clone().requires_grad_() for n in names}
each = torch.autograd.grad(run(lambda t, n: copies[n][t] if n in copies else W[n])[0], list(copies.values()))
g = side([W[n].grad for n in names])
d, added = page["data"], page["data"]["added"]
norms, last = pieces.norm(dim=1), page["data"]["heat"]["log10"][-steps:]
pairs = {"pieces = autograd's": (side(list(each), steps), pieces), "data.norms": (d["norms"], norms),
         "data.hiddenGrad": (d["hiddenGrad"], torch.stack([h.grad.norm() for h in hs])),
         "data.sum": (d["sum"], pieces[steps - added:].sum(0)), "sum = .grad": (pieces.sum(0), g), "data.engine": (d["engine"], g),
         "heat row": ([v for v in last if v is not None], norms[[v is not None for v in last]].log10()),
         ".grad = trace": (side([T(L["rnn"]["grads"][n]) for n in names]), g)}
if d["inspect"]:
    t = d["inspect"]["t"]
    pairs["data.inspect"] = ([*d["inspect"]["contribution"], d["inspect"]["norm"]], torch.cat([pieces[t - 1], norms[t - 1:t]]))
def rel(a, b):  # per entry, relative to the entry (or to 1e-3 of the largest, for tiny ones)
    a, b = torch.as_tensor(a, dtype=torch.float64).flatten(), b.detach().flatten()
    return ((a - b).abs() / b.abs().clamp(min=1e-3 * b.abs().max().item() + 1e-300)).max().item()
rel = {k: rel(a, b) for k, (a, b) in pairs.items()}
bad = [k for k, e in rel.items() if not e <= 1e-9] + (["heat: a zero not added"] if [v is None for v in last] != [k < steps - added or n == 0 for k, n in enumerate(norms)] else [])
print(f"T={steps}, batch {B}, {param}, {added} of {steps} added: page's {', '.join(pairs)} vs PyTorch: max relative error {max(rel.values()):.1e}" + (f"; MISMATCH {bad}" if bad else ""))
sys.exit(1 if bad else 0)
