package nn

import (
	"math"
	"sort"
	"testing"
)

// TestEncoderCodeIsFirstMidAtOrAbove: the branch-free code picks the level
// sort.Search does (the first midpoint ≥ x), at every midpoint exactly, a
// float either side of it, the ends, zero, beyond ±1 and on a sweep.
func TestEncoderCodeIsFirstMidAtOrAbove(t *testing.T) {
	for dt, e := range encode4 {
		if e == nil {
			continue
		}
		want := func(x float32) uint8 {
			return e.codes[sort.Search(len(e.mids), func(i int) bool { return e.mids[i] >= x })]
		}
		xs := []float32{0, float32(math.Copysign(0, -1)), -1, 1, -2, 2, float32(math.Inf(1)), float32(math.Inf(-1)), 1e-30, -1e-30}
		for _, m := range e.mids {
			xs = append(xs, m, math.Nextafter32(m, -2), math.Nextafter32(m, 2))
		}
		for i := -1100; i <= 1100; i++ {
			xs = append(xs, float32(i)/1000)
		}
		for _, x := range xs {
			if got, w := e.code(x), want(x); got != w {
				t.Errorf("%v: code(%v) = %d, want %d", WeightDType(dt), x, got, w)
			}
		}
		if got := e.code(float32(math.NaN())); got != e.codes[0] {
			t.Errorf("%v: code(NaN) = %d, want %d", WeightDType(dt), got, e.codes[0])
		}
	}
}
