package nn

import (
	"fmt"
	"testing"
)

func TestEmbeddingGrad(t *testing.T) {
	r := newRNG(1)
	const rows, N, C = 5, 9, 70 // C spans two column strips
	ids := []int32{3, 0, 3, 4, 1, 3, 0, 2, 4}
	base := randn(r, N*C, 1)
	for _, add := range []bool{false, true} {
		c := opCase{
			name: fmt.Sprintf("embedding add=%v", add),
			ins:  [][]float32{randn(r, rows*C, 1)},
			fwd: func(in [][]float32) []float32 {
				out := make([]float32, N*C)
				if add {
					copy(out, base)
				}
				EmbeddingForward(out, ids, in[0], N, C, add)
				return out
			},
			ref: func(in [][]float64) []float64 {
				b := make([]float64, N*C)
				if add {
					b = to64(base)
				}
				return refEmbedding(in[0], ids, b, C)
			},
			bwd: func(in [][]float32, dout []float32, g [][]float32) {
				EmbeddingBackward(g[0], dout, ids, N, C)
			},
			fwdTol: 1e-7, gradTol: 1e-6,
		}
		forEachSetting(t, func(t *testing.T) { checkOp(t, c) })
	}
}

func TestLinearGrad(t *testing.T) {
	r := newRNG(2)
	for _, tc := range []struct {
		N, IC, OC int
		bias      bool
	}{{5, 7, 3, true}, {5, 7, 3, false}, {3, 4, 70, true}, {1, 1, 1, true}} {
		N, IC, OC := tc.N, tc.IC, tc.OC
		ins := [][]float32{randn(r, N*IC, 1), randn(r, OC*IC, 1)}
		if tc.bias {
			ins = append(ins, randn(r, OC, 1))
		}
		bias := func(in [][]float32) []float32 {
			if tc.bias {
				return in[2]
			}
			return nil
		}
		c := opCase{
			name: fmt.Sprintf("linear %+v", tc),
			ins:  ins,
			fwd: func(in [][]float32) []float32 {
				out := make([]float32, N*OC)
				LinearForward(out, in[0], in[1], bias(in), N, IC, OC)
				return out
			},
			ref: func(in [][]float64) []float64 {
				var b []float64
				if tc.bias {
					b = in[2]
				}
				return refLinear(in[0], in[1], b, N, IC, OC)
			},
			bwd: func(in [][]float32, dout []float32, g [][]float32) {
				var db []float32
				if tc.bias {
					db = g[2]
				}
				LinearBackward(g[0], g[1], db, dout, in[0], in[1], N, IC, OC)
			},
			fwdTol: 1e-5, gradTol: 1e-5,
		}
		forEachSetting(t, func(t *testing.T) { checkOp(t, c) })
	}
}

func TestLayerNormGrad(t *testing.T) {
	r := newRNG(3)
	for _, tc := range []struct {
		N, C   int
		bias   bool
		offset float32 // a large common mean stresses the variance computation
	}{{4, 70, true, 0}, {3, 8, false, 0}, {2, 16, true, 50}, {1, 1, true, 0}} {
		N, C := tc.N, tc.C
		x := randn(r, N*C, 1)
		for i := range x {
			x[i] += tc.offset
		}
		ins := [][]float32{x, randn(r, C, 1)}
		if tc.bias {
			ins = append(ins, randn(r, C, 1))
		}
		const eps = 1e-5
		fwd := func(in [][]float32) ([]float32, []float32, []float32) {
			out := make([]float32, N*C)
			mean, rstd := make([]float32, N), make([]float32, N)
			var b []float32
			if tc.bias {
				b = in[2]
			}
			LayerNormForward(out, mean, rstd, in[0], in[1], b, N, C, eps)
			return out, mean, rstd
		}
		tol := 1e-4
		if tc.offset != 0 {
			tol = 2e-3 // x-mean keeps only ~6 significant digits of x ~ 50
		}
		c := opCase{
			name: fmt.Sprintf("layernorm %+v", tc),
			ins:  ins,
			fwd:  func(in [][]float32) []float32 { o, _, _ := fwd(in); return o },
			ref: func(in [][]float64) []float64 {
				var b []float64
				if tc.bias {
					b = in[2]
				}
				return refLayerNorm(in[0], in[1], b, N, C, eps)
			},
			bwd: func(in [][]float32, dout []float32, g [][]float32) {
				_, mean, rstd := fwd(in)
				var db []float32
				if tc.bias {
					db = g[2]
				}
				LayerNormBackward(g[0], g[1], db, dout, in[0], in[1], mean, rstd, N, C)
			},
			fwdTol: tol, gradTol: tol,
		}
		forEachSetting(t, func(t *testing.T) { checkOp(t, c) })
	}
}

