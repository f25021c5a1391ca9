package model

import (
	"slices"
	"testing"
)

// A copied row continues exactly as its source: the next token gets the
// same logits in both rows, and different ones from a row never prefilled.
func TestKVCacheCopyRow(t *testing.T) {
	m := New(tinyConfig("llama"))
	m.InitRandom(3)
	c, err := NewKVCache(m.Cfg, 3, 16)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.ForwardCached(c, []int{0}, []int32{4, 5, 6, 7}, nil, 4, false); err != nil {
		t.Fatal(err)
	}
	if _, err := m.ForwardCached(c, []int{2}, []int32{9}, nil, 1, false); err != nil {
		t.Fatal(err)
	}
	if err := c.CopyRow(1, 0); err != nil {
		t.Fatal(err)
	}
	lg, err := m.ForwardCached(c, nil, []int32{8, 8, 8}, nil, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	V := m.Cfg.Vocab
	if !slices.Equal(lg[:V], lg[V:2*V]) || slices.Equal(lg[:V], lg[2*V:]) {
		t.Fatal("the copied row does not continue as its source")
	}
	if c.Len[1] != 5 {
		t.Fatalf("copied row holds %d tokens, want 5", c.Len[1])
	}
	if err := c.CopyRow(3, 0); err == nil {
		t.Fatal("copy to a row out of range")
	}
}
