"""Draw a digit: the CNN on your drawing, and the drawing moved, in PyTorch.

Download the CNN step trace (trace.json) and the frame (.json) from the
lesson's widget (the CNN on the drawing the models read; its target is the
CNN's own answer), then run
    python3 draw-a-digit.py trace.json draw-digit.json
It rebuilds the CNN from the trace, checks its answer and every .grad
against the trace, then moves the drawing 1 to 8 pixels to the right. conv1
uses the same kernels at every position, so its maps move with the drawing,
exactly (equivariance) — but the last layer has a weight of its own for
every position, and the answer changes with the shift: it prints the answer
at every shift. From the page it checks the CNN's probabilities
(data.predictions[0].probs), every value of its feature maps after ReLU
(data.maps: conv1's and conv2's, each one position's use of a kernel) and
its answer and probability at every shift of the sweep (data.sweep, the
centred drawing moved -8..8; the shifts the trace's input can be moved to
without losing a column: all of them when the widget's shift is 0).
"""
# test: draw-digit trace.json+json 1 {"digit": 3}
# test: draw-digit trace.json+json 1 {"digit": 42, "shift": 3}
# test: draw-digit trace.json+json 1 {"digit": 7, "shift": -2}
import json, sys
import torch
import torch.nn.functional as F

trace, page = (json.load(open(f)) for f in sys.argv[1:3])
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

d, k = page["data"], page["params"]["shift"]
move = lambda x, s: F.pad(x, (s, 0))[..., :W] if s >= 0 else F.pad(x, (0, -s))[..., -s:]   # s pixels right, zeros in
with torch.no_grad():
    h1 = F.relu(conv1(x))
    h2 = F.relu(F.conv2d(F.max_pool2d(h1, 2), P["conv2"]["weight"], P["conv2"]["bias"], padding=1))
    sweep = [(s, torch.softmax(cnn(move(x, s - k)), 1)[0]) for s in d["sweep"]["shifts"] if k * (s - k) >= 0]
pairs = {"data.predictions[0].probs": (d["predictions"][0]["probs"], torch.softmax(logits, 1)),
         "data.maps": ([v for m in d["maps"] for v in m["values"]], torch.cat([h1.flatten(), h2.flatten()])),
         "data.sweep (cnn)": ([v for s, _ in sweep for v in (d["sweep"]["top"]["cnn"][s + 8], d["sweep"]["p"]["cnn"][s + 8])],
                              torch.tensor([v for _, p in sweep for v in (p.argmax().item(), p.max().item())], dtype=torch.float64)),
         ".grad = trace": (torch.cat([T(L[n]["grads"][k]).flatten() for n in P for k in P[n]]), torch.cat([P[n][k].grad.flatten() for n in P for k in P[n]]))}
def rel(a, b, floor):  # per entry, relative to the entry (or to floor * the largest, for tiny ones)
    a, b = torch.as_tensor(a, dtype=torch.float64).flatten(), b.detach().double().flatten()
    return ((a - b).abs() / b.abs().clamp(min=floor * b.abs().max().item() + 1e-300)).max().item()
# the CNN is sure of its own answer: its gradient is 1 - p, small and rounded, so against the largest entry
rel = {k: rel(a, b, 1 if k == ".grad = trace" else 1e-3) for k, (a, b) in pairs.items()}
bad = [k for k, e in rel.items() if not e <= 1e-9] + (["answer"] if logits.argmax().item() != y.item() else []) + (["moved maps"] if moved_err > 1e-12 else [])
print(f"answer {logits.argmax().item()} (trace: {y.item()}); conv1 maps move with the drawing to {moved_err:.1e}; answers moved 1..8 px right: {answers}; "
      f"page's {', '.join(pairs)} ({len(sweep)} shifts) vs PyTorch: max relative error {max(rel.values()):.1e}" + (f"; MISMATCH {bad}" if bad else ""))
sys.exit(1 if bad else 0)
