package main

import (
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/align-go/align/gguf"
	"github.com/align-go/align/model"
)

// TestExportGGUFAdapter: `align export --adapter` merges the adapter before
// writing (the stored q_proj is the merged one, not the base's), and `align
// info` reads the file back.
func TestExportGGUFAdapter(t *testing.T) {
	dir := t.TempDir()
	base, adapter, out := filepath.Join(dir, "base"), filepath.Join(dir, "adapter"), filepath.Join(dir, "m.gguf")
	// A small byte-level BPE tokenizer with GPT-2's pre-tokenizer (GPT-2's
	// own 50,257 tokens made the export and the info read most of the cost).
	tok := chatTokenizer(t, base)
	cfg, err := model.ParseConfig(map[string]any{"model_type": "qwen2", "hidden_size": 32.0, "num_hidden_layers": 1.0,
		"num_attention_heads": 2.0, "intermediate_size": 64.0, "vocab_size": float64(tok.VocabSize())})
	if err != nil {
		t.Fatal(err)
	}
	m := model.New(cfg)
	m.InitRandom(1)
	if err := m.SaveDir(base, "F32"); err != nil {
		t.Fatal(err)
	}
	baseQ := append([]float32(nil), m.W.Layers[0].Wq...)
	if err := m.AttachLoRA(model.LoRAConfig{R: 2, Alpha: 4, Targets: []string{"q_proj"}}, 3); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range m.LoRA().Data { // B starts at zero; make the adapter do something
		m.LoRA().Data[i] = float32(0.1 * r.NormFloat64())
	}
	if err := m.SavePEFT(adapter, base); err != nil {
		t.Fatal(err)
	}
	m.MergeLoRA()
	if _, stderr, err := runAlign(t, "", "export", "--model", base, "--adapter", adapter, "--format", "gguf", "--type", "f32", "--out", out); err != nil {
		t.Fatalf("export: %v\n%s", err, stderr)
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, _, err := f.Float32("blk.0.attn_q.weight")
	if err != nil {
		t.Fatal(err)
	}
	var dMerged, dBase float32
	for i, v := range got {
		dMerged = max(dMerged, abs32(v-m.W.Layers[0].Wq[i]))
		dBase = max(dBase, abs32(v-baseQ[i]))
	}
	if dMerged > 1e-6 || dBase < 1e-3 {
		t.Fatalf("attn_q: %g from the merged weights, %g from the base's: the adapter was not merged", dMerged, dBase)
	}
	info, stderr, err := runAlign(t, "", "info", out)
	if err != nil {
		t.Fatalf("info: %v\n%s", err, stderr)
	}
	for _, want := range []string{`general.architecture                         "qwen2"`, "qwen2.block_count", "tokenizer.ggml.pre                           \"gpt-2\"", "blk.0.attn_q.weight"} {
		if !strings.Contains(info, want) {
			t.Errorf("align info lacks %q:\n%s", want, info)
		}
	}
	if _, stderr, err := runAlign(t, "", "export", "--model", base, "--type", "q3_k", "--out", out); err == nil || !strings.Contains(stderr, "--type") {
		t.Errorf("--type q3_k: err %v, stderr %q; want an error naming --type", err, stderr)
	}
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}
