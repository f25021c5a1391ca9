#!/usr/bin/env python3
"""One training step (forward, cross-entropy, backward, clip, AdamW) of the bench model in PyTorch.

The peer for model.BenchmarkTrainStep: GPT-2 layout, d_model 256, 4 layers, 4 heads, vocab 8192,
batch 8 x sequence 128, float32 on CPU, eager mode (PyTorch 1.13 from Debian). Run it with
OMP_WAIT_POLICY=PASSIVE and default threads — its fastest settings on this machine.
"""
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

V, C, L, H, P = 8192, 256, 4, 4, 1024
B, T = 8, 128


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(C)
        self.c_attn = nn.Linear(C, 3 * C)
        self.c_proj = nn.Linear(C, C)
        self.ln_2 = nn.LayerNorm(C)
        self.c_fc = nn.Linear(C, 4 * C)
        self.mlp_proj = nn.Linear(4 * C, C)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q = q.view(b, t, H, c // H).transpose(1, 2)
        k = k.view(b, t, H, c // H).transpose(1, 2)
        v = v.view(b, t, H, c // H).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True) if hasattr(F, "scaled_dot_product_attention") \
            else self._attn(q, k, v, t)
        x = x + self.c_proj(y.transpose(1, 2).contiguous().view(b, t, c))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))

    @staticmethod
    def _attn(q, k, v, t):
        att = (q @ k.transpose(-2, -1)) / math.sqrt(k.size(-1))
        mask = torch.ones(t, t, dtype=torch.bool).tril()
        att = att.masked_fill(~mask, float("-inf")).softmax(-1)
        return att @ v


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(P, C)
        self.h = nn.ModuleList([Block() for _ in range(L)])
        self.ln_f = nn.LayerNorm(C)

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for blk in self.h:
            x = blk(x)
        return self.ln_f(x) @ self.wte.weight.t()  # tied head


def main():
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    torch.manual_seed(0)
    model = GPT()
    for name, p in model.named_parameters():  # GPT-2's init, as Align's InitRandom
        if p.dim() == 2:
            torch.nn.init.normal_(p, std=0.02)
        elif name.endswith("bias"):
            torch.nn.init.zeros_(p)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    idx = torch.randint(0, V, (B, T))
    tgt = torch.roll(idx, -1, 1)

    def step():
        logits = model(idx)
        loss = F.cross_entropy(logits.view(-1, V), tgt.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    for _ in range(3):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = step()
    dt = time.perf_counter() - t0
    # The final loss is printed so that runs under different BLAS settings can be
    # checked to compute the same thing (a wrong kernel would change it).
    print(f"torch {torch.__version__} threads={torch.get_num_threads()} loss={loss:.5f} "
          f"step_ms={1000 * dt / steps:.1f} tokens_per_s={B * T * steps / dt:.0f}")


if __name__ == "__main__":
    main()
