package pairenc

import (
	"slices"
	"testing"

	"github.com/align-go/align/model"
)

func TestPadder(t *testing.T) {
	var p Padder
	b, err := p.Batch([][]int32{{1, 2, 3}, {4}, {5, 6}}, 9)
	if err != nil {
		t.Fatal(err)
	}
	if b.B != 3 || b.T != 3 ||
		!slices.Equal(b.IDs, []int32{1, 2, 3, 4, 9, 9, 5, 6, 9}) ||
		!slices.Equal(b.Mask, []int32{1, 1, 1, 1, 0, 0, 1, 1, 0}) {
		t.Fatalf("ragged batch: B %d T %d ids %v mask %v", b.B, b.T, b.IDs, b.Mask)
	}
	// Equal lengths need no mask; the reused buffers must not leak the
	// previous batch's padding.
	b, err = p.Batch([][]int32{{7, 8}, {1, 2}}, 9)
	if err != nil {
		t.Fatal(err)
	}
	if b.B != 2 || b.T != 2 || b.Mask != nil || !slices.Equal(b.IDs, []int32{7, 8, 1, 2}) {
		t.Fatalf("even batch: B %d T %d ids %v mask %v", b.B, b.T, b.IDs, b.Mask)
	}
	if _, err := p.Batch(nil, 9); err == nil {
		t.Fatal("an empty batch must be an error")
	}
	if _, err := p.Batch([][]int32{{1}, {}}, 9); err == nil {
		t.Fatal("an empty row must be an error")
	}
}

func TestLastReal(t *testing.T) {
	b := model.Batch{B: 3, T: 4, Mask: []int32{1, 1, 0, 0, 0, 1, 1, 1, 0, 1, 0, 0}}
	got, err := LastReal(b)
	if err != nil || !slices.Equal(got, []int{1, 7, 9}) {
		t.Fatalf("LastReal = %v, %v; want [1 7 9]", got, err)
	}
	if got, _ := LastReal(model.Batch{B: 2, T: 3}); !slices.Equal(got, []int{2, 5}) {
		t.Fatalf("no mask: %v", got)
	}
	if _, err := LastReal(model.Batch{B: 1, T: 2, Mask: []int32{0, 0}}); err == nil {
		t.Fatal("an all-padding row must be an error")
	}
}
