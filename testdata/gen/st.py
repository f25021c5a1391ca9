"""Minimal safetensors writer/reader for the fixture generators.

The safetensors pip package is not available here, so this writes the format
by hand, laid out the way the reference implementation does: tensors sorted by
descending dtype alignment then name, __metadata__ first, header padded with
spaces to a multiple of 8 bytes.
"""
import json
import os
import struct

import torch

DTYPES = {
    torch.bool: "BOOL", torch.uint8: "U8", torch.int8: "I8", torch.int16: "I16",
    torch.float16: "F16", torch.bfloat16: "BF16", torch.int32: "I32",
    torch.float32: "F32", torch.float64: "F64", torch.int64: "I64",
}
RANK = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16",
        "I32", "U32", "F32", "F64", "I64", "U64"]
TORCH = {v: k for k, v in DTYPES.items()}


def _raw(t):
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bool:
        t = t.to(torch.uint8)
    elif t.dtype in (torch.float16, torch.bfloat16):
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def save(path, tensors, metadata=None):
    """Write {name: tensor} to path (atomically)."""
    if metadata is None:
        metadata = {"format": "pt"}
    items = sorted(tensors.items(), key=lambda kv: (-RANK.index(DTYPES[kv[1].dtype]), kv[0]))
    header = {"__metadata__": metadata} if metadata else {}
    blobs, off = [], 0
    for name, t in items:
        b = _raw(t)
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def load(path):
    """Read a safetensors file back into {name: tensor} (for self-checks)."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, info in header.items():
        s, e = info["data_offsets"]
        dt = TORCH[info["dtype"]]
        raw = bytearray(data[8 + n + s:8 + n + e])
        if dt in (torch.float16, torch.bfloat16):
            t = torch.frombuffer(raw, dtype=torch.int16).view(dt) if raw else torch.empty(0, dtype=dt)
        elif dt == torch.bool:
            t = torch.frombuffer(raw, dtype=torch.uint8).to(torch.bool) if raw else torch.empty(0, dtype=dt)
        else:
            t = torch.frombuffer(raw, dtype=dt) if raw else torch.empty(0, dtype=dt)
        out[name] = t.reshape(info["shape"]).clone()
    return out
