// Package rewardmodel is a reward model's inference side: a transformer with
// a scalar head read at the last real token, its HF sequence-classification
// load and save, and the Scorer RL trainers and evaluation call. Prompts and
// responses are encoded and padded by package pairenc, as in training. It does
// not import the training loop (pref trains reward models on top of it).
package rewardmodel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/align-go/align/checkpoint"
	"github.com/align-go/align/model"
	"github.com/align-go/align/pairenc"
)

// ScoreTensor is the head's tensor name in HF sequence-classification
// checkpoints: a bias-free Linear(hidden, num_labels) with num_labels 1.
const ScoreTensor = "score.weight"

// classifierArch is the transformers class a reward model of each
// model_type is saved as.
var classifierArch = map[string]string{
	"gpt2":    "GPT2ForSequenceClassification",
	"llama":   "LlamaForSequenceClassification",
	"mistral": "MistralForSequenceClassification",
	"qwen2":   "Qwen2ForSequenceClassification",
	"qwen3":   "Qwen3ForSequenceClassification",
}

// RewardModel is a transformer with a scalar head: the reward of a sequence
// is Head · h, h the final (normed) hidden state at its last real token.
// It keeps the last forward's state for Backward, so one RewardModel must
// not run two batches at once.
type RewardModel struct {
	Model    *model.Model
	Head     []float32 // score.weight [1, C], flattened
	HeadGrad []float32 // allocated by Backward (or pref.HeadParams)
	Pad      int32     // written into padding and saved as pad_token_id

	pad     pairenc.Padder
	last    []int     // flat index of each row's last real token
	lastH   []float32 // [rows, C] hidden states at last, for the head gradient
	dhidden []float32
	n, T    int // rows and length of the last forward
}

// NewRewardModel puts a freshly initialised head on m: N(0, 1/√(C+1)),
// TRL's reward-head initialisation, seeded.
func NewRewardModel(m *model.Model, pad int32, seed uint64) *RewardModel {
	r := &RewardModel{Model: m, Pad: pad, Head: make([]float32, m.Cfg.Dim)}
	r.InitHead(seed)
	return r
}

// InitHead redraws the head.
func (r *RewardModel) InitHead(seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x5c0e))
	std := 1 / math.Sqrt(float64(len(r.Head)+1))
	for i := range r.Head {
		r.Head[i] = float32(rng.NormFloat64() * std)
	}
}

// LoadRewardModel loads an HF directory. A sequence-classification
// checkpoint brings its score.weight (hasHead true); a causal LM loads with
// Head nil, for the caller to initialise (InitHead) or reject.
func LoadRewardModel(dir string) (r *RewardModel, hasHead bool, err error) {
	return LoadRewardModelOpts(dir, model.LoadOptions{})
}

// LoadRewardModelOpts is LoadRewardModel with the trunk's Linear weights
// stored as opt says (model.LoadDirOpts; compact ones are frozen: a LoRA
// trunk, a scorer).
func LoadRewardModelOpts(dir string, opt model.LoadOptions) (r *RewardModel, hasHead bool, err error) {
	m, extra, err := model.LoadDirOpts(dir, opt, ScoreTensor)
	if err != nil {
		return nil, false, err
	}
	pad := m.Cfg.PAD
	if pad < 0 || pad >= m.Cfg.Vocab {
		pad = max(m.Cfg.EOS, 0)
	}
	r = &RewardModel{Model: m, Pad: int32(pad)}
	t, ok := extra[ScoreTensor]
	if !ok {
		r.Head = make([]float32, m.Cfg.Dim)
		return r, false, nil
	}
	C := m.Cfg.Dim
	if !(len(t.Shape) == 2 && t.Shape[0] == 1 && t.Shape[1] == C) {
		if len(t.Shape) == 2 && t.Shape[1] == C {
			return nil, false, fmt.Errorf("%s: tensor %q has shape %v: a reward model needs num_labels 1, this classifier has %d labels", dir, ScoreTensor, t.Shape, t.Shape[0])
		}
		return nil, false, fmt.Errorf("%s: tensor %q has shape %v, want [1 %d]", dir, ScoreTensor, t.Shape, C)
	}
	r.Head = t.Data
	return r, true, nil
}

// Forward scores right-padded rows, keeping what Backward needs.
func (r *RewardModel) Forward(rows [][]int32) ([]float64, error) {
	b, err := r.pad.Batch(rows, r.Pad)
	if err != nil {
		return nil, err
	}
	return r.ForwardBatch(b)
}

// ForwardBatch scores a batch padded on either side (the mask decides
// which tokens are real), keeping what Backward needs.
func (r *RewardModel) ForwardBatch(b model.Batch) ([]float64, error) {
	last, err := pairenc.LastReal(b)
	if err != nil {
		return nil, err
	}
	_, hidden, err := r.Model.Forward(b, false)
	if err != nil {
		return nil, err
	}
	C := r.Model.Cfg.Dim
	r.last, r.n, r.T = last, b.B, b.T
	r.lastH = grow(r.lastH, b.B*C)
	out := make([]float64, b.B)
	for i, at := range last {
		h := hidden[at*C : (at+1)*C]
		copy(r.lastH[i*C:], h)
		var s float64
		for j, w := range r.Head {
			s += float64(w) * float64(h[j])
		}
		out[i] = s
	}
	return out, nil
}

