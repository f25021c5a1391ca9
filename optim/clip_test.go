package optim

import (
	"math"
	"strings"
	"testing"
)

// scaled is g·coef the way torch does it: a float32 gradient times the
// clip coefficient rounded to float32.
func scaled(g float32, coef float64) float32 { return g * float32(coef) }

func TestClipGradNorm(t *testing.T) {
	spans := []Span{{Name: "frozen", Offset: 0, Size: 2, Frozen: true}, {Name: "w", Offset: 2, Size: 2}}
	cases := []struct {
		name    string
		grads   []float32
		spans   []Span
		maxNorm float64
		norm    float64
		want    []float32
	}{
		// ‖(3,4)‖ = 5; coef = 1/(5+1e-6) = 0.19999996: (0.59999988, 0.79999984)
		{"clips", []float32{3, 4}, nil, 1, 5, []float32{scaled(3, 1/(5+1e-6)), scaled(4, 1/(5+1e-6))}},
		// 10/(5+1e-6) > 1: untouched
		{"below max", []float32{3, 4}, nil, 10, 5, []float32{3, 4}},
		// coef = 5/(5+1e-6) < 1 by a hair: torch scales, so do we
		{"at max", []float32{3, 4}, nil, 5, 5, []float32{scaled(3, 5/(5+1e-6)), scaled(4, 5/(5+1e-6))}},
		// frozen grads neither counted nor scaled: ‖(6,8)‖ = 10, coef 2/(10+1e-6)
		{"frozen ignored", []float32{100, 100, 6, 8}, spans, 2, 10, []float32{100, 100, scaled(6, 2/(10+1e-6)), scaled(8, 2/(10+1e-6))}},
		{"measure only", []float32{3, 4}, nil, 0, 5, []float32{3, 4}},
		{"empty", nil, nil, 1, 0, nil},
	}
	for _, c := range cases {
		g := append([]float32(nil), c.grads...)
		norm := ClipGradNorm(g, c.spans, c.maxNorm)
		if math.Abs(norm-c.norm) > 1e-12 {
			t.Errorf("%s: norm %v, want %v", c.name, norm, c.norm)
		}
		for i := range g {
			if g[i] != c.want[i] {
				t.Errorf("%s: grad[%d] = %.9g, want %.9g", c.name, i, g[i], c.want[i])
			}
		}
	}
}

func TestClipGradNormNonFinite(t *testing.T) {
	g := []float32{1, float32(math.NaN()), 2}
	if n := ClipGradNorm(g, nil, 1); !math.IsNaN(n) {
		t.Errorf("norm %v, want NaN", n)
	}
	if g[0] != 1 || g[2] != 2 {
		t.Errorf("grads changed despite NaN norm: %v", g)
	}
	g = []float32{float32(math.Inf(1)), 1}
	if n := ClipGradNorm(g, nil, 1); !math.IsInf(n, 1) {
		t.Errorf("norm %v, want +Inf", n)
	}
}

// TestGradNormLarge exercises the parallel, piecewise reduction against a
// closed form: Σ_{i<n} (i mod 7)² over n = 5·2^16+3 elements.
func TestGradNormLarge(t *testing.T) {
	n := 5*normPiece + 3
	g := make([]float32, n)
	want := 0.0
	for i := range g {
		g[i] = float32(i % 7)
		want += float64((i % 7) * (i % 7))
	}
	if got := GradNorm(g, nil); math.Abs(got-math.Sqrt(want)) > 1e-9*math.Sqrt(want) {
		t.Errorf("norm %v, want %v", got, math.Sqrt(want))
	}
	spans := []Span{{Name: "a", Offset: 0, Size: 10}, {Name: "z", Offset: 10, Size: n - 10, Frozen: true}}
	// Σ_{i<10} (i mod 7)² = 0+1+4+9+16+25+36+0+1+4 = 96
	if got := GradNorm(g, spans); math.Abs(got-math.Sqrt(96)) > 1e-12 {
		t.Errorf("span norm %v, want √96", got)
	}
}

func TestCheckFinite(t *testing.T) {
	spans := []Span{{Name: "a", Offset: 0, Size: 2}, {Name: "skip", Offset: 2, Size: 1, Frozen: true}, {Name: "b", Offset: 3, Size: 2}}
	x := []float32{1, 2, float32(math.NaN()), 4, float32(math.Inf(-1))}
	err := CheckFinite(x, spans)
	if err == nil || !strings.Contains(err.Error(), `"b" element 1`) {
		t.Errorf("CheckFinite = %v, want it to name tensor b element 1", err)
	}
	if err := CheckFinite(x[:2], nil); err != nil {
		t.Errorf("finite slice flagged: %v", err)
	}
	if AllFinite(x) || !AllFinite(x[:2]) {
		t.Error("AllFinite wrong")
	}
	if err := CheckFinite(x, []Span{{Name: "oob", Offset: 4, Size: 3}}); err == nil {
		t.Error("out-of-range span accepted")
	}
}
