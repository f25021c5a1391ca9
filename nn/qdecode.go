package nn

// Decoding with 8-bit and 4-bit weights. At batch 1 a Linear is bound by
// streaming its weight from memory, so a compact weight should cost its own
// bytes, not an f32 tile's: the kernels here (qdecode_amd64.s) read the
// int8 or packed 4-bit rows and dequantise them in registers, never into
// memory. Where they do not apply (several input rows, no AVX-512 or, for
// 4-bit, no AVX512_VBMI, a 4-bit in-width that is not a whole number of
// blocks) linearQTiles
// dequantises four rows at a time into an L1 tile and runs the f32 dot
// tiles.
//
// Both kernels are bit-identical to the f32 kernels on the dequantised
// weight (QWeight.Dequantize): each weight is converted and scaled exactly
// as the dequantisers do (int8: q·(absmax/127); 4-bit: the level table
// times the block's absmax, then looked up) and summed in dot1x4AVX512's
// order and reduction tree. So a row's result is the same at one input row
// (fused) and at several (the dequantising tiles, which amortise the
// conversion over the rows), and 8/4-bit decoding gives exactly what the
// f32 model holding the dequantised weights gives.

// qFusedOn switches the fused kernels (tests turn it off to compare with
// the tile path).
var qFusedOn = haveDecodeAsm

// qChunkGroups is how many groups of four rows of a double-quantised 4-bit
// weight have their block absmaxes decoded at once (into a small scratch).
const qChunkGroups = 8

// qFused reports whether LinearDecodeMany computes w's product at N input
// rows with the fused kernels: one row (at several, the tiles are as exact
// and dequantise each weight once for all the rows).
func qFused(w *QWeight, N int) bool {
	if !qFusedOn || N != 1 {
		return false
	}
	switch w.DType {
	case WeightInt8:
		return w.IC >= 16
	case WeightNF4, WeightFP4:
		return haveQ4Asm && w.IC%QBlock == 0
	}
	return false
}

// q4Consts are dot1x4Q4VBMI's VPERMB indices (for each 16 elements of a
// 64-element block, lane j takes byte 8c + j/2 of the block's 32) and its
// shift counts (4 in even lanes: their code is the byte's high nibble).
var q4Consts = func() (c [320]byte) {
	for ch := 0; ch < 4; ch++ {
		for j := 0; j < 16; j++ {
			for b := 0; b < 4; b++ {
				c[64*ch+4*j+b] = byte(8*ch + j/2)
			}
		}
	}
	for j := 0; j < 16; j += 2 {
		c[256+4*j] = 4
	}
	return c
}()

// qDotRows sets out[j] = inp[:IC]·(row j of w, dequantised) for rows
// j0 <= j < j1 (j0 a multiple of 4) with the fused kernels (qFused(w, 1)
// must hold). The k tail (int8 in-widths that are not a multiple of 16) and
// the rows past the last whole group of four are dequantised and dotted in
// Go, exactly as dotRows treats them.
func qDotRows(out, inp []float32, w *QWeight, j0, j1 int) {
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
			dot1x4Q4VBMI(IC, &inp[0], &w.Q[g0*IC/2], IC/2, (g1-g0)/4, ap, nb, lv, &q4Consts, &out[g0])
		}
	}
	for j := j0 + n4; j < j1; j++ {
		w.Dequantize(buf, j*IC, (j+1)*IC)
		out[j] = dotGo(inp[:IC], buf)
	}
}
