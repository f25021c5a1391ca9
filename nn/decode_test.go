package nn

import (
	"fmt"
	"testing"

	"github.com/align-go/align/internal/cputest"
)

// forEachKernel runs f with the assembly tiles (when the CPU has them) and
// with the portable Go path, serially and split across goroutines.
func forEachKernel(t *testing.T, f func(t *testing.T)) {
	orig := haveDecodeAsm
	defer func() { haveDecodeAsm = orig }()
	cputest.Check(t, orig, "AVX-512 decode tiles", "avx512f", "avx512vl")
	modes := []bool{false}
	if orig {
		modes = append(modes, true)
	}
	for _, asm := range modes {
		haveDecodeAsm = asm
		t.Run(fmt.Sprintf("asm=%v", asm), func(t *testing.T) { forEachSetting(t, f) })
	}
}

func TestLinearDecode(t *testing.T) {
	old := DecodeMaxRows
	defer func() { DecodeMaxRows = old }()
	DecodeMaxRows = 1 << 20 // the tiles for every shape here
	r := newRNG(21)
	for _, s := range []struct{ N, IC, OC int }{
		{1, 16, 4}, {1, 768, 36}, {3, 48, 8}, {4, 64, 12}, {5, 80, 9}, {9, 35, 7}, {16, 130, 21}, {2, 7, 3},
		// Several k blocks per tile (the block shrinks as rows grow), and
		// more rows than one pass of tiles holds.
		{16, 800, 9}, {64, 200, 8}, {70, 40, 5},
	} {
		inp, w, b := randn(r, s.N*s.IC, 1), randn(r, s.OC*s.IC, 1), randn(r, s.OC, 1)
		want := refLinear(to64(inp), to64(w), to64(b), s.N, s.IC, s.OC)
		forEachKernel(t, func(t *testing.T) {
			out := make([]float32, s.N*s.OC)
			for i := range out {
				out[i] = 99 // must be overwritten
			}
			LinearDecode(out, inp, w, b, s.N, s.IC, s.OC)
			for _, m := range mismatches(out, want, 1e-5) {
				t.Errorf("%+v: %s", s, m)
			}
			// Each row alone must give bit-identical results: generation
			// must not depend on which other sequences share the batch.
			for i := 0; i < s.N; i++ {
				one := make([]float32, s.OC)
				LinearDecode(one, inp[i*s.IC:(i+1)*s.IC], w, b, 1, s.IC, s.OC)
				for j := range one {
					if one[j] != out[i*s.OC+j] {
						t.Fatalf("%+v row %d col %d: alone %v, in batch %v", s, i, j, one[j], out[i*s.OC+j])
					}
				}
			}
		})
	}
}

func TestLinearDecodeAboveThresholdUsesGEMM(t *testing.T) {
	old, oldWide := DecodeMaxRows, DecodeWideMaxRows
	defer func() { DecodeMaxRows, DecodeWideMaxRows = old, oldWide }()
	DecodeMaxRows, DecodeWideMaxRows = 2, 2
	r := newRNG(22)
	const N, IC, OC = 5, 24, 10
	inp, w := randn(r, N*IC, 1), randn(r, OC*IC, 1)
	out := make([]float32, N*OC)
	LinearDecode(out, inp, w, nil, N, IC, OC)
	for _, m := range mismatches(out, refLinear(to64(inp), to64(w), nil, N, IC, OC), 1e-5) {
		t.Error(m)
	}
}

