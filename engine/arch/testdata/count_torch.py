"""Count the presets again in PyTorch, independently of engine/arch.

Each model is written as its source writes it (torchvision's AlexNet, VGG-16
and ResNet-18; Hugging Face's BertModel, AlbertModel and GPT2LMHeadModel,
with nn.Linear for GPT-2's Conv1D), built on the meta device (no memory),
and counted by PyTorch itself: sum(p.numel() for p in model.parameters()),
which holds a shared or tied tensor once. Sharing is done the PyTorch way:
ALBERT's layers reuse one module object, GPT-2's head is tied with
`lm_head.weight = wte.weight`. For the CNNs a forward pass on a meta tensor
gives every layer's real output shape, from which forward hooks count the
uses and the locally connected ("unshared") size as docs/counting.md
defines them. Prints one JSON object: {variant: {"params": …, …}}.
"""
import json
import sys

import torch
import torch.nn as nn

META = torch.device("meta")


def n_params(m):
    return sum(p.numel() for p in m.parameters())


# ---- LeNet-5 (LeCun et al. 1998) ----
C3 = [[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5], [4, 5, 0], [5, 0, 1],
      [0, 1, 2, 3], [1, 2, 3, 4], [2, 3, 4, 5], [3, 4, 5, 0], [4, 5, 0, 1], [5, 0, 1, 2],
      [0, 1, 3, 4], [1, 2, 4, 5], [0, 2, 3, 5], [0, 1, 2, 3, 4, 5]]


class Subsample(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.coef = nn.Parameter(torch.empty(c, device=META))
        self.bias = nn.Parameter(torch.empty(c, device=META))


class PartialConv(nn.Module):
    def __init__(self, table, k):
        super().__init__()
        self.maps = nn.ModuleList(nn.Conv2d(len(ins), 1, k, device=META) for ins in table)


def lenet5():
    return nn.ModuleList([
        nn.Conv2d(1, 6, 5, device=META), Subsample(6), PartialConv(C3, 5), Subsample(16),
        nn.Conv2d(16, 120, 5, device=META), nn.Linear(120, 84, device=META),
        # the RBF output's centres are fixed: a buffer, not a parameter
    ])


# ---- torchvision ----
def alexnet():
    return nn.Sequential(
        nn.Conv2d(3, 64, 11, 4, 2, device=META), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2, device=META), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1, device=META), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1, device=META), nn.ReLU(),
        nn.Conv2d(256, 256, 3, padding=1, device=META), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.AdaptiveAvgPool2d((6, 6)), nn.Flatten(),
        nn.Dropout(), nn.Linear(256 * 6 * 6, 4096, device=META), nn.ReLU(),
        nn.Dropout(), nn.Linear(4096, 4096, device=META), nn.ReLU(),
        nn.Linear(4096, 1000, device=META))


def vgg16():
    layers, c = [], 3
    for v in [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1, device=META), nn.ReLU()]
            c = v
    layers += [nn.AdaptiveAvgPool2d((7, 7)), nn.Flatten(),
               nn.Linear(512 * 7 * 7, 4096, device=META), nn.ReLU(), nn.Dropout(),
               nn.Linear(4096, 4096, device=META), nn.ReLU(), nn.Dropout(),
               nn.Linear(4096, 1000, device=META)]
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    def __init__(self, inp, out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, out, 3, stride, 1, bias=False, device=META)
        self.bn1 = nn.BatchNorm2d(out, device=META)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(out, out, 3, 1, 1, bias=False, device=META)
        self.bn2 = nn.BatchNorm2d(out, device=META)
        self.downsample = None
        if stride != 1 or inp != out:
            self.downsample = nn.Sequential(nn.Conv2d(inp, out, 1, stride, bias=False, device=META),
                                            nn.BatchNorm2d(out, device=META))

    def forward(self, x):
        y = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(y + (self.downsample(x) if self.downsample is not None else x))


def resnet18():
    layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False, device=META), nn.BatchNorm2d(64, device=META),
              nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    inp = 64
    for stage, width in enumerate([64, 128, 256, 512]):
        for b in range(2):
            layers.append(BasicBlock(inp, width, 2 if b == 0 and stage > 0 else 1))
            inp = width
    layers += [nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(512, 1000, device=META)]
    return nn.Sequential(*layers)


def cnn_counts(model):
    """params, uses and the locally connected size, from real output shapes."""
    uses, unshared = [0], [0]

    def hook(mod, inp, out):
        if isinstance(mod, nn.Conv2d):
            pos = out.shape[2] * out.shape[3]
            k = mod.weight[0].numel()  # in/groups · k · k
            uses[0] += pos * mod.out_channels * k
            unshared[0] += pos * mod.out_channels * k + (mod.out_channels * pos if mod.bias is not None else 0)
        elif isinstance(mod, nn.Linear):
            uses[0] += mod.in_features * mod.out_features
            unshared[0] += n_params(mod)
        elif isinstance(mod, nn.BatchNorm2d):
            uses[0] += out[0].numel()
            unshared[0] += n_params(mod)

    for m in model.modules():
        m.register_forward_hook(hook)
    model(torch.empty(1, 3, 224, 224, device=META))
    return {"params": n_params(model), "uses": uses[0], "unshared": unshared[0]}


