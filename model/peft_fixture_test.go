package model

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/align-go/align/internal/pefttest"
)

// TestPEFTFixtureMerge loads adapters written by an independent script
// (testdata/gen/make_peft_fixture.py: PEFT's names, lora_A [r,in], lora_B
// [out,r]; GPT-2 with fan_in_fan_out) and checks that MergeLoRA leaves every
// adapted weight equal to W + (lora_alpha/r)·B·A formed in float64 from the
// files (transposed into Conv1D's [in,out] for GPT-2), and every other weight
// unchanged.
func TestPEFTFixtureMerge(t *testing.T) {
	for _, c := range []struct{ adapter, base string }{{"gpt2_conv1d", "gpt2"}, {"llama", "llama"}} {
		t.Run(c.adapter, func(t *testing.T) {
			baseDir := filepath.Join("..", "testdata", "models", c.base)
			adDir := filepath.Join("..", "testdata", "peft", c.adapter)
			want, adapted, scale := pefttest.Merged(t, filepath.Join(baseDir, "model.safetensors"), adDir)
			m, err := LoadDir(baseDir)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.LoadPEFT(adDir); err != nil {
				t.Fatal(err)
			}
			if lo := m.LoRA(); lo == nil || lo.Cfg.Alpha/float64(lo.Cfg.R) != scale {
				t.Fatalf("loaded config %+v, want scale %v", lo, scale)
			}
			m.MergeLoRA()
			if m.LoRA() != nil {
				t.Fatal("adapters still attached after MergeLoRA")
			}
			seen := 0
			for _, nt := range m.ExportHF(m.Data, m.HFPrefix()) {
				w, ok := want[nt.Name]
				if !ok {
					continue // lm_head tied to the embedding
				}
				if slices.Contains(adapted, nt.Name) {
					seen++
				}
				if err := pefttest.Compare(nt.Name, nt.Data, w); err != nil {
					t.Error(err)
				}
			}
			if seen != len(adapted) {
				t.Fatalf("checked %d of %d adapted weights", seen, len(adapted))
			}
		})
	}
}
