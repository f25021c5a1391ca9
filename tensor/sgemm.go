package tensor

import (
	"fmt"
	"sync"
)

// The blocked GEMM follows the BLIS/GotoBLAS layering, specialised for the
// fact that every matrix here is row-major with the vector dimension along n:
//
//	jc over NC columns of C → pc over KC of k → pack B[kc×nc] into NR-wide
//	panels → ic over MC rows → jr over NR panels → ir over MR rows → kernel.
//
// A is never packed. The micro-kernels take A through two strides (row, p) so
// they read A in place whether it is transposed or not: each A element feeds
// NR FMA lanes, so A traffic is small, and skipping its pack removes the one
// transposing copy that would otherwise be on every Linear forward. B is
// packed (plain copy, or an 8×8-block transpose for op(B)=Bᵀ) because each B
// micro-panel is reused by every MR row block and must stream from L1 without
// the set conflicts a power-of-two ldb would cause.
//
// Small m is not a GEMM problem but a pass over B, so it skips the pack: up to
// directB rows read B in place, up to dotM rows with op(B)=Bᵀ use dot-product
// tiles over contiguous rows of A and B, and m = 1 uses a wide row kernel.

// kernFn computes one MR×NR (or smaller) tile:
// C[i,j] (+)= Σp A[i*rs+p*ps]·B[p*bs+j] for i < its row count, j < nr.
// B is always read NR wide; acc != 0 adds to C.
type kernFn func(k int, a *float32, rs, ps int, b *float32, bs int, c *float32, ldc, nr, acc int)

// packFn copies kc rows of an NR-wide block of B (row stride ld) into a panel.
type packFn func(kc int, src *float32, ld int, dst *float32)

// dotFn computes a ≤4×≤4 tile of A·Bᵀ from rows of A and B, both contiguous in k.
type dotFn func(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc, acc int)

const (
	maxMR  = 16
	dotMax = 4 // rows/cols per dot tile
)

// sgemmImpl is one instruction-set flavour of the kernels with its blocking.
type sgemmImpl struct {
	name       string
	mr, nr     int
	kc, mc, nc int
	kern       [maxMR + 1]kernFn // indexed by the tile's row count
	packNN     packFn            // full NR-wide panel, plain copy; nil = Go
	packNT     packFn            // full panel from Bᵀ, kc a multiple of 8; nil = Go
	dot        [dotMax + 1][dotMax + 1]dotFn
	rowKern    kernFn // optional 1×rowNR kernel for m = 1, full tiles only
	rowNR      int
	dotMR      int // dot tile rows of A (≤ dotMax)
	dotNR      int // dot tile rows of B (≤ dotMax)
	// directB: m at or below which B is read in place instead of packed.
	// Packing B is a pass over all of it from L3 or memory; measured on
	// Zen 5, it only pays for itself once more than ~64-128 rows reuse it.
	directB int
	// dotM: m at or below which op(B)=Bᵀ uses the dot-product tiles rather
	// than a transposing pack (measured crossover ~32-48 rows).
	dotM int
}

// impls lists the usable implementations, fastest first; impl is the one Gemm
// uses. Tests switch impl to exercise every kernel the machine can run.
var (
	impls []*sgemmImpl
	impl  *sgemmImpl
)

func init() {
	impls = append(archImpls(), goImpl())
	impl = impls[0]
}

func checkGemm(transA, transB bool, m, n, k int, a []float32, lda int, blen, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("tensor.Gemm: negative size m=%d n=%d k=%d", m, n, k))
	}
	need := func(what string, rows, cols, ld, have int) {
		if rows == 0 || cols == 0 {
			return
		}
		if ld < cols {
			panic(fmt.Sprintf("tensor.Gemm: %s stride %d < %d columns", what, ld, cols))
		}
		if want := (rows-1)*ld + cols; have < want {
			panic(fmt.Sprintf("tensor.Gemm: %s has %d elements, needs %d", what, have, want))
		}
	}
	if transA {
		need("A", k, m, lda, len(a))
	} else {
		need("A", m, k, lda, len(a))
	}
	if transB {
		need("B", n, k, ldb, blen)
	} else {
		need("B", k, n, ldb, blen)
	}
	need("C", m, n, ldc, len(c))
}

