package model

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/align-go/align/checkpoint"
)

// copyFixture writes the llama fixture into a temp dir with its tensors passed
// through edit, so each case breaks one thing.
func copyFixture(t *testing.T, name string, edit func([]checkpoint.Tensor) []checkpoint.Tensor, config string) string {
	t.Helper()
	src := filepath.Join("..", "testdata", "models", name)
	dir := t.TempDir()
	cfg, err := os.ReadFile(filepath.Join(src, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if config != "" {
		cfg = []byte(config)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := checkpoint.OpenDir(src)
	if err != nil {
		t.Fatal(err)
	}
	var ts []checkpoint.Tensor
	for _, n := range set.Names() {
		d, shape, err := set.Float32(n)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, checkpoint.Tensor{Name: n, Shape: shape, Data: d})
	}
	if edit != nil {
		ts = edit(ts)
	}
	if err := checkpoint.Write(filepath.Join(dir, "model.safetensors"), ts, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLoadRejectsBadCheckpoints(t *testing.T) {
	drop := func(name string) func([]checkpoint.Tensor) []checkpoint.Tensor {
		return func(ts []checkpoint.Tensor) []checkpoint.Tensor {
			var out []checkpoint.Tensor
			for _, x := range ts {
				if x.Name != name {
					out = append(out, x)
				}
			}
			return out
		}
	}
	cases := []struct {
		name   string
		edit   func([]checkpoint.Tensor) []checkpoint.Tensor
		config string
		want   []string
	}{
		{"missing tensor", drop("model.layers.1.mlp.up_proj.weight"), "",
			[]string{"model.safetensors", "missing tensor", "model.layers.1.mlp.up_proj.weight"}},
		{"extra tensor", func(ts []checkpoint.Tensor) []checkpoint.Tensor {
			return append(ts, checkpoint.Tensor{Name: "model.layers.9.surprise", Shape: []int{2}, Data: []float32{1, 2}})
		}, "", []string{"model.safetensors", "unexpected tensor", "model.layers.9.surprise"}},
		{"mis-shaped tensor", func(ts []checkpoint.Tensor) []checkpoint.Tensor {
			for i := range ts {
				if ts[i].Name == "model.norm.weight" {
					ts[i].Shape = []int{ts[i].Shape[0] - 1}
					ts[i].Data = ts[i].Data[1:]
				}
			}
			return ts
		}, "", []string{"model.safetensors", "model.norm.weight", "shape"}},
		{"unknown model_type", nil, `{"model_type": "bert", "vocab_size": 10}`,
			[]string{"config.json", "model_type", "bert"}},
		{"wrong field type", nil, `{"model_type": "llama", "hidden_size": "big"}`,
			[]string{"config.json", "hidden_size"}},
		{"heads do not divide", nil, `{"model_type": "llama", "hidden_size": 32, "num_attention_heads": 4, "num_key_value_heads": 3}`,
			[]string{"config.json", "num_key_value_heads"}},
		{"unsupported rope scaling", nil, `{"model_type": "llama", "rope_scaling": {"rope_type": "yarn", "factor": 4}}`,
			[]string{"config.json", "rope_scaling", "yarn"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyFixture(t, "llama", c.edit, c.config)
			_, err := LoadDir(dir)
			if err == nil {
				t.Fatal("loaded without error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	t.Run("truncated safetensors", func(t *testing.T) {
		dir := copyFixture(t, "llama", nil, "")
		p := filepath.Join(dir, "model.safetensors")
		b, _ := os.ReadFile(p)
		os.WriteFile(p, b[:len(b)-100], 0o644)
		_, err := LoadDir(dir)
		if err == nil || !strings.Contains(err.Error(), "model.safetensors") {
			t.Fatalf("truncated file: %v", err)
		}
	})
}

// TestSaveRoundTrip: a saved model reloads bit-identically and keeps HF names,
// including GPT-2's prefix style and a BF16 save.
func TestSaveRoundTrip(t *testing.T) {
	for _, name := range []string{"gpt2", "gpt2_noprefix", "qwen3", "mistral"} {
		t.Run(name, func(t *testing.T) {
			m, err := LoadDir(filepath.Join("..", "testdata", "models", name))
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if err := m.SaveDir(dir, "F32"); err != nil {
				t.Fatal(err)
			}
			m2, err := LoadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for i := range m.Data {
				if m.Data[i] != m2.Data[i] {
					t.Fatalf("parameter %d differs after round trip", i)
				}
			}
			orig, _ := checkpoint.OpenDir(filepath.Join("..", "testdata", "models", name))
			saved, _ := checkpoint.OpenDir(dir)
			have := map[string]bool{}
			for _, n := range saved.Names() {
				have[n] = true
			}
			for _, n := range orig.Names() {
				if !have[n] && !ignorableHF(m.Cfg, n) {
					t.Errorf("saved checkpoint lacks %q", n)
				}
			}
			if err := m.SaveDir(dir, "BF16"); err != nil {
				t.Fatal(err)
			}
			m3, err := LoadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for i := range m.Data {
				if d := m.Data[i] - m3.Data[i]; d > 0.01*abs32(m.Data[i])+1e-30 || -d > 0.01*abs32(m.Data[i])+1e-30 {
					t.Fatalf("bf16 parameter %d: %g vs %g", i, m.Data[i], m3.Data[i])
				}
			}
		})
	}
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}

// TestHeadTensorsRoundTrip: a sequence-classification head saved beside the
// transformer comes back through LoadDirWith, and plain LoadDir rejects it.
func TestHeadTensorsRoundTrip(t *testing.T) {
	m, err := LoadDir(filepath.Join("..", "testdata", "models", "llama"))
	if err != nil {
		t.Fatal(err)
	}
	score := NamedTensor{Name: "score.weight", Shape: []int{1, m.Cfg.Dim}, Data: make([]float32, m.Cfg.Dim)}
	for i := range score.Data {
		score.Data[i] = float32(i) * 0.5
	}
	dir := t.TempDir()
	if err := m.SaveDirWith(dir, "F32", []NamedTensor{score}, map[string]any{"num_labels": 1,
		"architectures": []string{"LlamaForSequenceClassification"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadDir(dir); err == nil || !strings.Contains(err.Error(), "score.weight") {
		t.Fatalf("LoadDir accepted a head tensor: %v", err)
	}
	m2, heads, err := LoadDirWith(dir, "score.weight")
	if err != nil {
		t.Fatal(err)
	}
	got := heads["score.weight"]
	if len(got.Data) != m.Cfg.Dim || got.Data[3] != 1.5 || m2.Cfg.Raw["num_labels"] != 1.0 {
		t.Fatalf("head came back as %v (config num_labels %v)", got.Shape, m2.Cfg.Raw["num_labels"])
	}
}

// TestSequenceClassificationWithoutLMHead: HF's LlamaForSequenceClassification
// stores no lm_head; it loads with its score head and saves back without one.
func TestSequenceClassificationWithoutLMHead(t *testing.T) {
	dir := copyFixture(t, "llama", func(ts []checkpoint.Tensor) []checkpoint.Tensor {
		var out []checkpoint.Tensor
		for _, x := range ts {
			if x.Name != "lm_head.weight" {
				out = append(out, x)
			}
		}
		return append(out, checkpoint.Tensor{Name: "score.weight", Shape: []int{1, 32}, Data: make([]float32, 32)})
	}, "")
	if _, err := LoadDir(dir); err == nil {
		t.Fatal("plain LoadDir accepted a checkpoint without lm_head")
	}
	m, heads, err := LoadDirWith(dir, "score.weight")
	if err != nil {
		t.Fatal(err)
	}
	if m.HasLMHead() || heads["score.weight"].Data == nil {
		t.Fatalf("HasLMHead %v, score %v", m.HasLMHead(), heads["score.weight"].Shape)
	}
	out := t.TempDir()
	if err := m.SaveDirWith(out, "F32", []NamedTensor{heads["score.weight"]}, nil); err != nil {
		t.Fatal(err)
	}
	set, _ := checkpoint.OpenDir(out)
	if _, ok := set.Info("lm_head.weight"); ok {
		t.Fatal("save invented an lm_head")
	}
}
