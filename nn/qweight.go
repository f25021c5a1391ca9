package nn

import (
	"fmt"
	"math"
	"strings"
	"unsafe"

	"github.com/align-go/align/checkpoint"
	"github.com/align-go/align/internal/hugepage"
	"github.com/align-go/align/tensor"
)

// Frozen Linear weights in a compact dtype. A frozen base (LoRA, a reference
// or reward model, generation) never needs its weights in f32: it only
// multiplies by them. QWeight keeps a [OC,IC] weight as stored or quantised,
// and the kernels (qlinear.go) dequantise a few rows at a time into a small
// f32 tile that the existing dot tiles or blocked GEMM consume, so no f32
// copy of the matrix ever exists.
//
// The quantised formats follow bitsandbytes, which QLoRA and TRL's
// --load-in-8bit/--load-in-4bit use:
//   - Int8: LLM.int8()'s weight quantisation without the outlier split: one
//     absmax per output row, q = round(w·127/absmax) (ties to even), w ≈
//     q·absmax/127.
//   - NF4 / FP4: the flattened weight in blocks of 64, each scaled by its
//     absmax into [-1,1] and stored as the index of the nearest of 16 levels,
//     two per byte (the first element of a pair in the high nibble).
//   - Double quantisation (QLoRA): the per-block absmaxes, less their mean,
//     quantised again in blocks of 256 to bitsandbytes' signed 8-bit dynamic
//     code, with one f32 scale per 256 blocks: 0.127 instead of 0.5 bits per
//     weight of scales.

// WeightDType is how a QWeight stores its values.
type WeightDType uint8

const (
	WeightF32 WeightDType = iota
	WeightBF16
	WeightF16
	WeightInt8
	WeightNF4
	WeightFP4
)

func (d WeightDType) String() string {
	return [...]string{"f32", "bf16", "f16", "int8", "nf4", "fp4"}[d]
}

// ParseWeightDType reads a dtype name: f32, bf16, f16, int8, nf4 or fp4
// (float32, bfloat16, float16 accepted).
func ParseWeightDType(s string) (WeightDType, error) {
	switch strings.ToLower(s) {
	case "f32", "float32", "fp32":
		return WeightF32, nil
	case "bf16", "bfloat16":
		return WeightBF16, nil
	case "f16", "float16", "fp16":
		return WeightF16, nil
	case "int8", "8bit":
		return WeightInt8, nil
	case "nf4":
		return WeightNF4, nil
	case "fp4":
		return WeightFP4, nil
	}
	return 0, fmt.Errorf("weight dtype %q: want f32, bf16, f16, int8, nf4 or fp4", s)
}

// QBlock is the 4-bit formats' block size and QBlock2 the double
// quantisation's (bitsandbytes' and QLoRA's defaults).
const (
	QBlock  = 64
	QBlock2 = 256
)

// QWeight is a frozen Linear weight [OC,IC] (torch layout) in a compact dtype.
type QWeight struct {
	DType  WeightDType
	OC, IC int
	F32    []float32 // WeightF32
	U16    []uint16  // WeightBF16 / WeightF16: the bits, [OC·IC]
	Q      []byte    // WeightInt8: [OC·IC] two's complement; 4-bit: [ceil(OC·IC/2)] nibble pairs
	// Absmax is Int8's per-row and the 4-bit formats' per-block absmax, nil
	// when double-quantised (then QAbsmax, Absmax2 and AbsmaxOffset hold it).
	Absmax       []float32
	QAbsmax      []uint8   // per block: dynamic-code index of (absmax − offset)/Absmax2[b/QBlock2]
	Absmax2      []float32 // per QBlock2 blocks
	AbsmaxOffset float32
	// Int8Act (int8 only) lets a product at one input row quantise that row
	// to int8 in blocks of 64 and dot it with the weight in integers
	// (qdecode_q8.go): faster decoding at a small, bounded cost in accuracy.
	// Off, every product equals the f32 one on the dequantised weight.
	Int8Act bool
}

// Bytes is the memory the weight's arrays occupy.
func (q *QWeight) Bytes() int64 {
	return int64(4*len(q.F32) + 2*len(q.U16) + len(q.Q) + 4*len(q.Absmax) + len(q.QAbsmax) + 4*len(q.Absmax2))
}

// NewQWeightBits wraps bf16 or f16 bits (as a checkpoint stores them) without
// converting them.
func NewQWeightBits(dt WeightDType, bits []uint16, OC, IC int) *QWeight {
	if dt != WeightBF16 && dt != WeightF16 {
		panic("nn.NewQWeightBits: dtype " + dt.String())
	}
	if len(bits) != OC*IC {
		panic(fmt.Sprintf("nn.NewQWeightBits: %d values for [%d,%d]", len(bits), OC, IC))
	}
	return &QWeight{DType: dt, OC: OC, IC: IC, U16: bits}
}

