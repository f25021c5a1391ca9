package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/align-go/align/internal/hugepage"
	"github.com/align-go/align/nn"
	"github.com/align-go/align/tensor"
)

// Model is a transformer with all parameters in one allocation (Data) and, once
// training starts, all gradients in another (Grad). W and G view them as tensors.
type Model struct {
	Cfg    *Config
	Params []Param
	Data   []float32
	Grad   []float32 // nil until EnableGrad
	W      Weights
	G      Weights // nil tensors for frozen parameters or before EnableGrad

	frozen map[string]bool
	acts   *acts
	rope   ropeTable

	lastIDs []int32 // ids of the last Forward, for the embedding gradient

	// GPT-2 tensor-name prefix as loaded, so a save keeps the checkpoint's own style.
	hfPrefix    string
	prefixKnown bool
	allowExtra  map[string]bool // head tensors a caller reads itself (LoadDirWith)
	// missingLMHead: loaded from a head-only checkpoint; the untied LM head is zero.
	missingLMHead bool

	bf16    *bf16Weights // SetDecodeDType("bf16"): what ForwardCached reads, or nil
	loras   []*LoRA      // attached adapter sets, in attach order
	active  *LoRA        // the selected set (UseLoRA), or nil
	loraOff bool         // adapters disabled: passes compute the base
	fwdLoRA *LoRA        // the set the last Forward used, for its Backward
	rowSets []*LoRA      // ForwardCachedSets: each row's set (nil: base) during the call
	rowT    int          // ForwardCachedSets: tokens per row during the call
	donor   *Model       // BorrowActivations: whose activation buffer the forward pass reuses
	gradOn  bool         // EnableGrad was called (Grad may still be nil when all is frozen)
	ckpt    bool         // SetGradientCheckpointing
	prec    tensor.Prec  // SetCompute
	head    *nn.LMHead   // LMHead's chunk scratch

	qlin   [][numMods]*nn.QWeight // compact block Linear weights [layer][mod], or nil (frozen.go)
	embedQ *nn.QWeight            // compact token embedding, or nil (frozen.go)
	headQ  *nn.QWeight            // compact untied LM head, or nil

	loadScratch []float32   // LoadDirOpts: one f32 tensor being converted or quantised
	loadOpt     LoadOptions // how qlin was loaded
}

// SetGradientCheckpointing trades compute for memory (TRL's
// --gradient-checkpointing): Forward keeps each block's input only, with
// one set of block activations shared by all blocks, and Backward recomputes
// each block's forward pass just before differentiating it — about one
// more forward pass per step. Gradients are bit-identical to the run without
// it. It takes effect at the next Forward.
func (m *Model) SetGradientCheckpointing(on bool) { m.ckpt = on }

// GradientCheckpointing reports whether SetGradientCheckpointing is on.
func (m *Model) GradientCheckpointing() bool { return m.ckpt }

// SetCompute sets the arithmetic of the model's weight products (TRL's
// --bf16 is tensor.BF16): the block Linears and the LM head, forward and
// backward, multiply bfloat16-rounded operands with float32 sums, twice the
// products per instruction with AVX512_BF16. Parameters, gradients and
// optimizer state stay f32 (the master weights), as do norms, softmax,
// attention scores, LoRA adapter products and losses. Each product then
// carries about 3 significant digits per operand (bf16's 8-bit mantissa:
// relative rounding ≤ 2⁻⁹) instead of 7; the effect on training is
// pinned in model tests. It takes effect at the next Forward.
func (m *Model) SetCompute(p tensor.Prec) { m.prec = p }

// Compute reports the arithmetic SetCompute chose (tensor.F32 by default).
func (m *Model) Compute() tensor.Prec { return m.prec }

// New allocates a model of shape cfg with zero parameters.
func New(cfg *Config) *Model {
	ps := paramTable(cfg)
	last := ps[len(ps)-1]
	m := &Model{Cfg: cfg, Params: ps, Data: make([]float32, last.Offset+last.Size), frozen: map[string]bool{}}
	hugepage.Advise(m.Data)
	m.W = bind(cfg, ps, m.Data, nil)
	m.G = bind(cfg, ps, nil, nil)
	return m
}

