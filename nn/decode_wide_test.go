package nn

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/align-go/align/internal/cputest"
	"github.com/align-go/align/tensor"
)

// wideShapes calls f over the wide tests' shapes: row counts 33..128 (a
// last panel of 16 or 32, partly padding), input widths from ICs, output
// counts around the 12-row group, each without and with a bias. The float64
// reference is computed once per width and output count for the most rows
// (a reference row depends on its own input row only), and its first N rows
// serve every N; the biased one adds b to it. With bf16 set, the reference
// is the product of the bf16-rounded input and weight (what the DP kernels
// compute). f gets the first N rows of the input.
func wideShapes(r *rand.Rand, ICs []int, bf16 bool, f func(N, IC, OC int, inp, w, b []float32, want []float64)) {
	for _, IC := range ICs {
		for _, OC := range []int{1, 11, 12, 13, 1001} {
			rows, Ns := 128, []int{33, 40, 63, 64, 65, 96, 128}
			if IC*OC > 1<<20 {
				rows, Ns = 64, []int{64} // the big shapes once: they take a while in float64
			}
			inp, w, b := randn(r, rows*IC, 1), randn(r, OC*IC, 1), randn(r, OC, 1)
			xr, wr := inp, w
			if bf16 {
				xr, wr = roundBF16(inp), roundBF16(w)
			}
			ref := refLinear32(xr, wr, rows, IC, OC)
			for _, N := range Ns {
				want := ref[:N*OC]
				f(N, IC, OC, inp[:N*IC], w, nil, want)
				wantB := make([]float64, N*OC)
				for i := range wantB {
					wantB[i] = want[i] + float64(b[i%OC])
				}
				f(N, IC, OC, inp[:N*IC], w, b, wantB)
			}
		}
	}
}

// refLinear32 is refLinear without a bias on float32 operands, each product
// and sum in float64 (exact products; four partial sums, so the reference
// of the big shapes is not one long chain of dependent adds).
func refLinear32(inp, w []float32, N, IC, OC int) []float64 {
	out := make([]float64, N*OC)
	for i := 0; i < N; i++ {
		x := inp[i*IC : (i+1)*IC]
		for o := 0; o < OC; o++ {
			wr := w[o*IC : (o+1)*IC]
			var s0, s1, s2, s3 float64
			c := 0
			for ; c+4 <= IC; c += 4 {
				s0 += float64(x[c]) * float64(wr[c])
				s1 += float64(x[c+1]) * float64(wr[c+1])
				s2 += float64(x[c+2]) * float64(wr[c+2])
				s3 += float64(x[c+3]) * float64(wr[c+3])
			}
			for ; c < IC; c++ {
				s0 += float64(x[c]) * float64(wr[c])
			}
			out[i*OC+o] = (s0 + s1) + (s2 + s3)
		}
	}
	return out
}

// roundBF16 is x rounded to bfloat16 and widened back.
func roundBF16(x []float32) []float32 {
	x16 := make([]uint16, len(x))
	tensor.ToBF16(x16, x)
	out := make([]float32, len(x))
	FromBF16(out, x16)
	return out
}

// TestLinearDecodeWide checks the wide tiles (rows above DecodeMaxRows)
// against the float64 reference over ragged row counts (a last panel of 16
// or 32, partly padding), input widths that are not multiples of 16 or of
// the k block, and output counts around the 12-row group.
func TestLinearDecodeWide(t *testing.T) {
	cputest.Require(t, haveDecodeAsm, "AVX-512 wide tiles", "avx512f", "avx512vl")
	oldKC := DecodeWideKC
	defer func() { DecodeWideKC = oldKC }()
	wideShapes(newRNG(31), []int{16, 48, 100, 768, 3072}, false, func(N, IC, OC int, inp, w, b []float32, want []float64) {
		for _, kc := range []int{0, 64, 100} {
			DecodeWideKC = kc
			name := fmt.Sprintf("N=%d/IC=%d/OC=%d/bias=%v/kc=%d", N, IC, OC, b != nil, kc)
			t.Run(name, func(t *testing.T) {
				forEachSetting(t, func(t *testing.T) {
					out := make([]float32, N*OC)
					for i := range out {
						out[i] = 99 // must be overwritten
					}
					LinearDecode(out, inp, w, b, N, IC, OC)
					for _, m := range mismatches(out, want, 1e-5) {
						t.Error(m)
					}
				})
			})
		}
	})
}

