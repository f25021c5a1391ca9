package train

import (
	"fmt"

	"github.com/align-go/align/model"
	"github.com/align-go/align/nn"
)

// CausalLM computes next-token cross-entropy of a model on a micro-batch of
// rows, padding them to a common length, and keeps the scratch buffers
// (logit gradients are [rows·T, vocab]) between calls.
type CausalLM struct {
	Model *model.Model
	PadID int32 // token written into padding (masked out); any valid id

	ids, mask, targets []int32
	losses, dloss      []float32
	dlogits            []float32
}

// Run scores rows against labels with HuggingFace's convention: labels has
// the rows' shape, position t is trained to predict labels[t+1], and negative
// labels are ignored; nil labels means every next token counts. With
// backward, the gradient of weight·Σ(token losses) is accumulated into the
// model's gradients. It returns Σ(token losses) and how many tokens counted.
func (c *CausalLM) Run(rows, labels [][]int32, weight float32, backward bool) (sum float64, count int, err error) {
	B := len(rows)
	if B == 0 {
		return 0, 0, nil
	}
	if labels != nil && len(labels) != B {
		return 0, 0, fmt.Errorf("train: %d label rows for %d rows", len(labels), B)
	}
	T, ragged := 0, false
	for i, r := range rows {
		if labels != nil && len(labels[i]) != len(r) {
			return 0, 0, fmt.Errorf("train: row %d has %d tokens but %d labels", i, len(r), len(labels[i]))
		}
		if len(r) == 0 {
			return 0, 0, fmt.Errorf("train: row %d is empty", i)
		}
		if i > 0 && len(r) != T {
			ragged = true
		}
		T = max(T, len(r))
	}
	N, V := B*T, c.Model.Cfg.Vocab
	c.ids = resize(c.ids, N)
	c.targets = resize(c.targets, N)
	var mask []int32
	if ragged {
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
			if t < len(r) {
				c.ids[i] = r[t]
				if mask != nil {
					mask[i] = 1
				}
				if t+1 < len(r) && lab[t+1] >= 0 {
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
	logits, _, err := c.Model.Forward(model.Batch{B: B, T: T, IDs: c.ids, Mask: mask}, true)
	if err != nil {
		return 0, 0, err
	}
	c.losses = resize(c.losses, N)
	nn.CrossEntropyForward(c.losses, logits, c.targets, N, V)
	for i, l := range c.losses {
		if c.targets[i] >= 0 {
			sum += float64(l)
		}
	}
	if !backward || count == 0 {
		return sum, count, nil
	}
	c.dloss = resize(c.dloss, N)
	for i := range c.dloss {
		c.dloss[i] = 0
		if c.targets[i] >= 0 {
			c.dloss[i] = weight
		}
	}
	c.dlogits = resize(c.dlogits, N*V)
	clear(c.dlogits)
	nn.CrossEntropyBackward(c.dlogits, logits, c.targets, c.dloss, N, V)
	return sum, count, c.Model.Backward(c.dlogits, nil)
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
}

// Len implements Objective.
func (o *LMObjective) Len() int { return len(o.Rows) }

// Length implements Objective.
func (o *LMObjective) Length(i int) int { return len(o.Rows[i]) }

// Units counts the predicted tokens of idx.
func (o *LMObjective) Units(idx []int) int {
	n := 0
	for _, i := range idx {
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
	var labels [][]int32
	if o.Labels != nil {
		labels = make([][]int32, len(idx))
	}
	for k, i := range idx {
		rows[k] = o.Rows[i]
		if labels != nil {
			labels[k] = o.Labels[i]
		}
	}
	w := 1 / float64(totalUnits)
	sum, _, err := o.LM.Run(rows, labels, float32(w), backward)
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
