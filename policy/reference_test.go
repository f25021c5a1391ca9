package policy

import (
	"testing"

	"github.com/align-go/align/model"
)

// TestReference: under LoRA the reference is the policy itself (its base,
// adapters off); otherwise a copy of the weights as they are now, which
// later training of the policy does not move.
func TestReference(t *testing.T) {
	cfg, err := model.ParseConfig(map[string]any{"model_type": "llama", "vocab_size": 16.0, "hidden_size": 8.0,
		"num_hidden_layers": 1.0, "num_attention_heads": 2.0, "num_key_value_heads": 1.0, "intermediate_size": 16.0,
		"max_position_embeddings": 8.0})
	if err != nil {
		t.Fatal(err)
	}
	m := model.New(cfg)
	m.InitRandom(1)
	if Reference(m, true) != m {
		t.Fatal("with LoRA the reference must be the policy's own base")
	}
	ref := Reference(m, false)
	if ref == m || &ref.Data[0] == &m.Data[0] {
		t.Fatal("without LoRA the reference must be a separate copy")
	}
	before := ref.Data[3]
	m.Data[3] += 1
	if ref.Data[3] != before {
		t.Fatal("training the policy moved the reference")
	}
	b := model.Batch{B: 1, T: 3, IDs: []int32{1, 2, 3}, Mask: []int32{1, 1, 1}}
	if _, _, err := ref.Forward(b, true); err != nil {
		t.Fatal(err)
	}
}
