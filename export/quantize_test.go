package export

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/align-go/align/gguf"
	"github.com/align-go/align/model"
)

// quantRef is llama_quantize.json: per --type, per tensor, the ggml type and
// the SHA-256 of the bytes llama.cpp's own quantiser wrote for the f32 export
// of quantRefModel (testdata/gen_llama_quantize.py).
type quantRef map[string]map[string]struct {
	Type   string `json:"type"`
	SHA256 string `json:"sha256"`
}

// TestQuantizeMatchesLlamaCpp: Align's q8_0, q4_0 and q4_k_m exports carry
// exactly the tensors llama-quantize makes from Align's f32 export — the
// same type for every tensor (the Q4_K_M mixture: Q6_K for output.weight and
// for attn_v/ffn_down in the layers use_more_bits picks, Q5_0 and Q8_0 for
// the 576-column ffn_down that 256-blocks do not divide) and the same bytes
// (Q8_0, Q4_0, Q4_K, Q5_0 and Q6_K blocks bit for bit).
func TestQuantizeMatchesLlamaCpp(t *testing.T) {
	m := model.New(parseConfig(t, map[string]any{"model_type": "qwen2", "hidden_size": 256, "num_hidden_layers": 3,
		"num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 576, "vocab_size": 300}))
	fillRandom(m, 5, 0.05)
	tok := cutTokenizer(t, 299)
	refPath := filepath.Join("testdata", "llama_quantize.json")
	if gen := os.Getenv("ALIGN_GGUF_GEN"); gen != "" {
		in := filepath.Join(gen, "input.gguf")
		if _, err := os.Stat(in); err != nil {
			if err := WriteGGUF(in, m, tok, GGUFOptions{Type: "f32"}); err != nil {
				t.Fatal(err)
			}
			return
		}
		ref := quantRef{}
		for _, typ := range []string{"q8_0", "q4_0", "q4_k_m"} {
			f, err := gguf.Open(filepath.Join(gen, typ+".gguf"))
			if err != nil {
				t.Fatal(err)
			}
			ref[typ] = map[string]struct {
				Type   string `json:"type"`
				SHA256 string `json:"sha256"`
			}{}
			for _, ti := range f.Tensors {
				b, _, err := f.Raw(ti.Name)
				if err != nil {
					t.Fatal(err)
				}
				sum := sha256.Sum256(b)
				ref[typ][ti.Name] = struct {
					Type   string `json:"type"`
					SHA256 string `json:"sha256"`
				}{ti.Type.String(), hex.EncodeToString(sum[:])}
			}
			f.Close()
		}
		b, _ := json.MarshalIndent(ref, "", " ")
		if err := os.WriteFile(refPath, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	raw, err := os.ReadFile(refPath)
	if err != nil {
		t.Fatal(err)
	}
	var ref quantRef
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatalf("%s: %v", refPath, err)
	}
	for _, typ := range []string{"q8_0", "q4_0", "q4_k_m"} {
		w, err := GGUF(m, tok, GGUFOptions{Type: typ})
		if err != nil {
			t.Fatal(err)
		}
		want := ref[typ]
		if len(w.Tensors()) != len(want) {
			t.Errorf("%s: %d tensors, llama-quantize wrote %d", typ, len(w.Tensors()), len(want))
		}
		for _, tn := range w.Tensors() {
			b, err := tn.Data()
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(b)
			r, ok := want[tn.Name]
			switch {
			case !ok:
				t.Errorf("%s: %s not in llama-quantize's output", typ, tn.Name)
			case r.Type != tn.Type.String():
				t.Errorf("%s: %s is %s, llama-quantize made it %s", typ, tn.Name, tn.Type, r.Type)
			case r.SHA256 != hex.EncodeToString(sum[:]):
				t.Errorf("%s: %s (%s): bytes differ from llama-quantize's", typ, tn.Name, tn.Type)
			}
		}
	}
}
