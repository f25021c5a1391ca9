"""Generate adamw_torch.json: reference AdamW + clip_grad_norm_ trajectories.

Run with Debian's PyTorch (python3-torch 1.13):  /usr/bin/python3 gen_adamw.py
The Go tests replay the same gradients through optim.AdamW / optim.ClipGradNorm
and compare every step's parameters and pre-clip norm with these values.

Layout: four tensors in one flat vector, as the Go side sees them:
  w  (decay)      3x4
  b  (no decay)   4
  f  (frozen)     5      requires_grad=False, must never change
  e  (decay)      2x3
"""
import json
import math

import torch

torch.manual_seed(1234)

SPANS = [
    ("w", (3, 4), True, False),
    ("b", (4,), False, False),
    ("f", (5,), True, True),
    ("e", (2, 3), True, False),
]

CONFIGS = [
    # torch defaults apart from a visible weight decay; clipping usually active
    dict(name="default", lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1, max_norm=1.0, steps=12, gscale=1.0),
    # large eps and small gradients: eps placement (after sqrt(v_hat)) matters;
    # lr follows a warmup+cosine multiplier so Step's lr argument is exercised
    dict(name="large_eps", lr=5e-2, betas=(0.8, 0.95), eps=1e-3, weight_decay=0.3, max_norm=0.0, steps=10, gscale=2e-3),
]


def f32list(t):
    # float32 values printed as Python floats (doubles) are exact
    return [float(x) for x in t.detach().reshape(-1).tolist()]


def cosine_factor(step, warmup, total):
    if step < warmup:
        return step / max(1, warmup)
    progress = (step - warmup) / max(1, total - warmup)
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress)))


out = {"spans": [], "configs": []}
off = 0
for name, shape, decay, frozen in SPANS:
    n = 1
    for d in shape:
        n *= d
    out["spans"].append(dict(name=name, offset=off, size=n, decay=decay, frozen=frozen))
    off += n
out["n"] = off

for cfg in CONFIGS:
    params = []
    for name, shape, decay, frozen in SPANS:
        p = torch.randn(shape, dtype=torch.float32)
        p.requires_grad_(not frozen)
        params.append(p)
    init = torch.cat([p.detach().reshape(-1) for p in params])
    decay_params = [p for (n, s, d, fr), p in zip(SPANS, params) if d and not fr]
    nodecay_params = [p for (n, s, d, fr), p in zip(SPANS, params) if not d and not fr]
    opt = torch.optim.AdamW(
        [
            {"params": decay_params, "weight_decay": cfg["weight_decay"]},
            {"params": nodecay_params, "weight_decay": 0.0},
        ],
        lr=cfg["lr"], betas=cfg["betas"], eps=cfg["eps"], foreach=False,
    )
    trainable = [p for p in params if p.requires_grad]
    steps = []
    for t in range(cfg["steps"]):
        grads = []
        for p in params:
            g = torch.randn(p.shape, dtype=torch.float32) * cfg["gscale"]
            if t == 3:
                g = g * 10.0  # one spike so clipping bites
            if p.requires_grad:
                p.grad = g.clone()
            grads.append(g)
        flat_grad = torch.cat([g.reshape(-1) for g in grads])
        rec = {"grad": f32list(flat_grad)}
        if cfg["max_norm"] > 0:
            norm = torch.nn.utils.clip_grad_norm_(trainable, cfg["max_norm"])
            rec["norm"] = float(norm)
            rec["clipped"] = f32list(torch.cat([
                (p.grad if p.requires_grad else torch.zeros(p.shape)).reshape(-1) for p in params]))
        lr = cfg["lr"]
        if cfg["name"] == "large_eps":
            lr = cfg["lr"] * cosine_factor(t, 2, cfg["steps"])
            for g in opt.param_groups:
                g["lr"] = lr
        rec["lr"] = lr
        opt.step()
        rec["params"] = f32list(torch.cat([p.detach().reshape(-1) for p in params]))
        steps.append(rec)
    out["configs"].append(dict(
        name=cfg["name"], beta1=cfg["betas"][0], beta2=cfg["betas"][1], eps=cfg["eps"],
        weight_decay=cfg["weight_decay"], max_norm=cfg["max_norm"], init=f32list(init), steps=steps,
        torch_version=torch.__version__,
    ))

with open("adamw_torch.json", "w") as f:
    json.dump(out, f, indent=None, separators=(",", ":"))
    f.write("\n")
