package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/align-go/align/nn"
	"github.com/align-go/align/tensor"
)

// LoRAConfig describes low-rank adapters (PEFT semantics): each targeted
// linear y = Wx + b gains (Alpha/R)·B·A·dropout(x), A [R,in] Kaiming-uniform, B
// [out,R] zero, so training starts exactly at the base model.
type LoRAConfig struct {
	R       int
	Alpha   float64
	Dropout float64
	// Targets are HF module names matched as PEFT does (a name equals the
	// module path or ends it after a dot): q_proj, k_proj, v_proj, o_proj,
	// gate_proj, up_proj, down_proj for the Llama family; c_attn, c_proj,
	// c_fc (or attn.c_proj / mlp.c_proj) for GPT-2; or "all-linear".
	Targets []string
}

// linear modules of a block, the unit LoRA attaches to.
const (
	modQ = iota
	modK
	modV
	modO
	modFC
	modGate
	modUp
	modDown
	numMods
)

// adapter is one HF module's A and B. GPT-2's fused c_attn is one adapter
// serving three of our linears (q, k, v) through row blocks of B.
type adapter struct {
	module  string // HF module path, e.g. model.layers.0.self_attn.q_proj
	in, out int
	parts   int
	a, b    []float32 // views into LoRA.Data
	da, db  []float32 // views into LoRA.Grad
	t       []float32 // [N,R] scale·(xd·Aᵀ), saved for backward
	// Dropout masks are not stored: backward regenerates the forward's mask
	// from (seed, stream), so an adapter keeps no [N,in] buffers.
	stream  uint64
	seed    uint64
	dropped bool
	seen    int // parts already back-propagated this pass
}

type adapterRef struct {
	ad  *adapter
	off int // first row of B this linear uses
}

// LoRA is one named adapter set attached to a model: its own flat allocation,
// so the optimizer holds state for adapters only. A model may hold several
// sets on its one frozen base (PPO: policy and value adapters, the reference
// being the base with every set off); one forward pass uses at most one.
type LoRA struct {
	Name   string
	Cfg    LoRAConfig
	Params []Param
	Data   []float32
	Grad   []float32

	// Training turns dropout on. The masks are a function of DropoutSeed, the
	// layer and the module only, so a forward pass is reproducible: a trainer
	// sets a fresh seed for each micro-batch (from the step number, which also
	// makes resumed runs exact).
	Training    bool
	DropoutSeed uint64

	scale    float32
	adapters []*adapter
	refs     [][numMods]*adapterRef // [layer][mod]
	dts      []float32              // [N,R] backward scratch shared by all adapters
	dxd      []float32              // [N,maxIn] dropout backward scratch
	xdBuf    []float32              // [N,maxIn] the dropped input, shared by all adapters
	keepBuf  []float32              // [N,maxIn] its multipliers (0 or 1/(1-p))
	n        int                    // rows the activations are sized for
	inferT   []float32              // [rows,R] scratch of the inference path
	inferD   []float32              // [rows,OC] its delta before it is added
	owner    *Model                 // the model it was attached to (ForwardCachedSets)
}

// DefaultLoRA is the name of the set AttachLoRA and LoadPEFT attach.
const DefaultLoRA = "default"

// LoRA returns the selected adapter set (the one forward passes use while
// adapters are enabled), or nil when none is attached. With one set, as in
// SFT and DPO, that is simply the model's adapters.
func (m *Model) LoRA() *LoRA { return m.active }

// LoRASet returns the set attached under name, or nil.
func (m *Model) LoRASet(name string) *LoRA {
	for _, lo := range m.loras {
		if lo.Name == name {
			return lo
		}
	}
	return nil
}

// LoRASets lists the attached sets' names in attach order.
func (m *Model) LoRASets() []string {
	out := make([]string, len(m.loras))
	for i, lo := range m.loras {
		out[i] = lo.Name
	}
	return out
}

// UseLoRA selects the set later forward passes use and enables adapters;
// name "" disables them (the base model, e.g. a reference). A Backward
// always differentiates the set its Forward ran with.
func (m *Model) UseLoRA(name string) error {
	if name == "" {
		m.loraOff = true
		return nil
	}
	lo := m.LoRASet(name)
	if lo == nil {
		return fmt.Errorf("lora: no adapter set %q (have %v)", name, m.LoRASets())
	}
	m.active, m.loraOff = lo, false
	return nil
}

