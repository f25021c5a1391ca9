package tensor

import (
	"math"
	"sync"
	"sync/atomic"
	"unsafe"
)

// bf16 compute (TRL's --bf16, torch.autocast(bfloat16)'s matmul): a product
// whose operands are rounded to bfloat16 — 8 significant bits, the top half
// of an f32 — and whose products are summed in f32. Two ways to run it:
//
//   - VDPBF16PS (AVX512_BF16: Zen 4/5, Sapphire Rapids and later): each
//     instruction multiplies 32 bf16 pairs and adds them into 16 f32 lanes,
//     twice the products of an f32 FMA; operands are half the bytes. A is
//     converted to bf16 once per call, B packed in bf16 pairs a block at a
//     time (gemmBF16DP below).
//   - Conversion (any other CPU): the operands rounded to bf16 and widened
//     back into f32 copies, a panel of B at a time, multiplied by the f32
//     kernels (AVX-512, AVX2 or Go). Same numbers as bf16 hardware up to the
//     order of the f32 sums, no faster than f32: it exists so that --bf16
//     means the same arithmetic everywhere.
//
// A B operand already held in bf16 (a frozen weight loaded as bfloat16) is
// read directly by both: packed a block at a time, never widened whole.

// Prec is the arithmetic a matrix product runs in.
type Prec uint8

const (
	F32  Prec = iota // f32 operands and sums
	BF16             // operands rounded to bfloat16, products summed in f32
)

func (p Prec) String() string {
	if p == BF16 {
		return "bf16"
	}
	return "f32"
}

// GemmPrec is Gemm at precision p: F32 is Gemm itself; BF16 rounds every
// element of A and B to bfloat16 (to nearest, ties to even; denormals to
// zero, as the hardware conversion does) and sums the products in float32.
// C and its accumulation stay f32.
func GemmPrec(p Prec, transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, acc bool) {
	gemmPrec(p, transA, transB, m, n, k, a, lda, b, ldb, c, ldc, acc, true)
}

// GemmPrecSerial is GemmPrec on the calling goroutine only (GemmSerial's
// counterpart, for callers that parallelise at a higher level, as attention
// does over heads).
func GemmPrecSerial(p Prec, transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, acc bool) {
	gemmPrec(p, transA, transB, m, n, k, a, lda, b, ldb, c, ldc, acc, false)
}

func gemmPrec(p Prec, transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, acc, parallel bool) {
	if p == F32 {
		gemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, acc, parallel)
		return
	}
	checkGemm(transA, transB, m, n, k, a, lda, len(b), ldb, c, ldc)
	g := bf16Args{transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, bf: b, ldb: ldb, c: c, ldc: ldc, acc: acc, serial: !parallel}
	g.run()
}

// GemmBF16Bits is GemmPrec(BF16, …) with B given as bfloat16 bits (a frozen
// weight kept as the checkpoint stores it). B is read a block at a time;
// no f32 copy of it is made.
func GemmBF16Bits(transA, transB bool, m, n, k int, a []float32, lda int, b []uint16, ldb int, c []float32, ldc int, acc bool) {
	checkGemm(transA, transB, m, n, k, a, lda, len(b), ldb, c, ldc)
	g := bf16Args{transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, bu: b, ldb: ldb, c: c, ldc: ldc, acc: acc}
	g.run()
}

