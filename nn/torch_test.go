package nn

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

// torchVectors mirrors testdata/torch_vectors.json, written by
// testdata/gen_torch.py from PyTorch (and HF's RoPE/RMSNorm code).
type torchVectors struct {
	Rope struct {
		HS        int
		Theta     float64
		Positions []int32
		H         int
		Cos, Sin  []float64
		X, Out    []float32
	}
	Attention struct {
		B, T, NH, NKV, HS    int
		Mask                 []int32
		Q, K, V, R           []float32
		Out, Att, Dq, Dk, Dv []float64
	}
	CrossEntropy struct {
		N, V          int
		Targets       []int32
		Logits, Dloss []float32
		Loss, Dlogits []float64
	} `json:"cross_entropy"`
	LayerNorm struct {
		N, C            int
		Eps             float32
		X, W, B, R      []float32
		Out, Dx, Dw, Db []float64
	} `json:"layer_norm"`
	RMSNorm struct {
		N, C        int
		Eps         float32
		X, W, R     []float32
		Out, Dx, Dw []float64
	} `json:"rms_norm"`
	Gelu struct {
		X       []float32
		Out, Dx []float64
	}
}

func loadTorch(t *testing.T) *torchVectors {
	t.Helper()
	b, err := os.ReadFile("testdata/torch_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v torchVectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("testdata/torch_vectors.json: %v", err)
	}
	return &v
}

func report(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	for _, m := range mismatches(got, want, tol) {
		t.Errorf("%s: %s", what, m)
	}
}

func TestTorchRope(t *testing.T) {
	v := loadTorch(t).Rope
	half := v.HS / 2
	T := int(v.Positions[len(v.Positions)-1]) + 1
	cos, sin := make([]float32, T*half), make([]float32, T*half)
	RopeTable(cos, sin, T, v.HS, v.Theta)
	var gc, gs []float32
	for _, p := range v.Positions {
		gc = append(gc, cos[int(p)*half:][:half]...)
		gs = append(gs, sin[int(p)*half:][:half]...)
	}
	// HF rounds the angle pos*inv_freq to float32, so almost every entry must
	// agree to float32 cos/sin accuracy (an angle kept in float64 misses by up
	// to half an angle ulp, ~1e-3 at position 32767). torch's float32 pow is
	// not correctly rounded, and where its inv_freq is an ulp off the angle
	// may differ by about an angle ulp: those few entries get that tolerance.
	loose := 0
	for r, p := range v.Positions {
		for i := 0; i < half; i++ {
			k := r*half + i
			angle := float64(p) * math.Pow(v.Theta, -2*float64(i)/float64(v.HS))
			for _, e := range [][2]float64{{float64(gc[k]), v.Cos[k]}, {float64(gs[k]), v.Sin[k]}} {
				d := math.Abs(e[0] - e[1])
				if d > 3e-7 {
					loose++
				}
				if d > 3e-7+2*angle*0x1p-24 {
					t.Errorf("position %d frequency %d: %.9g, torch %.9g", p, i, e[0], e[1])
				}
			}
		}
	}
	if loose > 4 {
		t.Errorf("%d cos/sin entries differ from torch beyond float32 rounding", loose)
	}
	x := append([]float32(nil), v.X...)
	RopeForward(x, v.Positions, cos, sin, len(v.Positions), v.H, v.HS)
	report(t, "rotated", x, to64(v.Out), 1e-5)
}

func TestTorchAttention(t *testing.T) {
	v := loadTorch(t).Attention
	B, T, NH, NKV, HS := v.B, v.T, v.NH, v.NKV, v.HS
	out, lse := make([]float32, B*T*NH*HS), make([]float32, B*NH*T)
	AttentionForward(out, lse, v.Q, v.K, v.V, AttnMask{Pad: v.Mask}, B, T, NH, NKV, HS)
	report(t, "out", out, v.Out, 1e-5)
	checkLSE(t, "torch", lse, v.Q, v.K, v.Att, B, T, NH, NKV, HS)
	dq, dk, dv := make([]float32, len(v.Q)), make([]float32, len(v.K)), make([]float32, len(v.V))
	AttentionBackward(dq, dk, dv, make([]float32, AttentionScratchLen(B, T, NH, NKV, HS)), v.R, v.Q, v.K, v.V, out, lse, AttnMask{Pad: v.Mask}, B, T, NH, NKV, HS)
	report(t, "dq", dq, v.Dq, 1e-4)
	report(t, "dk", dk, v.Dk, 1e-4)
	report(t, "dv", dv, v.Dv, 1e-4)
}

func TestTorchCrossEntropy(t *testing.T) {
	v := loadTorch(t).CrossEntropy
	loss := make([]float32, v.N)
	CrossEntropyForward(loss, v.Logits, v.Targets, v.N, v.V)
	report(t, "loss", loss, v.Loss, 1e-6)
	g := make([]float32, v.N*v.V)
	CrossEntropyBackward(g, v.Logits, v.Targets, v.Dloss, v.N, v.V)
	report(t, "dlogits", g, v.Dlogits, 1e-5)
}

func TestTorchNorms(t *testing.T) {
	tv := loadTorch(t)
	ln := tv.LayerNorm
	out, mean, rstd := make([]float32, ln.N*ln.C), make([]float32, ln.N), make([]float32, ln.N)
	LayerNormForward(out, mean, rstd, ln.X, ln.W, ln.B, ln.N, ln.C, ln.Eps)
	report(t, "layernorm out", out, ln.Out, 1e-5)
	dx, dw, db := make([]float32, ln.N*ln.C), make([]float32, ln.C), make([]float32, ln.C)
	LayerNormBackward(dx, dw, db, ln.R, ln.X, ln.W, mean, rstd, ln.N, ln.C)
	report(t, "layernorm dx", dx, ln.Dx, 1e-4)
	report(t, "layernorm dw", dw, ln.Dw, 1e-5)
	report(t, "layernorm db", db, ln.Db, 1e-5)

	rn := tv.RMSNorm
	out, rstd = make([]float32, rn.N*rn.C), make([]float32, rn.N)
	RMSNormForward(out, rstd, rn.X, rn.W, rn.N, rn.C, rn.Eps)
	report(t, "rmsnorm out", out, rn.Out, 1e-5)
	dx, dw = make([]float32, rn.N*rn.C), make([]float32, rn.C)
	RMSNormBackward(dx, dw, rn.R, rn.X, rn.W, rstd, rn.N, rn.C)
	report(t, "rmsnorm dx", dx, rn.Dx, 1e-4)
	report(t, "rmsnorm dw", dw, rn.Dw, 1e-5)

	g := tv.Gelu
	out = make([]float32, len(g.X))
	GeluForward(out, g.X)
	report(t, "gelu", out, g.Out, 1e-6)
	dx = make([]float32, len(g.X))
	ones := make([]float32, len(g.X))
	for i := range ones {
		ones[i] = 1
	}
	GeluBackward(dx, g.X, ones)
	report(t, "gelu grad", dx, g.Dx, 1e-6)
}
