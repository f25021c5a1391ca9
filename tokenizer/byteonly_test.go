package tokenizer

import (
	"slices"
	"testing"
)

// TestNewByteLevel: bytes are their own ids, specials follow from 256 in
// order, and Config's EOS/PAD resolve to them.
func TestNewByteLevel(t *testing.T) {
	tok, err := NewByteLevel(Config{EOSToken: "<eos>", PADToken: "<pad>"}, "<eos>", "<pad>")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tok.Encode("hé<eos>"), []int{'h', 0xc3, 0xa9, 256}; !slices.Equal(got, want) {
		t.Fatalf("Encode = %v, want %v", got, want)
	}
	if tok.VocabSize() != 258 || tok.EOS() != 256 || tok.PAD() != 257 {
		t.Fatalf("vocab %d, eos %d, pad %d; want 258, 256, 257", tok.VocabSize(), tok.EOS(), tok.PAD())
	}
	if s := tok.Decode([]int{'h', 0xc3, 0xa9}); s != "hé" {
		t.Fatalf("Decode = %q", s)
	}
	if _, err := NewByteLevel(Config{}, "<a>", "<a>"); err == nil {
		t.Fatal("a repeated special was accepted")
	}
}