// RoundBF16 is f rounded to bfloat16 (to nearest, ties to even; NaN stays
// NaN; denormals become zero of their sign, as VCVTNE2PS2BF16 makes them),
// as its bits. It must match ToBF16's vector body, so checkpoints, which must
// match torch's rounding of denormals, use checkpoint.F32ToBF16 instead.
func RoundBF16(f float32) uint16 {
	b := math.Float32bits(f)
	switch e := b & 0x7f800000; {
	case b&0x7fffffff > 0x7f800000:
		return uint16(b>>16) | 0x40 // quiet NaN
	case e == 0:
		return uint16(b>>16) & 0x8000
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// ToBF16 sets dst[i] = RoundBF16(src[i]); len(dst) >= len(src).
func ToBF16(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	n := 0
	if haveBF16DP {
		n = len(src) &^ 31
		if n > 0 {
			toBF16Asm(n, &src[0], &dst[0])
		}
	}
	for i := n; i < len(src); i++ {
		dst[i] = RoundBF16(src[i])
	}
}

func widenBF16(b uint16) float32 { return math.Float32frombits(uint32(b) << 16) }

// bf16UseDP selects the VDPBF16PS path (tests switch it off to run the
// conversion path on the f32 implementations).
var bf16UseDP = haveBF16DP

// bf16Path names the path GemmPrec(BF16) takes: "vdpbf16ps" or "convert".
func bf16Path() string {
	if bf16UseDP {
		return "vdpbf16ps"
	}
	return "convert"
}

type bf16Args struct {
	transA, transB bool
	m, n, k        int
	a              []float32
	lda            int
	bf             []float32 // B as f32, or
	bu             []uint16  // B as bf16 bits
	ldb            int
	c              []float32
	ldc            int
	acc            bool
	serial         bool // on the calling goroutine only (GemmPrecSerial)
}

// parallelFor is ParallelFor, or one call of fn on the calling goroutine
// for a serial product.
func (g *bf16Args) parallelFor(n, minChunk int, fn func(lo, hi int)) {
	if g.serial {
		fn(0, n)
		return
	}
	ParallelFor(n, minChunk, fn)
}

func (g *bf16Args) run() {
	if g.m == 0 || g.n == 0 {
		return
	}
	if g.k == 0 {
		if !g.acc {
			for i := 0; i < g.m; i++ {
				clear(g.c[i*g.ldc : i*g.ldc+g.n])
			}
		}
		return
	}
	if bf16UseDP {
		g.runDP()
	} else {
		g.runConvert()
	}
}

// bElem is op(B)'s element (p, j) rounded to bf16.
func (g *bf16Args) bElem(p, j int) uint16 {
	i := p*g.ldb + j
	if g.transB {
		i = j*g.ldb + p
	}
	if g.bu != nil {
		return g.bu[i]
	}
	return RoundBF16(g.bf[i])
}

// f32 scratch for the conversion path, pooled so that steady-state training
// does not allocate.
var (
	f32Pool = sync.Pool{New: func() any { return new([]float32) }}
	u16Pool = sync.Pool{New: func() any { return new([]uint16) }}
)

func getF32(n int) *[]float32 {
	p := f32Pool.Get().(*[]float32)
	if cap(*p) < n {
		*p = make([]float32, n)
	}
	*p = (*p)[:n]
	return p
}

func getU16(n int) *[]uint16 {
	p := u16Pool.Get().(*[]uint16)
	if cap(*p) < n {
		*p = make([]uint16, n)
	}
	*p = (*p)[:n]
	return p
}

// convPanelFloats bounds the conversion path's rounded B panel (4 MB).
const convPanelFloats = 1 << 20

// runConvert rounds A whole and B a panel of columns at a time into f32
// copies and multiplies them with the f32 Gemm.
func (g *bf16Args) runConvert() {
	m, n, k := g.m, g.n, g.k
	rows, cols := m, k
	if g.transA {
		rows, cols = k, m
	}
	ap := getF32(rows * cols)
	defer f32Pool.Put(ap)
	ar := *ap
	g.parallelFor(rows, max(1, (1<<14)/cols), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			src, dst := g.a[r*g.lda:r*g.lda+cols], ar[r*cols:(r+1)*cols]
			for j, v := range src {
				dst[j] = widenBF16(RoundBF16(v))
			}
		}
	})
	P := min(n, max(64, convPanelFloats/k))
	bp := getF32(P * k)
	defer f32Pool.Put(bp)
	for j0 := 0; j0 < n; j0 += P {
		w := min(P, n-j0)
		br := (*bp)[:w*k]
		if g.transB { // rows j0.. of B, [w][k]
			g.parallelFor(w, max(1, (1<<14)/k), func(lo, hi int) {
				for j := lo; j < hi; j++ {
					for p := 0; p < k; p++ {
						br[j*k+p] = widenBF16(g.bElem(p, j0+j))
					}
				}
			})
			gemm(g.transA, true, m, w, k, ar, cols, br, k, g.c[j0:], g.ldc, g.acc, !g.serial)
		} else { // columns j0.. of B, [k][w]
			g.parallelFor(k, max(1, (1<<14)/w), func(lo, hi int) {
				for p := lo; p < hi; p++ {
					for j := 0; j < w; j++ {
						br[p*w+j] = widenBF16(g.bElem(p, j0+j))
					}
				}
			})
			gemm(g.transA, false, m, w, k, ar, cols, br, w, g.c[j0:], g.ldc, g.acc, !g.serial)
		}
	}
}

