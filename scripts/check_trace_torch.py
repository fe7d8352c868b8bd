#!/usr/bin/env python3
"""Check ParamShare step traces against PyTorch.

Reads traces written by `go run ./cmd/trace` (format paramshare-trace/1, see
docs/trace-format.md), rebuilds each model in PyTorch from the trace alone,
loads the trace's parameters, computes the loss and the gradients in float64
and compares them with the trace's.

    go run ./cmd/trace -model cnn -seed 1 > cnn.json
    python3 scripts/check_trace_torch.py cnn.json [more.json ...] [--tol 1e-9] [--verbose]

For every trace it prints one line: the model, the relative difference of
the loss, and the largest relative gradient difference over its parameters
(with the parameter's name). The relative difference of a gradient is
max|g_go − g_torch| / max|g_torch| (0 when both are 0). --verbose prints
every parameter. The exit status is 1 when a difference is above --tol.

Torch's own modules do the work wherever one exists: nn.RNN / nn.LSTM /
nn.GRU, nn.MultiheadAttention (in_proj = cat(w_q, w_k, w_v)),
nn.TransformerEncoderLayer(norm_first=True) and, for unshared_rnn, one
nn.RNNCell per time step are called with the trace's tensors through torch.nn.utils.stateless.functional_call, so a tied
parameter is one leaf tensor wherever it is used and its .grad is the sum of
its uses, as in the trace; global_avg_pool2d is
F.adaptive_avg_pool2d(x, 1) flattened. Needs PyTorch (Debian's python3-torch 1.13 is
enough).
"""
import argparse
import json
import math
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.stateless import functional_call

torch.set_default_dtype(torch.float64)


def tensor(t):
    return torch.tensor(t["data"], dtype=torch.float64).reshape(t["shape"])


class Params:
    """The trace's parameters as leaf tensors, one per owner."""

    def __init__(self):
        self.leaves = {}  # "LAYER.PARAM" -> leaf tensor (requires grad)
        self.grads = {}   # "LAYER.PARAM" -> the trace's gradient
        self.loaded = {}  # layer name -> its params, so a layer run twice (siamese) holds one set

    def load(self, layer):
        if layer["name"] in self.loaded:
            return self.loaded[layer["name"]]
        out = {}
        for local, p in layer.get("params", {}).items():
            if "same_as" in p:
                out[local] = self.leaves[p["same_as"]]
                continue
            full = layer["name"] + "." + local
            leaf = tensor(p).requires_grad_(True)
            self.leaves[full] = leaf
            self.grads[full] = tensor(layer["grads"][local])
            out[local] = leaf
        self.loaded[layer["name"]] = out
        return out


def sinusoidal(max_len, d):
    pe = torch.zeros(max_len, d)
    for t in range(max_len):
        for i in range(0, d, 2):
            angle = t / (10000 ** (i / d))
            pe[t, i] = math.sin(angle)
            if i + 1 < d:
                pe[t, i + 1] = math.cos(angle)
    return pe


def causal_mask(steps):
    return torch.triu(torch.full((steps, steps), float("-inf")), diagonal=1)


def mha(a, p, prefix, x, causal):
    """nn.MultiheadAttention with the trace's w_q … b_o."""
    mod = nn.MultiheadAttention(a["d_model"], a["num_heads"], batch_first=True, dropout=0.0)
    state = {
        "in_proj_weight": torch.cat([p[prefix + "w_q"], p[prefix + "w_k"], p[prefix + "w_v"]]),
        "in_proj_bias": torch.cat([p[prefix + "b_q"], p[prefix + "b_k"], p[prefix + "b_v"]]),
        "out_proj.weight": p[prefix + "w_o"],
        "out_proj.bias": p[prefix + "b_o"],
    }
    mask = causal_mask(x.shape[1]) if causal else None
    out, _ = functional_call(mod, state, (x, x, x), {"attn_mask": mask, "need_weights": False})
    return out


