package model

import (
	"testing"
	"unsafe"

	"github.com/align-go/align/internal/hugepage"
)

// TestBigBuffersOnHugePages: the parameters and the gradient buffer, each
// read and written in full every step, are advised onto huge pages (on 4 KiB
// pages the first steps of a 0.5B full fine-tune spent seconds in page
// faults: BENCHMARKS.md).
func TestBigBuffersOnHugePages(t *testing.T) {
	raw := map[string]any{"model_type": "llama", "vocab_size": 4096.0, "hidden_size": 256.0, "num_hidden_layers": 2.0,
		"num_attention_heads": 4.0, "num_key_value_heads": 2.0, "intermediate_size": 512.0, "max_position_embeddings": 64.0}
	cfg, err := ParseConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	m := New(cfg) // ~2.8M parameters: 11 MB, five huge pages
	m.EnableGrad()
	for _, b := range []struct {
		what string
		s    []float32
	}{{"parameters", m.Data}, {"gradients", m.Grad}} {
		ok, err := hugepage.Advised(uintptr(unsafe.Pointer(&b.s[len(b.s)/2])))
		if err != nil {
			t.Skip(err)
		}
		if !ok {
			t.Errorf("the middle of the %s (%d MB) is not MADV_HUGEPAGE", b.what, 4*len(b.s)>>20)
		}
	}
}
