"""Attention shares its projections: check every token's piece with PyTorch.

Download trace.json from the lesson's widget (the word on screen), then run
    python3 attention-shares-its-projections.py trace.json
It loads the trace into nn.MultiheadAttention, whose in_proj_weight is
W_Q, W_K and W_V stacked (cat(w_q, w_k, w_v)) and out_proj.weight is W_O,
and backpropagates the next-letter loss. Then it runs the same attention
with a copy of its own of all four matrices for every token, and checks that
the copies' gradients (the page's per-token pieces) add up to .grad for each
of W_Q, W_K, W_V, W_O, and that .grad equals the trace's gradients.
"""
# test: attention-share trace.json 0
# test: attention-share trace.json 0 {"heads": 2, "causal": false, "dModel": 6}
import json, sys
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
trace = json.load(open(sys.argv[1]))
T = lambda t: torch.tensor(t["data"]).reshape(t["shape"])
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

err = 0.0
for j, name in enumerate(names):
    want = T(L["attn"]["grads"][name])
    scale = grads[j].abs().max().item()
    err = max(err, (pieces[:, j].sum(0) - grads[j]).abs().max().item() / scale, (grads[j] - want).abs().max().item() / scale)
print(f"{n} tokens, {nh} head(s), causal {at['causal']}; for W_Q, W_K, W_V, W_O: |sum of pieces - .grad|, |.grad - trace| "
      f"<= {err:.1e} of max|.grad|; |token 1's piece of W_Q| = {pieces[0, 0].norm():.1e}")
sys.exit(0 if err <= 1e-9 else 1)
