package optim

import (
	"fmt"
	"math"

	"github.com/align-go/align/tensor"
)

// normPiece is the fixed unit of the parallel norm reduction. Partial sums
// are taken over fixed pieces and added in order, so the norm is bit-for-bit
// the same whatever the thread count.
const normPiece = 1 << 16

type rng struct{ lo, hi int }

// trainableRanges lists the [lo,hi) index ranges a reduction should visit:
// every non-frozen span, or the whole slice when spans is nil.
func trainableRanges(n int, spans []Span) []rng {
	if spans == nil {
		return splitRange(nil, 0, n)
	}
	var out []rng
	for _, s := range spans {
		// Spans are validated by NewAdamW; clamping here only keeps a bad
		// table from panicking in a norm that has no error to return.
		lo, hi := max(s.Offset, 0), min(s.Offset+s.Size, n)
		if !s.Frozen && lo < hi {
			out = splitRange(out, lo, hi)
		}
	}
	return out
}

func splitRange(out []rng, lo, hi int) []rng {
	for a := lo; a < hi; a += normPiece {
		b := a + normPiece
		if b > hi {
			b = hi
		}
		out = append(out, rng{a, b})
	}
	return out
}

// GradNorm is the global L2 norm of grads over the trainable spans (all of
// grads when spans is nil), accumulated in float64.
func GradNorm(grads []float32, spans []Span) float64 {
	rs := trainableRanges(len(grads), spans)
	part := make([]float64, len(rs))
	tensor.ParallelFor(len(rs), 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			part[i] = sumSquares(grads[rs[i].lo:rs[i].hi])
		}
	})
	s := 0.0
	for _, p := range part {
		s += p
	}
	return math.Sqrt(s)
}

func sumSquares(x []float32) float64 {
	var a0, a1, a2, a3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		v0, v1, v2, v3 := float64(x[i]), float64(x[i+1]), float64(x[i+2]), float64(x[i+3])
		a0 += v0 * v0
		a1 += v1 * v1
		a2 += v2 * v2
		a3 += v3 * v3
	}
	for ; i < len(x); i++ {
		v := float64(x[i])
		a0 += v * v
	}
	return (a0 + a1) + (a2 + a3)
}

// ClipGradNorm scales the trainable gradients so that their global L2 norm is
// at most maxNorm, with torch.nn.utils.clip_grad_norm_'s rule: coef =
// maxNorm/(norm+1e-6), applied only when coef < 1. It returns the norm before
// clipping. maxNorm <= 0 measures without clipping. When the norm is NaN or
// Inf the gradients are left as they are (torch would multiply them by NaN);
// the caller should check the returned norm and skip the step.
func ClipGradNorm(grads []float32, spans []Span, maxNorm float64) float64 {
	norm := GradNorm(grads, spans)
	if maxNorm <= 0 || math.IsNaN(norm) || math.IsInf(norm, 0) {
		return norm
	}
	coef := maxNorm / (norm + 1e-6)
	if coef >= 1 {
		return norm
	}
	c := float32(coef)
	rs := trainableRanges(len(grads), spans)
	tensor.ParallelFor(len(rs), 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			g := grads[rs[i].lo:rs[i].hi]
			for j := range g {
				g[j] *= c
			}
		}
	})
	return norm
}

// AllFinite reports whether every element of x is finite.
func AllFinite(x []float32) bool { return firstNonFinite(x) < 0 }

func firstNonFinite(x []float32) int {
	for i, v := range x {
		// v-v is 0 for finite v and NaN for NaN or ±Inf.
		if v-v != 0 {
			return i
		}
	}
	return -1
}

// CheckFinite returns an error naming the first span (and element within it)
// of x that holds a NaN or Inf, checking only non-frozen spans; with nil
// spans it checks all of x. Use it on gradients before Step, or on
// parameters after loading.
func CheckFinite(x []float32, spans []Span) error {
	if spans == nil {
		if i := firstNonFinite(x); i >= 0 {
			return fmt.Errorf("optim: element %d is %v", i, x[i])
		}
		return nil
	}
	for _, s := range spans {
		if s.Frozen || s.Size <= 0 {
			continue
		}
		if s.Offset < 0 || s.Offset+s.Size > len(x) {
			return fmt.Errorf("optim: span %q: [%d,%d) outside slice of %d", s.Name, s.Offset, s.Offset+s.Size, len(x))
		}
		if i := firstNonFinite(x[s.Offset : s.Offset+s.Size]); i >= 0 {
			return fmt.Errorf("optim: tensor %q element %d is %v", s.Name, i, x[s.Offset+i])
		}
	}
	return nil
}
