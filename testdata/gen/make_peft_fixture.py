"""Writes PEFT LoRA adapter directories for the fixture models, independently
of Align's Go code: plain Python (struct + json, no torch), laid out as PEFT's
save_pretrained writes them.

    /usr/bin/python3 testdata/gen/make_peft_fixture.py

testdata/peft/<case>/ gets adapter_config.json and adapter_model.safetensors
with PEFT's tensor names, base_model.model.<module>.lora_A.weight [r, in] and
.lora_B.weight [out, r] (F32), for the base in testdata/models/<base>:
- gpt2_conv1d (base gpt2): target_modules c_attn and c_proj (which PEFT
  matches in both attn and mlp), r 4, lora_alpha 8, fan_in_fan_out true as
  PEFT sets it for GPT-2's Conv1D. lora_A/lora_B keep the [r,in]/[out,r]
  shapes; PEFT transposes B@A into Conv1D's [in, out] layout when merging.
- llama (base llama): q_proj, v_proj and down_proj, r 2, lora_alpha 6.
Both A and B are random (B is nonzero, unlike PEFT's initialisation, so the
merge is visible). The merged weight PEFT computes is W + (lora_alpha/r)·B·A.
"""
import json
import os
import random
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def read_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n))


def save(path, tensors):
    """tensors: {name: (shape, [float])}; writes F32 little-endian."""
    header = {"__metadata__": {"format": "pt"}}
    blobs, off = [], 0
    for name in sorted(tensors):
        shape, vals = tensors[name]
        b = struct.pack("<%df" % len(vals), *vals)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def make(case, base, targets, r, alpha, fan_in_fan_out, seed):
    hdr = read_header(os.path.join(ROOT, "models", base, "model.safetensors"))
    rng = random.Random(seed)
    tensors = {}
    for name in sorted(hdr):
        if name == "__metadata__" or not name.endswith(".weight"):
            continue
        module = name[: -len(".weight")]
        if not any(module == t or module.endswith("." + t) for t in targets):
            continue
        shape = hdr[name]["shape"]
        # Conv1D stores [in, out]; nn.Linear [out, in].
        n_in, n_out = (shape[0], shape[1]) if fan_in_fan_out else (shape[1], shape[0])
        a = [rng.uniform(-0.5, 0.5) for _ in range(r * n_in)]
        b = [rng.uniform(-0.5, 0.5) for _ in range(n_out * r)]
        tensors["base_model.model." + module + ".lora_A.weight"] = ([r, n_in], a)
        tensors["base_model.model." + module + ".lora_B.weight"] = ([n_out, r], b)
    assert tensors, case
    out = os.path.join(ROOT, "peft", case)
    os.makedirs(out, exist_ok=True)
    cfg = {
        "base_model_name_or_path": "testdata/models/" + base, "bias": "none",
        "fan_in_fan_out": fan_in_fan_out, "inference_mode": True, "init_lora_weights": True,
        "lora_alpha": alpha, "lora_dropout": 0.0, "modules_to_save": None, "peft_type": "LORA",
        "r": r, "target_modules": targets, "task_type": "CAUSAL_LM", "use_dora": False, "use_rslora": False,
    }
    with open(os.path.join(out, "adapter_config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    save(os.path.join(out, "adapter_model.safetensors"), tensors)
    print(case, len(tensors) // 2, "adapters")


make("gpt2_conv1d", "gpt2", ["c_attn", "c_proj"], 4, 8, True, 1)
make("llama", "llama", ["q_proj", "v_proj", "down_proj"], 2, 6, False, 2)