// SetLoRAEnabled switches the selected adapters on or off; off, the model
// computes the base model exactly (DPO's reference without a second copy of
// the weights).
func (m *Model) SetLoRAEnabled(on bool) { m.loraOff = !on }

// curLoRA is the set a pass computes with now: nil when none or disabled.
func (m *Model) curLoRA() *LoRA {
	if m.loraOff {
		return nil
	}
	return m.active
}

// loraModules lists, per layer, each HF linear module with the (mod, row
// offset) parts it feeds and its in/out sizes.
func (m *Model) loraModules(l int) []struct {
	name    string
	in, out int
	mods    []int
	offs    []int
} {
	c := m.Cfg
	C, Q, KV, F := c.Dim, c.Heads*c.HeadDim, c.KVHeads*c.HeadDim, c.FFN
	type mm = struct {
		name    string
		in, out int
		mods    []int
		offs    []int
	}
	if c.Arch == ArchGPT2 {
		p := fmt.Sprintf("%sh.%d.", m.HFPrefix(), l)
		return []mm{
			{p + "attn.c_attn", C, 3 * C, []int{modQ, modK, modV}, []int{0, C, 2 * C}},
			{p + "attn.c_proj", C, C, []int{modO}, []int{0}},
			{p + "mlp.c_fc", C, F, []int{modFC}, []int{0}},
			{p + "mlp.c_proj", F, C, []int{modDown}, []int{0}},
		}
	}
	p := fmt.Sprintf("model.layers.%d.", l)
	return []mm{
		{p + "self_attn.q_proj", C, Q, []int{modQ}, []int{0}},
		{p + "self_attn.k_proj", C, KV, []int{modK}, []int{0}},
		{p + "self_attn.v_proj", C, KV, []int{modV}, []int{0}},
		{p + "self_attn.o_proj", Q, C, []int{modO}, []int{0}},
		{p + "mlp.gate_proj", C, F, []int{modGate}, []int{0}},
		{p + "mlp.up_proj", C, F, []int{modUp}, []int{0}},
		{p + "mlp.down_proj", F, C, []int{modDown}, []int{0}},
	}
}

func targetMatches(module string, targets []string) bool {
	for _, t := range targets {
		if t == "all-linear" || module == t || strings.HasSuffix(module, "."+t) {
			return true
		}
	}
	return false
}

// AttachLoRA adds the default adapter set to the targeted modules and
// freezes every base parameter. A is initialised like PEFT (Kaiming-uniform,
// bound 1/sqrt(in)) from seed; B is zero.
func (m *Model) AttachLoRA(cfg LoRAConfig, seed uint64) error {
	if m.LoRASet(DefaultLoRA) != nil {
		return fmt.Errorf("lora: adapters already attached")
	}
	return m.AttachLoRASet(DefaultLoRA, cfg, seed)
}

