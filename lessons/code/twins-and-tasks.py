"""Twins and tasks: check both ledgers of lesson 15 with PyTorch.

Download the step trace and the JSON data from either widget (the pass the
ledger on screen shows: the shared model with the weights before the step's
update, on the step's whole batch), then run
    python3 twins-and-tasks.py TRACE.json DATA.json
Twins: one encoder called for both digits of a pair; two towers, copies of
it, one per side: tower 1's .grad + tower 2's = the encoder's .grad = the
trace's. Trunk: each head's loss backpropagated on its own gives that task's
part; the parts add up to the trunk's .grad = the trace's. Then every number
of the page's ledger against those copies, weight by weight: the norms of
the two parts, of their sum and of dW, and the cosine between the parts;
and the step's batch loss (data.loss), the parameter counts (static.counts)
and the ledger's shapes.
"""
# test: siamese-twins trace.json+json 10
# test: multitask-trunk trace.json+json 10
import json, sys
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
trace, page = (json.load(open(f)) for f in sys.argv[1:3])
T = lambda t: torch.tensor(t["data"], dtype=torch.float64).reshape(t["shape"])
x, y = T(trace["input"]), T(trace["target"])
flat = lambda ts: torch.cat([t.flatten() for t in ts])
cos = lambda a, b: (flat(a) @ flat(b) / flat(a).norm() / flat(b).norm()).item()
size = lambda *ms: sum(p.numel() for m in ms for p in m.parameters())

def build(layers):
    """nn.Sequential of the trace's layers, loaded with its weights."""
    mods = []
    for l in layers:
        a = l["attrs"]
        m = {"conv2d": lambda: nn.Conv2d(a["in_channels"], a["out_channels"], a["kernel_size"], a["stride"], a["padding"]),
             "relu": nn.ReLU, "maxpool2d": lambda: nn.MaxPool2d(a["kernel_size"], a["stride"]),
             "flatten": nn.Flatten, "linear": lambda: nn.Linear(a["in_features"], a["out_features"])}[l["type"]]()
        with torch.no_grad():
            for k, v in l.get("params", {}).items():
                getattr(m, k).copy_(T(v))
        mods.append(m)
    return nn.Sequential(*mods)

if trace["layers"][0]["type"] == "siamese":
    layers, m = trace["layers"][0]["branch"], trace["loss"]["attrs"]["margin"]
    contrastive = lambda d: (y * d ** 2 + (1 - y) * torch.clamp(m - d, min=0) ** 2).mean()
    # in-code:begin twins
    # One encoder, called for both inputs.
    f = build(layers)
    d = F.pairwise_distance(f(x[:, 0]), f(x[:, 1]), eps=1e-6)
    contrastive(d).backward()  # f's .grad: the sum of both sides

    # Two towers: a copy of f for each side.
    f1, f2 = build(layers), build(layers)
    d = F.pairwise_distance(f1(x[:, 0]), f2(x[:, 1]), eps=1e-6)
    contrastive(d).backward()  # f1's .grad: side 1's part, f2's side 2's
    # in-code:end twins
    shared, parts = [p.grad for p in f.parameters()], [[p.grad for p in t.parameters()] for t in (f1, f2)]
    counts = [size(f), size(f1, f2)]
    batch_loss = [contrastive(F.pairwise_distance(f(x[:, 0]), f(x[:, 1]), eps=1e-6)).item()]
    note = f"siamese, {x.shape[0]} pairs; cosine of the two sides: whole encoder {cos(*parts):.2f}, embedding bias {cos(parts[0][-1:], parts[1][-1:]):.2f}"
else:
    layers, splits = trace["layers"][:-1], trace["loss"]["attrs"]["splits"]
    hp = {k: T(v) for k, v in trace["layers"][-1]["params"].items()}
    features = trace["layers"][-1]["attrs"]["in_features"]
    # in-code:begin tasks
    # One trunk, two heads.
    trunk = build(layers)
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
    shared, c = [p.grad for p in shared], page["static"]["counts"]
    page["static"]["counts"] = [c["shared"], c["trunk"], c["heads"], c["separate"]]
    counts = [size(trunk, *heads), size(trunk), size(*heads), 2 * size(trunk) + size(*heads)]
    batch_loss = [l.item() for l in losses]
    note = f"multitask, {x.shape[0]} digits; cosine of the two tasks' parts (whole trunk) {cos(*parts):.2f}"

ledger = page["data"]["ledger"]
pairs = {"static.counts": (page["static"]["counts"], torch.tensor(counts)),
         "data.ledger[].shape": ([len(ledger)] + [n for r in ledger for n in r["shape"]], torch.tensor([len(shared)] + [n for g in shared for n in g.shape])),
         "data.ledger[] part, sum, dW": ([v for r in ledger for v in r["part"] + [r["sum"], r["dW"]]],
                                        torch.stack([n for a, b, g in zip(*parts, shared) for n in (a.norm(), b.norm(), (a + b).norm(), g.norm())])),
         "data.ledger[].cos": ([r["cos"] for r in ledger], torch.tensor([cos([a], [b]) for a, b in zip(*parts)])),
         "data.loss (this step), trace loss": ([l[-1] for l in page["data"]["loss"][:len(batch_loss)]] + [trace["loss"]["value"]], torch.tensor(batch_loss + [sum(batch_loss)])),
         "part 1 + part 2 = .grad": (flat(parts[0]) + flat(parts[1]), flat(shared)),
         ".grad = trace": (flat(T(l["grads"][k]) for l in layers for k in l.get("grads", {})), flat(shared))}
def rel(a, b):  # per entry, relative to the entry (or to 1e-3 of the largest, for tiny ones)
    a, b = torch.as_tensor(a, dtype=torch.float64).flatten(), b.detach().double().flatten()
    return ((a - b).abs() / b.abs().clamp(min=1e-3 * b.abs().max().item() + 1e-300)).max().item()
rel = {k: rel(a, b) for k, (a, b) in pairs.items()}
bad = [k for k, e in rel.items() if not e <= 1e-9]
print(f"{note}; the page's ledger ({len(ledger)} weights: parts, sum, dW, cosine), batch loss, counts, shapes, part 1 + part 2 = .grad, "
      f".grad = trace vs PyTorch: max relative error {max(rel.values()):.1e}" + (f"; MISMATCH {bad}" if bad else ""))
sys.exit(1 if bad else 0)