# ---- Hugging Face BERT / ALBERT / GPT-2 ----
class Embeddings(nn.Module):  # BertEmbeddings / AlbertEmbeddings
    def __init__(self, vocab, e):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, e, device=META)
        self.position_embeddings = nn.Embedding(512, e, device=META)
        self.token_type_embeddings = nn.Embedding(2, e, device=META)
        self.LayerNorm = nn.LayerNorm(e, eps=1e-12, device=META)
        self.register_buffer("position_ids", torch.arange(512, device=META))  # a buffer: not counted


class Attention(nn.Module):  # BertAttention / AlbertAttention: q, k, v, output dense, LayerNorm
    def __init__(self, d):
        super().__init__()
        self.query, self.key, self.value, self.dense = (nn.Linear(d, d, device=META) for _ in range(4))
        self.LayerNorm = nn.LayerNorm(d, eps=1e-12, device=META)


class FFN(nn.Module):  # intermediate + output (+ its LayerNorm)
    def __init__(self, d, ff):
        super().__init__()
        self.intermediate = nn.Linear(d, ff, device=META)
        self.output = nn.Linear(ff, d, device=META)
        self.LayerNorm = nn.LayerNorm(d, eps=1e-12, device=META)


class Layer(nn.Module):
    def __init__(self, attention, ffn):
        super().__init__()
        self.attention, self.ffn = attention, ffn


def bert(vocab, d, n, pooler):
    m = nn.Module()
    m.embeddings = Embeddings(vocab, d)
    m.layer = nn.ModuleList(Layer(Attention(d), FFN(d, 4 * d)) for _ in range(n))
    if pooler:
        m.pooler = nn.Linear(d, d, device=META)
    return m


def albert(d, n, share, pooler, e=128, vocab=30000):
    m = nn.Module()
    m.embeddings = Embeddings(vocab, e)
    if e != d:
        m.embedding_hidden_mapping_in = nn.Linear(e, d, device=META)
    attn0, ffn0 = Attention(d), FFN(d, 4 * d)
    layers = []
    for i in range(n):
        a = attn0 if i == 0 or share in ("all", "attention") else Attention(d)
        f = ffn0 if i == 0 or share in ("all", "ffn") else FFN(d, 4 * d)
        layers.append(Layer(a, f))
    m.layer = nn.ModuleList(layers)  # the same module object in many places: counted once
    if pooler:
        m.pooler = nn.Linear(d, d, device=META)
    return m


class GPT2Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d, device=META)
        self.c_attn = nn.Linear(d, 3 * d, device=META)  # Conv1D(3d, d): weight [d, 3d], bias [3d]
        self.c_proj = nn.Linear(d, d, device=META)
        self.ln_2 = nn.LayerNorm(d, device=META)
        self.c_fc = nn.Linear(d, 4 * d, device=META)
        self.mlp_proj = nn.Linear(4 * d, d, device=META)
        self.register_buffer("bias", torch.empty(1, 1, 1024, 1024, device=META))  # the causal mask: a buffer


def gpt2(tie):
    m = nn.Module()
    m.wte = nn.Embedding(50257, 768, device=META)
    m.wpe = nn.Embedding(1024, 768, device=META)
    m.h = nn.ModuleList(GPT2Block(768) for _ in range(12))
    m.ln_f = nn.LayerNorm(768, device=META)
    m.lm_head = nn.Linear(768, 50257, bias=False, device=META)
    if tie:
        m.lm_head.weight = m.wte.weight
    return m


def main():
    out = {"lenet5": {"params": n_params(lenet5())}}
    for name, f in [("alexnet", alexnet), ("vgg16", vgg16), ("resnet18", resnet18)]:
        out[name] = cnn_counts(f())
    for name, d, n in [("bert-base", 768, 12), ("bert-large", 1024, 24)]:
        for pooler in (True, False):
            for vocab in (30522, 30000):
                key = name + ("" if pooler else " nopooler") + ("" if vocab == 30522 else " vocab30000")
                out[key] = {"params": n_params(bert(vocab, d, n, pooler))}
    for name, d, n in [("albert-base", 768, 12), ("albert-large", 1024, 24), ("albert-xlarge", 2048, 24)]:
        for share in ("all", "attention", "ffn", "none"):
            for pooler in (True, False):
                out["%s %s%s" % (name, share, "" if pooler else " nopooler")] = {"params": n_params(albert(d, n, share, pooler))}
    for e in (64, 256, 768):
        for share in ("all", "attention", "ffn", "none"):
            for pooler in (True, False):
                out["albert-base %s%s embed%d" % (share, "" if pooler else " nopooler", e)] = {
                    "params": n_params(albert(768, 12, share, pooler, e=e))}
    out["gpt2 tied"] = {"params": n_params(gpt2(True))}
    out["gpt2 untied"] = {"params": n_params(gpt2(False))}
    json.dump(out, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