// AttachLoRASet adds a named adapter set, in its own allocation, to the
// targeted modules and freezes every base parameter. The first set attached
// becomes the selected one (see UseLoRA); later ones leave the selection as
// it is.
func (m *Model) AttachLoRASet(name string, cfg LoRAConfig, seed uint64) error {
	if name == "" {
		return fmt.Errorf("lora: an adapter set needs a name")
	}
	if m.LoRASet(name) != nil {
		return fmt.Errorf("lora: adapter set %q already attached", name)
	}
	if cfg.R <= 0 {
		return fmt.Errorf("lora: rank must be positive, got %d", cfg.R)
	}
	if cfg.Dropout < 0 || cfg.Dropout >= 1 {
		return fmt.Errorf("lora: dropout %v outside [0,1)", cfg.Dropout)
	}
	if cfg.Alpha == 0 {
		cfg.Alpha = float64(cfg.R)
	}
	lo := &LoRA{Name: name, Cfg: cfg, scale: float32(cfg.Alpha / float64(cfg.R)),
		refs: make([][numMods]*adapterRef, m.Cfg.Layers), owner: m}
	used := map[string]bool{}
	off := 0
	for l := 0; l < m.Cfg.Layers; l++ {
		for _, mod := range m.loraModules(l) {
			if !targetMatches(mod.name, cfg.Targets) {
				continue
			}
			for _, t := range cfg.Targets {
				if t == "all-linear" || mod.name == t || strings.HasSuffix(mod.name, "."+t) {
					used[t] = true
				}
			}
			ad := &adapter{module: mod.name, in: mod.in, out: mod.out, parts: len(mod.mods),
				stream: uint64(l)<<4 | uint64(mod.mods[0])}
			lo.Params = append(lo.Params,
				Param{Name: mod.name + ".lora_A.weight", Shape: []int{cfg.R, mod.in}, Offset: off, Size: cfg.R * mod.in, Decay: true},
				Param{Name: mod.name + ".lora_B.weight", Shape: []int{mod.out, cfg.R}, Offset: off + cfg.R*mod.in, Size: mod.out * cfg.R, Decay: true})
			off += cfg.R * (mod.in + mod.out)
			lo.adapters = append(lo.adapters, ad)
			for i, md := range mod.mods {
				lo.refs[l][md] = &adapterRef{ad: ad, off: mod.offs[i]}
			}
		}
	}
	for _, t := range cfg.Targets {
		if !used[t] {
			return fmt.Errorf("lora: target %q matches no module of this %s model", t, m.Cfg.ModelType)
		}
	}
	if len(lo.adapters) == 0 {
		return fmt.Errorf("lora: no target modules given")
	}
	lo.Data = make([]float32, off)
	lo.ensureGrad()
	r := rand.New(rand.NewPCG(seed, 0x10ca))
	for i, ad := range lo.adapters {
		pa, pb := lo.Params[2*i], lo.Params[2*i+1]
		ad.a, ad.b = lo.Data[pa.Offset:pa.Offset+pa.Size], lo.Data[pb.Offset:pb.Offset+pb.Size]
		bound := 1 / math.Sqrt(float64(ad.in))
		for j := range ad.a {
			ad.a[j] = float32((2*r.Float64() - 1) * bound)
		}
	}
	m.FreezeAll()
	m.loras = append(m.loras, lo)
	if m.active == nil {
		m.active = lo
	}
	return nil
}

// DropGrad frees the set's gradient buffer, so that a set used for inference
// only (an adapter a server loads) holds its weights once rather than twice.
// A later Backward through the set allocates a zero one again.
func (lo *LoRA) DropGrad() {
	lo.Grad = nil
	for _, ad := range lo.adapters {
		ad.da, ad.db = nil, nil
	}
}

// ensureGrad allocates the gradient buffer (zero) if the set has none.
func (lo *LoRA) ensureGrad() {
	if lo.Grad != nil {
		return
	}
	lo.Grad = make([]float32, len(lo.Data))
	for i, ad := range lo.adapters {
		pa, pb := lo.Params[2*i], lo.Params[2*i+1]
		ad.da, ad.db = lo.Grad[pa.Offset:pa.Offset+pa.Size], lo.Grad[pb.Offset:pb.Offset+pb.Size]
	}
}

// ensure sizes the per-row activations for N rows.
func (lo *LoRA) ensure(N int) {
	if lo.n == N {
		return
	}
	lo.n = N
	R, maxIn := lo.Cfg.R, 0
	for _, ad := range lo.adapters {
		ad.t = make([]float32, N*R)
		maxIn = max(maxIn, ad.in)
	}
	lo.dts = make([]float32, N*R)
	if lo.Cfg.Dropout > 0 {
		lo.dxd = make([]float32, N*maxIn)
		lo.xdBuf = make([]float32, N*maxIn)
		lo.keepBuf = make([]float32, N*maxIn)
	}
}

