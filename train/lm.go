package train

import (
	"fmt"
	"sort"

	"github.com/align-go/align/model"
)

// CausalLM computes next-token cross-entropy of a model on a micro-batch of
// rows, padding them to a common length, through the model's fused head
// (no [rows·T, vocab] logits are held), and keeps its scratch buffers
// between calls.
type CausalLM struct {
	Model *model.Model
	PadID int32 // token written into padding (masked out); any valid id

	ids, mask, seg, targets []int32
	losses, dloss           []float32
	dhidden                 []float32
}

// Run scores rows against labels with HuggingFace's convention: labels has
// the rows' shape, position t is trained to predict labels[t+1], and negative
// labels are ignored; nil labels means every next token counts. With
// backward, the gradient of weight·Σ(token losses) is accumulated into the
// model's gradients. It returns Σ(token losses) and how many tokens counted.
func (c *CausalLM) Run(rows, labels [][]int32, weight float32, backward bool) (sum float64, count int, err error) {
	return c.RunPacked(rows, labels, nil, weight, backward)
}

// RunPacked is Run over packed rows: segs (nil: one document per row) gives
// each token's document id within its row (nonzero, one contiguous run per
// document, as Pack writes them). Documents attend only within themselves,
// their positions start at 0, and no token is trained to predict the first
// token of the next document, so every document scores as it would alone.
func (c *CausalLM) RunPacked(rows, labels, segs [][]int32, weight float32, backward bool) (sum float64, count int, err error) {
	B := len(rows)
	if B == 0 {
		return 0, 0, nil
	}
	if labels != nil && len(labels) != B {
		return 0, 0, fmt.Errorf("train: %d label rows for %d rows", len(labels), B)
	}
	if segs != nil && len(segs) != B {
		return 0, 0, fmt.Errorf("train: %d segment rows for %d rows", len(segs), B)
	}
	T, ragged := 0, false
	for i, r := range rows {
		if labels != nil && len(labels[i]) != len(r) {
			return 0, 0, fmt.Errorf("train: row %d has %d tokens but %d labels", i, len(r), len(labels[i]))
		}
		if len(r) == 0 {
			return 0, 0, fmt.Errorf("train: row %d is empty", i)
		}
		if segs != nil {
			if len(segs[i]) != len(r) {
				return 0, 0, fmt.Errorf("train: row %d has %d tokens but %d segment ids", i, len(r), len(segs[i]))
			}
			for t, s := range segs[i] {
				if s <= 0 {
					return 0, 0, fmt.Errorf("train: row %d: segment id %d at position %d (want > 0; padding is added here)", i, s, t)
				}
			}
		}
		if i > 0 && len(r) != T {
			ragged = true
		}
		T = max(T, len(r))
	}
	N, V := B*T, c.Model.Cfg.Vocab
	c.ids = resize(c.ids, N)
	c.targets = resize(c.targets, N)
	var mask, seg []int32
	if segs != nil {
		// Segment 0 marks the padding, so no separate mask is needed.
		c.seg = resize(c.seg, N)
		seg = c.seg
	} else if ragged {
		c.mask = resize(c.mask, N)
		mask = c.mask
	}
	for b, r := range rows {
		lab := r
		if labels != nil {
			lab = labels[b]
		}
		for t := 0; t < T; t++ {
			i := b*T + t
			c.ids[i], c.targets[i] = c.PadID, -1
			if seg != nil {
				seg[i] = 0
			}
			if t < len(r) {
				c.ids[i] = r[t]
				if mask != nil {
					mask[i] = 1
				}
				if seg != nil {
					seg[i] = segs[b][t]
				}
				if t+1 < len(r) && lab[t+1] >= 0 && (segs == nil || segs[b][t+1] == segs[b][t]) {
					if int(lab[t+1]) >= V {
						return 0, 0, fmt.Errorf("train: row %d: label %d at position %d outside vocabulary [0,%d)", b, lab[t+1], t+1, V)
					}
					c.targets[i] = lab[t+1]
					count++
				}
			} else if mask != nil {
				mask[i] = 0
			}
		}
	}
	_, hidden, err := c.Model.Forward(model.Batch{B: B, T: T, IDs: c.ids, Mask: mask, Seg: seg}, false)
	if err != nil {
		return 0, 0, err
	}
	// The fused head: logits are computed a chunk of rows at a time and
	// never held whole.
	head := c.Model.LMHead()
	c.losses = resize(c.losses, N)
	if !backward || count == 0 {
		head.CrossEntropy(c.losses, nil, hidden, c.targets, nil, N)
		return c.sumLosses(), count, nil
	}
	c.dloss = resize(c.dloss, N)
	for i := range c.dloss {
		c.dloss[i] = 0
		if c.targets[i] >= 0 {
			c.dloss[i] = weight
		}
	}
	// One pass gives the losses, the head's gradient and d(hidden).
	c.dhidden = resize(c.dhidden, N*c.Model.Cfg.Dim)
	clear(c.dhidden)
	head.CrossEntropy(c.losses, c.dhidden, hidden, c.targets, c.dloss, N)
	sum = c.sumLosses()
	return sum, count, c.Model.Backward(nil, c.dhidden)
}

// sumLosses adds the losses of the trained positions.
func (c *CausalLM) sumLosses() float64 {
	var sum float64
	for i, l := range c.losses {
		if c.targets[i] >= 0 {
			sum += float64(l)
		}
	}
	return sum
}

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// LMObjective is causal language modelling over token rows: the loss is the
// mean cross-entropy over every predicted token of the accumulated batch.
// Pretraining uses it with Labels nil; SFT with labels masking the prompt.
type LMObjective struct {
	LM     *CausalLM
	Rows   [][]int32
	Labels [][]int32 // nil: predict every next token
	Segs   [][]int32 // packed rows' document ids (see Pack); nil: a row is one document
}

