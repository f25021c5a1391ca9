package nn

import (
	"testing"
	"time"
)

// TestDecodeHook: the hook sees each LinearDecodeMany call once, with its
// shape, the first Linear's dtype and the bytes of every weight it reads,
// and nothing once removed.
func TestDecodeHook(t *testing.T) {
	r := newRNG(41)
	const IC = 64
	w1 := QuantizeWeight(randn(r, 32*IC, 0.1), 32, IC, WeightInt8, false)
	w2 := QuantizeWeight(randn(r, 16*IC, 0.1), 16, IC, WeightBF16, false)
	x := randn(r, 2*IC, 1)
	o1, o2 := make([]float32, 2*32), make([]float32, 2*16)
	var got []DecodeRegion
	SetDecodeHook(func(rg DecodeRegion, t0 time.Time) {
		if time.Since(t0) < 0 {
			t.Error("start after the end")
		}
		got = append(got, rg)
	})
	LinearDecodeMany(x, 2, IC, DecodeOut{Out: o1, Q: w1, OC: 32}, DecodeOut{Out: o2, Q: w2, OC: 16})
	SetDecodeHook(nil)
	LinearDecodeMany(x, 2, IC, DecodeOut{Out: o1, Q: w1, OC: 32})
	want := DecodeRegion{N: 2, IC: IC, OC: 48, DType: "int8", Bytes: w1.Bytes() + w2.Bytes()}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("hook saw %+v, want one %+v", got, want)
	}
	if w2.Bytes() != 16*IC*2 {
		t.Fatalf("bf16 weight bytes %d", w2.Bytes())
	}
}
