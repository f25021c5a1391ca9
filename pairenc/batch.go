package pairenc

import (
	"fmt"

	"github.com/align-go/align/model"
)

// Padder lays rows out as one right-padded batch, reusing its buffers.
type Padder struct {
	ids, mask []int32
}

// Batch right-pads rows with pad. The mask is nil when every row has the
// same length, which lets attention skip masking altogether.
func (p *Padder) Batch(rows [][]int32, pad int32) (model.Batch, error) {
	B := len(rows)
	if B == 0 {
		return model.Batch{}, fmt.Errorf("pairenc: empty batch")
	}
	T, ragged := 0, false
	for i, r := range rows {
		if len(r) == 0 {
			return model.Batch{}, fmt.Errorf("pairenc: row %d of the batch is empty", i)
		}
		if i > 0 && len(r) != T {
			ragged = true
		}
		T = max(T, len(r))
	}
	p.ids = grow(p.ids, B*T)
	var mask []int32
	if ragged {
		p.mask = grow(p.mask, B*T)
		mask = p.mask
	}
	for b, r := range rows {
		row := p.ids[b*T : (b+1)*T]
		copy(row, r)
		for t := len(r); t < T; t++ {
			row[t] = pad
		}
		if mask != nil {
			m := mask[b*T : (b+1)*T]
			for t := range m {
				m[t] = 0
				if t < len(r) {
					m[t] = 1
				}
			}
		}
	}
	return model.Batch{B: B, T: T, IDs: p.ids, Mask: mask}, nil
}

// LastReal returns, for each row of b, the flat index (b·T + t) of its last
// real token: the highest t whose mask is 1, so left and right padding (or
// none) all work. A row without a real token is an error.
func LastReal(b model.Batch) ([]int, error) {
	out := make([]int, b.B)
	for r := 0; r < b.B; r++ {
		out[r] = -1
		if b.Mask == nil {
			out[r] = r*b.T + b.T - 1
			continue
		}
		for t := b.T - 1; t >= 0; t-- {
			if b.Mask[r*b.T+t] != 0 {
				out[r] = r*b.T + t
				break
			}
		}
		if out[r] < 0 {
			return nil, fmt.Errorf("pairenc: batch row %d has no real token", r)
		}
	}
	return out, nil
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
