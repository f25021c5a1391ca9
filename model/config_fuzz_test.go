package model

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoadConfig feeds arbitrary bytes to LoadConfig as a config.json. Seeds
// are the fixture checkpoints' configs (written by transformers'
// save_pretrained) plus hub-shaped variants. Bad input must give an error
// naming the file, never a panic; an accepted config must be one New can
// allocate (every size positive and bounded) and must survive the round
// trip through its Raw map, which SaveDir writes back.
func FuzzLoadConfig(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("..", "testdata", "models", "*", "config.json"))
	if len(paths) == 0 {
		f.Fatal("no fixture configs")
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{"model_type":"gpt2","n_embd":768,"n_layer":12,"n_head":12,"vocab_size":50257,"n_positions":1024,"activation_function":"gelu_new"}`,
		`{"model_type":"qwen3","vocab_size":151936,"hidden_size":1024,"num_hidden_layers":28,"num_attention_heads":16,"num_key_value_heads":8,"head_dim":128,"intermediate_size":3072,"max_position_embeddings":40960,"rope_theta":1000000,"tie_word_embeddings":true,"eos_token_id":151645}`,
		`{"model_type":"llama","rope_scaling":{"rope_type":"llama3","factor":32.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192},"eos_token_id":[128001,128008,128009]}`,
		`{"model_type":"mistral","sliding_window":4096,"rope_scaling":null}`,
		`{"model_type":"llama","rope_scaling":{"type":"linear","factor":2}}`,
		`{"model_type":"gpt2","vocab_size":4611686018427387904,"n_embd":4,"n_head":2}`,
		`{"model_type":"llama","eos_token_id":[1.5]}`,
		`null`, `[]`, `{"model_type":7}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "config.json")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := LoadConfig(p)
		if err != nil {
			if !strings.Contains(err.Error(), "config.json") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, v := range []int{c.Vocab, c.Dim, c.Layers, c.Heads, c.KVHeads, c.HeadDim, c.FFN, c.MaxPos} {
			if v <= 0 || v > maxConfigDim {
				t.Fatalf("accepted size %d: %+v", v, c)
			}
		}
		if c.paramEstimate() > maxParams || c.Heads%c.KVHeads != 0 {
			t.Fatalf("accepted %+v", c)
		}
		if c.RopeScaling != nil && !(c.RopeScaling.Factor > 0) {
			t.Fatalf("accepted rope_scaling %+v", *c.RopeScaling)
		}
		again, err := json.Marshal(c.Raw)
		if err != nil {
			t.Fatal(err)
		}
		var raw map[string]any
		if err := json.Unmarshal(again, &raw); err != nil {
			t.Fatal(err)
		}
		c2, err := ParseConfig(raw)
		if err != nil {
			t.Fatalf("re-parsing the written config: %v", err)
		}
		c2.Raw, c.Raw = nil, nil
		if !configEqual(c, c2) {
			t.Fatalf("round trip changed the config:\n%+v\n%+v", c, c2)
		}
	})
}

func configEqual(a, b *Config) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// A config whose sizes overflow the parameter table's arithmetic used to
// reach New and panic in make; now it is an error naming the field.
func TestConfigImplausibleSizes(t *testing.T) {
	for _, c := range []struct{ json, want string }{
		{`{"model_type":"gpt2","vocab_size":4611686018427387904,"n_embd":4,"n_head":2}`, `field "vocab_size": 4611686018427387904 is larger than any model's`},
		{`{"model_type":"llama","num_hidden_layers":100000000}`, `field "num_hidden_layers": 100000000 is larger`},
		{`{"model_type":"llama","hidden_size":16777216,"intermediate_size":16777216,"num_attention_heads":1,"head_dim":2}`, "parameters, more than"},
		{`{"model_type":"llama","eos_token_id":[1.5]}`, `field "eos_token_id": want an integer`},
	} {
		p := filepath.Join(t.TempDir(), "config.json")
		os.WriteFile(p, []byte(c.json), 0o644)
		_, err := LoadConfig(p)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: err %v, want %q naming the file", c.json, err, c.want)
		}
	}
}
