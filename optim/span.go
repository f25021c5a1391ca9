package optim

import (
	"fmt"
	"sort"
)

// Span names one tensor inside the flat parameter and gradient slices:
// elements [Offset, Offset+Size). Decay selects decoupled weight decay for it
// (the usual convention leaves biases, norms and embeddings undecayed); Frozen
// spans are never read, written or given optimizer state.
type Span struct {
	Name         string
	Offset, Size int
	Decay        bool
	Frozen       bool
}

// Group is another name for Span, for callers that think of the table as
// PyTorch-style parameter groups.
type Group = Span

// ValidateSpans checks that every span lies inside [0, n), has a name and a
// non-negative size, and that no two spans overlap (overlap would update the
// shared elements twice per step). Elements outside every span are allowed
// and left alone.
func ValidateSpans(spans []Span, n int) error {
	seen := make(map[string]bool, len(spans))
	idx := make([]int, 0, len(spans))
	for i, s := range spans {
		if s.Name == "" {
			return fmt.Errorf("optim: span %d: empty name", i)
		}
		if seen[s.Name] {
			return fmt.Errorf("optim: span %q: duplicate name", s.Name)
		}
		seen[s.Name] = true
		if s.Size < 0 || s.Offset < 0 || s.Offset+s.Size > n {
			return fmt.Errorf("optim: span %q: [%d,%d) outside parameters [0,%d)", s.Name, s.Offset, s.Offset+s.Size, n)
		}
		idx = append(idx, i)
	}
	sort.Slice(idx, func(a, b int) bool { return spans[idx[a]].Offset < spans[idx[b]].Offset })
	for k := 1; k < len(idx); k++ {
		p, q := spans[idx[k-1]], spans[idx[k]]
		if p.Size > 0 && q.Size > 0 && p.Offset+p.Size > q.Offset {
			return fmt.Errorf("optim: spans %q and %q overlap", p.Name, q.Name)
		}
	}
	return nil
}

// TrainableSize is the number of elements in non-frozen spans: the length of
// each AdamW moment buffer.
func TrainableSize(spans []Span) int {
	n := 0
	for _, s := range spans {
		if !s.Frozen {
			n += s.Size
		}
	}
	return n
}