// linear is a block's Linear forward plus, when attached and enabled, its adapter.
func (m *Model) linear(l, mod int, out, inp, w, b []float32, N, IC, OC int) {
	if qw := m.qweight(l, mod); qw != nil && w == nil {
		nn.LinearForwardQP(m.prec, out, inp, qw, b, N)
	} else {
		nn.LinearForwardP(m.prec, out, inp, w, b, N, IC, OC)
	}
	lo := m.fwdLoRA
	if lo == nil || lo.refs[l][mod] == nil {
		return
	}
	ref := lo.refs[l][mod]
	ad, R := ref.ad, lo.Cfg.R
	if ref.off == 0 { // first (or only) part: project the input once
		lo.ensure(N)
		x := inp
		ad.dropped = lo.Cfg.Dropout > 0 && lo.Training
		if ad.dropped {
			ad.seed = lo.DropoutSeed
			x = lo.dropInput(ad, inp, N)
		}
		tensor.MatMulBT(ad.t, x, ad.a, N, IC, R, false)
		for i := range ad.t {
			ad.t[i] *= lo.scale
		}
	}
	tensor.Gemm(false, true, N, OC, R, ad.t, R, ad.b[ref.off*R:], R, out, OC, true)
}

// dropInput fills the shared buffers with ad's dropout mask for (seed, stream)
// and the dropped input, and returns the latter. The same call in backward
// reproduces the forward's mask exactly.
func (lo *LoRA) dropInput(ad *adapter, inp []float32, N int) []float32 {
	n := N * ad.in
	keep, xd := lo.keepBuf[:n], lo.xdBuf[:n]
	r := rand.New(rand.NewPCG(ad.seed, ad.stream))
	p := lo.Cfg.Dropout
	k := float32(1 / (1 - p))
	for i := range keep {
		if r.Float64() < p {
			keep[i] = 0
		} else {
			keep[i] = k
		}
		xd[i] = inp[i] * keep[i]
	}
	return xd
}

// linearBack is linear's backward. The base weight is frozen under LoRA, so
// dw is normally nil; the adapter's A and B gradients accumulate into LoRA.Grad.
func (m *Model) linearBack(l, mod int, dinp, dw, db, dout, inp, w []float32, N, IC, OC int) {
	if qw := m.qweight(l, mod); qw != nil && w == nil {
		// A compact weight is frozen: no dw.
		if dinp != nil {
			nn.LinearBackwardQP(m.prec, dinp, dout, qw, N)
		}
		nn.LinearBackward(nil, nil, db, dout, inp, nil, N, IC, OC)
	} else {
		nn.LinearBackwardP(m.prec, dinp, dw, db, dout, inp, w, N, IC, OC)
	}
	lo := m.fwdLoRA
	if lo == nil || lo.refs[l][mod] == nil {
		return
	}
	lo.ensureGrad() // DropGrad
	ref := lo.refs[l][mod]
	ad, R := ref.ad, lo.Cfg.R
	dts := lo.dts[:N*R]
	if ad.seen == 0 {
		clear(dts)
	}
	// dB[rows] += doutᵀ·t ; d(t) += dout·B[rows]
	tensor.Gemm(true, false, OC, R, N, dout, OC, ad.t, R, ad.db[ref.off*R:], R, true)
	tensor.Gemm(false, false, N, R, OC, dout, OC, ad.b[ref.off*R:], R, dts, R, true)
	ad.seen++
	if ad.seen < ad.parts {
		return
	}
	ad.seen = 0
	for i := range dts { // t = scale·(x·Aᵀ)
		dts[i] *= lo.scale
	}
	x := inp
	if ad.dropped {
		x = lo.dropInput(ad, inp, N)
	}
	tensor.MatMulAT(ad.da, dts, x, R, N, IC, true)
	if dinp == nil {
		return
	}
	if !ad.dropped {
		tensor.MatMul(dinp, dts, ad.a, N, R, IC, true)
		return
	}
	dx, keep := lo.dxd[:N*IC], lo.keepBuf[:N*IC]
	tensor.MatMul(dx, dts, ad.a, N, R, IC, false)
	for i := range dx {
		dinp[i] += dx[i] * keep[i]
	}
}

