"""Writes checkpoint/testdata/torch_dtypes.safetensors: values converted by
torch, the oracle for package checkpoint's f16/bf16/f64/int conversions.

Run from the repository root with Debian's torch: /usr/bin/python3 testdata/gen/make_dtype_fixture.py
"""
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
import st  # noqa: E402


def f32_from_bits(bits):
    return torch.tensor([struct.unpack("<f", struct.pack("<I", b))[0] for b in bits], dtype=torch.float32)


def main():
    g = torch.Generator().manual_seed(1234)
    special = [
        0.0, -0.0, 1.0, -1.0, 0.1, 1 / 3, -2.5, 65504.0, 65519.0, 65520.0, 65535.0, 1e5, -1e5,
        2.0 ** -14, 2.0 ** -14 * (1 - 2.0 ** -12), 2.0 ** -24, 2.0 ** -25, 2.0 ** -25 * 1.5, 2.0 ** -25 * 3,
        2.0 ** -26, 5.9604645e-08, 6.1e-5, 1e-8, -1e-8, 1e-40, -1e-45,
        1 + 2.0 ** -11, 1 + 3 * 2.0 ** -11, 1 + 2.0 ** -8, 1 + 3 * 2.0 ** -8, 1 + 2.0 ** -8 + 2.0 ** -20,
        3.3895314e38, 3.4028235e38, -3.4028235e38, 1e38,
        float("inf"), float("-inf"), float("nan"),
    ]
    src = torch.tensor(special, dtype=torch.float32)
    # Random magnitudes across the half and bfloat16 ranges, and random bit
    # patterns, which reach float32 subnormals, NaN payloads and huge values.
    mags = torch.randn(3000, generator=g) * torch.pow(2.0, torch.randint(-30, 20, (3000,), generator=g).float())
    bits = torch.randint(0, 2 ** 32, (2000,), generator=g, dtype=torch.int64).tolist()
    src = torch.cat([src, mags.float(), f32_from_bits(bits)])
    nan_pattern = f32_from_bits([0xFFC00001, 0x7F800001])  # negative and signalling NaN
    src = torch.cat([src, nan_pattern])

    f16 = src.to(torch.float16)
    bf16 = src.to(torch.bfloat16)
    # Every half pattern with exponent field 0, 1, 30 or 31 (subnormals, the
    # normal/subnormal border, the top of the range, Inf and NaN), and every
    # 5th pattern elsewhere.
    all32 = torch.arange(0, 65536, dtype=torch.int32)
    e = (all32 >> 10) & 0x1F
    keep = (e <= 1) | (e >= 30) | (all32 % 5 == 0)
    all16 = torch.arange(-32768, 32768, dtype=torch.int32).to(torch.int16)
    f16_all = all32[keep].sub(65536 * (all32[keep] >= 32768).int()).to(torch.int16).view(torch.float16)
    bf16_some = all16[::7].clone().view(torch.bfloat16)
    f64 = torch.cat([torch.tensor([0.1, 1e-46, 1e-300, 1e300, -3.4028235677973366e38, 1 + 2.0 ** -24, 1 + 3 * 2.0 ** -24]).double(),
                     torch.randn(500, generator=g, dtype=torch.float64) * 1e3])
    out = {
        "src": src,
        "f16": f16,
        "f16_up": f16.float(),
        "bf16": bf16,
        "bf16_up": bf16.float(),
        "f16_all": f16_all,
        "f16_all_up": f16_all.float(),
        "bf16_some": bf16_some,
        "bf16_some_up": bf16_some.float(),
        "f64": f64.reshape(-1, 1),
        "f64_down": f64.float().reshape(-1, 1),
        "i64": torch.tensor([[0, 1, -1], [2 ** 62, -2 ** 63, 2 ** 63 - 1]], dtype=torch.int64),
        "i32": torch.tensor([0, -7, 2 ** 31 - 1, -2 ** 31], dtype=torch.int32),
        "i16": torch.tensor([0, -300, 32767, -32768], dtype=torch.int16),
        "i8": torch.tensor([0, -1, 127, -128], dtype=torch.int8),
        "u8": torch.tensor([0, 1, 255], dtype=torch.uint8),
        "bool": torch.tensor([[True, False], [False, True]]),
        "scalar": torch.tensor(2.5, dtype=torch.float32),
        "empty": torch.zeros(0, 3, dtype=torch.float32),
    }
    path = os.path.join(os.path.dirname(__file__), "..", "..", "checkpoint", "testdata", "torch_dtypes.safetensors")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    st.save(path, out)
    back = st.load(path)
    for k, v in out.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape, k
        assert torch.equal(back[k].view(-1).to(torch.float64).nan_to_num(7), v.view(-1).to(torch.float64).nan_to_num(7)), k
    print(path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
