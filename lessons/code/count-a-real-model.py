"""Count a real model: the page's totals again, counted by PyTorch.

Choose BERT, ALBERT or GPT-2 in the lesson's widget, download its JSON, then run
    python3 count-a-real-model.py model-count.json
It builds the same model as Hugging Face writes it, on PyTorch's "meta" device
(shapes only: no memory for the weights), sharing the PyTorch way: ALBERT's
layers reuse one module object, GPT-2's output layer is tied by assignment.
model.parameters() yields each tensor once, so its sum must be the page's
parameter count; adding up every use's tensors, as a tool that walks the
layers one by one does, must give the page's "unshared" count instead.
"""
# test: model-count json 0 {"preset":"albert-base","share":"all"}
# test: model-count json 0 {"preset":"albert-large","share":"attention","pooler":false}
# test: model-count json 0 {"preset":"gpt2","tie":true}
# test: model-count json 0 {"preset":"gpt2","tie":false}
# test: model-count json 0 {"preset":"bert-base"}
import json, sys
import torch.nn as nn

page = json.load(open(sys.argv[1]))["static"]
opt, name, M = page["params"], page["params"]["preset"], "meta"
sizes = {"bert-base": (30522, 768, 12), "bert-large": (30522, 1024, 24), "albert-base": (30000, 768, 12),
         "albert-large": (30000, 1024, 24), "albert-xlarge": (30000, 2048, 24), "gpt2": (50257, 768, 12)}
if name not in sizes:
    sys.exit(f"this script counts BERT, ALBERT and GPT-2; the page shows {name}")
V, d, n = sizes[name]
gpt, albert = name == "gpt2", name.startswith("albert")
E = int(opt["embed"]) if albert else d
share = opt["share"] if albert else "none"

# in-code:begin build
def part(kind):  # attention (q, k, v, out) or feed-forward, with its LayerNorm
    if kind == "attention":
        return nn.ModuleList([nn.Linear(d, d, device=M) for _ in "qkvo"] + [nn.LayerNorm(d, device=M)])
    return nn.ModuleList([nn.Linear(d, 4 * d, device=M), nn.Linear(4 * d, d, device=M), nn.LayerNorm(d, device=M)])

first = {k: part(k) for k in ("attention", "ffn")}  # layer 0's parts
layers = [nn.ModuleList(first[k] if i == 0 or share in ("all", k) else part(k)
                        for k in ("attention", "ffn")) for i in range(n)]

embed = nn.Embedding(V, E, device=M)
uses = [embed, nn.Embedding(1024 if gpt else 512, E, device=M)]
if not gpt:
    uses += [nn.Embedding(2, E, device=M), nn.LayerNorm(E, device=M)]
if E != d:
    uses.append(nn.Linear(E, d, device=M))  # ALBERT's factorisation: E -> d
uses += layers
if gpt:
    head = nn.Linear(d, V, bias=False, device=M)
    if opt["tie"]:
        head.weight = embed.weight  # decoder.weight = encoder.weight
    uses += [nn.LayerNorm(d, device=M), head]
elif opt["pooler"]:
    uses.append(nn.Linear(d, d, device=M))
model = nn.ModuleList(uses)
# in-code:end build

# in-code:begin count
params = sum(p.numel() for p in model.parameters())  # each tensor once
per_use = sum(p.numel() for m in model for p in m.parameters())  # once per use
# in-code:end count

want = page["total"]
print(f"{name} (share {share}, E {E}): parameters() {params:,} (page {want['params']:,}); "
      f"every use's tensors {per_use:,} (page's unshared {want['unshared']:,})")
sys.exit(0 if (params, per_use) == (want["params"], want["unshared"]) else 1)
