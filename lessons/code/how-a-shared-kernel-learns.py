"""How a shared kernel learns: check the page's ledger with PyTorch.

Download trace.json from the lesson's widget (the step on screen), then run
    python3 how-a-shared-kernel-learns.py trace.json
It rebuilds the lesson's model (conv 3x3 -> flatten -> linear -> cross-entropy)
from the trace, gives every output position a copy of its own of the kernel,
and checks that the copies' gradients (the page's contributions, one per
position) add up to the shared kernel's .grad, and that equals the trace's.
"""
# test: conv-grad trace.json 0
import json, sys
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
trace = json.load(open(sys.argv[1]))
T = lambda t: torch.tensor(t["data"], dtype=torch.float64).reshape(t["shape"])
conv, fc = trace["layers"][0]["params"], trace["layers"][2]["params"]
pad, k = trace["layers"][0]["attrs"]["padding"], trace["layers"][0]["attrs"]["kernel_size"]
x, y = T(trace["input"]), T(trace["target"]).long()
head = lambda z: F.cross_entropy(F.linear(z.flatten(1), T(fc["weight"]), T(fc["bias"])), y)

# in-code:begin per-use
w = T(conv["weight"]).requires_grad_()      # one kernel, used at every position
head(F.conv2d(x, w, T(conv["bias"]), padding=pad)).backward()   # w.grad: the sum of every use

patches = F.unfold(x, k, padding=pad)       # [B, C*k*k, P]: the patch each position reads
P = patches.shape[2]
copies = w.detach().flatten(1).repeat(P, 1, 1).requires_grad_()  # [P, out, C*k*k]: one kernel per position
z = torch.einsum("poj,bjp->bop", copies, patches) + T(conv["bias"])[None, :, None]
head(z).backward()                          # copies.grad[p]: position p's contribution
total = copies.grad.sum(0).reshape(w.shape)
# in-code:end per-use

err = max((total - w.grad).abs().max().item(), (w.grad - T(trace["layers"][0]["grads"]["weight"])).abs().max().item())
print(f"{P} positions; |sum of contributions - .grad|, |.grad - trace| <= {err:.1e}")
sys.exit(0 if err <= 1e-12 * max(1.0, w.grad.abs().max().item()) else 1)
