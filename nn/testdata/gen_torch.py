"""Regenerates torch_vectors.json: reference values for package nn from PyTorch.

Run with Debian's interpreter (python3-torch): /usr/bin/python3 gen_torch.py
The RoPE and RMSNorm code follows HF transformers' Llama/Qwen3 modules line for
line (transformers itself is not needed); attention repeats kv heads the way
HF's repeat_kv does. Gradients are float64 autograd of sum(out * R).
"""
import json

import torch
import torch.nn.functional as F

torch.manual_seed(1234)
F32, F64 = torch.float32, torch.float64


def flat(x):
    # 9 significant digits round-trip float32 exactly; inputs are drawn as
    # float32 so the Go side sees the very values torch used.
    return [float("%.9g" % v) for v in x.detach().reshape(-1).tolist()]


def randn(*shape, scale=1.0, shift=0.0):
    return (torch.randn(*shape, dtype=F32) * scale + shift).to(F64)


def hf_rope(dim, base, positions):
    # LlamaRotaryEmbedding._compute_default_rope_parameters + forward (float32).
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).to(dtype=torch.float) / dim))
    position_ids = torch.tensor([positions])
    inv_freq_expanded = inv_freq[None, :, None].float().expand(position_ids.shape[0], -1, 1)
    position_ids_expanded = position_ids[:, None, :].float()
    freqs = (inv_freq_expanded.float() @ position_ids_expanded.float()).transpose(1, 2)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos()[0], emb.sin()[0]


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


out = {}

# RoPE: Qwen3's head size and theta, positions far enough out that float32
# rounding of the angle is visible.
HS, theta = 128, 1_000_000.0
positions = [0, 1, 2, 1000, 4095, 32767]
cos, sin = hf_rope(HS, theta, positions)
H = 3
x = torch.randn(len(positions), H, HS, dtype=F32)
c, s = cos[:, None, :], sin[:, None, :]
rot = x * c + rotate_half(x) * s
out["rope"] = {
    "HS": HS, "theta": theta, "positions": positions, "H": H,
    "cos": flat(cos[:, : HS // 2]), "sin": flat(sin[:, : HS // 2]),
    "x": flat(x), "out": flat(rot),
}

# Causal GQA attention with left and right padding, float64.
B, T, NH, NKV, HD = 2, 40, 4, 2, 16
mask = torch.ones(B, T, dtype=torch.int32)
mask[0, :5] = 0  # left padding
mask[1, 33:] = 0  # right padding
q = randn(B, T, NH, HD).requires_grad_()
k = randn(B, T, NKV, HD).requires_grad_()
v = randn(B, T, NKV, HD).requires_grad_()
rep = NH // NKV
kk = k.transpose(1, 2)[:, :, None].expand(B, NKV, rep, T, HD).reshape(B, NH, T, HD)
vv = v.transpose(1, 2)[:, :, None].expand(B, NKV, rep, T, HD).reshape(B, NH, T, HD)
scores = q.transpose(1, 2) @ kk.transpose(-1, -2) / HD**0.5
visible = torch.tril(torch.ones(T, T, dtype=torch.bool))[None, None] & (mask[:, None, None, :] == 1)
scores = scores.masked_fill(~visible, float("-inf"))
att = torch.softmax(scores, dim=-1).nan_to_num(0.0)  # rows with no visible key -> 0
o = (att @ vv).transpose(1, 2)
R = randn(*o.shape)
(o * R).sum().backward()
out["attention"] = {
    "B": B, "T": T, "NH": NH, "NKV": NKV, "HS": HD, "mask": mask.reshape(-1).tolist(),
    "q": flat(q), "k": flat(k), "v": flat(v), "R": flat(R),
    "out": flat(o), "att": flat(att), "dq": flat(q.grad), "dk": flat(k.grad), "dv": flat(v.grad),
}

# Cross-entropy with ignored targets (torch's ignore_index), float64.
N, V = 5, 300
logits = randn(N, V, scale=4).requires_grad_()
targets = torch.tensor([3, -100, 299, 0, 150])
loss = F.cross_entropy(logits, targets, ignore_index=-100, reduction="none")
dloss = torch.rand(N, dtype=F32).to(F64)
(loss * dloss).sum().backward()
out["cross_entropy"] = {
    "N": N, "V": V, "targets": targets.tolist(), "logits": flat(logits), "dloss": flat(dloss),
    "loss": flat(loss), "dlogits": flat(logits.grad),
}

# LayerNorm (torch), RMSNorm (HF LlamaRMSNorm), GELU tanh ("gelu_new"), float64.
N, C, eps = 4, 96, 1e-5
xin = randn(N, C, scale=3, shift=1).requires_grad_()
w = randn(C).requires_grad_()
b = randn(C).requires_grad_()
y = F.layer_norm(xin, (C,), w, b, eps)
R = randn(*y.shape)
(y * R).sum().backward()
out["layer_norm"] = {"N": N, "C": C, "eps": eps, "x": flat(xin), "w": flat(w), "b": flat(b), "R": flat(R),
                     "out": flat(y), "dx": flat(xin.grad), "dw": flat(w.grad), "db": flat(b.grad)}

xin = randn(N, C, scale=3).requires_grad_()
w = randn(C).requires_grad_()
variance = xin.pow(2).mean(-1, keepdim=True)
y = w * (xin * torch.rsqrt(variance + 1e-6))  # LlamaRMSNorm.forward
R = randn(*y.shape)
(y * R).sum().backward()
out["rms_norm"] = {"N": N, "C": C, "eps": 1e-6, "x": flat(xin), "w": flat(w), "R": flat(R),
                   "out": flat(y), "dx": flat(xin.grad), "dw": flat(w.grad)}

xin = torch.linspace(-8, 8, 161, dtype=F32).to(F64).requires_grad_()
y = F.gelu(xin, approximate="tanh")
y.sum().backward()
out["gelu"] = {"x": flat(xin), "out": flat(y), "dx": flat(xin.grad)}

with open("torch_vectors.json", "w") as f:
    json.dump(out, f, separators=(",", ":"))
