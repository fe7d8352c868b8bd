"""Tied embeddings: check the two uses of the tied matrix with PyTorch.

Download the step trace (trace.json) and the frame (.json) from the lesson's
widget (the pass the ledger on screen shows: the tied model with the weights
before the step's update, on the step's batch of windows), then run
    python3 tied-embeddings.py trace.json tied-embed.json
It builds the model the PyTorch way, with decoder.weight = encoder.weight
(one matrix, read at the input and scoring at the output), backpropagates,
and checks .grad against the trace's. Then it gives the two uses a copy each
and checks that the input side's .grad plus the output side's .grad is the
tied matrix's .grad, and every number of the page's ledger against the
copies: the norms of each side, their sum and dW (data.ledger in, out, sum,
dw), the rows each side touches, the batch loss, the mean row norm of each
frequency band and the rows of the sample words (data.ranks says which word
has which rank). It also checks the parameter counts of both models
(static.models[].params, embed, output; static.saved), counted by PyTorch's
parameters(), which yields the tied matrix once.
"""
# test: tied-embed trace.json+json 20
# test: tied-embed trace.json+json 20 {"d": 16}
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
p, a = {k: T(v) for k, v in L["block"]["params"].items()}, L["block"]["attrs"]
block = nn.TransformerEncoderLayer(d, a["num_heads"], a["d_ff"], dropout=0.0, batch_first=True, norm_first=True)
cat = lambda s: torch.cat([p["attn." + s + c] for c in "qkv"])
torch_name = {"ff1": "linear1", "ff2": "linear2", "ln1": "norm1", "ln2": "norm2"}
block.load_state_dict({"self_attn.in_proj_weight": cat("w_"), "self_attn.in_proj_bias": cat("b_"),
                       "self_attn.out_proj.weight": p["attn.w_o"], "self_attn.out_proj.bias": p["attn.b_o"],
                       **{torch_name[k[:3]] + k[3:]: v for k, v in p.items() if k[:3] in torch_name}})
causal = torch.triu(torch.full((n, n), float("-inf")), 1)
loss = lambda z: F.cross_entropy(z.flatten(0, 1), y.flatten())

# in-code:begin two-uses
encoder, decoder = nn.Embedding(V, d), nn.Linear(d, V)
decoder.weight = encoder.weight  # tied: one matrix, two uses
with torch.no_grad():
    encoder.weight.copy_(T(L["embed"]["params"]["weight"]))
    decoder.bias.copy_(T(L["out"]["params"]["bias"]))
h = block(encoder(tokens) + pe, src_mask=causal)
loss(decoder(h)).backward()
grad = encoder.weight.grad  # the sum of both uses

# Untied for one pass: a copy for each use.
E_in = encoder.weight.detach().clone().requires_grad_()
E_out = encoder.weight.detach().clone().requires_grad_()
h = block(F.embedding(tokens, E_in) + pe, src_mask=causal)
loss(F.linear(h, E_out, decoder.bias)).backward()
# E_in.grad + E_out.grad is grad: the input side plus the output side
# in-code:end two-uses

st, lg, rank = page["static"], page["data"]["ledger"], torch.tensor(page["data"]["ranks"])
rows = lambda g: int((g.abs().sum(1) > 0).sum())
tied = sum(q.numel() for q in nn.ModuleList([encoder, block, decoder]).parameters())  # the tied matrix once
m = {x["name"]: x for x in st["models"]}
sides = {"in": E_in.grad, "out": E_out.grad, "sum": E_in.grad + E_out.grad, "dw": grad}
norm = lambda g, ks: g[rank[ks]].norm(dim=1)  # row norms of the words of frequency ranks ks
wk = torch.tensor([x["rank"] for x in st["words"]])
pairs = {"static.models, saved": ([m["tied"]["params"], m["untied"]["params"], m["tied"]["embed"], m["untied"]["embed"], m["tied"]["output"], m["untied"]["output"], st["saved"]],
                                  torch.tensor([tied, tied + V * d, V * d, V * d, V, V * d + V, V * d])),
         "ledger in, out, sum, dw": ([lg[k] for k in sides], torch.stack([g.norm() for g in sides.values()])),
         "ledger inRows, outRows": ([lg["inRows"], lg["outRows"]], torch.tensor([rows(E_in.grad), rows(E_out.grad)])),
         "ledger batchLoss": ([lg["batchLoss"]], loss(decoder(h)).detach()),
         "ledger bandIn, bandOut": (lg["bandIn"] + lg["bandOut"], torch.stack([norm(g, torch.arange(lo, hi)).mean() for g in (E_in.grad, E_out.grad) for lo, hi in st["bands"]])),
         "ledger wordIn, wordOut, wordSum, wordDW": (sum((lg["word" + k] for k in ("In", "Out", "Sum", "DW")), []), torch.cat([norm(g, wk) for g in sides.values()])),
         "in + out = .grad": (E_in.grad + E_out.grad, grad), ".grad = trace": (L["embed"]["grads"]["weight"]["data"], grad)}
def rel(a, b):  # per entry, relative to the entry (or to 1e-3 of the largest, for tiny ones)
    a, b = torch.as_tensor(a, dtype=torch.float64).flatten(), b.detach().double().flatten()
    return ((a - b).abs() / b.abs().clamp(min=1e-3 * b.abs().max().item() + 1e-300)).max().item()
rel = {k: rel(a, b) for k, (a, b) in pairs.items()}
bad = [k for k, e in rel.items() if not e <= 1e-9]
print(f"{V} words, d = {d}, {tokens.shape[0]} windows; rows touched: input side {rows(E_in.grad)}, output side {rows(E_out.grad)}; "
      f"page's ledger (4 norms, rows, loss, {len(st['bands'])} bands, {len(wk)} words), parameter counts, in + out = .grad, .grad = trace "
      f"vs PyTorch: max relative error {max(rel.values()):.1e}" + (f"; MISMATCH {bad}" if bad else ""))
sys.exit(1 if bad else 0)
