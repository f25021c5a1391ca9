package optim

import (
	"fmt"
	"math"
	"sort"

	"github.com/align-go/align/internal/hugepage"
	"github.com/align-go/align/tensor"
)

// AdamWConfig holds AdamW's hyperparameters; the learning rate is passed to
// each Step so that a schedule can drive it.
type AdamWConfig struct {
	Beta1, Beta2 float64
	Eps          float64
	WeightDecay  float64
}

// DefaultAdamWConfig returns torch.optim.AdamW's defaults.
func DefaultAdamWConfig() AdamWConfig {
	return AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01}
}

func (c AdamWConfig) validate() error {
	switch {
	case !(c.Beta1 >= 0 && c.Beta1 < 1):
		return fmt.Errorf("optim: AdamW beta1 %v outside [0,1)", c.Beta1)
	case !(c.Beta2 >= 0 && c.Beta2 < 1):
		return fmt.Errorf("optim: AdamW beta2 %v outside [0,1)", c.Beta2)
	case !(c.Eps >= 0) || math.IsInf(c.Eps, 0):
		return fmt.Errorf("optim: AdamW eps %v must be finite and >= 0", c.Eps)
	case !(c.WeightDecay >= 0) || math.IsInf(c.WeightDecay, 0):
		return fmt.Errorf("optim: AdamW weight decay %v must be finite and >= 0", c.WeightDecay)
	}
	return nil
}

// segment is one trainable span: params[p:p+n] pairs with m[s:s+n], v[s:s+n].
type segment struct {
	p, s, n int
	decay   bool
}

// AdamW is torch.optim.AdamW (amsgrad=False, maximize=False) over a flat
// parameter slice. Its moments cover only the trainable spans, packed in
// table order.
type AdamW struct {
	cfg   AdamWConfig
	n     int
	spans []Span
	segs  []segment
	step  int64
	m, v  []float32
}

// minUpdateChunk keeps small updates on one goroutine: below this many
// elements the spawn costs more than the arithmetic.
const minUpdateChunk = 1 << 14

// NewAdamW builds an optimizer for n parameters described by spans. It
// allocates two float32 moments per trainable element and nothing for frozen
// spans.
func NewAdamW(cfg AdamWConfig, spans []Span, n int) (*AdamW, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := ValidateSpans(spans, n); err != nil {
		return nil, err
	}
	o := &AdamW{cfg: cfg, n: n, spans: append([]Span(nil), spans...)}
	s := 0
	for _, sp := range spans {
		if sp.Frozen {
			continue
		}
		o.segs = append(o.segs, segment{p: sp.Offset, s: s, n: sp.Size, decay: sp.Decay})
		s += sp.Size
	}
	// Read and written in full every step: on 4 KiB pages the first step's
	// page faults on a 0.5B model's 4 GB of moments cost ~6 CPU-seconds.
	o.m = make([]float32, s)
	o.v = make([]float32, s)
	hugepage.Advise(o.m)
	hugepage.Advise(o.v)
	return o, nil
}

// Config returns the hyperparameters the optimizer was built with.
func (o *AdamW) Config() AdamWConfig { return o.cfg }

// StepCount is the number of updates taken so far (torch's state["step"]).
func (o *AdamW) StepCount() int64 { return o.step }

// StateBytes is the memory the moments occupy.
func (o *AdamW) StateBytes() int { return 4 * (len(o.m) + len(o.v)) }

// Step applies one AdamW update with learning rate lr to the trainable spans
// of params, reading grads. It follows torch's single-tensor AdamW order of
// operations: step += 1; p *= 1 - lr*wd (decayed spans only);
// m = β1·m + (1-β1)·g; v = β2·v + (1-β2)·g²;
// p -= lr/(1-β1^t) · m / (sqrt(v)/sqrt(1-β2^t) + eps).
// Non-finite gradients are not screened here (use CheckFinite first); like
// torch, they would poison the moments.
func (o *AdamW) Step(params, grads []float32, lr float64) error {
	if len(params) != o.n {
		return fmt.Errorf("optim: AdamW.Step: params has %d elements, optimizer built for %d", len(params), o.n)
	}
	if len(grads) != o.n {
		return fmt.Errorf("optim: AdamW.Step: grads has %d elements, optimizer built for %d", len(grads), o.n)
	}
	if !(lr >= 0) || math.IsInf(lr, 0) {
		return fmt.Errorf("optim: AdamW.Step: learning rate %v must be finite and >= 0", lr)
	}
	o.step++
	t := float64(o.step)
	b1, b2 := o.cfg.Beta1, o.cfg.Beta2
	bc1 := 1 - math.Pow(b1, t)
	bc2 := 1 - math.Pow(b2, t)
	// Scalars are formed in float64 as Python does and rounded once to the
	// tensor dtype, as torch's CPU kernels do.
	k := adamScalars{
		decay:    float32(1 - lr*o.cfg.WeightDecay),
		b1:       float32(b1),
		omb1:     float32(1 - b1),
		b2:       float32(b2),
		omb2:     float32(1 - b2),
		bc2sqrt:  float32(math.Sqrt(bc2)),
		eps:      float32(o.cfg.Eps),
		negStep:  float32(-lr / bc1),
		useDecay: o.cfg.WeightDecay != 0,
	}
	total := len(o.m)
	tensor.ParallelFor(total, minUpdateChunk, func(lo, hi int) {
		o.update(params, grads, lo, hi, &k)
	})
	return nil
}

