#!/usr/bin/env python3
"""PyTorch's side of bench/realsize/run.sh: the same steps on the same
checkpoint, in plain PyTorch modules (transformers is not installed here), so
the figures compare kernels and memory, not framework overheads.

  python3 torch_realsize.py lora-sft|full-sft|decode MODEL_DIR WORK_DIR STEPS

lora-sft: LoRA r 16 (alpha 32, dropout 0) on every Linear of a frozen base
(align's default --lora-targets all-linear), AdamW (weight decay 0, TRL's
default) on the adapters. full-sft: every weight trained, AdamW. Both take
the rows align sft trains on: WORK_DIR/sft.jsonl tokenised by align itself
(WORK_DIR/align tokenize: the chat template and tokenizer of MODEL_DIR), cut
to 512 tokens (--max-length 512), B = 4 rows a step, padded on the right to
the longest; the loss is the mean cross-entropy over the assistant's tokens
(align's default completion-only loss), and the LM head is applied to those
positions only (the peer at its best: the full [B,T,V] logits and their
gradient are ~2.5 GB at V = 151,936 and cost time for nothing). tokens/s
counts the rows' tokens, as align's tokens_per_second does.
decode: batch 1, greedy, 128 new tokens after a 32-token prompt, KV cache
(random token ids: the cost does not depend on them).
Weights are read from the bf16 safetensors and run in float32
(TORCH_DTYPE=bfloat16 keeps them bf16: PyTorch CPU bf16 matmuls, for
comparison; AUTOCAST=bf16 keeps them float32 and runs the forward pass under
torch.autocast("cpu", bfloat16), what TRL's --bf16 does, the peer of align's
--bf16). Prints a line per step ending in tokens_per_s=N (the median of the
steps after the first so far), so a run stopped by a time limit still has
its figure; the last line is the final one.
"""
import json
import math
import os
import statistics
import struct
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

DT = {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32}



def sdpa(q, k, v, causal):
    """Scaled dot-product attention: torch's fused F.scaled_dot_product_attention
    where this torch has it (2.0+); Debian's 1.13 lacks it, so there the eager
    form transformers uses on 1.13 (softmax(q·kᵀ/√d + causal mask)·v)."""
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    s = (q @ k.transpose(-2, -1)) * (q.shape[-1] ** -0.5)
    if causal:
        T, S = s.shape[-2], s.shape[-1]
        s = s.masked_fill(torch.ones(T, S, dtype=torch.bool, device=s.device).triu(S - T + 1), float("-inf"))
    return torch.softmax(s.float(), dim=-1).to(q.dtype) @ v

def read_safetensors(path):
    out = {}
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(n))
        base = 8 + n
        for name, info in hdr.items():
            if name == "__metadata__":
                continue
            a, b = info["data_offsets"]
            f.seek(base + a)
            buf = bytearray(f.read(b - a))
            t = torch.frombuffer(buf, dtype=DT[info["dtype"]]).reshape(info["shape"])
            out[name] = t
    return out