// Len implements Objective.
func (o *LMObjective) Len() int { return len(o.Rows) }

// Length implements Objective.
func (o *LMObjective) Length(i int) int { return len(o.Rows[i]) }

// Units counts the predicted tokens of idx.
func (o *LMObjective) Units(idx []int) int {
	n := 0
	for _, i := range idx {
		if o.Segs != nil {
			sg := o.Segs[i]
			for t := 1; t < len(sg); t++ {
				if sg[t] == sg[t-1] && (o.Labels == nil || o.Labels[i][t] >= 0) {
					n++
				}
			}
			continue
		}
		if o.Labels == nil {
			n += max(len(o.Rows[i])-1, 0)
			continue
		}
		for _, l := range o.Labels[i][min(1, len(o.Labels[i])):] {
			if l >= 0 {
				n++
			}
		}
	}
	return n
}

func (o *LMObjective) run(idx []int, totalUnits int, backward bool) (Metrics, error) {
	rows := make([][]int32, len(idx))
	var labels, segs [][]int32
	if o.Labels != nil {
		labels = make([][]int32, len(idx))
	}
	if o.Segs != nil {
		segs = make([][]int32, len(idx))
	}
	for k, i := range idx {
		rows[k] = o.Rows[i]
		if labels != nil {
			labels[k] = o.Labels[i]
		}
		if segs != nil {
			segs[k] = o.Segs[i]
		}
	}
	w := 1 / float64(totalUnits)
	sum, _, err := o.LM.RunPacked(rows, labels, segs, float32(w), backward)
	if err != nil {
		return nil, err
	}
	return Metrics{"loss": sum * w}, nil
}

// Accumulate implements Objective.
func (o *LMObjective) Accumulate(idx []int, totalUnits int) (Metrics, error) {
	return o.run(idx, totalUnits, true)
}

// Eval implements Evaluator.
func (o *LMObjective) Eval(idx []int, totalUnits int) (Metrics, error) {
	return o.run(idx, totalUnits, false)
}

// Packing is documents packed into rows of at most Capacity tokens: row i
// holds Rows[i] with Labels[i] (nil when packed without labels) and Segs[i],
// each document's tokens numbered 1, 2, ... in the order they were placed.
type Packing struct {
	Rows, Labels, Segs [][]int32
	Tokens, Capacity   int
}

// Efficiency is the packed tokens over the rows' capacity.
func (p *Packing) Efficiency() float64 {
	if len(p.Rows) == 0 {
		return 0
	}
	return float64(p.Tokens) / float64(len(p.Rows)*p.Capacity)
}

// Pack places whole documents (rows, with labels unless nil) into as few
// rows of capacity tokens as first-fit decreasing finds: longest first (ties
// in data order), each into the first row with room. No document is split,
// so a packed row trains exactly its documents; rows are not padded. The
// result is deterministic and independent of the seed; the loop shuffles the
// packed rows. A document longer than capacity is an error.
func Pack(rows, labels [][]int32, capacity int) (*Packing, error) {
	if capacity <= 0 {
		return nil, fmt.Errorf("train: pack: capacity %d must be positive", capacity)
	}
	if labels != nil && len(labels) != len(rows) {
		return nil, fmt.Errorf("train: pack: %d label rows for %d rows", len(labels), len(rows))
	}
	order := make([]int, len(rows))
	for i, r := range rows {
		if len(r) == 0 || len(r) > capacity {
			return nil, fmt.Errorf("train: pack: row %d has %d tokens (want 1 to the capacity %d)", i, len(r), capacity)
		}
		if labels != nil && len(labels[i]) != len(r) {
			return nil, fmt.Errorf("train: pack: row %d has %d tokens but %d labels", i, len(r), len(labels[i]))
		}
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return len(rows[order[a]]) > len(rows[order[b]]) })
	// free is a max tree over the remaining room of n bins (every bin starts
	// empty), so the first bin with room for a document is found in O(log n).
	n := 1
	for n < len(rows) {
		n *= 2
	}
	free := make([]int, 2*n)
	for i := range n {
		free[n+i] = capacity
	}
	for i := n - 1; i >= 1; i-- {
		free[i] = max(free[2*i], free[2*i+1])
	}
	p := &Packing{Capacity: capacity}
	for _, d := range order {
		L := len(rows[d])
		j := 1
		for j < n {
			j *= 2
			if free[j] < L {
				j++
			}
		}
		bin := j - n
		for free[j] -= L; j > 1; j /= 2 {
			free[j/2] = max(free[j], free[j^1])
		}
		if bin == len(p.Rows) {
			p.Rows, p.Segs = append(p.Rows, nil), append(p.Segs, nil)
			if labels != nil {
				p.Labels = append(p.Labels, nil)
			}
		}
		id := int32(1)
		if k := len(p.Segs[bin]); k > 0 {
			id = p.Segs[bin][k-1] + 1
		}
		p.Rows[bin] = append(p.Rows[bin], rows[d]...)
		if labels != nil {
			p.Labels[bin] = append(p.Labels[bin], labels[d]...)
		}
		for range L {
			p.Segs[bin] = append(p.Segs[bin], id)
		}
		p.Tokens += L
	}
	return p, nil
}
