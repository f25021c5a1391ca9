package rewardmodel

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/align-go/align/checkpoint"
	"github.com/align-go/align/internal/pefttest"
	"github.com/align-go/align/model"
)

// TestSaveMergesPEFTAdapters: Save folds attached adapters into the saved
// weights (mergeAdapters, a merge separate from model.MergeLoRA). With
// adapters written by an independent script (testdata/peft, PEFT's names and
// shapes, GPT-2 with fan_in_fan_out), every adapted weight in the saved file
// equals W + (lora_alpha/r)·B·A formed in float64 from the files, transposed
// for GPT-2's Conv1D, and the rest equal the base.
func TestSaveMergesPEFTAdapters(t *testing.T) {
	for _, c := range []struct{ adapter, base string }{{"gpt2_conv1d", "gpt2"}, {"llama", "llama"}} {
		t.Run(c.adapter, func(t *testing.T) {
			baseDir := filepath.Join("..", "testdata", "models", c.base)
			adDir := filepath.Join("..", "testdata", "peft", c.adapter)
			want, adapted, _ := pefttest.Merged(t, filepath.Join(baseDir, "model.safetensors"), adDir)
			m, err := model.LoadDir(baseDir)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.LoadPEFT(adDir); err != nil {
				t.Fatal(err)
			}
			out := t.TempDir()
			if err := NewRewardModel(m, 0, 1).Save(out, "F32"); err != nil {
				t.Fatal(err)
			}
			if m.LoRA() == nil {
				t.Fatal("Save detached the adapters; it must leave the model as it is")
			}
			got := pefttest.ReadF32(t, filepath.Join(out, checkpoint.SingleFile))
			seen := 0
			for name, w := range want {
				g, ok := got[name]
				if !ok {
					if name == "lm_head.weight" {
						continue
					}
					t.Fatalf("saved file lacks %s", name)
				}
				if slices.Contains(adapted, name) {
					seen++
				}
				f := make([]float32, len(g.Data))
				for i, v := range g.Data {
					f[i] = float32(v)
				}
				if err := pefttest.Compare(name, f, w); err != nil {
					t.Error(err)
				}
			}
			if seen != len(adapted) {
				t.Fatalf("checked %d of %d adapted weights", seen, len(adapted))
			}
		})
	}
}
