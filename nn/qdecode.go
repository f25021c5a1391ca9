package nn

// Decoding with 8-bit and 4-bit weights. At batch 1 a Linear is bound by
// streaming its weight from memory, so a compact weight should cost its own
// bytes, not an f32 tile's: the kernels here (qdecode_amd64.s) read the
// int8 or packed 4-bit rows and dequantise them in registers, never into
// memory. Where they do not apply (no AVX-512, an in-width that is not a
// whole number of 4-bit blocks, int8 at several rows) linearQTiles
// dequantises four rows at a time into an L1 tile and runs the f32 dot
// tiles.
//
// Numerics, both against the f32 kernels on the dequantised weight
// (QWeight.Dequantize):
//   - int8: bit-identical. Each weight is converted and scaled as
//     dequantInt8 does and summed in dot1x4AVX512's order, so a row's
//     result is the same at one input row (fused) and at several (tiles).
//   - 4-bit: the same products (the level table is scaled by the block's
//     absmax, which is dequant4's multiply), summed in a different order:
//     per 32 elements the even ones and the odd ones in two accumulators.
//     Every row count takes this kernel, so a row's result still does not
//     depend on the batch; the difference from the f32 path is f32 rounding
//     of a reordered sum (≤ ~K·2⁻²⁴·Σ|x·w| in the worst case).

// qFusedOn switches the fused kernels (tests turn it off to compare with
// the tile path).
var qFusedOn = haveDecodeAsm

// qChunkGroups is how many groups of four 4-bit rows qDotRows dots with
// every input row before moving on: 32 rows of a 4864-wide weight are 78 KB,
// which stay in L2 while the input rows go by.
const qChunkGroups = 8

// qFused reports whether LinearDecodeMany computes w's product at N input
// rows with the fused kernels.
func qFused(w *QWeight, N int) bool {
	if !qFusedOn || N > DecodeMaxRows || N < 1 {
		return false
	}
	switch w.DType {
	case WeightInt8:
		// At several rows the dequantised tiles are as exact (dotTiles' rows
		// equal dot1x4AVX512's) and amortise the conversion over the rows.
		return N == 1 && w.IC >= 16
	case WeightNF4, WeightFP4:
		return w.IC%QBlock == 0
	}
	return false
}

// permuteQ4 writes x (n a multiple of 32) to dst in the order
// dot1x4Q4AVX512 reads it: per 32 elements, the 16 even ones, then the 16
// odd ones, matching the codes' high and low nibbles.
func permuteQ4(dst, x []float32, n int) {
	for c := 0; c+32 <= n; c += 32 {
		s, d := x[c:c+32:c+32], dst[c:c+32:c+32]
		for i := 0; i < 16; i++ {
			d[i] = s[2*i]
			d[16+i] = s[2*i+1]
		}
	}
}

// qDotRows sets out[i*ldo+j] = inp[i*IC:][:IC]·(row j of w, dequantised)
// for rows j0 <= j < j1 (j0 a multiple of 4) and i < N, with the fused
// kernels (qFused(w, N) must hold). xp is inp permuted by permuteQ4 (4-bit
// only). Rows past the last whole group of four are dequantised and dotted
// in Go, as dotRows does with its last partial group.
func qDotRows(out []float32, ldo int, inp, xp []float32, N int, w *QWeight, j0, j1 int) {
	IC := w.IC
	n4 := (j1 - j0) &^ 3
	nb := IC / QBlock
	tp := getTile(IC + 4*qChunkGroups*nb)
	defer qTilePool.Put(tp)
	buf, am := (*tp)[:IC], (*tp)[IC:]
	switch w.DType {
	case WeightInt8:
		k16 := IC &^ 15
		if n4 > 0 {
			dot1x4Int8AVX512(k16, &inp[0], &w.Q[j0*IC], IC, n4/4, &w.Absmax[j0], &out[j0])
		}
		if k16 < IC {
			for j := j0; j < j0+n4; j++ {
				t := buf[:IC-k16]
				w.Dequantize(t, j*IC+k16, (j+1)*IC)
				out[j] += dotGo(inp[k16:IC], t)
			}
		}
	default:
		lv := levels4[w.DType]
		for g0 := j0; g0 < j0+n4; g0 += 4 * qChunkGroups {
			g1 := min(j0+n4, g0+4*qChunkGroups)
			var ap *float32
			if w.Absmax != nil {
				ap = &w.Absmax[g0*nb]
			} else {
				a := am[:(g1-g0)*nb]
				for i := range a {
					a[i] = w.blockAbsmax(g0*nb + i)
				}
				ap = &a[0]
			}
			for i := 0; i < N; i++ {
				dot1x4Q4AVX512(IC, &xp[i*IC], &w.Q[g0*IC/2], IC/2, (g1-g0)/4, ap, nb, lv, &out[i*ldo+g0])
			}
		}
	}
	for j := j0 + n4; j < j1; j++ {
		w.Dequantize(buf, j*IC, (j+1)*IC)
		for i := 0; i < N; i++ {
			out[i*ldo+j] = dotGo(inp[i*IC:(i+1)*IC], buf)
		}
	}
}
