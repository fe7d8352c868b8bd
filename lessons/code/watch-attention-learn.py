"""Watch attention learn: check a training step, token by token, with PyTorch.

Download the step trace and the JSON data from the lesson's widget (the
weights of the step on screen, the probe sequence), then run
    python3 watch-attention-learn.py TRACE.json DATA.json
It loads the trace into nn.Embedding, nn.TransformerEncoderLayer
(norm_first=True, in_proj_weight = cat(w_q, w_k, w_v)) and an output layer
tied to the embedding, and checks every .grad against the trace's. The same
blocks by hand, with a copy of W_Q, W_K, W_V, W_O per token, give each
token's piece; they add up to .grad. The page shows no gradient pieces; what
it shows per head is checked head by head: every attention map on the probe
(data.maps), its mass on the answer's cells (data.mass), the model's answer
(data.pred) and the parameter count (static.modelParams).
"""
# test: attention-learn trace.json+json 60
# test: attention-learn trace.json+json 60 {"blocks": 2, "positions": "learned", "task": "sort"}
# test: attention-learn trace.json+json 30 {"positions": "none", "task": "copy", "heads": 1}
import json, sys
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
trace, page = (json.load(open(f)) for f in sys.argv[1:3])
T = lambda t: torch.tensor(t["data"], dtype=torch.float64).reshape(t["shape"])
L = {l["name"]: l for l in trace["layers"]}
tokens, y = T(trace["input"]).long(), T(trace["target"]).long()
B, n = tokens.shape
E = T(L["embed"]["params"]["weight"]).requires_grad_()       # read at the input, tied to the output
bias = T(L["out"]["params"]["bias"]).requires_grad_()
d = E.shape[1]
pe = torch.zeros(n, d)
if "pos" in L and L["pos"]["attrs"]["kind"] == "sinusoidal":
    t, i = torch.arange(n)[:, None], torch.arange(0, d, 2)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(t / 10000 ** (i / d)), torch.cos(t / 10000 ** (i / d))
elif "pos" in L:                                           # learned positions
    pe = T(L["pos"]["params"]["weight"]).requires_grad_()[:n]
blocks = [l for l in trace["layers"] if l["type"] == "transformer_block"]
P = [{k: T(v) for k, v in b["params"].items()} for b in blocks]
loss = lambda h, emb: F.cross_entropy(F.linear(h, emb, bias).flatten(0, 1), y.flatten())
mats = ["attn.w_q", "attn.w_k", "attn.w_v", "attn.w_o"]

def torch_block(p, a):
    m = nn.TransformerEncoderLayer(a["d_model"], a["num_heads"], a["d_ff"], dropout=0.0, batch_first=True, norm_first=True)
    cat = lambda s: torch.cat([p["attn." + s + c] for c in "qkv"])
    torch_name = {"ff1": "linear1", "ff2": "linear2", "ln1": "norm1", "ln2": "norm2"}
    m.load_state_dict({"self_attn.in_proj_weight": cat("w_"), "self_attn.in_proj_bias": cat("b_"),
                       "self_attn.out_proj.weight": p["attn.w_o"], "self_attn.out_proj.bias": p["attn.b_o"],
                       **{torch_name[k[:3]] + k[3:]: v for k, v in p.items() if k[:3] in torch_name}})
    return m

maps = []                                                  # every block's attention, [heads, T, T]

def block(x, p, W, heads):
    """The same pre-norm block by hand; token t uses W[t] = its copy of W_Q, W_K, W_V, W_O."""
    proj = lambda z, j, b: torch.einsum("tij,btj->bti", W[:, j], z) + p["attn." + b]
    split = lambda z: z.view(B, n, heads, d // heads).transpose(1, 2)
    z = F.layer_norm(x, (d,), p["ln1.weight"], p["ln1.bias"])
    q, k, v = (split(proj(z, j, b)) for j, b in enumerate(["b_q", "b_k", "b_v"]))
    a = torch.softmax(q @ k.transpose(-1, -2) / (d // heads) ** 0.5, dim=-1)
    maps.append(a[0].detach())
    x = x + proj((a @ v).transpose(1, 2).reshape(B, n, d), 3, "b_o")
    z = F.layer_norm(x, (d,), p["ln2.weight"], p["ln2.bias"])
    return x + F.linear(F.relu(F.linear(z, p["ff1.weight"], p["ff1.bias"])), p["ff2.weight"], p["ff2.bias"])

# in-code:begin per-token
# nn.TransformerEncoderLayer: W_Q … W_O shared by every token.
mods = [torch_block(p, b["attrs"]) for p, b in zip(P, blocks)]
h = F.embedding(tokens, E) + pe
for m in mods:
    h = m(h)
loss(h, E).backward()  # .grad: one training step's gradient

# The same blocks by hand, with a copy of W_Q … W_O per token.
copies = lambda p: torch.stack([p[k] for k in mats]).repeat(n, 1, 1, 1)
W = [copies(p).requires_grad_() for p in P]  # W[l]: [T, 4, d, d]
h = F.embedding(tokens, E.detach()) + pe.detach()
for p, w, b in zip(P, W, blocks):
    h = block(h, p, w, b["attrs"]["num_heads"])
loss(h, E.detach()).backward()  # W[l].grad[t]: token t's piece
# in-code:end per-token

st, dt, A = page["static"], page["data"], torch.stack(maps)     # A: [blocks, heads, T, T]
src, x = torch.tensor(st["sources"]), torch.tensor(st["probe"])  # row i's answer is at src[i] (for sort: wherever its token is)
hit = (torch.arange(n)[None] == src[:, None]) | ((page["params"]["task"] == "sort") & (x[None] == x[src][:, None]))
grads = [g for m in mods for g in (*m.self_attn.in_proj_weight.grad.chunk(3), m.self_attn.out_proj.weight.grad)]
pairs = {"data.maps": (dt["maps"], A), "data.mass": (dt["mass"], (A * hit).sum(-1).mean(-1)),
         "data.pred": (dt["pred"], F.linear(h, E, bias)[0].argmax(-1)),
         "static.modelParams": ([st["modelParams"]], torch.tensor([E.numel() + bias.numel() + sum(p.numel() for m in mods for p in m.parameters())
                                                                  + (len(L["pos"]["params"]["weight"]["data"]) if pe.requires_grad else 0)])),
         "sum = .grad": (torch.cat([w.grad.sum(0).flatten() for w in W]), torch.cat([g.flatten() for g in grads])),
         ".grad = trace": (torch.cat([T(L["embed"]["grads"]["weight"]).flatten()] + [T(b["grads"][k]).flatten() for b in blocks for k in mats]),
                           torch.cat([E.grad.flatten()] + [g.flatten() for g in grads]))}
def rel(a, b):  # per entry, relative to the entry (or to 1e-3 of the largest, for tiny ones)
    a, b = torch.as_tensor(a, dtype=torch.float64).flatten(), b.detach().double().flatten()
    return ((a - b).abs() / b.abs().clamp(min=1e-3 * b.abs().max().item() + 1e-300)).max().item()
rel = {k: rel(a, b) for k, (a, b) in pairs.items()}
bad = [k for k, e in rel.items() if not e <= 1e-9]
print(f"{len(blocks)} block(s), {n} tokens, step {page['step']}: page's {', '.join(pairs)} vs PyTorch: max relative error {max(rel.values()):.1e}" + (f"; MISMATCH {bad}" if bad else ""))
sys.exit(1 if bad else 0)
