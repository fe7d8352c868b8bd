"""Share across layers: check each layer's part of the shared block with PyTorch.

Download the step trace (trace.json) and the frame (.json) from the lesson's
widget (the pass the all-shared model's probe on the page measured: the
weights of the step on screen, on the whole probe batch), then run
    python3 share-across-layers.py trace.json albert-share.json
It runs the ALBERT way, one nn.TransformerEncoderLayer applied once per
layer, backpropagates and checks every .grad against the trace's. Then it
gives every layer a copy of its own of the block (the unshared stack, with
the same numbers) and checks that, for each of the block's 16 parameters,
the copies' gradients (each layer's part) add up to the shared .grad. From
the page's probe of the all-shared model (data.probes) it checks every
number against those copies: the loss, each layer's part of the attention
and feed-forward gradients and their totals, each layer's distance and
angle between its input and output, and the ledger of ff2.bias (each
layer's row, their sum, dW). And the parameter counts: the attention and
feed-forward parts (static.attnPart, ffnPart), the embedding and output
layer, and every mode's count (static.modes[].params and hand), against
PyTorch's numel of the block's modules.
"""
# test: albert-share trace.json+json 40
# test: albert-share trace.json+json 40 {"blocks": 6, "d": "16", "task": "copy"}
import json, sys
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
trace, page = (json.load(open(f)) for f in sys.argv[1:3])
T = lambda t: torch.tensor(t["data"], dtype=torch.float64).reshape(t["shape"])
L = {l["name"]: l for l in trace["layers"]}
tokens, y = T(trace["input"]).long(), T(trace["target"]).long()
n, (V, d) = tokens.shape[1], L["embed"]["params"]["weight"]["shape"]
t, i = torch.arange(n)[:, None], torch.arange(0, d, 2)
pe = torch.zeros(n, d)
pe[:, 0::2], pe[:, 1::2] = torch.sin(t / 10000 ** (i / d)), torch.cos(t / 10000 ** (i / d))
x = F.embedding(tokens, T(L["embed"]["params"]["weight"])) + pe
out = {k: T(v) for k, v in L["out"]["params"].items()}
loss = lambda h: F.cross_entropy(F.linear(h, out["weight"], out["bias"]).flatten(0, 1), y.flatten())
N = sum(l["type"] == "transformer_block" for l in trace["layers"])
p, a = {k: T(v) for k, v in L["block1"]["params"].items()}, L["block1"]["attrs"]
def to_torch(p):  # the trace's block tensors under torch's names
    cat = lambda s: torch.cat([p["attn." + s + c] for c in "qkv"])
    name = {"ff1": "linear1", "ff2": "linear2", "ln1": "norm1", "ln2": "norm2"}
    return {"self_attn.in_proj_weight": cat("w_"), "self_attn.in_proj_bias": cat("b_"),
            "self_attn.out_proj.weight": p["attn.w_o"], "self_attn.out_proj.bias": p["attn.b_o"],
            **{name[k[:3]] + k[3:]: v for k, v in p.items() if k[:3] in name}}
state = to_torch(p)
new_block = lambda: nn.TransformerEncoderLayer(d, a["num_heads"], a["d_ff"], dropout=0.0, batch_first=True, norm_first=True)

# in-code:begin per-layer
# ALBERT: one block, applied once per layer.
block = new_block()
block.load_state_dict(state)
h = x
for _ in range(N):
    h = block(h)
loss(h).backward()  # block's .grad: the sum over the N layers

# The unshared stack, same numbers: a copy of the block per layer.
copies = [new_block() for _ in range(N)]
h = x
for c in copies:
    c.load_state_dict(state)
    h = c(h)
loss(h).backward()  # copies[l]'s .grad: layer l's part
# in-code:end per-layer

parts = {k: [c.get_parameter(k).grad for c in copies] for k, _ in block.named_parameters()}
want = to_torch({k: T(v) for k, v in L["block1"]["grads"].items()})
size = lambda *ms: sum(q.numel() for m in ms for q in m.parameters())
A, Fp, E, O = size(block.norm1, block.self_attn), size(block.norm2, block.linear1, block.linear2), V * d, out["weight"].numel() + out["bias"].numel()
own = {"none": N * (A + Fp), "all": A + Fp, "attention": A + N * Fp, "ffn": N * A + Fp}   # the block params of each mode
st, g = page["static"], torch.cat([q.grad.flatten() for q in block.parameters()])
pairs = {"static.attnPart, ffnPart, embed, out": ([st["attnPart"], st["ffnPart"], st["embed"], st["out"]], torch.tensor([A, Fp, E, O])),
         "static.modes[].params, hand": ([[x["params"], x["hand"]] for x in st["modes"]], torch.tensor([[E + own[x["share"]] + O] * 2 for x in st["modes"]])),
         "sum = .grad": (torch.cat([sum(parts[k]).flatten() for k in parts]), g), ".grad = trace": (torch.cat([want[k].flatten() for k in parts]), g)}
pr = page["data"]["probes"][[m["share"] for m in st["modes"]].index("all")]
attn = lambda k: k.startswith(("norm1.", "self_attn."))
pnorm = lambda gs, part: torch.cat([v.flatten() for k, v in gs if attn(k) == (part == 0)]).norm()
with torch.no_grad():  # each layer's input and output, token by token
    hs = [x]
    for _ in range(N):
        hs.append(block(hs[-1]))
    hx, hy = torch.stack(hs[:-1]), torch.stack(hs[1:])
    angle = torch.rad2deg(torch.acos(((hx * hy).sum(-1) / (hx.norm(dim=-1) * hy.norm(dim=-1))).clamp(-1, 1)))
    ledger = [c.linear2.bias.grad for c in copies]
pairs.update({"probe loss": ([pr["loss"]], loss(hs[-1]).detach()),
              "probe parts, total": (sum(pr["parts"], []) + pr["total"], torch.stack([pnorm([(k, c.get_parameter(k).grad) for k in parts], p) for p in (0, 1) for c in copies]
                                                                     + [pnorm([(k, q.grad) for k, q in block.named_parameters()], p) for p in (0, 1)])),
              "probe l2, angle": ([pr["l2"], pr["angle"]], torch.stack([(hy - hx).norm(dim=-1).mean((1, 2)), angle.mean((1, 2))])),
              "probe ledger rows, sum, grad (ff2.bias)": (pr["ledger"]["rows"] + [pr["ledger"]["sum"], pr["ledger"]["grad"]], torch.stack(ledger + [sum(ledger), block.linear2.bias.grad]))})
def rel(a, b):  # per entry, relative to the entry (or to 1e-3 of the largest, for tiny ones)
    a, b = torch.as_tensor(a, dtype=torch.float64).flatten(), b.detach().double().flatten()
    return ((a - b).abs() / b.abs().clamp(min=1e-3 * b.abs().max().item() + 1e-300)).max().item()
rel = {k: rel(a, b) for k, (a, b) in pairs.items()}
bad = [k for k, e in rel.items() if not e <= 1e-9]
ff = [f"{g.norm():.3g}" for g in parts["linear1.weight"]]
print(f"{N} layers, one block, {tokens.shape[0]} sequences; |layer parts| of ff1.weight: {', '.join(ff)}; page's counts, probe (loss, parts, "
      f"totals, distances, angles, ff2.bias ledger), sum = .grad, .grad = trace vs PyTorch: "
      f"max relative error {max(rel.values()):.1e}" + (f"; MISMATCH {bad}" if bad else ""))
sys.exit(1 if bad else 0)