// TestLinearDecodeWideRowsIndependent: a row's result does not depend on the
// other rows of the batch or on its place in a panel (each output is one FMA
// chain in k order), so it is the same at any row count the wide path takes.
func TestLinearDecodeWideRowsIndependent(t *testing.T) {
	cputest.Require(t, haveDecodeAsm, "AVX-512 wide tiles", "avx512f", "avx512vl")
	r := newRNG(32)
	const IC, OC = 200, 37
	inp, w, b := randn(r, 128*IC, 1), randn(r, OC*IC, 1), randn(r, OC, 1)
	ref := make([]float32, 128*OC)
	LinearDecode(ref, inp, w, b, 128, IC, OC)
	for _, N := range []int{33, 47, 64, 100} {
		for _, skip := range []int{0, 5, 28} {
			out := make([]float32, N*OC)
			LinearDecode(out, inp[skip*IC:], w, b, N, IC, OC)
			for i := 0; i < N*OC; i++ {
				if out[i] != ref[skip*OC+i] {
					t.Fatalf("N=%d skip=%d [%d]: %v, at 128 rows %v", N, skip, i, out[i], ref[skip*OC+i])
				}
			}
		}
	}
}

// TestLinearDecodeManyWide: the fused job over several Linears (q, k, v;
// gate and up) gives exactly what separate calls give, groups split across
// Linears included.
func TestLinearDecodeManyWide(t *testing.T) {
	cputest.Require(t, haveDecodeAsm, "AVX-512 wide tiles", "avx512f", "avx512vl")
	r := newRNG(33)
	for _, N := range []int{48, 64, 65} {
		const IC = 96
		for _, ocs := range [][]int{{96, 24, 24}, {13, 25, 7}, {3, 5, 7, 1, 2, 6, 10, 11, 4}} {
			inp := randn(r, N*IC, 1)
			var outs, sep []DecodeOut
			var want [][]float64
			for i, oc := range ocs {
				w := randn(r, oc*IC, 1)
				var b []float32
				var b64 []float64
				if i%2 == 0 {
					b = randn(r, oc, 1)
					b64 = to64(b)
				}
				outs = append(outs, DecodeOut{Out: make([]float32, N*oc), W: w, B: b, OC: oc})
				sep = append(sep, DecodeOut{Out: make([]float32, N*oc), W: w, B: b, OC: oc})
				want = append(want, refLinear(to64(inp), to64(w), b64, N, IC, oc))
			}
			forEachSetting(t, func(t *testing.T) {
				LinearDecodeMany(inp, N, IC, outs...)
				for i, o := range outs {
					LinearDecodeMany(inp, N, IC, sep[i])
					for _, m := range mismatches(o.Out, want[i], 1e-5) {
						t.Errorf("N=%d OCs %v, Linear %d: %s", N, ocs, i, m)
					}
					for j := range o.Out {
						if o.Out[j] != sep[i].Out[j] {
							t.Fatalf("N=%d OCs %v, Linear %d [%d]: fused %v, alone %v", N, ocs, i, j, o.Out[j], sep[i].Out[j])
						}
					}
				}
			})
		}
	}
}

// TestPackXT: the transposed input panels, with the register transpose and
// in Go only, against their definition (zeros past the last row).
func TestPackXT(t *testing.T) {
	orig := haveDecodeAsm
	defer func() { haveDecodeAsm = orig }()
	cputest.Check(t, orig, "AVX-512 register transpose", "avx512f", "avx512vl")
	r := newRNG(34)
	for _, N := range []int{1, 16, 17, 33, 48, 64, 65, 100, 128} {
		for _, IC := range []int{1, 15, 16, 17, 100, 768} {
			inp := randn(r, N*IC, 1)
			n32, n16 := widePanels(N)
			want := make([]float32, (32*n32+16*n16)*IC)
			for q := 0; q < n32+n16; q++ {
				W := 32
				if q >= n32 {
					W = 16
				}
				for k := 0; k < IC; k++ {
					for c := 0; c < W; c++ {
						if n := 32*q + c; n < N {
							want[q*32*IC+k*W+c] = inp[n*IC+k]
						}
					}
				}
			}
			for _, asm := range []bool{false, orig} {
				haveDecodeAsm = asm
				got := randn(r, len(want), 100)
				packXT(got, inp, N, IC)
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("N=%d IC=%d asm=%v: [%d] = %v, want %v", N, IC, asm, i, got[i], want[i])
					}
				}
			}
		}
	}
}
