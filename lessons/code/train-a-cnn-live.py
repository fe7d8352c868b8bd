"""Train a CNN live: the CNN and its locally connected twin, in PyTorch.

Download trace.json from the lesson's widget (the CNN at the step on screen,
on the digit you picked), then run
    python3 train-a-cnn-live.py trace.json
It rebuilds the CNN (conv 3x3 8 -> relu -> pool -> conv 3x3 16 -> relu ->
pool -> linear 10), checks every .grad against the trace, then makes the
locally connected twin out of it: every output position gets a copy of its
own of the kernel (784 copies in conv1, 196 in conv2). With the copies equal
the twin computes exactly what the CNN does, and each copy's .grad is that
position's contribution: they add up to the shared kernel's .grad.
"""
# test: cnn-train trace.json 20
import json, sys
import torch
import torch.nn.functional as F

trace = json.load(open(sys.argv[1]))
T = lambda t: torch.tensor(t["data"], dtype=torch.float64).reshape(t["shape"])
L = {l["name"]: l for l in trace["layers"]}
P = {n: {k: T(v).requires_grad_() for k, v in L[n]["params"].items()} for n in ("conv1", "conv2", "fc")}
x, y = T(trace["input"]), T(trace["target"]).long()

# in-code:begin twin
def conv(x, n):           # the CNN: one kernel at every position
    W, b = P[n]["weight"], P[n]["bias"]
    return F.conv2d(x, W, b, padding=1)

def local(x, n, copies):  # the twin: copies[p] is p's own kernel
    patches = F.unfold(x, 3, padding=1)   # [B, C*9, positions]
    z = torch.einsum("poj,bjp->bop", copies, patches)
    z = z + P[n]["bias"][None, :, None]
    return z.reshape(x.shape[0], -1, x.shape[2], x.shape[3])

def loss(layer):          # layer(x, name): conv, or a twin
    h = F.max_pool2d(F.relu(layer(x, "conv1")), 2)
    h = F.max_pool2d(F.relu(layer(h, "conv2")), 2)
    z = F.linear(h.flatten(1), P["fc"]["weight"], P["fc"]["bias"])
    return F.cross_entropy(z, y)

loss(conv).backward()     # .grad of the shared kernels
# every position a copy of the kernel: 784 in conv1, 196 in conv2
copies = {n: P[n]["weight"].detach().flatten(1).repeat(hw, 1, 1)
          .requires_grad_() for n, hw in (("conv1", 784), ("conv2", 196))}
twin = loss(lambda x, n: local(x, n, copies[n]))
each = torch.autograd.grad(twin, list(copies.values()))
# each[i][p]: position p's contribution to the kernel's .grad
# in-code:end twin

errs = [(g.sum(0).reshape(P[n]["weight"].shape) - P[n]["weight"].grad).abs().max().item() for n, g in zip(copies, each)]
errs += [(P[n][k].grad - T(L[n]["grads"][k])).abs().max().item() for n in P for k in P[n]]
scale = max(P[n][k].grad.abs().max().item() for n in P for k in P[n])
print(f"784 + 196 per-position kernels; |sum of contributions - .grad| <= {max(errs[:2]):.1e}, "
      f"|.grad - trace| <= {max(errs[2:]):.1e} (largest gradient {scale:.2e})")
sys.exit(0 if max(errs) <= 1e-12 * max(1.0, scale) else 1)
