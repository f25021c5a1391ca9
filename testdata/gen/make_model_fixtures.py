"""Writes testdata/models/<case>/: tiny HuggingFace-format checkpoints and a
float64 PyTorch reference of their forward and backward passes, the oracle for
package model. See README.md next to this file for the format.

The reference models are written here in plain torch (transformers is not
available), following modeling_gpt2.py / modeling_llama.py / modeling_mistral.py
/ modeling_qwen2.py / modeling_qwen3.py in eager mode.

Run from anywhere with Debian's torch: /usr/bin/python3 testdata/gen/make_model_fixtures.py
"""
import json
import math
import os
import shutil
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models")
B, T = 2, 7
TORCH_DTYPE = {torch.float32: "float32", torch.bfloat16: "bfloat16", torch.float16: "float16"}

# pad: None, or ("left"|"right", number of pad tokens in row 1); row 0 is never padded.
CASES = {
    # As GPT2LMHeadModel.save_pretrained writes it today: "transformer." prefix,
    # lm_head.weight omitted (tied), no attn.bias buffers.
    "gpt2": dict(family="gpt2", prefix=True, V=96, C=32, H=4, L=2, P=32, pad=None, dtype=torch.float32, seed=1),
    # Like the hub's gpt2 model.safetensors: no prefix, with the legacy
    # non-parameter buffers h.N.attn.bias / h.N.attn.masked_bias.
    "gpt2_noprefix": dict(family="gpt2", prefix=False, V=80, C=32, H=2, L=2, P=16, pad=("right", 3),
                          dtype=torch.float32, seed=2, buffers=True),
    "gpt2_f16": dict(family="gpt2", prefix=True, V=64, C=32, H=4, L=2, P=16, pad=("left", 2),
                     dtype=torch.float16, seed=3),
    "llama": dict(family="llama", V=96, C=32, H=4, KV=2, I=64, L=2, tied=False, pad=("left", 2),
                  theta=10000.0, eps=1e-5, dtype=torch.float32, seed=4),
    "llama_tied": dict(family="llama", V=64, C=32, H=4, KV=4, I=48, L=2, tied=True, pad=None,
                       theta=500000.0, eps=1e-5, dtype=torch.float32, seed=5),
    "llama_bf16": dict(family="llama", V=64, C=32, H=4, KV=2, I=64, L=2, tied=False, pad=("left", 3),
                       theta=10000.0, eps=1e-5, dtype=torch.bfloat16, seed=6),
    # Sharded into two files with model.safetensors.index.json; one KV head.
    "mistral": dict(family="mistral", V=72, C=32, H=4, KV=1, I=64, L=2, tied=False, pad=("right", 2),
                    theta=1000000.0, eps=1e-5, dtype=torch.float32, seed=7, shards=2),
    "qwen2": dict(family="qwen2", V=88, C=32, H=4, KV=2, I=64, L=2, tied=True, pad=("left", 2),
                  theta=1000000.0, eps=1e-6, dtype=torch.float32, seed=8),
    # head_dim 16 while hidden/heads = 12.
    "qwen3": dict(family="qwen3", V=64, C=48, H=4, KV=2, D=16, I=32, L=2, tied=True, pad=("right", 2),
                  theta=1000000.0, eps=1e-6, dtype=torch.float32, seed=9),
    # Llama 3.x rope_scaling. Head size 8 with theta 1e4 gives wavelengths 6.3, 63, 628, 6283: with an original
    # context of 64 and low/high frequency factors 1/4 (thresholds 64 and 16) every branch of the rule is taken.
    "llama3_rope": dict(family="llama", V=64, C=32, H=4, KV=2, I=64, L=2, tied=True, pad=("left", 2),
                        theta=10000.0, eps=1e-5, dtype=torch.float32, seed=10,
                        rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                                          original_max_position_embeddings=64)),
}


# ---------------------------------------------------------------- configs