// MergeLoRA folds the selected adapters into the base weights (W +=
// scale·B·A) and detaches them, leaving (with one set) a plain model whose
// outputs equal the adapted one's. Other sets stay attached, now on the
// changed base.
func (m *Model) MergeLoRA() {
	lo := m.active
	if lo == nil {
		return
	}
	R := lo.Cfg.R
	for l := range lo.refs {
		lw := &m.W.Layers[l]
		weights := [numMods][]float32{lw.Wq, lw.Wk, lw.Wv, lw.Wo, lw.Wfc, lw.Wgate, lw.Wup, lw.Wdown}
		for mod, ref := range lo.refs[l] {
			if ref == nil {
				continue
			}
			w := weights[mod]
			if qw := m.qweight(l, mod); qw != nil && w == nil {
				// A compact base is widened to f32 where an adapter merges
				// into it (as PEFT dequantises a 4-bit base to merge).
				w = make([]float32, qw.OC*qw.IC)
				qw.Dequantize(w, 0, len(w))
				m.qlin[l][mod] = nn.QuantizeWeight(w, qw.OC, qw.IC, nn.WeightF32, false)
			}
			out := len(w) / ref.ad.in
			delta := make([]float32, len(w))
			tensor.MatMul(delta, ref.ad.b[ref.off*R:(ref.off+out)*R], ref.ad.a, out, R, ref.ad.in, false)
			for i := range w {
				w[i] += lo.scale * delta[i]
			}
		}
	}
	m.detachLoRA(lo)
}

// DetachLoRASet removes the adapter set name (a server unloading one of
// several adapters); the selection moves to the first set left, if any.
func (m *Model) DetachLoRASet(name string) error {
	lo := m.LoRASet(name)
	if lo == nil {
		return fmt.Errorf("lora: no adapter set %q (have %v)", name, m.LoRASets())
	}
	m.detachLoRA(lo)
	return nil
}

// detachLoRA removes set lo; the base thaws once no set is left.
func (m *Model) detachLoRA(lo *LoRA) {
	m.loras = slices.DeleteFunc(m.loras, func(x *LoRA) bool { return x == lo })
	if m.fwdLoRA == lo {
		m.fwdLoRA = nil
	}
	if m.active == lo {
		m.active = nil
		if len(m.loras) > 0 {
			m.active = m.loras[0]
		}
	}
	if len(m.loras) > 0 {
		return
	}
	m.loraOff = false
	clear(m.frozen)
	m.freezeCompact()
	if m.gradOn {
		m.EnableGrad()
	}
}

// AdapterNames lists the adapters' HF module paths.
func (lo *LoRA) AdapterNames() []string {
	var out []string
	for _, ad := range lo.adapters {
		out = append(out, ad.module)
	}
	return slices.Clip(out)
}

// loraAddInference adds linear (l, mod)'s adapter term to out[N,OC] for an
// inference pass (the KV-cache path): no dropout and nothing kept for backward.
// GPT-2's fused c_attn recomputes its shared A projection for each of q, k and
// v, which is cheap at rank R. Under ForwardCachedSets each run of rows adds
// its own set's term.
func (m *Model) loraAddInference(l, mod int, out, inp []float32, N, IC, OC int) {
	if m.rowSets != nil {
		m.loraAddRows(l, mod, out, inp, IC, OC)
		return
	}
	if lo := m.curLoRA(); lo != nil {
		lo.addInference(l, mod, out, inp, N, IC, OC)
	}
}

// addInference adds set lo's term for linear (l, mod), scale·(x·Aᵀ)·Bᵀ, to
// out[N,OC]. Both products go through the decode dot tiles a block of at most
// nn.DecodeMaxRows rows at a time, where a row's result does not depend on
// the other rows: a sequence gets bitwise the same term alone, in a batch of
// its adapter's rows, or among other adapters' rows (ForwardCachedSets).
func (lo *LoRA) addInference(l, mod int, out, inp []float32, N, IC, OC int) {
	ref, R := lo.refs[l][mod], lo.Cfg.R
	if ref == nil {
		return
	}
	rows := max(1, min(N, nn.DecodeMaxRows))
	t := grow(&lo.inferT, rows*R)
	d := grow(&lo.inferD, rows*OC)
	b := ref.ad.b[ref.off*R : (ref.off+OC)*R]
	for i0 := 0; i0 < N; i0 += rows {
		n := min(rows, N-i0)
		nn.LinearDecode(t[:n*R], inp[i0*IC:(i0+n)*IC], ref.ad.a, nil, n, IC, R)
		for i := range t[:n*R] {
			t[i] *= lo.scale
		}
		nn.LinearDecode(d[:n*OC], t[:n*R], b, nil, n, R, OC)
		o := out[i0*OC : (i0+n)*OC]
		for i, x := range d[:n*OC] {
			o[i] += x
		}
	}
}