// QuantizeWeight stores w [OC,IC] as dt; doubleQuant applies to NF4 and FP4.
// F32 keeps w itself (no copy).
func QuantizeWeight(w []float32, OC, IC int, dt WeightDType, doubleQuant bool) *QWeight {
	n := OC * IC
	if len(w) != n {
		panic(fmt.Sprintf("nn.QuantizeWeight: %d values for [%d,%d]", len(w), OC, IC))
	}
	q := &QWeight{DType: dt, OC: OC, IC: IC}
	switch dt {
	case WeightF32:
		q.F32 = w
	case WeightBF16:
		q.U16 = hugepage.Uint16s(n)
		tensor.ParallelFor(n, 1<<16, func(lo, hi int) { tensor.ToBF16(q.U16[lo:hi], w[lo:hi]) })
	case WeightF16:
		q.U16 = hugepage.Uint16s(n)
		for i, v := range w {
			q.U16[i] = checkpoint.F32ToF16(v)
		}
	case WeightInt8:
		q.Q = hugepage.Bytes(n) // streamed every decode step: see internal/hugepage
		q.Absmax = make([]float32, OC)
		// Rows are independent: loading quantises on every core.
		tensor.ParallelFor(OC, max(1, 1<<16/max(IC, 1)), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				row := w[r*IC : (r+1)*IC]
				var m float32
				for _, v := range row {
					m = max(m, abs32(v))
				}
				q.Absmax[r] = m
				if m == 0 {
					continue
				}
				s := 127 / float64(m)
				for i, v := range row {
					q.Q[r*IC+i] = byte(int8(math.RoundToEven(float64(v) * s)))
				}
			}
		})
	case WeightNF4, WeightFP4:
		nb := (n + QBlock - 1) / QBlock
		q.Q = hugepage.Bytes((n + 1) / 2)
		absmax := make([]float32, nb)
		enc := encode4[dt]
		// Blocks are independent (QBlock is even, so no byte is shared by
		// two blocks): loading quantises on every core.
		tensor.ParallelFor(nb, 1024, func(lo, hi int) {
			for b := lo; b < hi; b++ {
				blk := w[b*QBlock : min(n, (b+1)*QBlock)]
				var m float32
				for _, v := range blk {
					m = max(m, abs32(v))
				}
				absmax[b] = m
				inv := float32(0)
				if m > 0 {
					inv = 1 / m
				}
				for i, v := range blk {
					c := enc.code(v * inv)
					j := b*QBlock + i
					if j%2 == 0 {
						q.Q[j/2] |= c << 4
					} else {
						q.Q[j/2] |= c
					}
				}
			}
		})
		if doubleQuant {
			q.QAbsmax, q.Absmax2, q.AbsmaxOffset = quantizeAbsmax(absmax)
		} else {
			q.Absmax = absmax
		}
	default:
		panic("nn.QuantizeWeight: dtype " + dt.String())
	}
	return q
}

func abs32(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }

// quantizeAbsmax is QLoRA's double quantisation of the block scales: the
// mean is subtracted, then blocks of QBlock2 are scaled by their absmax and
// stored as the nearest entry of the signed dynamic code.
func quantizeAbsmax(absmax []float32) (codes []uint8, scale []float32, offset float32) {
	var sum float64
	for _, a := range absmax {
		sum += float64(a)
	}
	offset = float32(sum / float64(len(absmax)))
	codes = make([]uint8, len(absmax))
	scale = make([]float32, (len(absmax)+QBlock2-1)/QBlock2)
	for b := range scale {
		blk := absmax[b*QBlock2 : min(len(absmax), (b+1)*QBlock2)]
		var m float32
		for _, a := range blk {
			m = max(m, abs32(a-offset))
		}
		scale[b] = m
		inv := float32(0)
		if m > 0 {
			inv = 1 / m
		}
		for i, a := range blk {
			codes[b*QBlock2+i] = dynEncode.code((a - offset) * inv)
		}
	}
	return codes, scale, offset
}

// blockAbsmax returns the 4-bit block b's absmax as the kernels use it.
func (q *QWeight) blockAbsmax(b int) float32 {
	if q.Absmax != nil {
		return q.Absmax[b]
	}
	return DynamicCode[q.QAbsmax[b]]*q.Absmax2[b/QBlock2] + q.AbsmaxOffset
}

// Dequantize writes elements [lo,hi) of the flattened weight to dst[:hi-lo]
// as f32: exactly the values the kernels multiply by.
func (q *QWeight) Dequantize(dst []float32, lo, hi int) {
	dst = dst[:hi-lo]
	switch q.DType {
	case WeightF32:
		copy(dst, q.F32[lo:hi])
	case WeightBF16:
		widenBF16(dst, q.U16[lo:hi])
	case WeightF16:
		widenF16(dst, q.U16[lo:hi])
	case WeightInt8:
		for r := lo / q.IC; r*q.IC < hi; r++ {
			a, b := max(lo, r*q.IC), min(hi, (r+1)*q.IC)
			dequantInt8(dst[a-lo:b-lo], q.Q[a:b], q.Absmax[r]/127)
		}
	case WeightNF4, WeightFP4:
		lv := levels4[q.DType]
		for b := lo / QBlock; b*QBlock < hi; b++ {
			a, e := max(lo, b*QBlock), min(hi, (b+1)*QBlock)
			dequant4(dst[a-lo:e-lo], q.Q, a, lv, q.blockAbsmax(b))
		}
	}
}

