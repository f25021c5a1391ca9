package model

import (
	"fmt"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/align-go/align/checkpoint"
	"github.com/align-go/align/internal/hugepage"
	"github.com/align-go/align/nn"
)

// A frozen base — LoRA's, a DPO/PPO reference, a reward or value model's
// trunk, a model that only generates or scores — only multiplies by its
// Linear weights, so it can keep them compact: in the checkpoint's own
// bf16/f16, or quantised to int8/NF4/FP4 (nn.QWeight). Such a model's
// Params mark those weights Compact (Size 0: they take no room in Data) and
// m.qlin holds them. The token embedding and an untied LM head are compact
// too (m.embedQ, m.headQ), but not quantised by default: as transformers does under
// bitsandbytes' 8/4-bit loading (which skips the output head and embeddings),
// they stay in the checkpoint's own 16-bit dtype (or the asked bf16/f16), and
// the embedding lookup widens one row at a time while the fused head reads
// them a tile at a time. At Llama-3.1-8B's shape that is 2.1 GB instead of
// 4.2 GB of f32. LoadOptions.QuantizeLMHead quantises the head (and a tied
// embedding) as well, for decoding speed. Norms, biases and LoRA adapters stay f32 in Data; a compact
// weight is always frozen.

// LoadOptions says how LoadDirOpts stores the transformer blocks' Linear
// weights.
type LoadOptions struct {
	// WeightDType: "" or "f32" (f32 in Data, trainable: the default);
	// "auto" (as the checkpoint stores them: bf16 and f16 kept, f32 as f32);
	// "bf16", "f16" (converted per tensor while loading); "int8", "nf4",
	// "fp4" (quantised per tensor while loading).
	WeightDType string
	// DoubleQuant quantises the NF4/FP4 block scales again (QLoRA).
	DoubleQuant bool
	// QuantizeLMHead quantises the LM head to WeightDType too when that is
	// int8, nf4 or fp4 — and the token embedding with it when the head is
	// tied to it, for they are one tensor — as llama.cpp's q8_0/q4 files and
	// GPTQ/AutoRound's lm_head=True do. Off (transformers' and
	// bitsandbytes' way), both stay 16-bit. Batch-1 decoding reads the head
	// every token (at Qwen2.5-0.5B's shape 272 MB of bf16, over a quarter of
	// the bytes), so this is what lets 8/4-bit decoding approach its byte
	// ratio; it changes the logits by the head's own rounding. No effect
	// with a 16-bit or f32 WeightDType.
	QuantizeLMHead bool
	// Int8Activations (with WeightDType int8) lets batch-1 decoding quantise
	// each Linear's input row to int8 in blocks of 64 and take integer dot
	// products (AVX512_VNNI), as llama.cpp decodes q8_0 files: faster, at an
	// accuracy cost of the same order as the int8 weights' own
	// (nn.QWeight.Int8Act). Off, 8-bit decoding is bit-identical to the f32
	// model holding the dequantised weights, and a sequence's logits do not
	// depend on what it is batched with; on, the one-row path differs from
	// the several-row one in the last bits.
	Int8Activations bool
}

// compact reports whether the options keep Linear weights out of Data.
func (o LoadOptions) compact() bool {
	d := strings.ToLower(o.WeightDType)
	return d != "" && d != "f32" && d != "float32"
}

// ParseLoadDType checks a weight dtype name as LoadOptions takes it (a flag,
// before a model loads).
func ParseLoadDType(s string) error {
	if s == "" || strings.EqualFold(s, "auto") {
		return nil
	}
	_, err := nn.ParseWeightDType(s)
	return err
}

// isBlockLinear reports whether canonical parameter name is a transformer
// block's Linear weight (what compact loading stores compactly), and which.
func isBlockLinear(name string) (layer, mod int, ok bool) {
	var l int
	var rest string
	if n, _ := fmt.Sscanf(name, "layers.%d.%s", &l, &rest); n != 2 {
		return 0, 0, false
	}
	i := slices.Index([]string{"q.weight", "k.weight", "v.weight", "o.weight", "fc.weight", "gate.weight", "up.weight", "down.weight"}, rest)
	if i < 0 {
		return 0, 0, false
	}
	return l, []int{modQ, modK, modV, modO, modFC, modGate, modUp, modDown}[i], true
}

// isTable reports whether canonical name is the token embedding or an
// untied LM head: compact, but kept in 16 bits under 8/4-bit loading unless
// LoadOptions.QuantizeLMHead asks for the head (and a tied embedding).
func isTable(name string) bool { return name == "embed" || name == "lm_head.weight" }

