package nn

import (
	"math"
	"unsafe"
)

// Int8 weights times int8 activations, the way llama.cpp decodes its q8_0
// files: at one input row the row is quantised once per Linear call to
// int8 in blocks of 64 (absmax scaling, d = absmax/127, round to nearest
// even), and each weight row is dotted with it in integers (AVX512_VNNI's
// VPDPBUSD: four byte products summed into an int32 lane in one
// instruction, against eleven f32 instructions for the same 16 weights on
// the exact path), with one f32 multiply-add per block and lane and the
// row's weight scale applied once at the end. The integer sums are exact;
// what changes is the input, rounded to 8 bits per block of 64 (a relative
// error of at most 1/254 of the block's absmax per element, the same order
// as the weight's own int8 rounding).
//
// It is opt-in (QWeight.Int8Act; model.LoadOptions.Int8Activations;
// --int8-activations): the default 8-bit decoding is bit-identical to the
// f32 model holding the dequantised weights, and a row's result does not
// depend on how many rows are decoded together. This path applies at one
// input row only (the dequantising tiles take several), so with it a
// sequence decoded alone and the same sequence batched with others (align
// serve under concurrent load) may differ in the last bits of their
// logits. It needs AVX512_VNNI and an in-width that is a multiple of 64;
// elsewhere the exact kernels run.

// q8Block is one block of a quantised input row as dot1x4Int8VNNI reads
// it: the codes, −128 times the sum of each four of them (the weights enter
// VPDPBUSD as unsigned w+128), and the scale in all 16 lanes.
type q8Block struct {
	q    [64]int8
	corr [16]int32
	d    [16]float32
}

// q8Width is the quantisation block of the input row.
const q8Width = 64

// q8On reports whether w's product at one input row takes the
// int8-activation kernel.
func q8On(w *QWeight) bool {
	return w.Int8Act && w.DType == WeightInt8 && haveVNNIAsm && qFusedOn && w.IC%q8Width == 0
}

// quantizeAct quantises x (len(xa)·64 values) into xa. It runs serially
// before each int8-activation region (the other core idles meanwhile), so
// it is assembly where the kernel runs (quantizeActAVX512: 0.74 µs for a
// 4,864-wide row, 0.14 µs for 896; the Go form below 9.4 and 1.8 µs, which
// was ~0.35 ms of serial work per Qwen2.5-0.5B token). The Go form takes
// the absmax as the largest of the magnitudes' bits (the same order as the
// values; a NaN's bits exceed +Inf's, so a NaN still makes the block's
// scale NaN) in four independent chains, with fixed-size arrays so no
// index is bounds-checked.
func quantizeAct(xa []q8Block, x []float32) {
	if haveVNNIAsm && len(xa) > 0 && qActAsm {
		_ = x[len(xa)*q8Width-1]
		quantizeActAVX512(&xa[0], &x[0], len(xa))
		return
	}
	quantizeActGo(xa, x)
}

// qActAsm switches quantizeActAVX512 on (tests turn it off to compare).
var qActAsm = true

// quantizeActGo is quantizeAct in Go (the portable path, and what the
// assembly is pinned to).
func quantizeActGo(xa []q8Block, x []float32) {
	for b := range xa {
		blk := (*[q8Width]float32)(x[b*q8Width : (b+1)*q8Width])
		var m0, m1, m2, m3 uint32 // four chains: a compare-and-move each
		for i := 0; i < q8Width; i += 4 {
			m0 = max(m0, math.Float32bits(blk[i])&^(1<<31))
			m1 = max(m1, math.Float32bits(blk[i+1])&^(1<<31))
			m2 = max(m2, math.Float32bits(blk[i+2])&^(1<<31))
			m3 = max(m3, math.Float32bits(blk[i+3])&^(1<<31))
		}
		m := math.Float32frombits(max(m0, m1, m2, m3))
		a := &xa[b]
		d, inv := m/127, float32(0)
		if m > 0 && m <= math.MaxFloat32 {
			inv = 127 / m
		}
		if inv == 0 { // all zero, or x holds Inf or NaN (then so does d)
			clear(a.q[:])
		} else {
			for i, v := range blk {
				// Round to nearest even by adding and taking away 1.5·2²³
				// (|t| <= 127); the conversions keep the compiler from
				// fusing the multiply into the add.
				t := float32(v * inv)
				t = float32(t+0xc00000) - 0xc00000
				a.q[i] = int8(max(-127, min(127, int32(t))))
			}
		}
		for l := range a.corr {
			a.corr[l] = -128 * (int32(a.q[4*l]) + int32(a.q[4*l+1]) + int32(a.q[4*l+2]) + int32(a.q[4*l+3]))
			a.d[l] = d
		}
	}
}

// q8DotRows sets out[j] for rows j0 <= j < j1 (j0 a multiple of 4) of the
// int8 weight w from the quantised input row xa with dot1x4Int8VNNI. The
// rows past the last whole group of four are copied, zero-padded, into a
// group of their own, so every row takes the same kernel.
func q8DotRows(out []float32, xa []q8Block, w *QWeight, j0, j1 int) {
	IC := w.IC
	n4 := (j1 - j0) &^ 3
	if n4 > 0 {
		dot1x4Int8VNNI(IC, &xa[0], &w.Q[j0*IC], IC, n4/4, &w.Absmax[j0], &out[j0])
	}
	if r := j1 - j0 - n4; r > 0 {
		tp := getTile(IC)
		defer qTilePool.Put(tp)
		rows := unsafe.Slice((*byte)(unsafe.Pointer(&(*tp)[0])), 4*IC)
		j := j0 + n4
		clear(rows[copy(rows, w.Q[j*IC:j1*IC]):])
		var am, o [4]float32
		copy(am[:], w.Absmax[j:j1])
		dot1x4Int8VNNI(IC, &xa[0], &rows[0], IC, 1, &am[0], &o[0])
		copy(out[j:j1], o[:r])
	}
}
