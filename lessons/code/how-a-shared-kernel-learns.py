"""How a shared kernel learns: check the page's ledger with PyTorch.

Download trace.json and the frame's .json from the lesson's widget (the
export links under it, at the step on screen), then run
    python3 how-a-shared-kernel-learns.py trace.json conv-grad.json
It rebuilds the lesson's model (conv 3x3 -> flatten -> linear -> cross-entropy)
from the trace and gives every output position a copy of its own of the
kernel: copy p's .grad is position p's contribution. It checks the page's
per-position numbers against those copies, piece by piece: every position's
contribution (the unshared twin's kernel gradients, static.unshared) and its
size (static.norms), the one added last (data.at.contribution) and the
running sum of the first `step` (data.sum); then that the copies add up to
the kernel's .grad and that equals our engine's gradient in the trace.
"""
# test: conv-grad trace.json+json 400
import json, sys
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
trace, page = (json.load(open(f)) for f in sys.argv[1:3])
T = lambda t: torch.tensor(t["data"], dtype=torch.float64).reshape(t["shape"])
conv, fc = trace["layers"][0], trace["layers"][2]["params"]
pad, k, b = conv["attrs"]["padding"], conv["attrs"]["kernel_size"], T(conv["params"]["bias"])
x, y = T(trace["input"]), T(trace["target"]).long()
head = lambda z: F.cross_entropy(F.linear(z.flatten(1), T(fc["weight"]), T(fc["bias"])), y)

# in-code:begin per-use
w = T(conv["params"]["weight"]).requires_grad_()  # one kernel, used at every position
head(F.conv2d(x, w, b, padding=pad)).backward()   # w.grad: the sum of every use

patches = F.unfold(x, k, padding=pad)       # [B, C*k*k, P]: the patch each position reads
P = patches.shape[2]
copies = w.detach().flatten(1).repeat(P, 1, 1).requires_grad_()  # [P, out, C*k*k]: one kernel per position
head(torch.einsum("poj,bjp->bop", copies, patches) + b[None, :, None]).backward()
per_use = copies.grad.reshape(P, -1)        # per_use[p]: position p's contribution
# in-code:end per-use

st, d, n = page["static"], page["data"], page["step"]
pairs = {"static.unshared": (st["unshared"], per_use), "static.norms": (st["norms"], per_use.norm(dim=1)),
         "data.sum": (d["sum"], per_use[:n].sum(0)), "sum = .grad": (per_use.sum(0), w.grad),
         ".grad = trace": (conv["grads"]["weight"]["data"], w.grad)}
if n:
    pairs["data.at.contribution"] = (d["at"]["contribution"], per_use[n - 1])
def rel(a, b):  # per entry, relative to the entry (or to 1e-3 of the largest, for tiny ones)
    a, b = torch.as_tensor(a, dtype=torch.float64).flatten(), b.flatten()
    return ((a - b).abs() / b.abs().clamp(min=1e-3 * b.abs().max().item() + 1e-300)).max().item()
rel = {k: rel(a, b) for k, (a, b) in pairs.items()}
bad = [k for k, e in rel.items() if not e <= 1e-9]
print(f"{P} positions, step {n}: page's {', '.join(pairs)} vs PyTorch: max relative error {max(rel.values()):.1e}" + (f"; MISMATCH {bad}" if bad else ""))
sys.exit(1 if bad else 0)