// gemm is the entry point behind Gemm and GemmSerial.
func gemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, acc bool, parallel bool) {
	checkGemm(transA, transB, m, n, k, a, lda, len(b), ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		if !acc {
			for i := 0; i < m; i++ {
				clear(c[i*ldc : i*ldc+n])
			}
		}
		return
	}
	g := gemmArgs{transA, transB, m, n, k, a, lda, b, ldb, c, ldc, acc}
	im := impl
	if parallel && Threads() > 1 && m*n*k >= parallelMinFMA {
		if runParallel(im, &g) {
			return
		}
	}
	buf := getBuf(im)
	im.run(&g, *buf)
	putBuf(im, buf)
}

// parallelMinFMA is the work (~1 µs on one core) below which handing out
// chunks costs more than it can save. A helper that is slow to wake costs the
// caller nothing: it never waits for one that has not started.
const parallelMinFMA = 1 << 18

type gemmArgs struct {
	transA, transB bool
	m, n, k        int
	a              []float32
	lda            int
	b              []float32
	ldb            int
	c              []float32
	ldc            int
	acc            bool
}

// cols restricts g to columns [j0, j1) of C.
func (g gemmArgs) cols(j0, j1 int) gemmArgs {
	if g.transB {
		g.b = g.b[j0*g.ldb:]
	} else {
		g.b = g.b[j0:]
	}
	g.c = g.c[j0:]
	g.n = j1 - j0
	return g
}

// rows restricts g to rows [i0, i1) of C.
func (g gemmArgs) rows(i0, i1 int) gemmArgs {
	if g.transA {
		g.a = g.a[i0:]
	} else {
		g.a = g.a[i0*g.lda:]
	}
	g.c = g.c[i0*g.ldc:]
	g.m = i1 - i0
	return g
}

var bufPools sync.Map // *sgemmImpl → *sync.Pool of *[]float32

func getBuf(im *sgemmImpl) *[]float32 {
	p, ok := bufPools.Load(im)
	if !ok {
		p, _ = bufPools.LoadOrStore(im, &sync.Pool{New: func() any {
			// Packed B block plus one spare panel for a ragged edge read in place.
			s := make([]float32, im.kc*im.nc+im.kc*im.nr)
			return &s
		}})
	}
	return p.(*sync.Pool).Get().(*[]float32)
}

func putBuf(im *sgemmImpl, b *[]float32) {
	p, _ := bufPools.Load(im)
	p.(*sync.Pool).Put(b)
}

// run computes the whole of g on the calling goroutine.
func (im *sgemmImpl) run(g *gemmArgs, buf []float32) {
	if g.transB && !g.transA && g.m <= im.dotM {
		im.runDot(g)
		return
	}
	if g.m == 1 && !g.transB && im.rowKern != nil && g.n >= im.rowNR {
		im.runRow(g, buf)
		return
	}
	mr, nr := im.mr, im.nr
	direct := !g.transB && g.m <= im.directB
	kcMax := im.kc
	if direct && g.m <= mr && (g.n%nr == 0 || g.k <= im.kc) {
		// B streams once: one k pass writes C once. Not when a ragged last
		// panel must be copied: the spare panel holds only im.kc rows.
		kcMax = g.k
	}
	rs, ps := g.lda, 1
	if g.transA {
		rs, ps = 1, g.lda
	}
	for jc := 0; jc < g.n; jc += im.nc {
		nc := min(im.nc, g.n-jc)
		for pc := 0; pc < g.k; pc += kcMax {
			kc := min(kcMax, g.k-pc)
			accFlag := 0
			if g.acc || pc > 0 {
				accFlag = 1
			}
			if !direct {
				im.packB(g, pc, kc, jc, nc, buf)
			}
			// A element (i, p) of this block.
			aoff := func(i int) int {
				if g.transA {
					return pc*g.lda + i
				}
				return i*g.lda + pc
			}
			for ic := 0; ic < g.m; ic += im.mc {
				mc := min(im.mc, g.m-ic)
				for jr := 0; jr < nc; jr += nr {
					w := min(nr, nc-jr)
					var bp *float32
					bs := nr
					switch {
					case !direct:
						bp = &buf[(jr/nr)*kc*nr]
					case w == nr:
						bp, bs = &g.b[pc*g.ldb+jc+jr], g.ldb
					default:
						// Ragged last panel: the kernel reads NR wide, so copy it.
						spare := buf[im.kc*im.nc:]
						im.packPanel(g, pc, kc, jc+jr, w, spare)
						bp = &spare[0]
					}
					cp := (ic)*g.ldc + jc + jr
					for ir := 0; ir < mc; ir += mr {
						rows := min(mr, mc-ir)
						im.kern[rows](kc, &g.a[aoff(ic+ir)], rs, ps, bp, bs, &g.c[cp+ir*g.ldc], g.ldc, w, accFlag)
					}
				}
			}
		}
	}
}

