package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/align-go/align/checkpoint"
)

// The quantisers below follow ggml-quants.c's quantize_row_*_ref functions
// operation for operation, in float32 and without fused multiply-adds (every
// product that feeds a sum or a rounding is converted to float32 explicitly,
// which Go's spec says prevents fusion), so the blocks match llama-quantize's
// output for the same float input. fp16 scales round to nearest even, as
// GGML_FP32_TO_FP16 does.

func f16(f float32) uint16       { return checkpoint.F32ToF16(f) }
func f16f(h uint16) float32      { return checkpoint.F16ToF32(h) }
func putF16(b []byte, f float32) { binary.LittleEndian.PutUint16(b, f16(f)) }
func getF16(b []byte) float32    { return f16f(binary.LittleEndian.Uint16(b)) }

// nearestInt is ggml's nearest_int: round to nearest, ties to even, through
// the float32 magic-number trick (valid for |f| <= 2^22).
func nearestInt(f float32) int {
	v := f + 12582912
	i := int32(math.Float32bits(v))
	return int((i & 0x007fffff) - 0x00400000)
}

type quantizer func(dst []byte, x []float32)
type dequantizer func(dst []float32, b []byte)

var quantizers = map[Type]quantizer{
	Q8_0: quantQ8_0, Q4_0: quantQ4_0, Q5_0: quantQ5_0, Q5_1: quantQ5_1,
	Q4_K: quantQ4_K, Q5_K: quantQ5_K, Q6_K: quantQ6_K,
}

var dequantizers = map[Type]dequantizer{
	Q8_0: dequantQ8_0, Q4_0: dequantQ4_0, Q5_0: dequantQ5_0, Q5_1: dequantQ5_1,
	Q4_K: dequantQ4_K, Q5_K: dequantQ5_K, Q6_K: dequantQ6_K,
}

// Encode converts float32 values, in rows of rowLen, to typ's encoding.
func Encode(typ Type, x []float32, rowLen int) ([]byte, error) {
	if rowLen <= 0 || len(x)%rowLen != 0 {
		return nil, fmt.Errorf("%d values are not whole rows of %d", len(x), rowLen)
	}
	rb, err := RowBytes(typ, rowLen)
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(x)/rowLen*rb)
	switch typ {
	case F32:
		for i, v := range x {
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
		}
		return out, nil
	case F16:
		for i, v := range x {
			binary.LittleEndian.PutUint16(out[2*i:], checkpoint.F32ToF16(v))
		}
		return out, nil
	case BF16:
		for i, v := range x {
			binary.LittleEndian.PutUint16(out[2*i:], checkpoint.F32ToBF16(v))
		}
		return out, nil
	}
	q, ok := quantizers[typ]
	if !ok {
		return nil, fmt.Errorf("no quantiser for %s", typ)
	}
	bs, ts := typ.BlockSize(), typ.TypeSize()
	parallelBlocks(len(x)/bs, func(b0, b1 int) {
		for b := b0; b < b1; b++ {
			q(out[b*ts:(b+1)*ts], x[b*bs:(b+1)*bs])
		}
	})
	return out, nil
}

// Decode converts n values of typ's encoding in b to float32.
func Decode(typ Type, b []byte, n int) ([]float32, error) {
	if !typ.Known() {
		return nil, fmt.Errorf("unknown ggml type %d", uint32(typ))
	}
	bs, ts := typ.BlockSize(), typ.TypeSize()
	if n%bs != 0 || len(b) != n/bs*ts {
		return nil, fmt.Errorf("%s: %d bytes do not hold %d values", typ, len(b), n)
	}
	out := make([]float32, n)
	switch typ {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return out, nil
	case F16:
		for i := range out {
			out[i] = checkpoint.F16ToF32(binary.LittleEndian.Uint16(b[2*i:]))
		}
		return out, nil
	case BF16:
		for i := range out {
			out[i] = checkpoint.BF16ToF32(binary.LittleEndian.Uint16(b[2*i:]))
		}
		return out, nil
	}
	d, ok := dequantizers[typ]
	if !ok {
		return nil, fmt.Errorf("no dequantiser for %s", typ)
	}
	for i := 0; i < n/bs; i++ {
		d(out[i*bs:(i+1)*bs], b[i*ts:(i+1)*ts])
	}
	return out, nil
}

// parallelBlocks splits [0,n) across the CPUs: quantising a large model's
// k-quants is a few hundred milliseconds per million values on one core.
func parallelBlocks(n int, fn func(b0, b1 int)) {
	w := min(runtime.GOMAXPROCS(0), max(1, n/64))
	if w <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	per := (n + w - 1) / w
	for b0 := 0; b0 < n; b0 += per {
		wg.Add(1)
		go func(b0, b1 int) {
			defer wg.Done()
			fn(b0, b1)
		}(b0, min(n, b0+per))
	}
	wg.Wait()
}

