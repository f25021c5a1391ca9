package ppo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/align-go/align/checkpoint"
	"github.com/align-go/align/model"
	"github.com/align-go/align/optim"
	"github.com/align-go/align/train"
)

// ValueHeadFile holds the value head (and, without LoRA, nothing else: the
// value model's weights are saved as an HF directory beside it).
const (
	ValueHeadFile   = "value_head.safetensors"
	valueHeadTensor = "score.weight"
)

// ValueModel predicts a per-token value: v[t] = Head · h[t], h the final
// hidden state, as TRL's value model (a sequence classifier's score head
// read at every position). Under LoRA, Model is the policy's own frozen base
// and Set names the value adapters on it; without LoRA, Model is a separate
// full model and Set is "".
type ValueModel struct {
	Model    *model.Model
	Set      string
	Head     []float32 // [C]
	HeadGrad []float32

	h  []float32 // [N,C] hidden states of the last Forward
	dh []float32
}

// NewValueHead draws a fresh head N(0, 1/√(C+1)) (TRL's score-head init).
func NewValueHead(C int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 0x7a1e))
	std := 1 / math.Sqrt(float64(C+1))
	h := make([]float32, C)
	for i := range h {
		h[i] = float32(r.NormFloat64() * std)
	}
	return h
}

func (v *ValueModel) use() error {
	if v.Set == "" {
		return nil
	}
	return v.Model.UseLoRA(v.Set)
}

// Forward returns one value per position of b, keeping what Backward needs.
func (v *ValueModel) Forward(b model.Batch) ([]float64, error) {
	if err := v.use(); err != nil {
		return nil, err
	}
	_, h, err := v.Model.Forward(b, false)
	if err != nil {
		return nil, err
	}
	C := len(v.Head)
	v.h = h
	out := make([]float64, b.B*b.T)
	for i := range out {
		var s float64
		for j, w := range v.Head {
			s += float64(w) * float64(h[i*C+j])
		}
		out[i] = s
	}
	return out, nil
}

// Backward takes d(loss)/d(value) per position of the last Forward and
// accumulates head and model (or value-adapter) gradients.
func (v *ValueModel) Backward(dv []float64) error {
	C := len(v.Head)
	if len(dv)*C != len(v.h) {
		return fmt.Errorf("ppo: %d value gradients for a forward of %d positions", len(dv), len(v.h)/C)
	}
	if v.HeadGrad == nil {
		v.HeadGrad = make([]float32, C)
	}
	v.dh = grow(v.dh, len(v.h))
	for i, g := range dv {
		h, dh := v.h[i*C:(i+1)*C], v.dh[i*C:(i+1)*C]
		for j, w := range v.Head {
			dh[j] = float32(g * float64(w))
			v.HeadGrad[j] += float32(g * float64(h[j]))
		}
	}
	return v.Model.Backward(nil, v.dh)
}

// Params are the value model's parameter sets: the head, and the value
// adapters or (without LoRA) the whole value model.
func (v *ValueModel) Params() []train.ParamSet {
	if v.HeadGrad == nil {
		v.HeadGrad = make([]float32, len(v.Head))
	}
	head := train.ParamSet{Name: "value_head", Data: v.Head, Grad: v.HeadGrad,
		Spans: []optim.Span{{Name: valueHeadTensor, Size: len(v.Head), Decay: true}}}
	if v.Set != "" {
		return []train.ParamSet{loraParams("value", v.Model.LoRASet(v.Set)), head}
	}
	return []train.ParamSet{train.ModelParams("value", v.Model), head}
}

// Save writes the value model into dir: the head, and the value adapters
// (PEFT) or the whole model (HF directory).
func (v *ValueModel) Save(dir, base, dtype string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if v.Set != "" {
		if err := v.Model.SavePEFTSet(dir, base, v.Set); err != nil {
			return err
		}
	} else if err := v.Model.SaveDir(dir, dtype); err != nil {
		return err
	}
	return checkpoint.Write(filepath.Join(dir, ValueHeadFile),
		[]checkpoint.Tensor{{Name: valueHeadTensor, Shape: []int{1, len(v.Head)}, Data: v.Head}}, map[string]string{"format": "pt"})
}

// LoadValueHead reads the head Save wrote into dst.
func LoadValueHead(dir string, dst []float32) error {
	p := filepath.Join(dir, ValueHeadFile)
	f, err := checkpoint.Open(p)
	if err != nil {
		return err
	}
	return f.Float32Into(valueHeadTensor, dst, []int{1, len(dst)})
}

func loraParams(name string, lo *model.LoRA) train.ParamSet {
	spans := make([]optim.Span, len(lo.Params))
	for i, p := range lo.Params {
		spans[i] = optim.Span{Name: p.Name, Offset: p.Offset, Size: p.Size, Decay: p.Decay}
	}
	return train.ParamSet{Name: name, Data: lo.Data, Grad: lo.Grad, Spans: spans}
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
