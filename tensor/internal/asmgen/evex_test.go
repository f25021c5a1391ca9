package main

import "testing"

// TestEVEX checks the hand-assembled AVX512_BF16 instructions against the
// bytes GNU as 2.40 emits for them (`as x.s && objdump -d x.o`).
func TestEVEX(t *testing.T) {
	b := func(s ...int) string {
		out := ""
		for i, x := range s {
			if i > 0 {
				out += "; "
			}
			out += "BYTE $0x" + string("0123456789abcdef"[x>>4]) + string("0123456789abcdef"[x&15])
		}
		return out
	}
	for _, c := range []struct{ got, want, what string }{
		{dpbf(0, 24, 26), b(0x62, 0x92, 0x3e, 0x40, 0x52, 0xc2), "vdpbf16ps %zmm26,%zmm24,%zmm0"},
		{dpbf(23, 27, 25), b(0x62, 0x82, 0x26, 0x40, 0x52, 0xf9), "vdpbf16ps %zmm25,%zmm27,%zmm23"},
		{dpbf(13, 9, 5), b(0x62, 0x72, 0x36, 0x48, 0x52, 0xed), "vdpbf16ps %zmm5,%zmm9,%zmm13"},
		{cvt2bf(3, 17, 16), b(0x62, 0xb2, 0x77, 0x40, 0x72, 0xd8), "vcvtne2ps2bf16 %zmm16,%zmm17,%zmm3"},
		{cvt2bf(12, 17, 16), b(0x62, 0x32, 0x77, 0x40, 0x72, 0xe0), "vcvtne2ps2bf16 %zmm16,%zmm17,%zmm12"},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %s, want %s", c.what, c.got, c.want)
		}
	}
}