// quantQ8_0 is quantize_row_q8_0_ref for one block of 32: d = amax/127,
// q = round(x/d) (half away from zero).
func quantQ8_0(dst []byte, x []float32) {
	var amax float32
	for _, v := range x {
		amax = max(amax, abs32(v))
	}
	d := amax / 127
	var id float32
	if d != 0 {
		id = 1 / d
	}
	putF16(dst, d)
	for j, v := range x {
		dst[2+j] = byte(int8(math.Round(float64(float32(v * id)))))
	}
}

func dequantQ8_0(y []float32, b []byte) {
	d := getF16(b)
	for j := range 32 {
		y[j] = float32(int8(b[2+j])) * d
	}
}

// absMaxSigned returns the value of largest magnitude, sign kept (first one
// wins a tie), as the Q4_0/Q5_0 reference picks it.
func absMaxSigned(x []float32) float32 {
	var amax, m float32
	for _, v := range x {
		if amax < abs32(v) {
			amax, m = abs32(v), v
		}
	}
	return m
}

// quantQ4_0 is quantize_row_q4_0_ref: d = max/-8 with max the signed value of
// largest magnitude, q = min(15, trunc(x/d + 8.5)); element j in the low
// nibble of byte j, element j+16 in its high nibble.
func quantQ4_0(dst []byte, x []float32) {
	d := absMaxSigned(x) / -8
	var id float32
	if d != 0 {
		id = 1 / d
	}
	putF16(dst, d)
	for j := range 16 {
		x0 := float32(x[j] * id)
		x1 := float32(x[j+16] * id)
		q0 := min(15, uint8(int8(x0+8.5)))
		q1 := min(15, uint8(int8(x1+8.5)))
		dst[2+j] = q0 | q1<<4
	}
}

func dequantQ4_0(y []float32, b []byte) {
	d := getF16(b)
	for j := range 16 {
		y[j] = float32(int(b[2+j]&0xf)-8) * d
		y[j+16] = float32(int(b[2+j]>>4)-8) * d
	}
}

// quantQ5_0 is quantize_row_q5_0_ref: as Q4_0 with 5 bits (d = max/-16), the
// fifth bits gathered into a little-endian uint32 after the scale.
func quantQ5_0(dst []byte, x []float32) {
	d := absMaxSigned(x) / -16
	var id float32
	if d != 0 {
		id = 1 / d
	}
	putF16(dst, d)
	var qh uint32
	for j := range 16 {
		x0 := float32(x[j] * id)
		x1 := float32(x[j+16] * id)
		q0 := min(31, uint8(int8(x0+16.5)))
		q1 := min(31, uint8(int8(x1+16.5)))
		dst[6+j] = q0&0xf | (q1&0xf)<<4
		qh |= uint32(q0>>4&1) << j
		qh |= uint32(q1>>4&1) << (j + 16)
	}
	binary.LittleEndian.PutUint32(dst[2:], qh)
}

func dequantQ5_0(y []float32, b []byte) {
	d := getF16(b)
	qh := binary.LittleEndian.Uint32(b[2:])
	for j := range 16 {
		h0 := byte(qh>>j) & 1 << 4
		h1 := byte(qh>>(j+16)) & 1 << 4
		y[j] = float32(int(b[6+j]&0xf|h0)-16) * d
		y[j+16] = float32(int(b[6+j]>>4|h1)-16) * d
	}
}

// quantQ5_1 is quantize_row_q5_1_ref: d = (max-min)/31, m = min,
// q = trunc((x-min)/d + 0.5).
func quantQ5_1(dst []byte, x []float32) {
	mn, mx := float32(math.MaxFloat32), float32(-math.MaxFloat32)
	for _, v := range x {
		mn, mx = min(mn, v), max(mx, v)
	}
	d := (mx - mn) / 31
	var id float32
	if d != 0 {
		id = 1 / d
	}
	putF16(dst, d)
	putF16(dst[2:], mn)
	var qh uint32
	for j := range 16 {
		x0 := float32((x[j] - mn) * id)
		x1 := float32((x[j+16] - mn) * id)
		q0 := uint8(x0 + 0.5)
		q1 := uint8(x1 + 0.5)
		dst[8+j] = q0&0xf | (q1&0xf)<<4
		qh |= uint32(q0>>4&1) << j
		qh |= uint32(q1>>4&1) << (j + 16)
	}
	binary.LittleEndian.PutUint32(dst[4:], qh)
}

func dequantQ5_1(y []float32, b []byte) {
	d, m := getF16(b), getF16(b[2:])
	qh := binary.LittleEndian.Uint32(b[4:])
	for j := range 16 {
		h0 := byte(qh>>j) & 1 << 4
		h1 := byte(qh>>(j+16)) & 1 << 4
		y[j] = float32(int(b[8+j]&0xf|h0))*d + m
		y[j+16] = float32(int(b[8+j]>>4|h1))*d + m
	}
}

func abs32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) }
