"""Attention shares its projections: check every token's piece with PyTorch.

Download the step trace (trace.json) and the frame (.json) from the lesson's
widget (the word on screen), then run
    python3 attention-shares-its-projections.py trace.json attention-share.json
It loads the trace into nn.MultiheadAttention, whose in_proj_weight is
W_Q, W_K and W_V stacked (cat(w_q, w_k, w_v)) and out_proj.weight is W_O,
and backpropagates the next-letter loss. Then it runs the same attention
with a copy of its own of all four matrices for every token: copy t's .grad
is token t's piece. It checks the page's ledger of the projection it shows
against those pieces, token by token: every token's piece (static.contrib)
and its size (static.norms), the running sum of the pieces added so far
(data.sum), the engine's gradient (static.grad), and the attention weights
and loss of the pass (static.attn, static.loss) and its parameter counts
(static.count); then that the pieces add up to .grad for each of W_Q, W_K,
W_V, W_O, and that .grad equals the trace's gradients.
"""
# test: attention-share trace.json+json 18
# test: attention-share trace.json+json 17 {"heads": 2, "causal": false, "dModel": 6, "param": "w_v"}
# test: attention-share trace.json+json 22 {"param": "w_o"}
import json, sys
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
trace, page = (json.load(open(f)) for f in sys.argv[1:3])
T = lambda t: torch.tensor(t["data"], dtype=torch.float64).reshape(t["shape"])
L = {l["name"]: l for l in trace["layers"]}
A, at = {k: T(v) for k, v in L["attn"]["params"].items()}, L["attn"]["attrs"]
d, nh = at["d_model"], at["num_heads"]
tokens, y = T(trace["input"]).long(), T(trace["target"]).long()
B, n = tokens.shape
pos, i = torch.arange(n)[:, None], torch.arange(0, d, 2)
pe = torch.zeros(n, d)
pe[:, 0::2], pe[:, 1::2] = torch.sin(pos / 10000 ** (i / d)), torch.cos(pos / 10000 ** (i / d))
x = F.embedding(tokens, T(L["embed"]["params"]["weight"])) + pe
mask = torch.triu(torch.full((n, n), float("-inf")), 1) if at["causal"] else torch.zeros(n, n)
out = L["out"]["params"]
loss = lambda z: F.cross_entropy(F.linear(z, T(out["weight"]), T(out["bias"])).flatten(0, 1), y.flatten())
names = ["w_q", "w_k", "w_v", "w_o"]

# in-code:begin per-token
# One W_Q, W_K, W_V, W_O for every token (in_proj: the first three).
mha = nn.MultiheadAttention(d, nh, batch_first=True)
cat = lambda s: torch.cat([A[s + c] for c in "qkv"])
with torch.no_grad():
    mha.in_proj_weight.copy_(cat("w_"))
    mha.in_proj_bias.copy_(cat("b_"))
    mha.out_proj.weight.copy_(A["w_o"])
    mha.out_proj.bias.copy_(A["b_o"])
loss(mha(x, x, x, attn_mask=mask)[0]).backward()
grads = [*mha.in_proj_weight.grad.chunk(3), mha.out_proj.weight.grad]

# The same attention, with a copy of all four matrices per token.
W = torch.stack([A[k] for k in names]).repeat(n, 1, 1, 1)
W.requires_grad_()  # [T, 4, d, d]
# Token t's row goes through copy t of matrix j:
proj = lambda z, j, b: torch.einsum("tij,btj->bti", W[:, j], z) + A[b]
heads = lambda z: z.view(B, n, nh, d // nh).transpose(1, 2)
q, k, v = (heads(proj(x, j, "b_" + c)) for j, c in enumerate("qkv"))
a = torch.softmax(q @ k.transpose(-1, -2) / (d // nh) ** 0.5 + mask, -1)
z = (a @ v).transpose(1, 2).reshape(B, n, d)
loss(proj(z, 3, "b_o")).backward()
pieces = W.grad  # pieces[t, j]: token t's piece of matrix j
# in-code:end per-token

st, dt, j = page["static"], page["data"], names.index(page["params"]["param"])   # the projection the page shows
c, P = st["count"], sum(p.numel() for p in mha.parameters())
pairs = {"static.contrib": (st["contrib"], pieces[:, j]), "static.norms": (st["norms"], pieces[:, j].flatten(1).norm(dim=1)),
         "data.sum": (dt["sum"], pieces[:dt["added"], j].sum(0)), "static.grad": (st["grad"], grads[j]),
         "static.attn, loss": ([*st["attn"], st["loss"]], torch.cat([a.flatten(), loss(proj(z, 3, "b_o")).reshape(1)])),
         "static.count": ([c["params"], c["unshared"]], torch.tensor([P, c["T"] * P])),
         "sum = .grad": (pieces.sum(0), torch.stack(grads)), ".grad = trace": (torch.stack([T(L["attn"]["grads"][k]) for k in names]), torch.stack(grads))}
def rel(a, b):  # per entry, relative to the entry (or to 1e-3 of the largest, for tiny ones)
    a, b = torch.as_tensor(a, dtype=torch.float64).flatten(), b.detach().flatten()
    return ((a - b).abs() / b.abs().clamp(min=1e-3 * b.abs().max().item() + 1e-300)).max().item()
rel = {k: rel(a, b) for k, (a, b) in pairs.items()}
bad = [k for k, e in rel.items() if not e <= 1e-9]
print(f"{n} tokens, {nh} head(s), causal {at['causal']}, {names[j]}, {dt['added']} added: page's {', '.join(pairs)} vs PyTorch: "
      f"max relative error {max(rel.values()):.1e}; |token 1's piece of W_Q| = {pieces[0, 0].norm():.1e}" + (f"; MISMATCH {bad}" if bad else ""))
sys.exit(1 if bad else 0)
