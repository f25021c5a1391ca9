#!/usr/bin/python3
"""Refuses to benchmark against a PyTorch whose BLAS is the reference one.

Debian's python3-torch links libblas.so.3, which resolves to whatever BLAS the
alternatives system picks; with only libblas3 installed that is the netlib
reference implementation, 10-30x slower than OpenBLAS, and every ratio against
it would be meaningless (seen on a fresh machine: 10 tok/s at batch 1 instead
of 30). Exit status 1 with the fix when a 512x512 matmul runs below 20 GFLOP/s.
"""
import sys
import time

import torch

a = torch.randn(512, 512)
a @ a
t = time.perf_counter()
for _ in range(20):
    a @ a
g = 20 * 2 * 512**3 / (time.perf_counter() - t) / 1e9
if g < 20:
    sys.exit(f"PyTorch's matmul runs {g:.1f} GFLOP/s: its BLAS is the reference one, not OpenBLAS; "
             "install it (apt-get install libopenblas0-pthread) and rerun")
print(f"torch {torch.__version__}, matmul 512^3 {g:.0f} GFLOP/s, {torch.get_num_threads()} thread(s)")


def cpu():
    """The CPU line every benchmark figure needs: model name, family, model and,
    for AMD, the Zen generation (family 25 = Zen 3 or 4 by model, 26 = Zen 5)."""
    info = {}
    try:
        for line in open("/proc/cpuinfo"):
            k, _, v = line.partition(":")
            info.setdefault(k.strip(), v.strip())
    except OSError:
        return "cpu: unknown"
    fam, mod = int(info.get("cpu family", "0")), int(info.get("model", "0"))
    gen = ""
    if info.get("vendor_id") == "AuthenticAMD":
        gen = {26: "Zen 5"}.get(fam, "")
        if fam == 25:
            gen = "Zen 4" if 0x10 <= mod <= 0x1F or 0x60 <= mod <= 0x7F or 0xA0 <= mod <= 0xAF else "Zen 3"
    return f"cpu: {info.get('model name', '?')}, family {fam} model {mod}" + (f" ({gen})" if gen else "")


print(cpu())
