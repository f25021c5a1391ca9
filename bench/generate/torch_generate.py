#!/usr/bin/python3
"""Greedy generation throughput of a GPT-2-small-shaped model in PyTorch eager.

The PyTorch side of bench/generate/run.sh: a plain nanoGPT-style model
(12 layers, d_model 768, 12 heads, vocab 50257, tied LM head, random weights)
with a preallocated KV cache, 32-token prompts, 64 new tokens (prefill, then
63 single-token steps), argmax sampling, under torch.inference_mode. Matches
BenchmarkGenerate in generate/bench_test.go.

Usage: OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 torch_generate.py BATCH [RUNS] [THREADS]
Prints one line: batch=B threads=N tokens=H tokens_per_s=X (best of RUNS after
a warm-up; H is a hash of the generated tokens, so runs under different
OpenBLAS settings can be checked to decode the same greedy sequence).
"""
import hashlib
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

L, C, NH, V, NPOS = 12, 768, 12, 50257, 1024
HS = C // NH
PROMPT, NEW = 32, 64


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(C)
        self.c_attn = nn.Linear(C, 3 * C)
        self.c_proj = nn.Linear(C, C)
        self.ln_2 = nn.LayerNorm(C)
        self.c_fc = nn.Linear(C, 4 * C)
        self.mlp_proj = nn.Linear(4 * C, C)

    def forward(self, x, kc, vc, start):
        B, T, _ = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q = q.view(B, T, NH, HS).transpose(1, 2)
        kc[:, :, start:start + T] = k.view(B, T, NH, HS).transpose(1, 2)
        vc[:, :, start:start + T] = v.view(B, T, NH, HS).transpose(1, 2)
        k, v = kc[:, :, :start + T], vc[:, :, :start + T]
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(HS))
        if T > 1:  # causal mask over the new block (keys before it are all visible)
            mask = torch.ones(T, start + T, dtype=torch.bool).tril(diagonal=start)
            att = att.masked_fill(~mask, float("-inf"))
        y = F.softmax(att, dim=-1) @ v
        x = x + self.c_proj(y.transpose(1, 2).reshape(B, T, C))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(NPOS, C)
        self.h = nn.ModuleList(Block() for _ in range(L))
        self.ln_f = nn.LayerNorm(C)
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, idx, cache, start):
        T = idx.shape[1]
        pos = torch.arange(start, start + T)
        x = self.wte(idx) + self.wpe(pos)
        for blk, (kc, vc) in zip(self.h, cache):
            x = blk(x, kc, vc, start)
        # Logits of the last position only, through the tied embedding.
        return self.ln_f(x[:, -1]) @ self.wte.weight.t()


def generate(model, prompts):
    B = prompts.shape[0]
    cache = [(torch.empty(B, NH, PROMPT + NEW, HS), torch.empty(B, NH, PROMPT + NEW, HS)) for _ in range(L)]
    logits = model(prompts, cache, 0)
    out = []
    for i in range(NEW):
        tok = logits.argmax(dim=-1, keepdim=True)
        out.append(tok)
        if i + 1 < NEW:
            logits = model(tok, cache, PROMPT + i)
    return torch.cat(out, dim=1)


def main():
    B = int(sys.argv[1])
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    if len(sys.argv) > 3:
        torch.set_num_threads(int(sys.argv[3]))
    torch.manual_seed(0)
    model = GPT().eval()
    prompts = torch.randint(0, V, (B, PROMPT))
    best = float("inf")
    with torch.inference_mode():
        generate(model, prompts)  # warm-up
        for _ in range(runs):
            t0 = time.perf_counter()
            out = generate(model, prompts)
            best = min(best, time.perf_counter() - t0)
    assert out.shape == (B, NEW)
    h = hashlib.sha256(out.to(torch.int64).numpy().tobytes()).hexdigest()[:12]
    print(f"batch={B} threads={torch.get_num_threads()} tokens={h} tokens_per_s={B * NEW / best:.1f}")


if __name__ == "__main__":
    main()
