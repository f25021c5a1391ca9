package checkpoint

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// modelFixtures is where testdata/gen/make_model_fixtures.py writes the
// PyTorch-referenced model cases that package model tests against.
const modelFixtures = "../testdata/models"

// TestModelFixtures checks every fixture is readable through this package
// and internally consistent: all shapes agree with config.json, every
// parameter has both gradients, the position ids follow the documented rule,
// and logits equal hidden × headᵀ recomputed here from the stored (possibly
// F16/BF16) weights, which also exercises the dtype conversions on real files.
func TestModelFixtures(t *testing.T) {
	dirs, err := os.ReadDir(modelFixtures)
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 9 {
		t.Fatalf("%d fixture cases, want at least 9", len(dirs))
	}
	for _, d := range dirs {
		t.Run(d.Name(), func(t *testing.T) { checkFixture(t, filepath.Join(modelFixtures, d.Name())) })
	}
}

func checkFixture(t *testing.T, dir string) {
	var cfg map[string]any
	if err := ReadJSON(filepath.Join(dir, "config.json"), &cfg); err != nil {
		t.Fatal(err)
	}
	num := func(keys ...string) int {
		for _, k := range keys {
			if v, ok := cfg[k].(float64); ok {
				return int(v)
			}
		}
		t.Fatalf("config.json lacks %v", keys)
		return 0
	}
	V, C := num("vocab_size"), num("hidden_size", "n_embd")
	model, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := Open(filepath.Join(dir, "reference.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	wantDType := map[string]string{"float32": "F32", "float16": "F16", "bfloat16": "BF16"}[cfg["torch_dtype"].(string)]
	params := 0
	for _, name := range model.Names() {
		in, _ := model.Info(name)
		if strings.HasSuffix(name, ".attn.bias") || strings.HasSuffix(name, ".attn.masked_bias") {
			continue // legacy GPT-2 buffers, not parameters
		}
		params++
		if in.DType != wantDType {
			t.Errorf("%s is %s, config says %s", name, in.DType, wantDType)
		}
		for _, g := range []string{"grad.", "hgrad."} {
			gi, ok := ref.Info(g + name)
			if !ok || !equalInts(gi.Shape, in.Shape) {
				t.Errorf("%s%s: %+v %v, want shape %v", g, name, gi, ok, in.Shape)
			}
		}
	}
	if 7+2*params != len(ref.Names()) {
		t.Errorf("reference holds %d tensors, want 7 + 2×%d", len(ref.Names()), params)
	}
	ids, idShape, err := ref.Int64("input_ids")
	if err != nil {
		t.Fatal(err)
	}
	mask, _, err := ref.Int64("attention_mask")
	if err != nil {
		t.Fatal(err)
	}
	pos, _, err := ref.Int64("position_ids")
	if err != nil {
		t.Fatal(err)
	}
	B, T := idShape[0], idShape[1]
	for b := range B {
		var c int64
		for i := range T {
			c += mask[b*T+i]
			if want := max(c-1, 0); pos[b*T+i] != want {
				t.Errorf("position_ids[%d,%d] = %d, want %d", b, i, pos[b*T+i], want)
			}
			if ids[b*T+i] < 0 || ids[b*T+i] >= int64(V) {
				t.Errorf("input_ids[%d,%d] = %d outside vocab %d", b, i, ids[b*T+i], V)
			}
		}
	}
	logits := make([]float32, B*T*V)
	hidden := make([]float32, B*T*C)
	if err := ref.Float32Into("logits", logits, []int{B, T, V}); err != nil {
		t.Fatal(err)
	}
	if err := ref.Float32Into("hidden", hidden, []int{B, T, C}); err != nil {
		t.Fatal(err)
	}
	head := "lm_head.weight"
	if _, ok := model.Info(head); !ok {
		for _, n := range []string{"transformer.wte.weight", "wte.weight", "model.embed_tokens.weight"} {
			if _, ok := model.Info(n); ok {
				head = n
			}
		}
	}
	w := make([]float32, V*C)
	if err := model.Float32Into(head, w, []int{V, C}); err != nil {
		t.Fatal(err)
	}
	var worst float64
	for r := range B * T {
		for v := range V {
			var s float64
			for c := range C {
				s += float64(hidden[r*C+c]) * float64(w[v*C+c])
			}
			got := float64(logits[r*V+v])
			if mask[r] == 0 {
				if got != 0 {
					t.Fatalf("logits at padded position %d are not zeroed", r)
				}
				continue
			}
			worst = max(worst, math.Abs(s-got)/(1+math.Abs(got)))
		}
	}
	if worst > 1e-5 {
		t.Errorf("logits differ from hidden × %sᵀ by %.3g (relative)", head, worst)
	}
}