// packB packs B[pc:pc+kc, jc:jc+nc] (of op(B)) into NR-wide panels of kc rows.
func (im *sgemmImpl) packB(g *gemmArgs, pc, kc, jc, nc int, buf []float32) {
	nr := im.nr
	for jr := 0; jr < nc; jr += nr {
		im.packPanel(g, pc, kc, jc+jr, min(nr, nc-jr), buf[(jr/nr)*kc*nr:])
	}
}

// packPanel packs the kc×w block of op(B) at (pc, j0) into dst as kc rows of
// NR, zero-filling columns ≥ w so the kernel can read full vectors.
func (im *sgemmImpl) packPanel(g *gemmArgs, pc, kc, j0, w int, dst []float32) {
	nr := im.nr
	dst = dst[:kc*nr]
	if !g.transB {
		off := pc*g.ldb + j0
		if w == nr && im.packNN != nil {
			im.packNN(kc, &g.b[off], g.ldb, &dst[0])
			return
		}
		for p := 0; p < kc; p++ {
			d := dst[p*nr : p*nr+nr]
			copy(d, g.b[off+p*g.ldb:off+p*g.ldb+w])
			clear(d[w:])
		}
		return
	}
	off := j0*g.ldb + pc
	p0 := 0
	if w == nr && im.packNT != nil {
		p0 = kc &^ 7
		if p0 > 0 {
			im.packNT(p0, &g.b[off], g.ldb, &dst[0])
		}
	}
	if p0 == kc {
		return
	}
	for j := 0; j < w; j++ {
		src := g.b[off+j*g.ldb+p0 : off+j*g.ldb+kc]
		for p, v := range src {
			dst[(p0+p)*nr+j] = v
		}
	}
	if w < nr {
		for p := p0; p < kc; p++ {
			clear(dst[p*nr+w : p*nr+nr])
		}
	}
}

// runDot handles small m with A not transposed and op(B)=Bᵀ: each C element is a dot product of
// two contiguous rows, so nothing is packed and B streams from memory once
// (A, being a few rows, stays in cache while B row groups go by).
func (im *sgemmImpl) runDot(g *gemmArgs) {
	accFlag := 0
	if g.acc {
		accFlag = 1
	}
	for j := 0; j < g.n; j += im.dotNR {
		nb := min(im.dotNR, g.n-j)
		for i := 0; i < g.m; i += im.dotMR {
			mb := min(im.dotMR, g.m-i)
			im.dot[mb][nb](g.k, &g.a[i*g.lda], g.lda, &g.b[j*g.ldb], g.ldb, &g.c[i*g.ldc+j], g.ldc, accFlag)
		}
	}
}

// runRow handles a row vector times B: the wide row kernel streams B in
// rowNR-column strips of long contiguous runs; the ragged rest goes through
// the ordinary path.
func (im *sgemmImpl) runRow(g *gemmArgs, buf []float32) {
	ps := 1
	if g.transA {
		ps = g.lda
	}
	accFlag := 0
	if g.acc {
		accFlag = 1
	}
	nw := g.n / im.rowNR * im.rowNR
	for j := 0; j < nw; j += im.rowNR {
		im.rowKern(g.k, &g.a[0], 1, ps, &g.b[j], g.ldb, &g.c[j], g.ldc, im.rowNR, accFlag)
	}
	if nw < g.n {
		rest := g.cols(nw, g.n) // narrower than rowNR: run takes the ordinary path
		im.run(&rest, buf)
	}
}