// Backward takes d(loss)/d(reward) per row of the last forward and
// accumulates the gradients of the transformer (through the hidden states
// at the last real tokens only) and of the head (HeadGrad, see Params).
func (r *RewardModel) Backward(drew []float64) error {
	if len(drew) != r.n || r.n == 0 {
		return fmt.Errorf("rewardmodel: %d reward gradients for a forward of %d rows", len(drew), r.n)
	}
	if r.HeadGrad == nil {
		r.HeadGrad = make([]float32, len(r.Head))
	}
	C := r.Model.Cfg.Dim
	r.dhidden = grow(r.dhidden, r.n*r.T*C)
	clear(r.dhidden)
	for i, at := range r.last {
		g := drew[i]
		dh := r.dhidden[at*C : (at+1)*C]
		h := r.lastH[i*C : (i+1)*C]
		for j, w := range r.Head {
			dh[j] = float32(g * float64(w))
			r.HeadGrad[j] += float32(g * float64(h[j]))
		}
	}
	return r.Model.Backward(nil, r.dhidden)
}

// Save writes an HF sequence-classification directory: the transformer,
// score.weight [1, C] and a config.json transformers loads as
// <Family>ForSequenceClassification with num_labels 1 and pad_token_id set.
// GPT-2 tensors always carry the "transformer." prefix, which the class
// needs to tell its body from its head. dtype is F32, BF16 or F16.
//
// LoRA adapters, if attached, are merged into the saved weights (the model
// itself is left as it is), so the directory is a plain reward model that
// align score and the RL trainers load without the base: the head is trained
// in full anyway, as PEFT's modules_to_save would have it.
func (r *RewardModel) Save(dir, dtype string) error {
	m := r.Model
	arch, ok := classifierArch[m.Cfg.ModelType]
	if !ok {
		return fmt.Errorf("rewardmodel: no sequence-classification class for model_type %q", m.Cfg.ModelType)
	}
	cfg := m.Cfg.HF(dtype)
	cfg["architectures"] = []string{arch}
	cfg["num_labels"] = 1
	cfg["id2label"] = map[string]string{"0": "LABEL_0"}
	cfg["label2id"] = map[string]int{"LABEL_0": 0}
	cfg["pad_token_id"] = int(r.Pad)
	prefix := m.HFPrefix()
	if m.Cfg.Arch == model.ArchGPT2 {
		prefix = "transformer."
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := checkpoint.WriteJSON(filepath.Join(dir, "config.json"), cfg); err != nil {
		return err
	}
	hf := m.ExportHF(m.Data, prefix)
	if lo := m.LoRA(); lo != nil {
		if err := mergeAdapters(hf, lo, m.HFPrefix(), prefix, m.Cfg.Arch == model.ArchGPT2); err != nil {
			return err
		}
	}
	var ts []checkpoint.Tensor
	for _, t := range hf {
		ts = append(ts, checkpoint.Tensor{Name: t.Name, Shape: t.Shape, Data: t.Data, DType: dtype})
	}
	ts = append(ts, checkpoint.Tensor{Name: ScoreTensor, Shape: []int{1, len(r.Head)}, Data: r.Head, DType: dtype})
	return checkpoint.Write(filepath.Join(dir, checkpoint.SingleFile), ts, map[string]string{"format": "pt"})
}

// mergeAdapters adds scale·B·A to the exported HF weights of each adapted
// module: [out,in] tensors, or GPT-2's Conv1D [in,out] ones (transposed).
// Adapter module paths carry the model's own GPT-2 prefix (from), the
// exported tensors the save's (to).
func mergeAdapters(hf []model.NamedTensor, lo *model.LoRA, from, to string, conv1D bool) error {
	byName := map[string][]float32{}
	for _, t := range hf {
		byName[t.Name] = t.Data
	}
	R := lo.Cfg.R
	scale := float32(lo.Cfg.Alpha / float64(R))
	for k := 0; k+1 < len(lo.Params); k += 2 {
		pa, pb := lo.Params[k], lo.Params[k+1]
		module := strings.TrimSuffix(pa.Name, ".lora_A.weight")
		if module == pa.Name || pb.Name != module+".lora_B.weight" {
			return fmt.Errorf("rewardmodel: unexpected adapter tensors %q, %q", pa.Name, pb.Name)
		}
		name := to + strings.TrimPrefix(module, from) + ".weight"
		w, ok := byName[name]
		if !ok {
			return fmt.Errorf("rewardmodel: adapter %q has no base weight %q", module, name)
		}
		a, b := lo.Data[pa.Offset:pa.Offset+pa.Size], lo.Data[pb.Offset:pb.Offset+pb.Size]
		in, out := pa.Shape[1], pb.Shape[0]
		if len(w) != in*out {
			return fmt.Errorf("rewardmodel: adapter %q is %dx%d but %q has %d values", module, out, in, name, len(w))
		}
		for o := 0; o < out; o++ {
			for i := 0; i < in; i++ {
				var d float32
				for r := 0; r < R; r++ {
					d += b[o*R+r] * a[r*in+i]
				}
				if conv1D {
					w[i*out+o] += scale * d
				} else {
					w[o*in+i] += scale * d
				}
			}
		}
	}
	return nil
}

// grow returns s with length n, reallocating only when it is too small.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