def recurrent(kind, a, p, x):
    """torch's RNN kernels, called as nn.RNN / nn.LSTM / nn.GRU.forward call them.

    functional_call cannot be used here: in torch 1.13 the recurrent modules
    run on a cached list of their own weights (_flat_weights), so parameters
    passed in would be ignored.
    """
    weights = [p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"]]
    h0 = torch.zeros(1, x.shape[0], a["hidden_size"])
    # (input, hx, weights, has_biases, num_layers, dropout, train, bidirectional, batch_first)
    if kind == "lstm":
        out, _, _ = torch._VF.lstm(x, (h0, h0.clone()), weights, True, 1, 0.0, False, False, True)
    elif kind == "gru":
        out, _ = torch._VF.gru(x, h0, weights, True, 1, 0.0, False, False, True)
    else:
        out, _ = torch._VF.rnn_tanh(x, h0, weights, True, 1, 0.0, False, False, True)
    return out


def unshared_rnn(a, p, x):
    """One nn.RNNCell (tanh) per time step, cell t with the trace's weight_ih[t] … bias_hh[t]."""
    cell = nn.RNNCell(a["input_size"], a["hidden_size"], nonlinearity="tanh")
    h = torch.zeros(x.shape[0], a["hidden_size"])
    out = []
    for t in range(x.shape[1]):  # at most seq_len steps: there are no weights past it
        state = {k: p[k][t] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
        h = functional_call(cell, state, (x[:, t], h))
        out.append(h)
    return torch.stack(out, dim=1)


def transformer_block(a, p, x):
    mod = nn.TransformerEncoderLayer(
        a["d_model"], a["num_heads"], dim_feedforward=a["d_ff"], dropout=0.0,
        activation="relu", layer_norm_eps=1e-5, batch_first=True, norm_first=True)
    mod.train()  # dropout is 0; train mode keeps torch off its inference fast path
    state = {
        "self_attn.in_proj_weight": torch.cat([p["attn.w_q"], p["attn.w_k"], p["attn.w_v"]]),
        "self_attn.in_proj_bias": torch.cat([p["attn.b_q"], p["attn.b_k"], p["attn.b_v"]]),
        "self_attn.out_proj.weight": p["attn.w_o"],
        "self_attn.out_proj.bias": p["attn.b_o"],
        "linear1.weight": p["ff1.weight"], "linear1.bias": p["ff1.bias"],
        "linear2.weight": p["ff2.weight"], "linear2.bias": p["ff2.bias"],
        "norm1.weight": p["ln1.weight"], "norm1.bias": p["ln1.bias"],
        "norm2.weight": p["ln2.weight"], "norm2.bias": p["ln2.bias"],
    }
    mask = causal_mask(x.shape[1]) if a["causal"] else None
    return functional_call(mod, state, (x,), {"src_mask": mask})


def locally_connected(a, p, x):
    k, s, pad = a["kernel_size"], a["stride"], a["padding"]
    dil = a.get("dilation", 1)
    w, b = p["weight"], p["bias"]  # [OH, OW, OC, C, k, k], [OC, OH, OW]
    oh, ow, oc = w.shape[0], w.shape[1], w.shape[2]
    cols = F.unfold(x, k, dilation=dil, padding=pad, stride=s)  # [B, C·k·k, OH·OW]
    y = torch.einsum("bkl,lok->bol", cols, w.reshape(oh * ow, oc, -1))
    return y.reshape(x.shape[0], oc, oh, ow) + b


def apply(layer, params, x):
    t, a = layer["type"], layer["attrs"]
    p = params.load(layer)
    if t == "linear":
        return F.linear(x, p["weight"], p["bias"])
    if t == "conv2d":
        return F.conv2d(x, p["weight"], p["bias"], stride=a["stride"], padding=a["padding"],
                        dilation=a.get("dilation", 1), groups=a.get("groups", 1))
    if t == "locally_connected2d":
        return locally_connected(a, p, x)
    if t == "maxpool2d":
        return F.max_pool2d(x, a["kernel_size"], a["stride"])
    if t == "avgpool2d":
        return F.avg_pool2d(x, a["kernel_size"], a["stride"])
    if t == "global_avg_pool2d":
        return F.adaptive_avg_pool2d(x, 1).flatten(1)
    if t == "relu":
        return torch.relu(x)
    if t == "tanh":
        return torch.tanh(x)
    if t == "sigmoid":
        return torch.sigmoid(x)
    if t == "flatten":
        return x.flatten(1)
    if t == "embedding":
        return F.embedding(x.long(), p["weight"])
    if t == "one_hot":
        return F.one_hot(x.long(), a["num_classes"]).double()
    if t in ("rnn", "lstm", "gru"):
        return recurrent(t, a, p, x)
    if t == "unshared_rnn":
        return unshared_rnn(a, p, x)
    if t == "last_step":
        return x[:, -1]
    if t == "positional_encoding":
        table = p["weight"] if a["kind"] == "learned" else sinusoidal(a["max_len"], a["d_model"])
        return x + table[: x.shape[1]]
    if t == "layer_norm":
        return F.layer_norm(x, (a["normalized_shape"],), p["weight"], p["bias"], a["eps"])
    if t == "self_attention":
        return mha(a, p, "", x, a["causal"])
    if t == "transformer_block":
        return transformer_block(a, p, x)
    if t == "siamese":
        def branch(v):
            for sub in layer["branch"]:
                v = apply(sub, params, v)
            return v
        # Both sides run the same layers, which hold the same leaves.
        return F.pairwise_distance(branch(x[:, 0]), branch(x[:, 1]), p=2, eps=1e-6)
    if t == "multitask_heads":
        heads = len(a["heads"])
        return torch.cat([F.linear(x, p[f"head{h}.weight"], p[f"head{h}.bias"]) for h in range(heads)], dim=-1)
    raise SystemExit(f"unknown layer type {t!r}")


def loss_of(spec, y, target):
    t = spec["type"]
    if t == "cross_entropy":
        return F.cross_entropy(y.reshape(-1, y.shape[-1]), target.long().reshape(-1))
    if t == "mse":
        return F.mse_loss(y, target)
    if t == "contrastive":
        m = spec["attrs"]["margin"]
        return (target * y ** 2 + (1 - target) * torch.clamp(m - y, min=0) ** 2).mean()
    if t == "multitask_cross_entropy":
        total, off = 0, 0
        for h, n in enumerate(spec["attrs"]["splits"]):
            total = total + F.cross_entropy(y[:, off:off + n], target[:, h].long())
            off += n
        return total
    raise SystemExit(f"unknown loss type {t!r}")


# A gradient that is zero by construction (an attention key bias, which
# softmax cancels) comes out of torch as rounding noise around 0 and out of
# the engine as exact zeros; a relative difference means nothing there, so
# such a parameter is compared in absolute terms and marked "(zero)".
ZERO = 1e-12


def rel(a, b):
    """max|a − b| / max|b|, or max|a − b| when both are below ZERO."""
    diff = (a - b).abs().max().item() if a.numel() else 0.0
    scale = max(b.abs().max().item(), a.abs().max().item()) if b.numel() else 0.0
    if scale < ZERO:
        return diff, True
    return diff / b.abs().max().item(), False


def check(trace):
    params = Params()
    x = tensor(trace["input"])
    for layer in trace["layers"]:
        x = apply(layer, params, x)
    loss = loss_of(trace["loss"], x, tensor(trace["target"]))
    loss.backward()
    want = trace["loss"]["value"]
    loss_rel = abs(loss.item() - want) / max(abs(loss.item()), 1e-300)
    rows = []
    for name, leaf in params.leaves.items():
        g = leaf.grad if leaf.grad is not None else torch.zeros_like(leaf)
        r, zero = rel(params.grads[name], g)
        rows.append((name, r, g.abs().max().item(), zero))
    return loss.item(), loss_rel, rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("traces", nargs="+")
    ap.add_argument("--tol", type=float, default=1e-9)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    print(f"# torch {torch.__version__}, float64; relative difference = max|go - torch| / max|torch|")
    print(f"{'model':<10} {'params':>7} {'loss':>12} {'loss rel':>9} {'max grad rel':>12}  worst param")
    bad = False
    for path in args.traces:
        with open(path) as f:
            trace = json.load(f)
        value, loss_rel, rows = check(trace)
        worst = max((r for r in rows if not r[3]), key=lambda r: r[1])
        zeros = [r for r in rows if r[3]]
        note = f"  ({len(zeros)} zero by construction, max abs diff {max(r[1] for r in zeros):.1e})" if zeros else ""
        print(f"{trace['model']:<10} {len(rows):>7} {value:>12.6g} {loss_rel:>9.1e} {worst[1]:>12.1e}  {worst[0]}{note}")
        if args.verbose:
            for name, r, scale, zero in rows:
                kind = "abs" if zero else "rel"
                print(f"    {name:<32} {kind} {r:.1e}  (max |grad| {scale:.3g})")
        if loss_rel > args.tol or worst[1] > args.tol or any(r[1] > args.tol for r in zeros):
            bad = True
    if bad:
        print(f"FAIL: a difference is above {args.tol:g}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
