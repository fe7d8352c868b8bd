"""Why share? Count the widget's three layers with PyTorch.

Download the frame (.json) from the lesson's widget, then run
    python3 why-share.py param-calc.json
It builds nn.Linear, a locally connected layer (a kernel and a bias of its
own at every position) and nn.Conv2d at the widget's sizes, on PyTorch's
"meta" device (shapes without memory, so even a billion-weight dense layer is
free), and checks sum(p.numel() for p in m.parameters()) against the page's
three counts, at the size on screen and at every size of the sweep chart.
"""
# test: param-calc json 0
# test: param-calc json 0 {"size": 64, "inChannels": 3, "kernel": 5, "outChannels": 16}
import json, sys
import torch
from torch import nn

frame = json.load(open(sys.argv[1]))["static"]
p = frame["params"]
C, OC, k = p["inChannels"], p["outChannels"], p["kernel"]

# in-code:begin count
meta = {"device": "meta"}            # shapes without memory

class LocallyConnected2d(nn.Module):  # the conv's unshared twin
    def __init__(self, C, OC, k, H, W):
        super().__init__()
        # a kernel and a bias of its own at every position
        w = torch.empty(H, W, OC, C, k, k, **meta)
        self.weight = nn.Parameter(w)
        self.bias = nn.Parameter(torch.empty(OC, H, W, **meta))

def layers(n):  # n×n pixels, C channels in, OC out, "same" size
    return [nn.Linear(C * n * n, OC * n * n, **meta),
            LocallyConnected2d(C, OC, k, n, n),
            nn.Conv2d(C, OC, k, padding=k // 2, **meta)]

count = lambda m: sum(p.numel() for p in m.parameters())
conv = layers(p["size"])[2]
# one conv used twice: parameters() yields it once
twice = nn.Sequential(conv, nn.ReLU(), conv)
# in-code:end count

ours = [count(m) for m in layers(p["size"])]
page = [c["params"] for c in frame["counts"]]
bad = [(s["size"], s["params"]) for s in frame["sweep"] if [count(m) for m in layers(s["size"])] != s["params"]]
print(f"size {p['size']}: dense {ours[0]}, locally connected {ours[1]}, conv {ours[2]} (page: {page}); "
      f"{len(frame['sweep']) - len(bad)}/{len(frame['sweep'])} sweep sizes agree; conv used twice: {count(twice)}")
sys.exit(0 if ours == page and not bad and count(twice) == ours[2] else 1)