// The VDPBF16PS path follows Gemm's blocking (sgemm.go), in pairs of k:
//
//	A as stored → bf16 once (row-major, k padded to even), read in place;
//	op(A) = Aᵀ → packed once, pairs of rows interleaved (pair q of row r at
//	q·2m + 2r), read in place;
//	jc over NC columns → pq over KQ pairs → pack B[KQ×NC] into NR-wide
//	panels of pairs → ic over MC rows → jr over NR → ir over MR → kernel.
//
// Packed B blocks live in per-goroutine scratch of fixed size.
const (
	bf16MR, bf16NR = 12, 32
	bf16KQ         = 192
	bf16MC         = 480
	bf16NC         = 1024
)

// kernBF16Fn computes one ≤MR×NR tile over kq pairs: C (+)= A·B with A's
// pair q of row i at a + i*rs + q*ps and B a packed panel.
type kernBF16Fn func(kq int, a *uint16, rs, ps int, b *uint16, c *float32, ldc, nr, acc int)

// bf16Scratch is one goroutine's packed block of B.
type bf16Scratch struct{ b []uint16 }

var scratchPool = sync.Pool{New: func() any {
	return &bf16Scratch{b: make([]uint16, bf16KQ*2*bf16NC)}
}}

type bf16Job struct {
	g       *bf16Args
	a16     []uint16 // A converted whole (A as stored), row stride 2kq; nil for Aᵀ
	at      []uint16 // Aᵀ packed whole, block by block (packAT's layout); nil for A as stored
	kq      int
	splitN  bool
	unit    int
	units   int
	threads int
	next    atomic.Int64
}

// a16Free holds the buffers A is converted into. Unlike a sync.Pool it is
// not emptied by the garbage collector: a step of training converts tens
// of MB of activations per product, and fresh memory each time costs a page
// fault per 4 KiB (more than the conversion itself, measured).
var a16Free struct {
	sync.Mutex
	bufs [][]uint16
}

func getA16(n int) []uint16 {
	a16Free.Lock()
	var b []uint16
	if k := len(a16Free.bufs); k > 0 {
		b, a16Free.bufs = a16Free.bufs[k-1], a16Free.bufs[:k-1]
	}
	a16Free.Unlock()
	if cap(b) < n {
		b = make([]uint16, n)
	}
	return b[:n]
}

func putA16(b []uint16) {
	a16Free.Lock()
	a16Free.bufs = append(a16Free.bufs, b)
	a16Free.Unlock()
}

