"""Train a CNN live: the CNN and its locally connected twin, in PyTorch.

Download the step trace (trace.json) and the frame (.json) from the lesson's
widget (the CNN at the step on screen, on the digit you picked), then run
    python3 train-a-cnn-live.py trace.json cnn-train.json
It rebuilds the CNN (conv 3x3 8 -> relu -> pool -> conv 3x3 16 -> relu ->
pool -> linear 10), checks every .grad against the trace, then makes the
locally connected twin out of it: every output position gets a copy of its
own of the kernel (784 copies in conv1, 196 in conv2). With the copies equal
the twin computes exactly what the CNN does, and each copy's .grad is that
position's contribution: they add up to the shared kernel's .grad. From the
page it checks conv1's kernels (data.filters) and every position's use of
them on the digit, the feature maps after ReLU (data.maps), and the CNN's
counts (static.models[0]: params, uses = multiply-adds per digit, unshared =
the twin's parameters, a kernel and a bias per position). The page's
gradient norms (data.models[].gradNorms) are of the last training batch,
not of this digit, so they are not compared.
"""
# test: cnn-train trace.json+json 20
import json, sys
import torch
import torch.nn.functional as F

trace, page = (json.load(open(f)) for f in sys.argv[1:3])
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

d, cnn = page["data"], page["static"]["models"][0]
numel = lambda n, k="weight": P[n][k].numel()
bias = lambda n: numel(n, "bias")
pairs = {"data.filters": (d["filters"]["values"], P["conv1"]["weight"]), "data.maps": (d["maps"]["values"], F.relu(conv(x, "conv1"))),
         "static.models[0]": ([cnn["params"], cnn["uses"], cnn["unshared"]], torch.tensor([sum(q.numel() for n in P for q in P[n].values()),
                              sum(c.numel() for c in copies.values()) + numel("fc"),
                              784 * (numel("conv1") + bias("conv1")) + 196 * (numel("conv2") + bias("conv2")) + numel("fc") + bias("fc")])),
         "sum = .grad": (torch.cat([g.sum(0).flatten() for g in each]), torch.cat([P[n]["weight"].grad.flatten() for n in copies])),
         ".grad = trace": (torch.cat([T(L[n]["grads"][k]).flatten() for n in P for k in P[n]]), torch.cat([P[n][k].grad.flatten() for n in P for k in P[n]]))}
def rel(a, b):  # per entry, relative to the entry (or to 1e-3 of the largest, for tiny ones)
    a, b = torch.as_tensor(a, dtype=torch.float64).flatten(), b.detach().double().flatten()
    return ((a - b).abs() / b.abs().clamp(min=1e-3 * b.abs().max().item() + 1e-300)).max().item()
rel = {k: rel(a, b) for k, (a, b) in pairs.items()}
bad = [k for k, e in rel.items() if not e <= 1e-9]
print(f"784 + 196 per-position kernels; page's {', '.join(pairs)} vs PyTorch: max relative error {max(rel.values()):.1e}" + (f"; MISMATCH {bad}" if bad else ""))
sys.exit(1 if bad else 0)
