// Package pefttest computes, independently of the code under test, what
// merging a PEFT LoRA adapter into a base checkpoint must give: it reads the
// safetensors files itself (F32 only) and forms W + (lora_alpha/r)·B·A in
// float64, transposing for GPT-2's Conv1D weights (fan_in_fan_out). The
// adapter directories are testdata/peft/*, written by
// testdata/gen/make_peft_fixture.py.
package pefttest

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Tensor is one F32 tensor widened to float64.
type Tensor struct {
	Shape []int
	Data  []float64
}

// ReadF32 reads every tensor of a safetensors file whose tensors are all F32.
func ReadF32(t testing.TB, path string) map[string]Tensor {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(b[:8])
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &hdr); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	data := b[8+n:]
	out := map[string]Tensor{}
	for name, raw := range hdr {
		if name == "__metadata__" {
			continue
		}
		var e struct {
			DType   string   `json:"dtype"`
			Shape   []int    `json:"shape"`
			Offsets [2]int64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatalf("%s: %s: %v", path, name, err)
		}
		if e.DType != "F32" {
			t.Fatalf("%s: %s is %s, this reader takes F32 only", path, name, e.DType)
		}
		raw := data[e.Offsets[0]:e.Offsets[1]]
		v := make([]float64, len(raw)/4)
		for i := range v {
			v[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])))
		}
		out[name] = Tensor{Shape: e.Shape, Data: v}
	}
	return out
}

// Config is the part of adapter_config.json the merge uses.
type Config struct {
	R           int     `json:"r"`
	Alpha       float64 `json:"lora_alpha"`
	FanInFanOut bool    `json:"fan_in_fan_out"`
}

// Merged returns the base checkpoint's weights (HF names) with the adapter in
// dir merged as PEFT merges it, and the names of the weights an adapter
// changed. scale is lora_alpha/r from the adapter's config.
func Merged(t testing.TB, baseFile, dir string) (w map[string]Tensor, adapted []string, scale float64) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "adapter_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg Config
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	scale = cfg.Alpha / float64(cfg.R)
	w = ReadF32(t, baseFile)
	ad := ReadF32(t, filepath.Join(dir, "adapter_model.safetensors"))
	for name, a := range ad {
		module, ok := strings.CutSuffix(name, ".lora_A.weight")
		if !ok {
			continue
		}
		module = strings.TrimPrefix(module, "base_model.model.")
		bt, ok := ad["base_model.model."+module+".lora_B.weight"]
		if !ok {
			t.Fatalf("%s: no lora_B beside %s", dir, name)
		}
		R, in, out := a.Shape[0], a.Shape[1], bt.Shape[0]
		if R != cfg.R || bt.Shape[1] != R {
			t.Fatalf("%s: %s: A %v, B %v, r %d", dir, module, a.Shape, bt.Shape, cfg.R)
		}
		base, ok := w[module+".weight"]
		if !ok {
			t.Fatalf("%s: no base weight %s.weight", baseFile, module)
		}
		merged := append([]float64(nil), base.Data...)
		for o := 0; o < out; o++ {
			for i := 0; i < in; i++ {
				var d float64
				for r := 0; r < R; r++ {
					d += bt.Data[o*R+r] * a.Data[r*in+i]
				}
				at := o*in + i // nn.Linear: [out, in]
				if cfg.FanInFanOut {
					at = i*out + o // Conv1D: [in, out]
				}
				merged[at] += scale * d
			}
		}
		w[module+".weight"] = Tensor{Shape: base.Shape, Data: merged}
		adapted = append(adapted, module+".weight")
	}
	if len(adapted) == 0 {
		t.Fatalf("%s: no adapters", dir)
	}
	return w, adapted, scale
}

// Compare checks got (float32, HF layout) against want to float32 rounding.
func Compare(name string, got []float32, want Tensor) error {
	if len(got) != len(want.Data) {
		return fmt.Errorf("%s: %d values, want %d", name, len(got), len(want.Data))
	}
	for i, g := range got {
		if d := math.Abs(float64(g) - want.Data[i]); d > 1e-5*(1+math.Abs(want.Data[i])) {
			return fmt.Errorf("%s[%d] = %v, want %v", name, i, g, want.Data[i])
		}
	}
	return nil
}
