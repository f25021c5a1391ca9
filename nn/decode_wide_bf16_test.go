package nn

import (
	"fmt"
	"testing"

	"github.com/align-go/align/internal/cputest"
	"github.com/align-go/align/tensor"
)

// bf16Case is a weight in bf16 and the float64 reference the DP kernels
// should reproduce: the input rounded to bf16 times the widened weight.
func bf16Want(inp, w, b []float32, N, IC, OC int) (w16 []uint16, want []float64) {
	w16 = make([]uint16, len(w))
	tensor.ToBF16(w16, w)
	wide := make([]float32, len(w))
	FromBF16(wide, w16)
	x16 := make([]uint16, len(inp))
	tensor.ToBF16(x16, inp)
	xr := make([]float32, len(inp))
	FromBF16(xr, x16)
	var b64 []float64
	if b != nil {
		b64 = to64(b)
	}
	return w16, refLinear(to64(xr), to64(wide), b64, N, IC, OC)
}

// TestLinearDecodeWideBF16 checks the bf16 wide tiles (VDPBF16PS over pairs
// of k, rows above DecodeMaxRows) against the float64 product of the
// bf16-rounded input and weight, over ragged row counts, input widths that
// are not multiples of the pair, 16 or the k block, and output counts
// around the 12-row group; and that a row's result does not depend on the
// other rows, as in the f32 wide tiles.
func TestLinearDecodeWideBF16(t *testing.T) {
	cputest.Require(t, haveBF16Asm, "AVX512_BF16 wide tiles", "avx512f", "avx512vl", "avx512_bf16")
	oldKC, oldK := DecodeWideKC, bf16Kernel
	defer func() { DecodeWideKC, bf16Kernel = oldKC, oldK }()
	bf16Kernel = kernBF16DP
	wideShapes(newRNG(41), []int{2, 16, 46, 100, 768, 3072}, true, func(N, IC, OC int, inp, w, b []float32, want []float64) {
		if !wideRowsBF16(N, IC) {
			t.Fatalf("N=%d IC=%d: not on the bf16 wide path", N, IC)
		}
		w16 := make([]uint16, len(w))
		tensor.ToBF16(w16, w)
		for _, kc := range []int{0, 64, 100} {
			DecodeWideKC = kc
			t.Run(fmt.Sprintf("N=%d/IC=%d/OC=%d/bias=%v/kc=%d", N, IC, OC, b != nil, kc), func(t *testing.T) {
				forEachSetting(t, func(t *testing.T) {
					out := make([]float32, N*OC)
					for i := range out {
						out[i] = 99 // must be overwritten
					}
					LinearDecodeMany(inp, N, IC, DecodeOut{Out: out, W16: w16, B: b, OC: OC})
					for _, m := range mismatches(out, want, 1e-5) {
						t.Error(m)
					}
				})
			})
		}
	})
}

// TestLinearDecodeWideBF16RowsIndependent: on the bf16 wide path a row's
// result is the same at any row count and place in a panel; and a Linear
// fused with others gives what it gives alone.
func TestLinearDecodeWideBF16RowsIndependent(t *testing.T) {
	cputest.Require(t, haveBF16Asm, "AVX512_BF16 wide tiles", "avx512f", "avx512vl", "avx512_bf16")
	oldK := bf16Kernel
	defer func() { bf16Kernel = oldK }()
	bf16Kernel = kernBF16DP
	r := newRNG(42)
	const IC, OC = 200, 37
	inp, w, b := randn(r, 128*IC, 1), randn(r, OC*IC, 1), randn(r, OC, 1)
	w16, _ := bf16Want(inp[:IC], w, b, 1, IC, OC)
	ref := make([]float32, 128*OC)
	LinearDecodeMany(inp, 128, IC, DecodeOut{Out: ref, W16: w16, B: b, OC: OC})
	for _, N := range []int{33, 47, 64, 100} {
		for _, skip := range []int{0, 5, 28} {
			out := make([]float32, N*OC)
			w2 := randn(r, 25*IC, 1)
			w216 := make([]uint16, len(w2))
			tensor.ToBF16(w216, w2)
			LinearDecodeMany(inp[skip*IC:], N, IC, DecodeOut{Out: make([]float32, N*25), W16: w216, OC: 25},
				DecodeOut{Out: out, W16: w16, B: b, OC: OC})
			for i := 0; i < N*OC; i++ {
				if out[i] != ref[skip*OC+i] {
					t.Fatalf("N=%d skip=%d [%d]: %v, alone at 128 rows %v", N, skip, i, out[i], ref[skip*OC+i])
				}
			}
		}
	}
}
