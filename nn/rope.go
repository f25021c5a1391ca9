package nn

import (
	"math"

	"github.com/align-go/align/tensor"
)

// RopeTable fills cos[T,HS/2] and sin[T,HS/2] with angle pos*theta^(-2i/HS), HF rotate_half convention.
//
// The angle is rounded exactly where HF's LlamaRotaryEmbedding rounds it (inv_freq
// and pos*inv_freq are float32 products there), not computed in float64: at
// position 4000 the two differ by ~1e-4 rad, and a checkpoint's weights were
// trained against HF's rounding.
func RopeTable(cos, sin []float32, T, HS int, theta float64) {
	RopeTableFreqs(cos, sin, T, RopeInvFreq(HS, theta))
}

// RopeInvFreq is HF's inv_freq: 1/theta^(2i/HS) as a float32 tensor computes it.
func RopeInvFreq(HS int, theta float64) []float32 {
	inv := make([]float32, HS/2)
	for i := range inv {
		e := float32(2*i) / float32(HS)
		inv[i] = 1 / float32(math.Pow(theta, float64(e)))
	}
	return inv
}

// RopeTableFreqs fills cos[T,len(inv)] and sin[T,len(inv)] with angle
// float32(t)*inv[i] (a float32 product, as in HF) for scaled frequency tables
// such as Llama 3's.
func RopeTableFreqs(cos, sin []float32, T int, inv []float32) {
	half := len(inv)
	for i, f := range inv {
		for t := 0; t < T; t++ {
			a := float64(float32(t) * f)
			s, c := math.Sincos(a)
			cos[t*half+i] = float32(c)
			sin[t*half+i] = float32(s)
		}
	}
}

// RopeForward rotates x[N,H,HS] in place: for each row r with position pos[r],
// x1=x[:HS/2], x2=x[HS/2:]: x1' = x1*c - x2*s; x2' = x2*c + x1*s.
// Positions must lie inside the table.
func RopeForward(x []float32, pos []int32, cos, sin []float32, N, H, HS int) {
	rope(x, pos, cos, sin, N, H, HS, 1)
}

// RopeBackward rotates dx[N,H,HS] in place by the inverse rotation (the transpose).
func RopeBackward(dx []float32, pos []int32, cos, sin []float32, N, H, HS int) {
	rope(dx, pos, cos, sin, N, H, HS, -1)
}

// rope rotates by +angle (dir 1) or -angle (dir -1); the inverse of a rotation
// is the rotation by the negated sine.
func rope(x []float32, pos []int32, cos, sin []float32, N, H, HS int, dir float32) {
	half := HS / 2
	tensor.ParallelFor(N, rowChunk(H*HS), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			p := int(pos[r]) * half
			c := cos[p : p+half]
			s := sin[p : p+half]
			for h := 0; h < H; h++ {
				base := (r*H + h) * HS
				x1 := x[base : base+half]
				x2 := x[base+half : base+HS]
				for i := range x1 {
					a, b := x1[i], x2[i]
					si := dir * s[i]
					x1[i] = a*c[i] - b*si
					x2[i] = b*c[i] + a*si
				}
			}
		}
	})
}