// dequant4Go sets dst[i] = lv[code of element start+i]·s.
func dequant4Go(dst []float32, packed []byte, start int, lv *[16]float32, s float32) {
	for i := range dst {
		j := start + i
		c := packed[j/2]
		if j%2 == 0 {
			c >>= 4
		}
		dst[i] = lv[c&15] * s
	}
}

func dequantInt8Go(dst []float32, q []byte, s float32) {
	for i, v := range q[:len(dst)] {
		dst[i] = float32(int8(v)) * s
	}
}

func widenBF16Go(dst []float32, src []uint16) { FromBF16(dst, src) }

func widenF16Go(dst []float32, src []uint16) {
	for i, h := range src[:len(dst)] {
		dst[i] = checkpoint.F16ToF32(h)
	}
}

// NF4Levels are QLoRA's NormalFloat4 levels as bitsandbytes ships them
// (functional.py get_4bit_type("nf4")): quantiles of N(0,1), scaled to
// [-1,1], with an exact zero.
var NF4Levels = [16]float32{
	-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
	-0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
	0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
	0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
}

// FP4Levels are bitsandbytes' FP4 levels by code (sign bit 8; the CUDA
// kernels' dDequantizeFP4Tree): an e2m1 float scaled so its largest is 1.
var FP4Levels = [16]float32{
	0, 0.005208333333, 0.66666667, 1.0, 0.33333333, 0.5, 0.16666667, 0.25,
	0, -0.005208333333, -0.66666667, -1.0, -0.33333333, -0.5, -0.16666667, -0.25,
}

var levels4 = map[WeightDType]*[16]float32{WeightNF4: &NF4Levels, WeightFP4: &FP4Levels}

// DynamicCode is bitsandbytes' signed 8-bit dynamic code
// (create_dynamic_map(signed=True)), the double quantisation's levels: for
// each of 7 decades 10^(i-6), 2^i evenly spaced magnitudes between 0.1 and 1
// (the midpoints of linspace(0.1, 1, 2^i+1)) of both signs, plus 0 and 1;
// sorted.
var DynamicCode = func() [256]float32 {
	var d []float64
	for i := 0; i < 7; i++ {
		k := 1 << i
		for j := 0; j < k; j++ {
			lo := 0.1 + 0.9*float64(j)/float64(k)
			hi := 0.1 + 0.9*float64(j+1)/float64(k)
			v := math.Pow(10, float64(i-6)) * (lo + hi) / 2
			d = append(d, v, -v)
		}
	}
	d = append(d, 0, 1)
	var out [256]float32
	sortFloat64s(d)
	for i, v := range d {
		out[i] = float32(v)
	}
	return out
}()

func sortFloat64s(d []float64) {
	for i := 1; i < len(d); i++ {
		for j := i; j > 0 && d[j] < d[j-1]; j-- {
			d[j], d[j-1] = d[j-1], d[j]
		}
	}
}

// encoder finds the nearest level: levels sorted ascending with their codes,
// and the midpoints between neighbours.
type encoder struct {
	sorted []float32
	codes  []uint8
	mids   []float32
}

func newEncoder(levels []float32) *encoder {
	e := &encoder{}
	idx := make([]int, 0, len(levels))
	seen := map[float32]bool{}
	for i, v := range levels {
		if v == 0 && math.Signbit(float64(v)) || seen[v] { // FP4's -0 duplicates 0
			continue
		}
		seen[v] = true
		idx = append(idx, i)
	}
	for i := 1; i < len(idx); i++ {
		for j := i; j > 0 && levels[idx[j]] < levels[idx[j-1]]; j-- {
			idx[j], idx[j-1] = idx[j-1], idx[j]
		}
	}
	for _, i := range idx {
		e.sorted = append(e.sorted, levels[i])
		e.codes = append(e.codes, uint8(i))
	}
	for i := 1; i < len(e.sorted); i++ {
		e.mids = append(e.mids, (e.sorted[i-1]+e.sorted[i])/2)
	}
	return e
}

// code returns the code of the level nearest x (a tie goes to the lower
// level).
func (e *encoder) code(x float32) uint8 {
	// The first mid >= x, as the number of mids below it (they ascend),
	// counted without branches: m < x exactly when m−x is negative (the
	// sign of a float difference is exact, and no mid is zero). A binary
	// search mispredicted about every other branch on weights, most of a
	// 4-bit load's time.
	if x != x {
		return e.codes[0] // NaN, where the search ended
	}
	n := uint32(0)
	for _, m := range e.mids {
		n += math.Float32bits(m-x) >> 31
	}
	return e.codes[n]
}

var (
	encode4   = map[WeightDType]*encoder{WeightNF4: newEncoder(NF4Levels[:]), WeightFP4: newEncoder(FP4Levels[:])}
	dynEncode = newEncoder(DynamicCode[:])
)

// BytesAsUint16 views b (little-endian 16-bit values, as safetensors stores
// them) as []uint16 without copying.
func BytesAsUint16(b []byte) []uint16 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*uint16)(unsafe.Pointer(&b[0])), len(b)/2)
}
