package model

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/align-go/align/checkpoint"
)

// PEFT file names and the prefix PEFT's LoraModel puts before module paths.
const (
	PEFTConfigFile  = "adapter_config.json"
	PEFTWeightsFile = "adapter_model.safetensors"
	peftPrefix      = "base_model.model."
)

// SavePEFT writes the selected adapters in PEFT's layout (adapter_config.json
// and adapter_model.safetensors), loadable by peft.PeftModel.from_pretrained on
// top of the base model named base.
func (m *Model) SavePEFT(dir, base string) error {
	return m.SavePEFTSet(dir, base, "")
}

// SavePEFTSet is SavePEFT for the set attached under name ("" the selected one).
func (m *Model) SavePEFTSet(dir, base, name string) error {
	lo := m.active
	if name != "" {
		if lo = m.LoRASet(name); lo == nil {
			return fmt.Errorf("lora: no adapter set %q to save", name)
		}
	}
	if lo == nil {
		return fmt.Errorf("lora: no adapters to save")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var targets []string
	seen := map[string]bool{}
	for _, ad := range lo.adapters {
		parts := strings.Split(ad.module, ".")
		t := parts[len(parts)-1] // PEFT matches by suffix: GPT-2's "c_proj" covers attn and mlp
		if !seen[t] {
			seen[t] = true
			targets = append(targets, t)
		}
	}
	cfg := map[string]any{
		"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": lo.Cfg.R, "lora_alpha": lo.Cfg.Alpha,
		"lora_dropout": lo.Cfg.Dropout, "target_modules": targets, "bias": "none",
		"fan_in_fan_out": m.Cfg.Arch == ArchGPT2, "base_model_name_or_path": base, "inference_mode": true,
		"init_lora_weights": true, "modules_to_save": nil, "use_rslora": false, "use_dora": false,
	}
	if err := checkpoint.WriteJSON(filepath.Join(dir, PEFTConfigFile), cfg); err != nil {
		return err
	}
	var ts []checkpoint.Tensor
	for _, p := range lo.Params {
		ts = append(ts, checkpoint.Tensor{Name: peftPrefix + p.Name, Shape: p.Shape, Data: lo.Data[p.Offset : p.Offset+p.Size]})
	}
	return checkpoint.Write(filepath.Join(dir, PEFTWeightsFile), ts, map[string]string{"format": "pt"})
}

// LoadPEFT attaches the adapters stored in a PEFT directory to m as its
// default set.
func (m *Model) LoadPEFT(dir string) error {
	if m.LoRASet(DefaultLoRA) != nil {
		return fmt.Errorf("%s: lora: adapters already attached", dir)
	}
	return m.LoadPEFTSet(dir, DefaultLoRA)
}

// LoadPEFTSet attaches the adapters stored in a PEFT directory as set name.
func (m *Model) LoadPEFTSet(dir, name string) error {
	var raw struct {
		PeftType  string   `json:"peft_type"`
		R         int      `json:"r"`
		Alpha     *float64 `json:"lora_alpha"`
		Dropout   float64  `json:"lora_dropout"`
		Targets   any      `json:"target_modules"`
		UseRSLoRA bool     `json:"use_rslora"`
		UseDoRA   bool     `json:"use_dora"`
		Save      []string `json:"modules_to_save"`
	}
	cfgPath := filepath.Join(dir, PEFTConfigFile)
	if err := checkpoint.ReadJSON(cfgPath, &raw); err != nil {
		return err
	}
	if raw.PeftType != "LORA" {
		return fmt.Errorf("%s: field \"peft_type\": %q not supported (want LORA)", cfgPath, raw.PeftType)
	}
	if raw.UseRSLoRA || raw.UseDoRA || len(raw.Save) > 0 {
		return fmt.Errorf("%s: use_rslora, use_dora and modules_to_save are not supported", cfgPath)
	}
	var targets []string
	switch t := raw.Targets.(type) {
	case string:
		targets = []string{t}
	case []any:
		for _, x := range t {
			s, ok := x.(string)
			if !ok {
				return fmt.Errorf("%s: field \"target_modules\": want strings, got %v", cfgPath, x)
			}
			targets = append(targets, s)
		}
	default:
		return fmt.Errorf("%s: field \"target_modules\": want a list of module names", cfgPath)
	}
	wPath := filepath.Join(dir, PEFTWeightsFile)
	f, err := checkpoint.Open(wPath)
	if err != nil {
		return err
	}
	// The rank sizes every adapter buffer: it must agree with the stored
	// tensors before anything is allocated, so that a wrong "r" is an error
	// naming it rather than an allocation of whatever size it claims.
	if err := checkPEFTRank(f, raw.R, cfgPath, wPath); err != nil {
		return err
	}
	// PEFT's LoraConfig defaults lora_alpha to 8, not to r as
	// AttachLoRASet's zero does; a written 0 (an adapter with no effect in
	// PEFT) is refused rather than read as that zero.
	alpha := 8.0
	if raw.Alpha != nil {
		alpha = *raw.Alpha
	}
	if alpha == 0 {
		return fmt.Errorf("%s: field \"lora_alpha\": 0 makes the adapter a no-op", cfgPath)
	}
	if err := m.AttachLoRASet(name, LoRAConfig{R: raw.R, Alpha: alpha, Dropout: raw.Dropout, Targets: targets}, 0); err != nil {
		return fmt.Errorf("%s: %w", cfgPath, err)
	}
	lo := m.LoRASet(name)
	want := map[string]bool{}
	for _, p := range lo.Params {
		name := peftPrefix + p.Name
		want[name] = true
		alt := strings.Replace(name, ".lora_A.weight", ".lora_A.default.weight", 1)
		alt = strings.Replace(alt, ".lora_B.weight", ".lora_B.default.weight", 1)
		use := name
		if _, ok := f.Info(name); !ok {
			if _, ok := f.Info(alt); !ok {
				m.detachLoRA(lo)
				return fmt.Errorf("%s: missing tensor %q", wPath, name)
			}
			use = alt
		}
		if err := f.Float32Into(use, lo.Data[p.Offset:p.Offset+p.Size], p.Shape); err != nil {
			m.detachLoRA(lo)
			return err
		}
	}
	for _, n := range f.Names() {
		if !want[n] && !want[strings.Replace(n, ".default.", ".", 1)] {
			m.detachLoRA(lo)
			return fmt.Errorf("%s: unexpected tensor %q", wPath, n)
		}
	}
	return nil
}

// checkPEFTRank checks config.json's "r" against the lora_A [r, in] and
// lora_B [out, r] tensors of the weights file.
func checkPEFTRank(f *checkpoint.File, r int, cfgPath, wPath string) error {
	if r <= 0 {
		return fmt.Errorf("%s: field \"r\": must be positive, got %d", cfgPath, r)
	}
	found := false
	for _, n := range f.Names() {
		in, _ := f.Info(n)
		dim := -1
		switch {
		case strings.Contains(n, ".lora_A."):
			dim = 0
		case strings.Contains(n, ".lora_B."):
			dim = 1
		default:
			continue
		}
		found = true
		if len(in.Shape) != 2 || in.Shape[dim] != r {
			return fmt.Errorf("%s: tensor %q has shape %v, but %s gives r = %d", wPath, n, in.Shape, cfgPath, r)
		}
	}
	if !found {
		return fmt.Errorf("%s: no lora_A or lora_B tensors", wPath)
	}
	return nil
}
