"""Share across layers: check each layer's part of the shared block with PyTorch.

Download trace.json from the lesson's widget (the all-shared model with the
weights of the step on screen, on one sequence of the task), then run
    python3 share-across-layers.py trace.json
It runs the ALBERT way, one nn.TransformerEncoderLayer applied once per
layer, backpropagates and checks every .grad against the trace's. Then it
gives every layer a copy of its own of the block (the unshared stack, with
the same numbers) and checks that, for each of the block's 16 parameters,
the copies' gradients (each layer's part) add up to the shared .grad.
"""
# test: albert-share trace.json 40
# test: albert-share trace.json 40 {"blocks": 6, "d": "16", "task": "copy"}
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
x = F.embedding(tokens, T(L["embed"]["params"]["weight"])) + pe
out = {k: T(v) for k, v in L["out"]["params"].items()}
loss = lambda h: F.cross_entropy(F.linear(h, out["weight"], out["bias"]).flatten(0, 1), y.flatten())
N = sum(l["type"] == "transformer_block" for l in trace["layers"])
p, a = {k: T(v) for k, v in L["block1"]["params"].items()}, L["block1"]["attrs"]
cat = lambda s: torch.cat([p["attn." + s + c] for c in "qkv"])
state = {"self_attn.in_proj_weight": cat("w_"), "self_attn.in_proj_bias": cat("b_"),  # torch's names for the trace's
         "self_attn.out_proj.weight": p["attn.w_o"], "self_attn.out_proj.bias": p["attn.b_o"],
         "linear1.weight": p["ff1.weight"], "linear1.bias": p["ff1.bias"],
         "linear2.weight": p["ff2.weight"], "linear2.bias": p["ff2.bias"],
         "norm1.weight": p["ln1.weight"], "norm1.bias": p["ln1.bias"],
         "norm2.weight": p["ln2.weight"], "norm2.bias": p["ln2.bias"]}
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

err = 0.0
parts = {k: [c.get_parameter(k).grad for c in copies] for k, _ in block.named_parameters()}
for k, g in block.named_parameters():
    err = max(err, (sum(parts[k]) - g.grad).abs().max().item() / max(g.grad.abs().max().item(), 1e-300))
trace_grads = {k: T(L["block1"]["grads"][v]) for k, v in
               [("linear1.weight", "ff1.weight"), ("linear2.weight", "ff2.weight"), ("self_attn.out_proj.weight", "attn.w_o"), ("norm1.weight", "ln1.weight")]}
trace_grads["self_attn.in_proj_weight"] = torch.cat([T(L["block1"]["grads"]["attn.w_" + c]) for c in "qkv"])
for k, want in trace_grads.items():
    g = block.get_parameter(k).grad
    err = max(err, (g - want).abs().max().item() / g.abs().max().item())
ff = [f"{g.norm():.3g}" for g in parts["linear1.weight"]]
print(f"{N} layers, one block; |sum of layers' parts - .grad| (every parameter), |.grad - trace| <= {err:.1e} of max|.grad|; "
      f"|layer parts| of ff1.weight: {', '.join(ff)}")
sys.exit(0 if err <= 1e-9 else 1)
