"""Tied embeddings: check the two uses of the tied matrix with PyTorch.

Download trace.json from the lesson's widget (the tied model with the weights
of the step on screen, on one window of text), then run
    python3 tied-embeddings.py trace.json
It builds the model the PyTorch way, with decoder.weight = encoder.weight
(one matrix, read at the input and scoring at the output), backpropagates,
and checks .grad against the trace's. Then it gives the two uses a copy each
and checks that the input side's .grad plus the output side's .grad is the
tied matrix's .grad.
"""
# test: tied-embed trace.json 20
# test: tied-embed trace.json 20 {"d": 16}
import json, sys
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
trace = json.load(open(sys.argv[1]))
T = lambda t: torch.tensor(t["data"]).reshape(t["shape"])
L = {l["name"]: l for l in trace["layers"]}
tokens, y = T(trace["input"]).long(), T(trace["target"]).long()
n, (V, d) = tokens.shape[1], L["embed"]["params"]["weight"]["shape"]
t, i = torch.arange(n)[:, None], torch.arange(0, d, 2)
pe = torch.zeros(n, d)
pe[:, 0::2], pe[:, 1::2] = torch.sin(t / 10000 ** (i / d)), torch.cos(t / 10000 ** (i / d))
p, a = {k: T(v) for k, v in L["block"]["params"].items()}, L["block"]["attrs"]
block = nn.TransformerEncoderLayer(d, a["num_heads"], a["d_ff"], dropout=0.0, batch_first=True, norm_first=True)
cat = lambda s: torch.cat([p["attn." + s + c] for c in "qkv"])
block.load_state_dict({"self_attn.in_proj_weight": cat("w_"), "self_attn.in_proj_bias": cat("b_"),
                       "self_attn.out_proj.weight": p["attn.w_o"], "self_attn.out_proj.bias": p["attn.b_o"],
                       "linear1.weight": p["ff1.weight"], "linear1.bias": p["ff1.bias"],
                       "linear2.weight": p["ff2.weight"], "linear2.bias": p["ff2.bias"],
                       "norm1.weight": p["ln1.weight"], "norm1.bias": p["ln1.bias"],
                       "norm2.weight": p["ln2.weight"], "norm2.bias": p["ln2.bias"]})
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

want = T(L["embed"]["grads"]["weight"])
err = max((E_in.grad + E_out.grad - grad).abs().max().item(), (grad - want).abs().max().item()) / grad.abs().max().item()
rows = lambda g: int((g.abs().sum(1) > 0).sum())
print(f"{V} words, d = {d}; |input side + output side - .grad|, |.grad - trace| <= {err:.1e} of max|.grad|; "
      f"rows touched: input side {rows(E_in.grad)}, output side {rows(E_out.grad)}")
sys.exit(0 if err <= 1e-9 else 1)