func TestRMSNormGrad(t *testing.T) {
	r := newRNG(4)
	for _, tc := range []struct{ N, C int }{{6, 70}, {12, 8}, {1, 3}} { // {12,8}: per-head q_norm shape
		N, C := tc.N, tc.C
		const eps = 1e-6
		fwd := func(in [][]float32) ([]float32, []float32) {
			out, rstd := make([]float32, N*C), make([]float32, N)
			RMSNormForward(out, rstd, in[0], in[1], N, C, eps)
			return out, rstd
		}
		c := opCase{
			name: fmt.Sprintf("rmsnorm %+v", tc),
			ins:  [][]float32{randn(r, N*C, 2), randn(r, C, 1)},
			fwd:  func(in [][]float32) []float32 { o, _ := fwd(in); return o },
			ref:  func(in [][]float64) []float64 { return refRMSNorm(in[0], in[1], N, C, eps) },
			bwd: func(in [][]float32, dout []float32, g [][]float32) {
				_, rstd := fwd(in)
				RMSNormBackward(g[0], g[1], dout, in[0], in[1], rstd, N, C)
			},
			fwdTol: 1e-5, gradTol: 1e-4,
		}
		forEachSetting(t, func(t *testing.T) { checkOp(t, c) })
	}
}

func TestActivationGrad(t *testing.T) {
	r := newRNG(5)
	// Inputs from -9 to 9 reach both saturated tails.
	spread := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(-9 + 18*r.Float64())
		}
		return x
	}
	cases := []opCase{{
		name: "gelu",
		ins:  [][]float32{spread(300)},
		fwd: func(in [][]float32) []float32 {
			out := make([]float32, len(in[0]))
			GeluForward(out, in[0])
			return out
		},
		ref: func(in [][]float64) []float64 { return refGelu(in[0]) },
		bwd: func(in [][]float32, dout []float32, g [][]float32) { GeluBackward(g[0], in[0], dout) },
	}, {
		name: "swiglu",
		ins:  [][]float32{spread(300), randn(r, 300, 2)},
		fwd: func(in [][]float32) []float32 {
			out := make([]float32, len(in[0]))
			SwiGLUForward(out, in[0], in[1])
			return out
		},
		ref: func(in [][]float64) []float64 { return refSwiGLU(in[0], in[1]) },
		bwd: func(in [][]float32, dout []float32, g [][]float32) { SwiGLUBackward(g[0], g[1], dout, in[0], in[1]) },
	}}
	for _, c := range cases {
		c.fwdTol, c.gradTol = 1e-5, 1e-5
		forEachSetting(t, func(t *testing.T) { checkOp(t, c) })
	}
}

func TestRopeGrad(t *testing.T) {
	r := newRNG(6)
	const T, N, H, HS, theta = 16, 5, 3, 8, 10000.0
	cos, sin := make([]float32, T*HS/2), make([]float32, T*HS/2)
	RopeTable(cos, sin, T, HS, theta)
	pos := []int32{0, 15, 3, 7, 1}
	c := opCase{
		name: "rope",
		ins:  [][]float32{randn(r, N*H*HS, 1)},
		fwd: func(in [][]float32) []float32 {
			out := append([]float32(nil), in[0]...)
			RopeForward(out, pos, cos, sin, N, H, HS)
			return out
		},
		ref: func(in [][]float64) []float64 { return refRope(in[0], pos, N, H, HS, theta) },
		// RopeBackward rotates in place rather than accumulating; the model
		// adds the rotated gradient itself, as done here.
		bwd: func(in [][]float32, dout []float32, g [][]float32) {
			if g[0] == nil {
				return
			}
			d := append([]float32(nil), dout...)
			RopeBackward(d, pos, cos, sin, N, H, HS)
			for i, v := range d {
				g[0][i] += v
			}
		},
		fwdTol: 1e-5, gradTol: 1e-5,
	}
	forEachSetting(t, func(t *testing.T) { checkOp(t, c) })
}

func TestCrossEntropyGrad(t *testing.T) {
	r := newRNG(7)
	for _, tc := range []struct {
		N, V    int
		scale   float64
		targets []int32
	}{
		{6, 70, 1, []int32{3, -100, 69, 0, -1, 12}},
		{3, 50, 20, []int32{7, 7, 49}}, // peaked softmax
		{2, 1, 1, []int32{0, -100}},
	} {
		N, V, targets := tc.N, tc.V, tc.targets
		c := opCase{
			name: fmt.Sprintf("crossentropy N=%d V=%d scale=%g", N, V, tc.scale),
			ins:  [][]float32{randn(r, N*V, tc.scale)},
			fwd: func(in [][]float32) []float32 {
				out := make([]float32, N)
				CrossEntropyForward(out, in[0], targets, N, V)
				return out
			},
			ref: func(in [][]float64) []float64 { return refCrossEntropy(in[0], targets, N, V) },
			bwd: func(in [][]float32, dout []float32, g [][]float32) {
				CrossEntropyBackward(g[0], in[0], targets, dout, N, V)
			},
			fwdTol: 1e-5, gradTol: 1e-5,
		}
		forEachSetting(t, func(t *testing.T) { checkOp(t, c) })
	}
}
