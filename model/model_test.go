package model

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/align-go/align/checkpoint"
)

// The fixtures under testdata/models were written by testdata/gen/make_model_fixtures.py:
// independent PyTorch implementations of each HF model_type, evaluated in float64.

func fixtureDirs(t *testing.T) []string {
	t.Helper()
	dirs, _ := filepath.Glob("../testdata/models/*")
	var out []string
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "reference.safetensors")); err == nil {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		t.Fatal("no model fixtures under testdata/models")
	}
	return out
}

func readInts(t *testing.T, f *checkpoint.File, name string) ([]int32, []int) {
	t.Helper()
	v, shape, err := f.Int64(name)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int32, len(v))
	for i, x := range v {
		out[i] = int32(x)
	}
	return out, shape
}

func readF32(t *testing.T, f *checkpoint.File, name string) []float32 {
	t.Helper()
	v, _, err := f.Float32(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestModelMatchesPyTorch(t *testing.T) {
	for _, dir := range fixtureDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			m, err := LoadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := checkpoint.Open(filepath.Join(dir, "reference.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			ids, shape := readInts(t, ref, "input_ids")
			mask, _ := readInts(t, ref, "attention_mask")
			B, T := shape[0], shape[1]
			V, C := m.Cfg.Vocab, m.Cfg.Dim
			logits, hidden, err := m.Forward(Batch{B: B, T: T, IDs: ids, Mask: mask}, true)
			if err != nil {
				t.Fatal(err)
			}
			wantLogits := readF32(t, ref, "logits")
			wantHidden := readF32(t, ref, "hidden")
			var maxLogit, maxHidden float64
			for i := 0; i < B*T; i++ {
				if mask[i] == 0 {
					continue
				}
				for j := 0; j < V; j++ {
					maxLogit = math.Max(maxLogit, math.Abs(float64(logits[i*V+j]-wantLogits[i*V+j])))
				}
				for j := 0; j < C; j++ {
					maxHidden = math.Max(maxHidden, math.Abs(float64(hidden[i*C+j]-wantHidden[i*C+j])))
				}
			}
			if maxLogit > 1e-4 {
				t.Errorf("logits max abs diff %.3g > 1e-4", maxLogit)
			}
			if maxHidden > 1e-4 {
				t.Errorf("hidden max abs diff %.3g > 1e-4", maxHidden)
			}
			t.Logf("logits max abs diff %.3g, hidden %.3g", maxLogit, maxHidden)

			// Gradients from d(logits), then from d(hidden), each against torch autograd.
			for _, c := range []struct{ seed, gradPrefix string }{{"dlogits", "grad."}, {"dhidden", "hgrad."}} {
				m.EnableGrad()
				m.ZeroGrad()
				d := readF32(t, ref, c.seed)
				if c.seed == "dlogits" {
					err = m.Backward(d, nil)
				} else {
					err = m.Backward(nil, d)
				}
				if err != nil {
					t.Fatal(err)
				}
				worst, worstName := 0.0, ""
				for _, g := range m.ExportHF(m.Grad, m.hfPrefix) {
					want := readF32(t, ref, c.gradPrefix+g.Name)
					rel := relErr(g.Data, want)
					if rel > worst {
						worst, worstName = rel, g.Name
					}
					if rel > 1e-3 {
						t.Errorf("%s%s: relative error %.3g > 1e-3", c.gradPrefix, g.Name, rel)
					}
				}
				t.Logf("%s: worst gradient relative error %.3g (%s)", c.seed, worst, worstName)
			}
		})
	}
}

// relErr is max|got-want| / max|want|: scale-free, and strict on every element.
func relErr(got, want []float32) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	var num, den float64
	for i := range got {
		num = math.Max(num, math.Abs(float64(got[i]-want[i])))
		den = math.Max(den, math.Abs(float64(want[i])))
	}
	if den == 0 {
		return num
	}
	return num / den
}
