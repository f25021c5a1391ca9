package model

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoadPEFT feeds arbitrary adapter_config.json and
// adapter_model.safetensors contents to LoadPEFT on the GPT-2 fixture. Seeds
// are the adapters written by testdata/gen/make_peft_fixture.py (PEFT's
// layout) and variants of their config. Bad input must give an error naming
// the file, never a panic, and must leave the model without adapters; an
// accepted adapter must merge.
func FuzzLoadPEFT(f *testing.F) {
	adDir := filepath.Join("..", "testdata", "peft", "gpt2_conv1d")
	cfg, err := os.ReadFile(filepath.Join(adDir, PEFTConfigFile))
	if err != nil {
		f.Fatal(err)
	}
	weights, err := os.ReadFile(filepath.Join(adDir, PEFTWeightsFile))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(cfg, weights)
	for _, c := range []string{
		`{"peft_type":"LORA","r":4,"lora_alpha":8,"target_modules":"c_attn"}`,
		`{"peft_type":"LORA","r":4,"lora_alpha":8,"target_modules":["c_attn","c_proj"],"use_rslora":true}`,
		`{"peft_type":"LORA","r":1000000000000,"lora_alpha":8,"target_modules":["c_attn","c_proj"]}`,
		`{"peft_type":"LORA","r":-4,"target_modules":["c_attn"]}`,
		`{"peft_type":"LORA","r":4,"lora_dropout":1,"target_modules":["c_attn"]}`,
		`{"peft_type":"PREFIX_TUNING"}`, `{"peft_type":"LORA","r":4,"target_modules":[1]}`, `[]`, `{`,
	} {
		f.Add([]byte(c), weights)
	}
	base, err := LoadDir(filepath.Join("..", "testdata", "models", "gpt2"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, cfg, weights []byte) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, PEFTConfigFile), cfg, 0o644)
		os.WriteFile(filepath.Join(dir, PEFTWeightsFile), weights, 0o644)
		m := base.Clone()
		if err := m.LoadPEFT(dir); err != nil {
			if !strings.Contains(err.Error(), PEFTConfigFile) && !strings.Contains(err.Error(), PEFTWeightsFile) {
				t.Fatalf("error names neither file: %v", err)
			}
			if m.LoRA() != nil || len(m.loras) != 0 {
				t.Fatalf("a failed load left adapters attached: %v", err)
			}
			return
		}
		m.MergeLoRA()
	})
}

// TestLoadPEFTRankChecked: "r" is checked against the stored lora_A/lora_B
// shapes before any adapter buffer is allocated, so an absurd rank is an
// error naming it instead of a request for terabytes.
func TestLoadPEFTRankChecked(t *testing.T) {
	src := filepath.Join("..", "testdata", "peft", "gpt2_conv1d")
	weights, err := os.ReadFile(filepath.Join(src, PEFTWeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	m, err := LoadDir(filepath.Join("..", "testdata", "models", "gpt2"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ r, want string }{
		{"1099511627776", `gives r = 1099511627776`},
		{"8", `has shape [4 32], but`},
		{"0", `field "r": must be positive`},
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, PEFTWeightsFile), weights, 0o644)
		os.WriteFile(filepath.Join(dir, PEFTConfigFile), []byte(`{"peft_type":"LORA","r":`+c.r+`,"lora_alpha":8,"target_modules":["c_attn","c_proj"]}`), 0o644)
		err := m.LoadPEFT(dir)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("r %s: err %v, want %q", c.r, err, c.want)
		}
		if m.LoRA() != nil {
			t.Fatalf("r %s: adapters attached after an error", c.r)
		}
	}
}

// TestLoadPEFTAlphaDefault: a config without lora_alpha gets PEFT's default
// of 8 (scale 8/r), not AttachLoRASet's alpha = r.
func TestLoadPEFTAlphaDefault(t *testing.T) {
	src := filepath.Join("..", "testdata", "peft", "gpt2_conv1d")
	weights, err := os.ReadFile(filepath.Join(src, PEFTWeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	m, err := LoadDir(filepath.Join("..", "testdata", "models", "gpt2"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, PEFTWeightsFile), weights, 0o644)
	os.WriteFile(filepath.Join(dir, PEFTConfigFile), []byte(`{"peft_type":"LORA","r":4,"target_modules":["c_attn","c_proj"]}`), 0o644)
	if err := m.LoadPEFT(dir); err != nil {
		t.Fatal(err)
	}
	if a := m.LoRA().Cfg.Alpha; a != 8 {
		t.Fatalf("lora_alpha absent: alpha %v, want PEFT's default 8", a)
	}
	os.WriteFile(filepath.Join(dir, PEFTConfigFile), []byte(`{"peft_type":"LORA","r":4,"lora_alpha":0,"target_modules":["c_attn","c_proj"]}`), 0o644)
	m3, _ := LoadDir(filepath.Join("..", "testdata", "models", "gpt2"))
	if err := m3.LoadPEFT(dir); err == nil || !strings.Contains(err.Error(), `"lora_alpha"`) {
		t.Fatalf("lora_alpha 0: %v", err)
	}
}