func (g *bf16Args) runDP() {
	j := &bf16Job{g: g, kq: (g.k + 1) / 2, threads: Threads()}
	if g.serial {
		j.threads = 1
	}
	if !g.transA {
		// A as stored is converted once, row by row, and read in place by
		// every chunk of columns (rather than once per chunk: with the LM
		// head's few rows and long k that dominated).
		kp := 2 * j.kq
		j.a16 = getA16(g.m * kp)
		defer putA16(j.a16)
		g.parallelFor(g.m, max(1, (1<<15)/kp), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				ToBF16(j.a16[i*kp:], g.a[i*g.lda:i*g.lda+g.k])
				if g.k < kp {
					j.a16[i*kp+g.k] = 0
				}
			}
		})
	} else {
		// Aᵀ is packed once, its (pairs, rows) blocks side by side in one
		// array (pair q of row r at q·2m + 2r), and read by every chunk of
		// columns. Packed per chunk, as rect
		// used to, it was converted once per chunk: about a dozen times per
		// weight-gradient product at training's shapes, ~7% of a 0.5B
		// full --bf16 step's CPU time.
		j.at = getA16(g.m * 2 * j.kq)
		defer putA16(j.at)
		nq, nc := (j.kq+bf16KQ-1)/bf16KQ, (g.m+bf16MC-1)/bf16MC
		g.parallelFor(nq*nc, 1, func(lo, hi int) {
			for b := lo; b < hi; b++ {
				pq, ic := (b/nc)*bf16KQ, (b%nc)*bf16MC
				g.packAT(j.at[2*(pq*g.m+ic):], 2*g.m, ic, min(bf16MC, g.m-ic), pq, min(bf16KQ, j.kq-pq))
			}
		})
	}
	t := j.threads
	switch {
	case g.m*g.n*g.k < parallelMinFMA || t < 2:
		t, j.unit, j.units, j.splitN = 1, g.n, 1, true
	case g.n >= 2*t*bf16NR || (g.n >= t*bf16NR && g.m < 2*t*bf16MR):
		j.splitN, j.unit = true, bf16NR
		j.units = (g.n + bf16NR - 1) / bf16NR
	case g.m >= 2*t*bf16MR:
		j.unit = bf16MR
		j.units = (g.m + bf16MR - 1) / bf16MR
	default:
		t, j.unit, j.units, j.splitN = 1, g.n, 1, true
	}
	Share(min(t, j.units)-1, j.work)
}

// work claims chunks of C (guided self-scheduling, as gemmJob) until none
// are left.
func (j *bf16Job) work() {
	sc := scratchPool.Get().(*bf16Scratch)
	defer scratchPool.Put(sc)
	g := j.g
	for {
		u := j.next.Load()
		left := int64(j.units) - u
		if left <= 0 {
			return
		}
		size := max(1, left/int64(2*j.threads))
		if !j.next.CompareAndSwap(u, u+size) {
			continue
		}
		lo, hi := int(u)*j.unit, int(u+size)*j.unit
		if j.splitN {
			j.rect(0, g.m, lo, min(hi, g.n), sc)
		} else {
			j.rect(lo, min(hi, g.m), 0, g.n, sc)
		}
	}
}

// rect computes C[i0:i1, j0:j1].
func (j *bf16Job) rect(i0, i1, j0, j1 int, sc *bf16Scratch) {
	g := j.g
	for jc := j0; jc < j1; jc += bf16NC {
		nc := min(bf16NC, j1-jc)
		for pq := 0; pq < j.kq; pq += bf16KQ {
			kcq := min(bf16KQ, j.kq-pq)
			accFlag := 0
			if g.acc || pq > 0 {
				accFlag = 1
			}
			for jr := 0; jr < nc; jr += bf16NR {
				g.packB(sc.b[(jr/bf16NR)*kcq*2*bf16NR:], pq, kcq, jc+jr, min(bf16NR, nc-jr))
			}
			for ic := i0; ic < i1; ic += bf16MC {
				mc := min(bf16MC, i1-ic)
				var ab []uint16
				rs, ps := 2*j.kq, 2
				if g.transA {
					ab, rs, ps = j.at[2*(pq*g.m+ic):], 2, 2*g.m
				} else {
					ab = j.a16[ic*rs+2*pq:]
				}
				for jr := 0; jr < nc; jr += bf16NR {
					w := min(bf16NR, nc-jr)
					bp := &sc.b[(jr/bf16NR)*kcq*2*bf16NR]
					for ir := 0; ir < mc; ir += bf16MR {
						rows := min(bf16MR, mc-ir)
						kernsBF16[rows](kcq, &ab[ir*rs], rs, ps, bp, &g.c[(ic+ir)*g.ldc+jc+jr], g.ldc, w, accFlag)
					}
				}
			}
		}
	}
}

