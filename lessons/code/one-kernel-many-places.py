"""One kernel, many places: check the page's output map with PyTorch.

Download the frame (.json) from the lesson's widget (after a few steps, or
after Play has filled the map), then run
    python3 one-kernel-many-places.py conv-slide.json
It runs F.conv2d on the page's digit (pixels / 255) with the page's kernel,
bias, stride, padding and dilation and compares every output cell the page
has computed. Then it makes every cell again the long way: its own patch of
the input times the same 9 weights, plus the same bias — one kernel, ten
numbers, for every value of the map.
"""
# test: conv-slide json 784
# test: conv-slide json 100 {"preset": "blur", "digit": 7, "stride": 2, "padding": 0, "dilation": 2}
import json, sys
import torch
import torch.nn.functional as F

frame = json.load(open(sys.argv[1]))
s, cells = frame["static"], frame["data"]["map"]   # the cells computed so far, in raster order
st, pad, dil = s["params"]["stride"], s["params"]["padding"], s["params"]["dilation"]
x = torch.tensor(s["pixels"], dtype=torch.float64).reshape(1, 1, s["inputH"], s["inputW"]) / 255
w = torch.tensor(s["kernel"], dtype=torch.float64).reshape(1, 1, 3, 3)
b = torch.tensor([float(s["bias"])], dtype=torch.float64)

# in-code:begin slide
# [1, 1, outH, outW]
y = F.conv2d(x, w, b, stride=st, padding=pad, dilation=dil)

# [1, 9, P]: the patch at every output position, one column each
patches = F.unfold(x, 3, dilation=dil, padding=pad, stride=st)
# the same 9 weights and the same bias at every position
by_hand = w.flatten() @ patches[0] + b
# in-code:end slide

page = torch.tensor(cells, dtype=torch.float64)
n = len(cells)
err = max((y.flatten()[:n] - page).abs().max().item() if n else 0.0, (by_hand - y.flatten()).abs().max().item())
print(f"{n} of {y.numel()} cells on the page ({s['outH']}x{s['outW']} = {tuple(y.shape[2:])}), "
      f"made by {w.numel() + b.numel()} numbers; max |page - F.conv2d|, |patch.w + b - F.conv2d| = {err:.1e}")
sys.exit(0 if tuple(y.shape[2:]) == (s["outH"], s["outW"]) and err <= 1e-12 else 1)
