"""Draw a digit: the CNN on your drawing, and the drawing moved, in PyTorch.

Download trace.json from the lesson's widget (the CNN on the drawing the
models read; its target is the CNN's own answer), then run
    python3 draw-a-digit.py trace.json
It rebuilds the CNN from the trace, checks its answer and every .grad
against the trace, then moves the drawing 1 to 8 pixels to the right. conv1
uses the same kernels at every position, so its maps move with the drawing,
exactly (equivariance) — but the last layer has a weight of its own for
every position, and the answer changes with the shift: it prints the answer
at every shift.
"""
# test: draw-digit trace.json 1 {"digit": 3}
# test: draw-digit trace.json 1 {"digit": 42, "shift": 3}
import json, sys
import torch
import torch.nn.functional as F

trace = json.load(open(sys.argv[1]))
T = lambda t: torch.tensor(t["data"], dtype=torch.float64).reshape(t["shape"])
L = {l["name"]: l for l in trace["layers"]}
P = {n: {k: T(v).requires_grad_() for k, v in L[n]["params"].items()} for n in ("conv1", "conv2", "fc")}
x, y = T(trace["input"]), T(trace["target"]).long()
conv1 = lambda x: F.conv2d(x, P["conv1"]["weight"], P["conv1"]["bias"], padding=1)

def cnn(x):
    h = F.max_pool2d(F.relu(conv1(x)), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, P["conv2"]["weight"], P["conv2"]["bias"], padding=1)), 2)
    return F.linear(h.flatten(1), P["fc"]["weight"], P["fc"]["bias"])

logits = cnn(x)
F.cross_entropy(logits, y).backward()
err = max((P[n][k].grad - T(L[n]["grads"][k])).abs().max().item() for n in P for k in P[n])

# in-code:begin shift
W, answers, moved_err = x.shape[3], [], 0.0
with torch.no_grad():
    a = conv1(x)
    for s in range(1, 9):
        xs = F.pad(x, (s, 0))[..., :W]  # moved s pixels right
        # the same 8 kernels at every position: the maps move too
        b = conv1(xs)
        diff = b[..., s:W - 1] - a[..., :W - 1 - s]
        moved_err = max(moved_err, diff.abs().max().item())
        # but the answer need not stay the same
        answers.append(cnn(xs).argmax().item())
# in-code:end shift

ok = logits.argmax().item() == y.item() and err <= 1e-12 and moved_err <= 1e-12
print(f"answer {logits.argmax().item()} (trace: {y.item()}); |.grad - trace| <= {err:.1e}; conv1 maps move with the drawing "
      f"to {moved_err:.1e}; answers moved 1..8 px right: {answers}")
sys.exit(0 if ok else 1)