// packAT converts rows i0..i0+mc, pairs pq..pq+kcq, of op(A) = Aᵀ into dst
// (A's rows p hold op(A)'s columns, so pairs of them interleave as B's do),
// pair q's 2·mc values at dst[q*ldd:].
func (g *bf16Args) packAT(dst []uint16, ldd, i0, mc, pq, kcq int) {
	p0, p1 := 2*pq, min(g.k, 2*(pq+kcq))
	full := (p1 - p0) / 2 // pairs with both rows inside k
	c0 := 0
	if haveBF16DP && full > 0 {
		c0 = mc &^ 31
		for c := 0; c < c0; c += 32 {
			packBF16NF32(full, unsafe.Pointer(&g.a[p0*g.lda+i0+c]), g.lda, &dst[2*c], ldd)
		}
	}
	for q := 0; q < kcq; q++ {
		row := dst[q*ldd : q*ldd+2*mc]
		p := p0 + 2*q
		from := c0
		if q >= full {
			from = 0
		}
		for r := from; r < mc; r++ {
			row[2*r] = RoundBF16(g.a[p*g.lda+i0+r])
			if p+1 < g.k {
				row[2*r+1] = RoundBF16(g.a[(p+1)*g.lda+i0+r])
			} else {
				row[2*r+1] = 0
			}
		}
	}
}

// packB writes columns j0..j0+w (w ≤ NR) of op(B), pairs pq..pq+kcq, as
// kcq rows of NR pairs, zero past w and past k.
func (g *bf16Args) packB(dst []uint16, pq, kcq, j0, w int) {
	dst = dst[:kcq*2*bf16NR]
	full := min(kcq, g.k/2-pq) // pairs with both elements inside k
	q0 := 0
	if w == bf16NR && full > 0 {
		q0 = g.packBAsm(dst, pq, full, j0)
	}
	for q := q0; q < kcq; q++ {
		row := dst[q*2*bf16NR : (q+1)*2*bf16NR]
		p := 2 * (pq + q)
		for jj := 0; jj < w; jj++ {
			row[2*jj] = g.bElem(p, j0+jj)
			if p+1 < g.k {
				row[2*jj+1] = g.bElem(p+1, j0+jj)
			} else {
				row[2*jj+1] = 0
			}
		}
		clear(row[2*w:])
	}
}

// packBAsm packs what the assembly packers can of a full-width panel (pairs
// pq.. of full pairs) and returns how many pairs it packed.
func (g *bf16Args) packBAsm(dst []uint16, pq, full, j0 int) int {
	p := 2 * pq
	if g.transB {
		q16 := full &^ 15
		if q16 == 0 {
			return 0
		}
		if g.bu != nil {
			packBF16TU16(q16, unsafe.Pointer(&g.bu[j0*g.ldb+p]), g.ldb, &dst[0])
		} else {
			packBF16TF32(q16, unsafe.Pointer(&g.bf[j0*g.ldb+p]), g.ldb, &dst[0])
		}
		return q16
	}
	if g.bu != nil {
		packBF16NU16(full, unsafe.Pointer(&g.bu[p*g.ldb+j0]), g.ldb, &dst[0], 2*bf16NR)
	} else {
		packBF16NF32(full, unsafe.Pointer(&g.bf[p*g.ldb+j0]), g.ldb, &dst[0], 2*bf16NR)
	}
	return full
}
