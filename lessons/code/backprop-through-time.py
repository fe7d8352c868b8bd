"""Backprop through time: the ledger of W_hh, in PyTorch.

Download trace.json from the lesson's widget (the training step on screen),
then run
    python3 backprop-through-time.py trace.json
It rebuilds the RNN (tanh cell, last step, linear) from the trace and runs
the cell in a loop, keeping every hidden state's gradient dL/dh_k. Step k's
piece of dL/dW_hh is Pascanu et al.'s (2013, eq. 4) dL/dh_k times
d+h_k/dW_hh = ((1 - h_k^2) * dL/dh_k)^T h_(k-1). It checks that these pieces
are autograd's own (one copy of W_hh per step), that they add up to .grad,
and that .grad equals the engine's gradient in the trace.
"""
# test: bptt-ledger trace.json 25
# test: bptt-ledger trace.json 13 {"task": "adding", "T": 12}
import json, sys
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
trace = json.load(open(sys.argv[1]))
T = lambda t: torch.tensor(t["data"], dtype=torch.float64).reshape(t["shape"])
L = {l["type"]: l for l in trace["layers"]}
x, y = T(trace["input"]), T(trace["target"])
if "one_hot" in L:
    x = F.one_hot(x.long(), L["one_hot"]["attrs"]["num_classes"]).double()
B, steps, H = x.shape[0], x.shape[1], L["rnn"]["attrs"]["hidden_size"]
W = {n: T(v).requires_grad_() for n, v in L["rnn"]["params"].items()}
out = {n: T(v) for n, v in L["linear"]["params"].items()}
loss = lambda h: (F.cross_entropy(F.linear(h, out["weight"], out["bias"]), y.long()) if trace["loss"]["type"] == "cross_entropy"
                  else F.mse_loss(F.linear(h, out["weight"], out["bias"]), y))

def run(w_hh):                                 # w_hh(t): the W_hh that step t uses
    h, hs = torch.zeros(B, H), []
    for t in range(steps):
        h = torch.tanh(x[:, t] @ W["weight_ih"].T + W["bias_ih"] + h @ w_hh(t).T + W["bias_hh"])
        h.retain_grad()
        hs.append(h)
    return loss(h), hs

# in-code:begin ledger
L_T, hs = run(lambda t: W["weight_hh"])  # one W_hh for every step
L_T.backward()             # W_hh.grad, and h_k.grad = dL/dh_k
prev = [torch.zeros(B, H)] + hs[:-1]     # h_(k-1); h_0 = 0
# eq. 4, term k: ((1 - h_k^2) * dL/dh_k)^T h_(k-1)
pieces = [((1 - h ** 2) * h.grad).T @ p for h, p in zip(hs, prev)]
total = sum(pieces)        # = W_hh.grad
# in-code:end ledger

copies = W["weight_hh"].detach().repeat(steps, 1, 1).requires_grad_()
(each,) = torch.autograd.grad(run(lambda t: copies[t])[0], copies)   # each[t]: autograd's step-t piece
g = W["weight_hh"].grad
err = max((torch.stack(pieces) - each).abs().max().item(), (total - g).abs().max().item(),
          max((W[n].grad - T(L["rnn"]["grads"][n])).abs().max().item() for n in W))
sizes = " ".join(f"{p.norm().item():.1e}" for p in pieces)
print(f"T={steps}, batch {B}: |piece t| for t=1..T: {sizes}; pieces vs autograd, sum vs .grad, .grad vs trace <= {err:.1e}")
sys.exit(0 if err <= 1e-12 * max(1.0, g.abs().max().item()) and pieces[0].abs().max().item() == 0 else 1)
