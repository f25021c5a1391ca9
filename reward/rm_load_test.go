package reward

import (
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/align-go/align/model"
	"github.com/align-go/align/rewardmodel"
)

// TestRMLoadDType: an rm: reward keeps the reward model's frozen weights as
// Options.RMLoad says (bf16 Linear weights and a compact embedding, as align
// score --torch-dtype bfloat16 does), f32 by default; both score.
func TestRMLoadDType(t *testing.T) {
	m, err := model.LoadDir(filepath.Join("..", "testdata", "models", "llama"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := rewardmodel.NewRewardModel(m, 0, 1).Save(dir, "F32"); err != nil {
		t.Fatal(err)
	}
	// a tokenizer beside it, as align rm writes one (the samples below
	// are token ids: it only has to load)
	zr, err := os.Open(filepath.Join("..", "testdata", "tokenizers", "gpt2", "tokenizer.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	gz, err := gzip.NewReader(zr)
	if err != nil {
		t.Fatal(err)
	}
	tj, err := io.ReadAll(gz)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), tj, 0o644); err != nil {
		t.Fatal(err)
	}
	// its EOS inside the test model's 96 ids ("!" is GPT-2's token 0)
	if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(`{"eos_token": "!"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		load    model.LoadOptions
		want    string
		compact bool
	}{{model.LoadOptions{}, "f32", false}, {model.LoadOptions{WeightDType: "bf16"}, "bf16", true}} {
		f, err := Parse("rm:"+dir, Options{RMLoad: c.load})
		if err != nil {
			t.Fatal(err)
		}
		rm := f.(*RM).Scorer.RM.Model
		if dt := rm.WeightDType(); dt != c.want || rm.Param("embed").Compact != c.compact {
			t.Fatalf("load %+v: Linear weights %s, embedding compact %v; want %s, %v", c.load, dt, rm.Param("embed").Compact, c.want, c.compact)
		}
		got := score(t, f, []Sample{{PromptIDs: []int32{5, 6, 7}, CompletionIDs: []int32{8, 9}}})
		if len(got) != 1 {
			t.Fatalf("%d rewards for one sample", len(got))
		}
	}
}