// isHead reports whether table name (isTable) is the LM head: the head
// itself, or the embedding when the head is tied to it.
func (m *Model) isHead(name string) bool {
	return name == "lm_head.weight" || name == "embed" && m.Cfg.Tied
}

// newCompact allocates a model whose block Linear weights, token embedding
// and LM head live outside Data (filled by the loader into m.qlin, m.embedQ
// and m.headQ), frozen from the start.
func newCompact(cfg *Config) *Model {
	ps := paramTable(cfg)
	off := 0
	for i := range ps {
		if _, _, ok := isBlockLinear(ps[i].Name); ok || isTable(ps[i].Name) {
			ps[i].Compact, ps[i].Offset, ps[i].Size = true, off, 0
			continue
		}
		ps[i].Offset = off
		off += ps[i].Size
	}
	m := &Model{Cfg: cfg, Params: ps, Data: make([]float32, off), frozen: map[string]bool{}}
	hugepage.Advise(m.Data)
	m.W = bind(cfg, ps, m.Data, nil)
	m.G = bind(cfg, ps, nil, nil)
	m.qlin = make([][numMods]*nn.QWeight, cfg.Layers)
	m.freezeCompact()
	return m
}

// freezeCompact marks every compact weight frozen (after a thaw, too).
func (m *Model) freezeCompact() {
	for _, p := range m.Params {
		if p.Compact {
			m.frozen[p.Name] = true
		}
	}
}

// embedTable and headTable are the compact token embedding and LM head (the
// embedding when tied), or nil when they are f32 in Data.
func (m *Model) embedTable() *nn.QWeight { return m.embedQ }

func (m *Model) headTable() *nn.QWeight {
	if m.Cfg.Tied {
		return m.embedQ
	}
	return m.headQ
}

// qweight is block l's compact weight for linear mod, or nil when it is f32
// in Data.
func (m *Model) qweight(l, mod int) *nn.QWeight {
	if m.qlin == nil {
		return nil
	}
	return m.qlin[l][mod]
}

// CompactBytes is the memory the compact weights take: the block Linears,
// the embedding and an untied head (0 when none).
func (m *Model) CompactBytes() int64 {
	var n int64
	for _, ws := range m.qlin {
		for _, w := range ws {
			if w != nil {
				n += w.Bytes()
			}
		}
	}
	for _, w := range []*nn.QWeight{m.embedQ, m.headQ} {
		if w != nil {
			n += w.Bytes()
		}
	}
	return n
}

// WeightDType names how the block Linear weights are stored: "f32" in Data,
// else the compact dtype (the first block's; loading uses one for all).
func (m *Model) WeightDType() string {
	if w := m.qweight(0, modQ); w != nil {
		return w.DType.String()
	}
	if w := m.qweight(0, modFC); w != nil {
		return w.DType.String()
	}
	return "f32"
}

// LoadDirOpts is LoadDirWith with the Linear weights of the transformer
// blocks stored as opt says. With a compact dtype, no f32 copy of those
// weights is ever made whole: bf16/f16 checkpoints kept as stored are read
// straight into their compact arrays, and a conversion or quantisation holds
// one tensor in f32 at a time. The model is frozen (attach LoRA adapters to
// train it).
func LoadDirOpts(dir string, opt LoadOptions, extras ...string) (*Model, map[string]NamedTensor, error) {
	if !opt.compact() {
		return LoadDirWith(dir, extras...)
	}
	if err := ParseLoadDType(opt.WeightDType); err != nil {
		return nil, nil, err
	}
	cfg, err := LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, nil, err
	}
	m := newCompact(cfg)
	m.loadOpt = opt
	m, got, err := m.loadFrom(dir, extras)
	if m != nil {
		m.loadScratch = nil
	}
	// Hand the load's temporaries (the scratch, header and index reads)
	// back now: with a multi-gigabyte live heap the next collection would
	// otherwise wait until as much again had been allocated.
	debug.FreeOSMemory()
	return m, got, err
}