// InitRandom fills parameters the way GPT-2/Llama initialise them: N(0, 0.02)
// matrices and embeddings, residual projections scaled by 1/sqrt(2·layers),
// norm weights 1, biases 0.
func (m *Model) InitRandom(seed uint64) {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	resid := 0.02 / math.Sqrt(2*float64(m.Cfg.Layers))
	for _, p := range m.Params {
		if p.Compact {
			continue // loaded, never initialised
		}
		t := m.Data[p.Offset : p.Offset+p.Size]
		switch {
		case hasSuffix(p.Name, "norm1.weight", "norm2.weight", "norm_f.weight", "q_norm.weight", "k_norm.weight"):
			fill(t, 1)
		case hasSuffix(p.Name, ".bias"):
			fill(t, 0)
		default:
			std := 0.02
			if hasSuffix(p.Name, "o.weight", "down.weight") {
				std = resid
			}
			for i := range t {
				t[i] = float32(r.NormFloat64() * std)
			}
		}
	}
}

// EnableGrad allocates the gradient buffer (zeroed) and binds G, leaving frozen tensors nil.
//
// A fully frozen model (LoRA) gets no gradient buffer at all: its backward pass
// still flows to the inputs and adapters, but holds no base-sized gradient.
func (m *Model) EnableGrad() {
	m.gradOn = true
	if m.allFrozen() {
		m.Grad = nil
		m.G = bind(m.Cfg, m.Params, nil, nil)
		return
	}
	if m.Grad == nil {
		m.Grad = make([]float32, len(m.Data))
		hugepage.Advise(m.Grad) // written and read in full every step
	}
	m.G = bind(m.Cfg, m.Params, m.Grad, m.frozen)
}

func (m *Model) allFrozen() bool {
	for _, p := range m.Params {
		if !m.frozen[p.Name] {
			return false
		}
	}
	return true
}

// Freeze marks the named parameters as frozen (no gradient is computed for them).
// Names are canonical (see Params); an unknown name is an error.
func (m *Model) Freeze(names ...string) error {
	for _, n := range names {
		if m.Param(n) == nil {
			return fmt.Errorf("freeze: no parameter %q", n)
		}
		m.frozen[n] = true
	}
	if m.gradOn {
		m.EnableGrad()
	}
	return nil
}

// FreezeAll freezes every parameter (the LoRA starting point).
func (m *Model) FreezeAll() {
	for _, p := range m.Params {
		m.frozen[p.Name] = true
	}
	if m.gradOn {
		m.EnableGrad()
	}
}

// Frozen reports whether a parameter is frozen.
func (m *Model) Frozen(name string) bool { return m.frozen[name] }

// Param finds a parameter by canonical name.
func (m *Model) Param(name string) *Param {
	for i := range m.Params {
		if m.Params[i].Name == name {
			return &m.Params[i]
		}
	}
	return nil
}

// Tensor returns the named parameter's data (for a compact weight, a
// dequantised copy).
func (m *Model) Tensor(name string) []float32 {
	p := m.Param(name)
	if p == nil {
		return nil
	}
	if p.Compact {
		return m.compactTensor(p)
	}
	return m.Data[p.Offset : p.Offset+p.Size]
}

// BorrowActivations makes m, a forward-only model, lay its activations out in
// donor's buffer instead of holding its own. It is for a frozen reference model
// (DPO, KL penalties) whose forward pass always completes, and whose outputs are
// consumed, before the donor's own forward and backward: then the two never
// need the buffer at the same time, and one activation set is saved. m can no
// longer run Backward.
func (m *Model) BorrowActivations(donor *Model) {
	m.donor = donor
	m.acts = nil
}

// ZeroGrad clears the gradient buffer.
func (m *Model) ZeroGrad() {
	clear(m.Grad)
}

// Clone returns an independent copy of the parameters (no gradients, no activations).
func (m *Model) Clone() *Model {
	var c *Model
	if m.qlin != nil {
		// Compact weights are frozen and read-only: the copy shares them.
		c = newCompact(m.Cfg)
		c.qlin, c.loadOpt = slices.Clone(m.qlin), m.loadOpt
		c.embedQ, c.headQ = m.embedQ, m.headQ
	} else {
		c = New(m.Cfg)
	}
	copy(c.Data, m.Data)
	c.hfPrefix, c.prefixKnown, c.missingLMHead = m.hfPrefix, m.prefixKnown, m.missingLMHead
	c.prec = m.prec // a copy (a DPO reference) computes as its source
	return c
}

func fill(t []float32, v float32) {
	for i := range t {
		t[i] = v
	}
}

func hasSuffix(s string, sfx ...string) bool {
	for _, x := range sfx {
		if strings.HasSuffix(s, x) {
			return true
		}
	}
	return false
}