def gpt2_config(c):
    cfg = {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.1,
        "bos_token_id": c["V"] - 1,
        "embd_pdrop": 0.1,
        "eos_token_id": c["V"] - 1,
        "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05,
        "model_type": "gpt2",
        "n_ctx": c["P"],
        "n_embd": c["C"],
        "n_head": c["H"],
        "n_layer": c["L"],
        "n_positions": c["P"],
        "reorder_and_upcast_attn": False,
        "resid_pdrop": 0.1,
        "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True,
        "summary_activation": None,
        "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "torch_dtype": TORCH_DTYPE[c["dtype"]],
        "transformers_version": "4.46.0",
        "use_cache": True,
        "vocab_size": c["V"],
    }
    if not c["prefix"]:
        # Explicit here, left to the default (true) in the other gpt2 cases,
        # as in the hub's gpt2 config.json.
        cfg["n_inner"] = None
        cfg["tie_word_embeddings"] = True
    return cfg


def llama_config(c):
    fam = c["family"]
    D = c.get("D", c["C"] // c["H"])
    cfg = {
        "architectures": [{"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM",
                           "qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM"}[fam]],
        "attention_dropout": 0.0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "hidden_act": "silu",
        "hidden_size": c["C"],
        "initializer_range": 0.02,
        "intermediate_size": c["I"],
        "max_position_embeddings": 64,
        "model_type": fam,
        "num_attention_heads": c["H"],
        "num_hidden_layers": c["L"],
        "num_key_value_heads": c["KV"],
        "rms_norm_eps": c["eps"],
        "rope_theta": c["theta"],
        "tie_word_embeddings": c["tied"],
        "torch_dtype": TORCH_DTYPE[c["dtype"]],
        "transformers_version": "4.46.0",
        "use_cache": True,
        "vocab_size": c["V"],
    }
    if fam == "llama":
        cfg.update(attention_bias=False, head_dim=D, mlp_bias=False, pretraining_tp=1,
                   rope_scaling=c.get("rope_scaling"))
        if c["tied"]:
            cfg["eos_token_id"] = [2, 3]  # Llama 3 instruct style list
        else:
            cfg["pad_token_id"] = 0
    elif fam == "mistral":
        cfg.update(head_dim=D, sliding_window=None)
    elif fam == "qwen2":
        # Qwen2 has no attention_bias key: q/k/v always carry biases.
        cfg.update(bos_token_id=c["V"] - 2, eos_token_id=c["V"] - 1, max_window_layers=c["L"],
                   sliding_window=64, use_sliding_window=False, rope_scaling=None)
    elif fam == "qwen3":
        cfg.update(attention_bias=False, head_dim=D, bos_token_id=c["V"] - 2, eos_token_id=c["V"] - 1,
                   max_window_layers=c["L"], sliding_window=None, use_sliding_window=False, rope_scaling=None)
    return cfg


# ------------------------------------------------------------- parameters

def make_params(c, g):
    """HF name -> float64 tensor, in HF layout, rounded through the storage dtype."""
    def rn(*shape, std=1.0, mean=0.0):
        return torch.randn(*shape, generator=g, dtype=torch.float64) * std + mean

    p = {}
    C, V, L = c["C"], c["V"], c["L"]
    if c["family"] == "gpt2":
        pre = "transformer." if c["prefix"] else ""
        I = 4 * C
        p[pre + "wte.weight"] = rn(V, C, std=0.3)
        p[pre + "wpe.weight"] = rn(c["P"], C, std=0.2)
        for i in range(L):
            h = f"{pre}h.{i}."
            p[h + "ln_1.weight"] = rn(C, std=0.2, mean=1.0)
            p[h + "ln_1.bias"] = rn(C, std=0.1)
            # Conv1D weights are [in, out].
            p[h + "attn.c_attn.weight"] = rn(C, 3 * C, std=C ** -0.5)
            p[h + "attn.c_attn.bias"] = rn(3 * C, std=0.1)
            p[h + "attn.c_proj.weight"] = rn(C, C, std=C ** -0.5)
            p[h + "attn.c_proj.bias"] = rn(C, std=0.1)
            p[h + "ln_2.weight"] = rn(C, std=0.2, mean=1.0)
            p[h + "ln_2.bias"] = rn(C, std=0.1)
            p[h + "mlp.c_fc.weight"] = rn(C, I, std=C ** -0.5)
            p[h + "mlp.c_fc.bias"] = rn(I, std=0.1)
            p[h + "mlp.c_proj.weight"] = rn(I, C, std=I ** -0.5)
            p[h + "mlp.c_proj.bias"] = rn(C, std=0.1)
        p[pre + "ln_f.weight"] = rn(C, std=0.2, mean=1.0)
        p[pre + "ln_f.bias"] = rn(C, std=0.1)
    else:
        H, KV, I = c["H"], c["KV"], c["I"]
        D = c.get("D", C // H)
        p["model.embed_tokens.weight"] = rn(V, C, std=0.3)
        for i in range(L):
            h = f"model.layers.{i}."
            p[h + "input_layernorm.weight"] = rn(C, std=0.2, mean=1.0)
            # nn.Linear weights are [out, in].
            p[h + "self_attn.q_proj.weight"] = rn(H * D, C, std=C ** -0.5)
            p[h + "self_attn.k_proj.weight"] = rn(KV * D, C, std=C ** -0.5)
            p[h + "self_attn.v_proj.weight"] = rn(KV * D, C, std=C ** -0.5)
            p[h + "self_attn.o_proj.weight"] = rn(C, H * D, std=(H * D) ** -0.5)
            if c["family"] == "qwen2":
                p[h + "self_attn.q_proj.bias"] = rn(H * D, std=0.2)
                p[h + "self_attn.k_proj.bias"] = rn(KV * D, std=0.2)
                p[h + "self_attn.v_proj.bias"] = rn(KV * D, std=0.2)
            if c["family"] == "qwen3":
                p[h + "self_attn.q_norm.weight"] = rn(D, std=0.2, mean=1.0)
                p[h + "self_attn.k_norm.weight"] = rn(D, std=0.2, mean=1.0)
            p[h + "post_attention_layernorm.weight"] = rn(C, std=0.2, mean=1.0)
            p[h + "mlp.gate_proj.weight"] = rn(I, C, std=C ** -0.5)
            p[h + "mlp.up_proj.weight"] = rn(I, C, std=C ** -0.5)
            p[h + "mlp.down_proj.weight"] = rn(C, I, std=I ** -0.5)
        p["model.norm.weight"] = rn(C, std=0.2, mean=1.0)
        if not c["tied"]:
            p["lm_head.weight"] = rn(V, C, std=0.3)
    return {k: v.to(c["dtype"]).to(torch.float64) for k, v in p.items()}


# ----------------------------------------------------------------- models

def attention_mask4(mask):
    """[B,T] 0/1 -> [B,1,T,T] bool: causal and hiding padded keys. A padded
    query that would see no key at all (left padding) sees itself, which keeps
    softmax finite; its output is excluded from everything downstream."""
    Tn = mask.shape[1]
    causal = torch.tril(torch.ones(Tn, Tn, dtype=torch.bool))
    allowed = causal[None] & mask.bool()[:, None, :]
    eye = torch.eye(Tn, dtype=torch.bool)[None]
    allowed = allowed | (eye & ~allowed.any(-1, keepdim=True))
    return allowed[:, None]


def attend(q, k, v, allowed, scale):
    """q [B,H,T,D], k/v [B,H,T,D] (already repeated for GQA)."""
    s = torch.matmul(q, k.transpose(-1, -2)) * scale
    s = s.masked_fill(~allowed, float("-inf"))
    return torch.matmul(torch.softmax(s, dim=-1), v)


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def gpt2_forward(c, p, ids, pos, mask):
    pre = "transformer." if c["prefix"] else ""
    C, H = c["C"], c["H"]
    D = C // H
    Bn, Tn = ids.shape
    allowed = attention_mask4(mask)
    x = p[pre + "wte.weight"][ids] + p[pre + "wpe.weight"][pos]
    for i in range(c["L"]):
        h = f"{pre}h.{i}."
        a = F.layer_norm(x, (C,), p[h + "ln_1.weight"], p[h + "ln_1.bias"], 1e-5)
        qkv = a @ p[h + "attn.c_attn.weight"] + p[h + "attn.c_attn.bias"]
        q, k, v = (t.view(Bn, Tn, H, D).transpose(1, 2) for t in qkv.split(C, dim=2))
        o = attend(q, k, v, allowed, 1.0 / math.sqrt(D)).transpose(1, 2).reshape(Bn, Tn, C)
        x = x + (o @ p[h + "attn.c_proj.weight"] + p[h + "attn.c_proj.bias"])
        m = F.layer_norm(x, (C,), p[h + "ln_2.weight"], p[h + "ln_2.bias"], 1e-5)
        m = gelu_new(m @ p[h + "mlp.c_fc.weight"] + p[h + "mlp.c_fc.bias"])
        x = x + (m @ p[h + "mlp.c_proj.weight"] + p[h + "mlp.c_proj.bias"])
    hidden = F.layer_norm(x, (C,), p[pre + "ln_f.weight"], p[pre + "ln_f.bias"], 1e-5)
    logits = hidden @ p[pre + "wte.weight"].t()
    return hidden, logits


def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def llama3_inv_freq(inv_freq, rs):
    """HF transformers' _compute_llama3_parameters, in float64."""
    factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
    old = rs["original_max_position_embeddings"]
    low_wavelen, high_wavelen = old / lo, old / hi
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_wavelen, inv_freq / factor, inv_freq)
    smooth = (old / wavelen - lo) / (hi - lo)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
    return torch.where(medium, smoothed, scaled)


def llama_forward(c, p, ids, pos, mask):
    C, H, KV, eps = c["C"], c["H"], c["KV"], c["eps"]
    D = c.get("D", C // H)
    Bn, Tn = ids.shape
    allowed = attention_mask4(mask)
    inv_freq = 1.0 / (c["theta"] ** (torch.arange(0, D, 2, dtype=torch.float64) / D))
    if c.get("rope_scaling"):
        inv_freq = llama3_inv_freq(inv_freq, c["rope_scaling"])
    freqs = pos.to(torch.float64)[..., None] * inv_freq  # [B,T,D/2]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[:, None], emb.sin()[:, None]  # [B,1,T,D]
    x = p["model.embed_tokens.weight"][ids]
    for i in range(c["L"]):
        h = f"model.layers.{i}."
        a = rms_norm(x, p[h + "input_layernorm.weight"], eps)

        def proj(name):
            y = a @ p[h + f"self_attn.{name}.weight"].t()
            if h + f"self_attn.{name}.bias" in p:
                y = y + p[h + f"self_attn.{name}.bias"]
            return y

        q = proj("q_proj").view(Bn, Tn, H, D)
        k = proj("k_proj").view(Bn, Tn, KV, D)
        v = proj("v_proj").view(Bn, Tn, KV, D).transpose(1, 2)
        if c["family"] == "qwen3":
            q = rms_norm(q, p[h + "self_attn.q_norm.weight"], eps)
            k = rms_norm(k, p[h + "self_attn.k_norm.weight"], eps)
        q, k = q.transpose(1, 2), k.transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        # repeat_kv: query head j uses kv head j // (H/KV).
        k = k.repeat_interleave(H // KV, dim=1)
        v = v.repeat_interleave(H // KV, dim=1)
        o = attend(q, k, v, allowed, D ** -0.5).transpose(1, 2).reshape(Bn, Tn, H * D)
        x = x + o @ p[h + "self_attn.o_proj.weight"].t()
        m = rms_norm(x, p[h + "post_attention_layernorm.weight"], eps)
        gate = m @ p[h + "mlp.gate_proj.weight"].t()
        up = m @ p[h + "mlp.up_proj.weight"].t()
        x = x + (F.silu(gate) * up) @ p[h + "mlp.down_proj.weight"].t()
    hidden = rms_norm(x, p["model.norm.weight"], eps)
    head = p["model.embed_tokens.weight"] if c["tied"] else p["lm_head.weight"]
    return hidden, hidden @ head.t()


def forward(c, p, ids, pos, mask):
    return (gpt2_forward if c["family"] == "gpt2" else llama_forward)(c, p, ids, pos, mask)


# ------------------------------------------------------------------ cases

def make_inputs(c, g):
    V = c["V"]
    ids = torch.randint(0, V, (B, T), generator=g, dtype=torch.int64)
    mask = torch.ones(B, T, dtype=torch.int64)
    if c["pad"]:
        side, n = c["pad"]
        if side == "left":
            mask[1, :n] = 0
        else:
            mask[1, T - n:] = 0
        ids[1][mask[1] == 0] = V - 1  # the eos/pad id
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    return ids, mask, pos


def self_checks(c, p, ids, mask, pos, logits):
    """Padding must not leak: a padded row's valid logits equal those of the
    unpadded sequence run alone, whatever tokens sit in the padding."""
    with torch.no_grad():
        for b in range(B):
            keep = mask[b].bool()
            n = int(keep.sum())
            alone_ids = ids[b][keep][None]
            _, alone = forward(c, p, alone_ids, torch.arange(n)[None], torch.ones(1, n, dtype=torch.int64))
            err = (alone[0] - logits[b][keep]).abs().max().item()
            assert err < 1e-10, (c, b, err)
        if c["pad"]:
            ids2 = ids.clone()
            ids2[mask == 0] = 3
            _, l2 = forward(c, p, ids2, pos, mask)
            keep = mask.bool()
            assert (l2[keep] - logits[keep]).abs().max().item() < 1e-12
        spread = logits[mask.bool()].std().item()
        assert 0.3 < spread < 20, ("logits too flat or too large", spread)


def grads_of(c, p, ids, pos, mask, which, dout):
    for t in p.values():
        t.grad = None
    hidden, logits = forward(c, p, ids, pos, mask)
    out = hidden if which == "hidden" else logits
    (out * dout).sum().backward()
    return {k: (t.grad if t.grad is not None else torch.zeros_like(t)).detach().clone() for k, t in p.items()}


def save_model(dirname, c, p):
    stored = {k: v.detach().to(c["dtype"]) for k, v in p.items()}
    if c.get("buffers"):
        P = c["P"]
        for i in range(c["L"]):
            stored[f"h.{i}.attn.bias"] = torch.tril(torch.ones(P, P)).view(1, 1, P, P)
            stored[f"h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
    nshards = c.get("shards", 1)
    if nshards == 1:
        st.save(os.path.join(dirname, "model.safetensors"), stored)
        return
    names = sorted(stored)
    # Split by layer like save_pretrained's size-based sharding would.
    first = [n for n in names if n == "model.embed_tokens.weight" or n.startswith("model.layers.0.")]
    parts = [first, [n for n in names if n not in first]]
    weight_map, total = {}, 0
    for i, part in enumerate(parts):
        fname = f"model-{i + 1:05d}-of-{nshards:05d}.safetensors"
        st.save(os.path.join(dirname, fname), {n: stored[n] for n in part})
        for n in part:
            weight_map[n] = fname
            total += stored[n].numel() * stored[n].element_size()
    with open(os.path.join(dirname, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)
        f.write("\n")


def make_case(name, c):
    g = torch.Generator().manual_seed(c["seed"])
    p = make_params(c, g)
    for t in p.values():
        t.requires_grad_(True)
    ids, mask, pos = make_inputs(c, g)
    valid = mask.to(torch.float64)[..., None]
    C = c["C"]
    dlogits = (torch.randn(B, T, c["V"], generator=g, dtype=torch.float64) * valid).float().double()
    dhidden = (torch.randn(B, T, C, generator=g, dtype=torch.float64) * valid).float().double()

    with torch.no_grad():
        hidden, logits = forward(c, p, ids, pos, mask)
    self_checks(c, p, ids, mask, pos, logits)
    grad = grads_of(c, p, ids, pos, mask, "logits", dlogits)
    hgrad = grads_of(c, p, ids, pos, mask, "hidden", dhidden)

    d = os.path.join(ROOT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    cfg = gpt2_config(c) if c["family"] == "gpt2" else llama_config(c)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    save_model(d, c, p)
    ref = {
        "input_ids": ids,
        "attention_mask": mask,
        "position_ids": pos,
        "logits": (logits * valid).float(),
        "hidden": (hidden * valid).float(),
        "dlogits": dlogits.float(),
        "dhidden": dhidden.float(),
    }
    for k in p:
        ref["grad." + k] = grad[k].float()
        ref["hgrad." + k] = hgrad[k].float()
    st.save(os.path.join(d, "reference.safetensors"), ref,
            metadata={"format": "pt", "generator": "testdata/gen/make_model_fixtures.py", "case": name})
    size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    print(f"{name:14s} {size / 1024:7.1f} KiB  params={sum(t.numel() for t in p.values())}"
          f"  logit std={logits[mask.bool()].std().item():.3f}")


def main():
    torch.set_num_threads(1)
    only = set(sys.argv[1:])
    for name, c in CASES.items():
        if not only or name in only:
            make_case(name, c)


if __name__ == "__main__":
    main()