// importCompact reads HF tensor sp (one or more block Linears) into m.qlin.
func (m *Model) importCompact(src TensorSource, sp hfSpec, want []int, file string) error {
	opt := m.loadOpt
	dtName := strings.ToLower(opt.WeightDType)
	var srcDType string
	if into, ok := src.(floatIntoSource); ok {
		if info, ok := into.Info(sp.name); ok {
			if !slices.Equal(info.Shape, want) {
				return fmt.Errorf("%s: tensor %q has shape %v, want %v", file, sp.name, info.Shape, want)
			}
			srcDType = info.DType
		}
	}
	if isTable(sp.parts[0]) && !(opt.QuantizeLMHead && m.isHead(sp.parts[0])) {
		dtName = tableDType(dtName, srcDType)
	}
	if dtName == "auto" {
		switch srcDType {
		case "BF16":
			dtName = "bf16"
		case "F16":
			dtName = "f16"
		default:
			dtName = "f32"
		}
	}
	dt, err := nn.ParseWeightDType(dtName)
	if err != nil {
		return err
	}
	// Kept as stored: the checkpoint's bits, no conversion at all.
	if set, ok := src.(interface {
		File(string) (*checkpoint.File, bool)
	}); ok && len(sp.parts) == 1 && !sp.transpose &&
		(dt == nn.WeightBF16 && srcDType == "BF16" || dt == nn.WeightF16 && srcDType == "F16") {
		if f, ok := set.File(sp.name); ok {
			b, err := f.Bytes(sp.name)
			if err != nil {
				return err
			}
			m.setCompact(sp.parts[0], nn.NewQWeightBits(dt, nn.BytesAsUint16(b), want[0], want[1]))
			return nil
		}
	}
	var data []float32
	into, ok := src.(floatIntoSource)
	if ok && dt != nn.WeightF32 {
		// Converted or quantised: the f32 tensor is a temporary, decoded
		// into one scratch buffer the whole load reuses. A fresh one per
		// tensor would be garbage the collector lets pile up to the size
		// of the live heap (GOGC=100): gigabytes at 8B.
		n := prod(want)
		if cap(m.loadScratch) < n {
			m.loadScratch = make([]float32, n)
		}
		data = m.loadScratch[:n]
		if err := into.Float32Into(sp.name, data, want); err != nil {
			return err
		}
	} else {
		d, shape, err := src.Float32(sp.name)
		if err != nil {
			return err
		}
		if !slices.Equal(shape, want) {
			return fmt.Errorf("%s: tensor %q has shape %v, want %v", file, sp.name, shape, want)
		}
		data = d
	}
	cols := want[len(want)-1]
	col := 0
	for _, pn := range sp.parts {
		p := m.Param(pn)
		o, in := p.Shape[0], p.Shape[1]
		w := data[col:]
		switch {
		case sp.transpose: // HF [in, cols] → ours [o, in]
			w = make([]float32, o*in)
			for r := 0; r < o; r++ {
				for i := 0; i < in; i++ {
					w[r*in+i] = data[i*cols+col+r]
				}
			}
			col += o
		case len(sp.parts) > 1:
			w = slices.Clone(data[col : col+o*in])
			col += o * in
		default:
			w = data[:o*in]
		}
		q := nn.QuantizeWeight(w, o, in, dt, opt.DoubleQuant)
		q.Int8Act = opt.Int8Activations && dt == nn.WeightInt8
		m.setCompact(pn, q)
	}
	return nil
}

// tableDType is the dtype the embedding and LM head are kept in under load
// dtype dt ("auto", "bf16", "f16", "int8", "nf4", "fp4") from a checkpoint
// storing them as src: bitsandbytes quantises Linear layers only, and
// transformers keeps the output head out of them too, so under 8/4-bit
// loading both stay in the checkpoint's own dtype ("auto").
func tableDType(dt, src string) string {
	switch dt {
	case "int8", "8bit", "nf4", "fp4":
		return "auto"
	}
	return dt
}

// setCompact stores compact weight w for canonical parameter name.
func (m *Model) setCompact(name string, w *nn.QWeight) {
	switch name {
	case "embed":
		m.embedQ = w
	case "lm_head.weight":
		m.headQ = w
	default:
		l, mod, _ := isBlockLinear(name)
		m.qlin[l][mod] = w
	}
}

// compactWeight is compact parameter p's weight.
func (m *Model) compactWeight(p *Param) *nn.QWeight {
	switch p.Name {
	case "embed":
		return m.embedQ
	case "lm_head.weight":
		return m.headQ
	}
	l, mod, _ := isBlockLinear(p.Name)
	return m.qlin[l][mod]
}

// compactTensor returns compact parameter p's values in f32 (a fresh copy).
func (m *Model) compactTensor(p *Param) []float32 {
	w := m.compactWeight(p)
	out := make([]float32, w.OC*w.IC)
	w.Dequantize(out, 0, len(out))
	return out
}

// compactOrZero is p's values when buf is the parameters, zeros when it is
// a gradient buffer (a compact weight is frozen: its gradient is zero).
func (m *Model) compactOrZero(p *Param, buf []float32) []float32 {
	if len(buf) > 0 && len(m.Data) > 0 && &buf[0] != &m.Data[0] {
		return make([]float32, prod(p.Shape))
	}
	return m.compactTensor(p)
}