def load_weights(d):
    idx = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(idx):
        files = sorted(set(json.load(open(idx))["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    w = {}
    for f in files:
        w.update(read_safetensors(os.path.join(d, f)))
    return w


class LoRALinear(torch.nn.Module):
    def __init__(self, w, b, r, alpha):
        super().__init__()
        self.w = torch.nn.Parameter(w, requires_grad=r == 0)
        self.b = None if b is None else torch.nn.Parameter(b, requires_grad=r == 0)
        self.r = r
        if r:
            self.A = torch.nn.Parameter(torch.randn(r, w.shape[1], dtype=w.dtype) / math.sqrt(w.shape[1]))
            self.B = torch.nn.Parameter(torch.zeros(w.shape[0], r, dtype=w.dtype))
            self.scale = alpha / r

    def forward(self, x):
        y = F.linear(x, self.w, self.b)
        if self.r:
            y = y + (x @ self.A.t() @ self.B.t()) * self.scale
        return y


def rms(x, w, eps):
    v = x.float().pow(2).mean(-1, keepdim=True)
    return (x.float() * torch.rsqrt(v + eps)).to(x.dtype) * w


def rope_tables(c, T, dtype):
    hd = c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]
    inv = 1.0 / (c.get("rope_theta", 10000.0) ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    rs = c.get("rope_scaling")
    if rs and rs.get("rope_type") == "llama3":
        lo, hi, fac, old = rs["low_freq_factor"], rs["high_freq_factor"], rs["factor"], rs["original_max_position_embeddings"]
        wl = 2 * math.pi / inv
        smooth = (old / wl - lo) / (hi - lo)
        inv = torch.where(wl > old / lo, inv / fac, torch.where(wl < old / hi, inv, (1 - smooth) * inv / fac + smooth * inv))
    t = torch.arange(T, dtype=torch.float64)[:, None] * inv[None]
    emb = torch.cat([t, t], -1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def rot(x, cos, sin):
    h = x.shape[-1] // 2
    return x * cos + torch.cat([-x[..., h:], x[..., :h]], -1) * sin


class Model(torch.nn.Module):
    def __init__(self, c, w, r, alpha, dtype):
        super().__init__()
        self.c = c
        cv = lambda t: t.to(dtype)
        self.embed = torch.nn.Parameter(cv(w["model.embed_tokens.weight"]), requires_grad=r == 0)
        self.head = self.embed if c.get("tie_word_embeddings") else torch.nn.Parameter(cv(w["lm_head.weight"]), requires_grad=r == 0)
        self.norm = torch.nn.Parameter(cv(w["model.norm.weight"]), requires_grad=r == 0)
        self.layers = torch.nn.ModuleList()
        for l in range(c["num_hidden_layers"]):
            p = "model.layers.%d." % l
            g = lambda n: cv(w[p + n]) if p + n in w else None
            m = torch.nn.Module()
            for n in ("q", "k", "v", "o"):
                setattr(m, n, LoRALinear(g("self_attn.%s_proj.weight" % n), g("self_attn.%s_proj.bias" % n), r, alpha))
            for n in ("gate", "up", "down"):
                setattr(m, n, LoRALinear(g("mlp.%s_proj.weight" % n), None, r, alpha))
            m.n1 = torch.nn.Parameter(g("input_layernorm.weight"), requires_grad=r == 0)
            m.n2 = torch.nn.Parameter(g("post_attention_layernorm.weight"), requires_grad=r == 0)
            self.layers.append(m)
        self.nh, self.nkv = c["num_attention_heads"], c["num_key_value_heads"]
        self.hd = c.get("head_dim") or c["hidden_size"] // self.nh
        self.eps = c["rms_norm_eps"]

    def forward(self, ids, cos, sin, cache=None, start=0, hidden=False):
        B, T = ids.shape
        x = self.embed[ids]
        for i, m in enumerate(self.layers):
            h = rms(x, m.n1, self.eps)
            q = m.q(h).view(B, T, self.nh, self.hd).transpose(1, 2)
            k = m.k(h).view(B, T, self.nkv, self.hd).transpose(1, 2)
            v = m.v(h).view(B, T, self.nkv, self.hd).transpose(1, 2)
            q, k = rot(q, cos[start:start + T], sin[start:start + T]), rot(k, cos[start:start + T], sin[start:start + T])
            if cache is not None:
                if i in cache:
                    k = torch.cat([cache[i][0], k], 2)
                    v = torch.cat([cache[i][1], v], 2)
                cache[i] = (k, v)
            g = self.nh // self.nkv
            kk, vv = (k, v) if g == 1 else (k.repeat_interleave(g, 1), v.repeat_interleave(g, 1))
            y = sdpa(q, kk, vv, cache is None or start == 0)
            x = x + m.o(y.transpose(1, 2).reshape(B, T, -1))
            h = rms(x, m.n2, self.eps)
            x = x + m.down(F.silu(m.gate(h)) * m.up(h))
        x = rms(x, self.norm, self.eps)
        return x if hidden else x @ self.head.t()


def main():
    what, d, work, steps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    torch.manual_seed(1)
    dtype = getattr(torch, os.environ.get("TORCH_DTYPE", "float32"))
    c = json.load(open(os.path.join(d, "config.json")))
    r = 16 if what == "lora-sft" else 0
    model = Model(c, load_weights(d), r, 32, dtype)
    V = c["vocab_size"]
    if what == "decode":
        cos, sin = rope_tables(c, 32 + 128, dtype)
        ids = torch.randint(0, V, (1, 32))
        times = []
        with torch.inference_mode():
            for rep in range(2):
                cache = {}
                t0 = time.perf_counter()
                lg = model(ids, cos, sin, cache, 0)
                nxt = lg[:, -1].argmax(-1, keepdim=True)
                for s in range(127):
                    lg = model(nxt, cos, sin, cache, 32 + s)
                    nxt = lg[:, -1].argmax(-1, keepdim=True)
                times.append(time.perf_counter() - t0)
        print("decode batch 1, 128 new tokens: %.2f s best of %d; tokens_per_s=%.1f" % (min(times), len(times), 128 / min(times)))
        return
    B, T = 4, 512
    rows = sft_rows(d, work, T)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4 if r else 1e-5, weight_decay=0.0)
    autocast = os.environ.get("AUTOCAST") == "bf16"
    times, toks = [], []
    for s in range(steps):
        batch = [rows[(s * B + i) % len(rows)] for i in range(B)]
        L = max(len(ids) for ids, _ in batch)
        ids = torch.zeros(B, L, dtype=torch.long)
        tgt = torch.full((B, L), -100, dtype=torch.long)
        for i, (x, p) in enumerate(batch):
            ids[i, :len(x)] = torch.tensor(x)
            # position j predicts token j+1; the assistant's tokens (from p on) are trained
            tgt[i, p - 1:len(x) - 1] = torch.tensor(x[p:])
        n = sum(len(x) for x, _ in batch)
        cos, sin = rope_tables(c, L, dtype)
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            h = model(ids, cos, sin, hidden=True)
            sel = tgt.reshape(-1) >= 0
            lg = h.reshape(-1, h.shape[-1])[sel] @ model.head.t()
            loss = F.cross_entropy(lg.float(), tgt.reshape(-1)[sel])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
        toks.append(n)
        tps = [k / t for k, t in zip(toks[1:], times[1:])] or [toks[0] / times[0]]
        print("step %d loss %.4f %.2f s %d tokens (%d trained); tokens_per_s=%.1f" % (
            s + 1, loss.item(), times[-1], n, int(sel.sum()), statistics.median(tps)), flush=True)
    print("%s B=%d T<=%d, %d params trained, %d steps: %.2f s/step; tokens_per_s=%.1f" % (
        what, B, T, sum(p.numel() for p in params), steps, statistics.median(times[1:] or times), statistics.median(tps)), flush=True)


def sft_rows(d, work, T):
    """sft.jsonl's conversations as align tokenises them: the whole
    conversation's ids, and where the assistant's reply starts (the prompt
    rendered with its generation prompt), cut to T tokens."""
    convs = [json.loads(l)["messages"] for l in open(os.path.join(work, "sft.jsonl")) if l.strip()]
    lines = []
    for m in convs:
        lines.append(json.dumps({"messages": m}))
        lines.append(json.dumps({"messages": m[:-1], "add_generation_prompt": True}))
    out = subprocess.run([os.path.join(work, "align"), "tokenize", "--model", d], input="\n".join(lines) + "\n",
                         capture_output=True, text=True, check=True).stdout.splitlines()
    rows = []
    for k in range(0, len(out), 2):
        full, prompt = json.loads(out[k])["ids"], json.loads(out[k + 1])["ids"]
        if full[:len(prompt)] != prompt:
            sys.exit("torch_realsize: the prompt's tokens are not a prefix of the conversation's")
        rows.append((full[:T], len(prompt)))
    return rows

if __name__ == "__main__":
    main()
