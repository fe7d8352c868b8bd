"""Twins and tasks: check both ledgers of lesson 15 with PyTorch.

Download trace.json from either widget (the shared model with the weights of
the step on screen, on a few pairs or digits), then run
    python3 twins-and-tasks.py trace.json
Siamese twins: one encoder is called for both digits of each pair; two
towers, copies of it, each read one side. The script checks that tower 1's
.grad plus tower 2's is the encoder's .grad, and that equals the trace's.
Multi-task trunk: one trunk feeds two heads; each head's loss is
backpropagated on its own, and the two parts must add up to the trunk's .grad
for the joint loss, which must equal the trace's.
"""
# test: siamese-twins trace.json 10
# test: multitask-trunk trace.json 10
import json, sys
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
trace = json.load(open(sys.argv[1]))
T = lambda t: torch.tensor(t["data"]).reshape(t["shape"])
x, y = T(trace["input"]), T(trace["target"])


def build(layers):
    """nn.Sequential of the trace's layers, loaded with its weights."""
    mods = []
    for l in layers:
        a, kind = l["attrs"], l["type"]
        m = {"conv2d": lambda: nn.Conv2d(a["in_channels"], a["out_channels"], a["kernel_size"], a["stride"], a["padding"]),
             "relu": nn.ReLU, "maxpool2d": lambda: nn.MaxPool2d(a["kernel_size"], a["stride"]),
             "flatten": nn.Flatten, "linear": lambda: nn.Linear(a["in_features"], a["out_features"])}[kind]()
        with torch.no_grad():
            for k, v in l.get("params", {}).items():
                getattr(m, k).copy_(T(v))
        mods.append(m)
    return nn.Sequential(*mods)


def check(parts, shared, want):
    """Largest |sum of parts - .grad| and |.grad - trace|, relative to the largest |.grad|
    (the embedding bias's .grad is 0 by construction: a relative error of its own means nothing)."""
    err, s = 0.0, max(g.abs().max().item() for g in shared)
    for ps, g, w in zip(zip(*parts), shared, want):
        err = max(err, (sum(ps) - g).abs().max().item() / s, (g - w).abs().max().item() / s)
    return err


cos = lambda a, b: (torch.cat([t.flatten() for t in a]) @ torch.cat([t.flatten() for t in b]) /
                    torch.cat([t.flatten() for t in a]).norm() / torch.cat([t.flatten() for t in b]).norm()).item()

if trace["layers"][0]["type"] == "siamese":
    branch, m = trace["layers"][0]["branch"], trace["loss"]["attrs"]["margin"]
    contrastive = lambda d: (y * d ** 2 + (1 - y) * torch.clamp(m - d, min=0) ** 2).mean()
    # in-code:begin twins
    # One encoder, called for both inputs.
    f = build(branch)
    d = F.pairwise_distance(f(x[:, 0]), f(x[:, 1]), eps=1e-6)
    contrastive(d).backward()  # f's .grad: the sum of both sides

    # Two towers: a copy of f for each side.
    f1, f2 = build(branch), build(branch)
    d = F.pairwise_distance(f1(x[:, 0]), f2(x[:, 1]), eps=1e-6)
    contrastive(d).backward()  # f1's .grad: side 1's part, f2's side 2's
    # in-code:end twins
    grad = lambda net: [p.grad for p in net.parameters()]
    want = [T(l["grads"][k]) for l in branch for k in l.get("grads", {})]
    err = check([grad(f1), grad(f2)], grad(f), want)
    print(f"siamese, {x.shape[0]} pairs; |first side + second side - .grad|, |.grad - trace| <= {err:.1e} of max|.grad|; "
          f"cosine of the two sides: whole encoder {cos(grad(f1), grad(f2)):.2f}, embedding bias {cos(grad(f1)[-1:], grad(f2)[-1:]):.2f}")
else:
    layers, splits = trace["layers"], trace["loss"]["attrs"]["splits"]
    hp = {k: T(v) for k, v in layers[-1]["params"].items()}
    features = layers[-1]["attrs"]["in_features"]
    # in-code:begin tasks
    # One trunk, two heads.
    trunk = build(layers[:-1])
    heads = [nn.Linear(features, n) for n in splits]
    with torch.no_grad():
        for k, h in enumerate(heads):
            h.weight.copy_(hp[f"head{k}.weight"])
            h.bias.copy_(hp[f"head{k}.bias"])
    z = trunk(x)
    losses = [F.cross_entropy(h(z), y[:, k].long())
              for k, h in enumerate(heads)]
    # Each head's loss on its own: that task's part of the trunk's grad.
    shared = list(trunk.parameters())
    parts = [torch.autograd.grad(l, shared, retain_graph=True)
             for l in losses]
    sum(losses).backward()  # trunk's .grad: the joint loss's
    # in-code:end tasks
    want = [T(l["grads"][k]) for l in layers[:-1] for k in l.get("grads", {})]
    err = check(parts, [p.grad for p in trunk.parameters()], want)
    print(f"multitask, {x.shape[0]} digits; |digit part + odd/even part - .grad|, |.grad - trace| <= {err:.1e} of max|.grad|; "
          f"cosine of the two tasks' parts (whole trunk) {cos(*parts):.2f}")
sys.exit(0 if err <= 1e-9 else 1)