type adamScalars struct {
	decay, b1, omb1, b2, omb2, bc2sqrt, eps, negStep float32
	useDecay                                         bool
}

// update handles packed state indices [lo, hi), which may straddle spans.
func (o *AdamW) update(params, grads []float32, lo, hi int, k *adamScalars) {
	i := sort.Search(len(o.segs), func(i int) bool { return o.segs[i].s+o.segs[i].n > lo })
	for ; i < len(o.segs) && lo < hi; i++ {
		sg := o.segs[i]
		a := lo - sg.s
		b := sg.n
		if sg.s+b > hi {
			b = hi - sg.s
		}
		if a >= b {
			continue
		}
		p := params[sg.p+a : sg.p+b]
		g := grads[sg.p+a : sg.p+b]
		m := o.m[sg.s+a : sg.s+b]
		v := o.v[sg.s+a : sg.s+b]
		// Multiplying by 1 leaves p bit-identical, so undecayed spans share the path.
		decay := float32(1)
		if sg.decay && k.useDecay {
			decay = k.decay
		}
		kv := [8]float32{decay, k.b1, k.omb1, k.b2, k.omb2, k.bc2sqrt, k.eps, k.negStep}
		done := adamwVec(p, g, m, v, &kv)
		for j := done; j < len(p); j++ {
			gj := g[j]
			pj := p[j] * decay
			mj := m[j]*k.b1 + k.omb1*gj
			vj := v[j]*k.b2 + k.omb2*gj*gj
			m[j], v[j] = mj, vj
			den := float32(math.Sqrt(float64(vj)))/k.bc2sqrt + k.eps
			p[j] = pj + k.negStep*mj/den
		}
		lo = sg.s + b
	}
}

// State is the optimizer's resumable state: the step counter and the two
// moments of every trainable span, keyed by span name in table order.
type State struct {
	Step  int64
	Names []string
	M, V  [][]float32
}

// State exports the optimizer state for a checkpoint. The slices alias the
// optimizer's buffers (no copy, so saving a large model does not double its
// optimizer memory); write them out before the next Step.
func (o *AdamW) State() State {
	st := State{Step: o.step}
	j := 0
	for _, sp := range o.spans {
		if sp.Frozen {
			continue
		}
		sg := o.segs[j]
		j++
		st.Names = append(st.Names, sp.Name)
		st.M = append(st.M, o.m[sg.s:sg.s+sg.n:sg.s+sg.n])
		st.V = append(st.V, o.v[sg.s:sg.s+sg.n:sg.s+sg.n])
	}
	return st
}

// Load copies a previously exported State into the optimizer. Every
// trainable span must be present with matching size; entries are matched by
// name, so a checkpoint written from a differently ordered table still loads.
func (o *AdamW) Load(st State) error {
	if st.Step < 0 {
		return fmt.Errorf("optim: AdamW.Load: negative step %d", st.Step)
	}
	if len(st.M) != len(st.Names) || len(st.V) != len(st.Names) {
		return fmt.Errorf("optim: AdamW.Load: %d names but %d m and %d v tensors", len(st.Names), len(st.M), len(st.V))
	}
	byName := make(map[string]int, len(st.Names))
	for i, n := range st.Names {
		if _, dup := byName[n]; dup {
			return fmt.Errorf("optim: AdamW.Load: tensor %q appears twice", n)
		}
		byName[n] = i
	}
	src := make([]int, len(o.segs))
	j := 0
	for _, sp := range o.spans {
		if sp.Frozen {
			continue
		}
		sg := o.segs[j]
		i, ok := byName[sp.Name]
		if !ok {
			return fmt.Errorf("optim: AdamW.Load: state has no moments for tensor %q", sp.Name)
		}
		if len(st.M[i]) != sg.n || len(st.V[i]) != sg.n {
			return fmt.Errorf("optim: AdamW.Load: tensor %q: state has m[%d], v[%d], want %d", sp.Name, len(st.M[i]), len(st.V[i]), sg.n)
		}
		src[j] = i
		j++
		delete(byName, sp.Name)
	}
	for n := range byName {
		return fmt.Errorf("optim: AdamW.Load: state tensor %q is not a trainable span of this model", n)
	}
	for j, sg := range o.segs {
		copy(o.m[sg.s:sg.s+sg.n], st.M[src[j]])
		copy(o.v[sg.s:sg.s+sg.n], st.V[src[j]])
	}
	o.step = st.Step
	return nil
}
