#!/usr/bin/env python3
"""Reference values for nn's compact weights (nn/qweight_test.go), computed
independently of the Go code from the QLoRA paper and bitsandbytes' recipes:

- NF4 levels: bitsandbytes create_normal_map(offset=0.9677083, use_extra_value=True):
  8 positive quantiles norm.ppf(linspace(offset, 0.5, 9)[:-1]), 7 negative
  -norm.ppf(linspace(offset, 0.5, 8)[:-1]), and 0, sorted, divided by the largest.
  norm.ppf by bisection on math.erf (no SciPy needed).
- FP4 levels by code: bitsandbytes' e2m1 layout, code bits [sign e1 e0 m]:
  e = 0 -> m * 0.0625, else 2^(4-e) * (1 + m/2); divided by the largest (12).
- Dynamic 8-bit code (double quantisation): create_dynamic_map(signed=True,
  max_exponent_bits=7, total_bits=8).
- Blockwise absmax quantisation (blocks of 64 over the flattened weight, nearest
  level of x * f32(1/absmax), as bitsandbytes' kQuantizeBlockwise), double
  quantisation (absmax - mean, blocks of 256, nearest dynamic-code entry), and
  LLM.int8() row-wise weight quantisation round(w * 127 / absmax_row).

The weights come from an integer LCG both languages replay exactly. Plain
Python (struct for float32 rounding), so it runs without NumPy.

Usage: python3 testdata/gen/make_quant_fixture.py > nn/testdata/quant.json
"""
import json
import math
import struct

OC, IC = 193, 100  # 19,300 weights: 302 blocks of 64 (last one 36), 2 blocks of 256 absmaxes
ZERO_BLOCK = 5


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def weights():
    x = 12345
    out = []
    for i in range(OC * IC):
        x = (x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        u = (x >> 32) / 2.0**32
        b = i // 64
        v = 0.0 if b == ZERO_BLOCK else (u - 0.5) * 2.0 ** -(b % 7)
        out.append(f32(v))
    return out


def norm_ppf(p):
    lo, hi = -10.0, 10.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if 0.5 * (1 + math.erf(mid / math.sqrt(2))) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def linspace(a, b, n):
    return [a + (b - a) * i / (n - 1) for i in range(n)]


def nf4_levels():
    offset = 0.9677083
    pos = [norm_ppf(p) for p in linspace(offset, 0.5, 9)[:-1]]
    neg = [-norm_ppf(p) for p in linspace(offset, 0.5, 8)[:-1]]
    v = sorted(pos + [0.0] + neg)
    m = max(v)
    return [x / m for x in v]


def fp4_levels():
    out = []
    for code in range(16):
        s = -1.0 if code & 8 else 1.0
        e, m = (code >> 1) & 3, code & 1
        mag = m * 0.0625 if e == 0 else 2.0 ** (4 - e) * (1 + m / 2)
        out.append(s * mag / 12.0)
    return out


def dynamic_map():
    data = []
    for i in range(7):
        k = 2**i
        bnd = linspace(0.1, 1, k + 1)
        means = [(bnd[j] + bnd[j + 1]) / 2 for j in range(k)]
        data += [10 ** (-6 + i) * m for m in means]
        data += [-(10 ** (-6 + i)) * m for m in means]
    data += [0.0, 1.0]
    assert len(data) == 256
    return sorted(data)


def nearest(x, levels):
    # code of the nearest level; FP4's -0 (code 8) never wins over +0 (code 0)
    best, bd = None, None
    for c, l in enumerate(levels):
        d = abs(x - l)
        if bd is None or d < bd:
            best, bd = c, d
    return best


def quant4(w, levels):
    n = len(w)
    nb = (n + 63) // 64
    codes, absmax = [], []
    for b in range(nb):
        blk = w[b * 64:(b + 1) * 64]
        m = max(abs(v) for v in blk)
        absmax.append(m)
        inv = f32(1.0 / m) if m > 0 else 0.0
        codes += [nearest(f32(v * inv), levels) for v in blk]
    return codes, absmax


def double_quant(absmax, dyn):
    offset = f32(sum(absmax) / len(absmax))
    codes, scale = [], []
    for b in range((len(absmax) + 255) // 256):
        c = [f32(a - offset) for a in absmax[b * 256:(b + 1) * 256]]
        m = max(abs(v) for v in c)
        scale.append(m)
        inv = f32(1.0 / m) if m > 0 else 0.0
        codes += [nearest(f32(v * inv), dyn) for v in c]
    deq = [f32(f32(dyn[codes[i]] * scale[i // 256]) + offset) for i in range(len(absmax))]
    return codes, scale, offset, deq


def main():
    w = weights()
    nf4 = [f32(v) for v in nf4_levels()]
    fp4 = [f32(v) for v in fp4_levels()]
    dyn = [f32(v) for v in dynamic_map()]
    out = {"oc": OC, "ic": IC, "nf4": nf4, "fp4": fp4, "dynamic": dyn, "cases": []}
    sample = list(range(0, OC * IC, 37)) + [OC * IC - 1]
    for name, levels in (("nf4", nf4), ("fp4", fp4)):
        codes, absmax = quant4(w, levels)
        for dq in (False, True):
            case = {"dtype": name, "double_quant": dq, "codes": "".join("%x" % c for c in codes)}
            am = absmax
            if dq:
                qc, sc, off, am = double_quant(absmax, dyn)
                case.update(qabsmax=qc, absmax2=sc, offset=off)
            else:
                case["absmax"] = absmax
            deq = [f32(levels[codes[i]] * am[i // 64]) for i in range(len(w))]
            case["sample"] = sample
            case["dequant"] = [deq[i] for i in sample]
            case["dequant_sum_sq"] = sum(v * v for v in deq)
            out["cases"].append(case)
    q, rows = [], []
    for r in range(OC):
        row = w[r * IC:(r + 1) * IC]
        m = max(abs(v) for v in row)
        rows.append(m)
        q += [round(v * (127 / m)) if m > 0 else 0 for v in row]
    deq = [f32(q[i] * f32(rows[i // IC] / 127)) for i in range(len(w))]
    out["cases"].append({"dtype": "int8", "double_quant": False, "q": q, "absmax": rows, "sample": sample,
                         "dequant": [deq[i] for i in sample], "dequant_sum_sq": sum(v * v for v in deq)})
    json.dump(out, __import__("sys").stdout, separators=(",", ":"))
    print()


if __name__ == "__main__":
    main()