// TestAttentionCached fills a cache with a whole padded sequence and checks
// the attention of its last T tokens (and of a subset of rows, through rows)
// against the float64 full-sequence reference.
func TestAttentionCached(t *testing.T) {
	r := newRNG(23)
	for _, s := range []struct {
		name               string
		B, L, Cap, NH, NKV int
		HS, T              int
		mask               [][]int32 // [B][L+T]
	}{
		{"decode mha", 2, 5, 8, 2, 2, 16, 1, [][]int32{{0, 0, 1, 1, 1, 1}, ones(6)}},
		{"decode gqa hs80", 1, 6, 9, 4, 2, 80, 1, nil},
		{"prefill gqa", 2, 0, 40, 4, 2, 8, 37, [][]int32{append([]int32{0, 0, 0}, ones(34)...), ones(37)}},
		{"chunk after prefix", 2, 4, 12, 3, 1, 4, 3, [][]int32{{0, 1, 1, 1, 1, 1, 1}, {0, 0, 0, 0, 1, 1, 1}}},
		{"all padding so far", 1, 2, 3, 2, 1, 16, 1, [][]int32{{0, 0, 1}}},
		{"pad query", 1, 2, 3, 2, 1, 16, 1, [][]int32{{0, 0, 0}}},
	} {
		B, L, Cap, NH, NKV, HS, T := s.B, s.L, s.Cap, s.NH, s.NKV, s.HS, s.T
		full := L + T
		q := randn(r, B*full*NH*HS, 1)
		kf, vf := randn(r, B*full*NKV*HS, 1), randn(r, B*full*NKV*HS, 1)
		var fmask []int32
		if s.mask != nil {
			for _, row := range s.mask {
				fmask = append(fmask, row...)
			}
		}
		wantOut, _ := refAttention(to64(q), to64(kf), to64(vf), fmask, B, full, NH, NKV, HS)

		// Cache [B,Cap,...] with garbage beyond the filled slots.
		kvs := NKV * HS
		kc, vc := randn(r, B*Cap*kvs, 100), randn(r, B*Cap*kvs, 100)
		cmask := make([]int32, B*Cap)
		for b := 0; b < B; b++ {
			copy(kc[b*Cap*kvs:], kf[b*full*kvs:(b+1)*full*kvs])
			copy(vc[b*Cap*kvs:], vf[b*full*kvs:(b+1)*full*kvs])
			for i := 0; i < full; i++ {
				cmask[b*Cap+i] = 1
				if fmask != nil {
					cmask[b*Cap+i] = fmask[b*full+i]
				}
			}
		}
		qs := NH * HS
		newQ := make([]float32, B*T*qs)
		want := make([]float64, B*T*qs)
		for b := 0; b < B; b++ {
			copy(newQ[b*T*qs:], q[(b*full+L)*qs:(b+1)*full*qs])
			copy(want[b*T*qs:], wantOut[(b*full+L)*qs:(b+1)*full*qs])
		}
		starts := make([]int, B)
		for i := range starts {
			starts[i] = L
		}
		forEachKernel(t, func(t *testing.T) {
			out := randn(newRNG(1), B*T*qs, 100)
			AttentionCached(out, newQ, kc, vc, cmask, nil, starts, B, T, Cap, NH, NKV, HS)
			for _, m := range mismatches(out, want, 1e-5) {
				t.Errorf("%s: %s", s.name, m)
			}
			// The last row alone, addressed through rows.
			b := B - 1
			one := make([]float32, T*qs)
			AttentionCached(one, newQ[b*T*qs:], kc, vc, cmask, []int{b}, starts[:1], 1, T, Cap, NH, NKV, HS)
			for _, m := range mismatches(one, want[b*T*qs:], 1e-5) {
				t.Errorf("%s row %d via rows: %s", s.name, b, m)
			}
		})
	}
}

// TestLinearDecodeMany: one job over several Linears gives each Linear's own
// result exactly, including ragged groups at every matrix boundary.
func TestLinearDecodeMany(t *testing.T) {
	r := newRNG(24)
	const N, IC = 5, 48
	for _, ocs := range [][]int{{8, 6, 9}, {4}, {3, 5, 7, 1, 2, 6, 10, 11, 4}} {
		var outs []DecodeOut
		var want [][]float64
		inp := randn(r, N*IC, 1)
		for i, oc := range ocs {
			w := randn(r, oc*IC, 1)
			var b []float32
			if i%2 == 0 {
				b = randn(r, oc, 1)
			}
			outs = append(outs, DecodeOut{Out: make([]float32, N*oc), W: w, B: b, OC: oc})
			var b64 []float64
			if b != nil {
				b64 = to64(b)
			}
			want = append(want, refLinear(to64(inp), to64(w), b64, N, IC, oc))
		}
		forEachKernel(t, func(t *testing.T) {
			LinearDecodeMany(inp, N, IC, outs...)
			for i, o := range outs {
				for _, m := range mismatches(o.Out, want[i], 1e-5) {
					t.Errorf("OCs %v, Linear %d: %s", ocs, i, m)
				}
			}
		})
	}
}
