package checkpoint

import (
	"math"
	"testing"

	"github.com/align-go/align/tensor"
)

// F32ToBF16 (what checkpoints are written with) and tensor.RoundBF16 /
// tensor.ToBF16 (the compute path, whose vector body is VCVTNE2PS2BF16) agree
// on every finite normal value and on Inf: nearest, ties to even, overflow to
// Inf. They differ on purpose below the normal range and in NaN bits:
// F32ToBF16 rounds denormals as IEEE and torch do, the instruction (and so
// RoundBF16, which must agree with it) flushes them to a signed zero. Values
// worked by hand from the bits; the ck column is also what torch 1.13 writes
// for x.to(torch.bfloat16) on this machine, except NaN (torch: 0xffff).
func TestBF16RoundingCheckpointVsTensor(t *testing.T) {
	for _, c := range []struct {
		name   string
		bits   uint32 // the float32
		ck, tn uint16 // F32ToBF16, tensor.RoundBF16
	}{
		{"one", 0x3f800000, 0x3f80, 0x3f80},
		{"tie, even below: down", 0x3f808000, 0x3f80, 0x3f80},      // 1 + 2^-8
		{"tie, odd below: up", 0x3f818000, 0x3f82, 0x3f82},         // 1 + 3·2^-8
		{"just above a tie: up", 0x3f808001, 0x3f81, 0x3f81},       // 1 + 2^-8 + 2^-23
		{"just below a tie: down", 0x3f807fff, 0x3f80, 0x3f80},     //
		{"negative", 0xbfc00000, 0xbfc0, 0xbfc0},                   // -1.5
		{"largest float32: Inf", 0x7f7fffff, 0x7f80, 0x7f80},       // carry into the exponent
		{"below the largest bf16 tie", 0x7f7f7fff, 0x7f7f, 0x7f7f}, //
		{"Inf", 0x7f800000, 0x7f80, 0x7f80},
		{"-Inf", 0xff800000, 0xff80, 0xff80},
		{"smallest normal", 0x00800000, 0x0080, 0x0080},
		{"-0", 0x80000000, 0x8000, 0x8000},
		// Denormals: IEEE rounding vs flush to zero.
		{"smallest denormal", 0x00000001, 0x0000, 0x0000},
		{"denormal tie, odd below: up", 0x00018000, 0x0002, 0x0000},
		{"negative denormal tie: up", 0x80018000, 0x8002, 0x8000},
		{"negative denormal, exact", 0x80400000, 0x8040, 0x8000},
		{"largest denormal: smallest normal", 0x007fffff, 0x0080, 0x0000},
		// NaN: a canonical quiet NaN vs the input's sign and top payload, quieted.
		{"quiet NaN", 0x7fc00000, 0x7fc0, 0x7fc0},
		{"NaN, low payload only", 0x7f800001, 0x7fc0, 0x7fc0},
		{"negative NaN", 0xffc00000, 0x7fc0, 0xffc0},
		{"signalling NaN, high payload", 0x7fa00000, 0x7fc0, 0x7fe0},
	} {
		f := math.Float32frombits(c.bits)
		if got := F32ToBF16(f); got != c.ck {
			t.Errorf("%s: F32ToBF16(%#08x) = %#04x, want %#04x", c.name, c.bits, got, c.ck)
		}
		if got := tensor.RoundBF16(f); got != c.tn {
			t.Errorf("%s: tensor.RoundBF16(%#08x) = %#04x, want %#04x", c.name, c.bits, got, c.tn)
		}
		// 64 values: the vector body where the CPU has it, as well as the tail.
		src, dst := make([]float32, 64), make([]uint16, 64)
		for i := range src {
			src[i] = f
		}
		tensor.ToBF16(dst, src)
		for i, got := range dst {
			if got != c.tn {
				t.Errorf("%s: tensor.ToBF16(%#08x)[%d] = %#04x, want %#04x", c.name, c.bits, i, got, c.tn)
				break
			}
		}
	}
}
