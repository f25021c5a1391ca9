package nn

import (
	"math"

	"github.com/align-go/align/tensor"
)

// LMHead is a language model's output layer fused with its log-softmax: it
// takes final hidden states [N,C] and the head weight [V,C] and produces
// per-row values — cross-entropy, the log-prob of a given target at a
// temperature, the entropy — and their gradients with respect to the
// hidden states and the weight, a chunk of rows at a time. The [N,V]
// logits never exist: one [Rows,V] chunk is computed, reduced and (for the
// gradient) turned in place into d(logits) and multiplied back out, which
// is Liger's fused linear cross-entropy. With V = 151,936 that is
// 64 MB of scratch where full logits cost 1.2 GB per 2,048 tokens (and
// as much again for their gradient).
//
// Rows whose target is negative are ignored: they are never computed, so
// prompt tokens under a completion mask cost nothing.
//
// Two ways in:
//   - CrossEntropy is one pass for losses whose gradient weights are known
//     before the forward pass (SFT, pretraining): loss and gradients
//     together, the head computed once.
//   - Forward then Backward, for losses that need every log-prob before
//     their gradient is known (DPO, PPO, GRPO): Forward keeps only each
//     row's max and log-sum-exp, and Backward recomputes the chunk's
//     logits from the hidden states it was given.
type LMHead struct {
	W []float32 // [V,C], torch's Linear layout (tied: the embedding)
	// Q, when not nil, is a frozen head in a compact dtype (bf16 as the
	// checkpoint stores it, or quantised) used instead of W: the chunk
	// products read it through the compact kernels (LinearForwardQ,
	// LinearBackwardQ), which widen a tile at a time. DW must be nil.
	Q  *QWeight
	DW []float32 // [V,C] gradient, accumulated; nil when the head is frozen
	V  int
	C  int
	// Rows per chunk; 0 picks HeadRows(V).
	Rows int
	// Prec is the arithmetic of the head's products (tensor.BF16 under
	// --bf16); the log-softmax and losses are f32/f64 either way.
	Prec tensor.Prec

	lg, hb, dhb []float32 // chunk scratch: logits [Rows,V], gathered hidden and its gradient [Rows,C]
	// w16 is W rounded to bf16 for the call in progress (Prec BF16, Q nil):
	// the products round W's elements to bf16 anyway, so rounding it once
	// per call gives the same bits as rounding it in every chunk's packing,
	// and each chunk then reads half the bytes (with more than one chunk). W may change between calls
	// (a trainable head), so it is refreshed by each call; the buffer is
	// kept (V·C·2 bytes, half of W).
	w16 []uint16
	cur []uint16 // w16 while a call runs, else nil
}

// headShadow switches w16 on (tests switch it off to compare).
var headShadow = true

// headBudget is the default chunk's logits size in float32s (64 MB).
const headBudget = 1 << 24

// HeadRows is the default rows per chunk for vocabulary V: as many as fit
// 64 MB of logits, at least 32 (so the matrix products stay efficient)
// and at most 1024.
func HeadRows(V int) int {
	return min(max(headBudget/max(V, 1), 32), 1024)
}

// HeadPass holds what Forward computed per row, and what Backward needs.
type HeadPass struct {
	Logp    []float64 // [N] log softmax(logits/temp)[target]; 0 on ignored rows
	Entropy []float64 // [N] entropy of softmax(logits/temp), when asked; else nil
	Raw     []float64 // [N] log softmax(logits)[target] at temperature 1, when asked; else nil

	hidden  []float32
	targets []int32
	active  []int32   // rows with a target, in order
	mx      []float32 // [N] max logit of the row
	lse     []float64 // [N] log Σ exp((x − mx)/temp)
	temp    float64
}

// HeadWant says which optional values Forward computes.
type HeadWant struct {
	Entropy bool // needed for an entropy bonus's gradient too
	Raw     bool // temperature-1 log-probs beside the tempered ones
}

func (h *LMHead) rows() int {
	if h.Rows > 0 {
		return h.Rows
	}
	if h.Prec == tensor.BF16 {
		// bf16 products run about twice as fast while each chunk still
		// packs the whole head (V·C) for a few rows of A, so the packing
		// weighs twice as much: twice the rows halve it (128 MB of logits).
		return min(2*HeadRows(h.V), 1024)
	}
	return HeadRows(h.V)
}

// activeRows lists the rows with a target.
func activeRows(targets []int32, N int) []int32 {
	act := make([]int32, 0, N)
	for i, t := range targets[:N] {
		if t >= 0 {
			act = append(act, int32(i))
		}
	}
	return act
}

// each runs fn on the chunk logits of consecutive runs of active rows:
// lg [n,V] = hidden[rows]·Wᵀ with the gathered hidden rows in hb [n,C].
func (h *LMHead) each(hidden []float32, active []int32, fn func(rows []int32, lg, hb []float32)) {
	R, V, C := h.rows(), h.V, h.C
	if len(active) == 0 {
		return
	}
	if len(active) > R && headShadow { // one chunk packs W once anyway
		h.cur = h.shadow()
	}
	defer func() { h.cur = nil }()
	n := min(R, len(active))
	if len(h.lg) < n*V {
		h.lg = make([]float32, n*V)
		h.hb = make([]float32, n*C)
	}
	for k := 0; k < len(active); k += R {
		rows := active[k:min(k+R, len(active))]
		n := len(rows)
		hb, lg := h.hb[:n*C], h.lg[:n*V]
		for j, r := range rows {
			copy(hb[j*C:(j+1)*C], hidden[int(r)*C:(int(r)+1)*C])
		}
		switch {
		case h.Q != nil:
			LinearForwardQP(h.Prec, lg, hb, h.Q, nil, n)
		case h.cur != nil:
			tensor.GemmBF16Bits(false, true, n, V, C, hb, C, h.cur, C, lg, V, false)
		default:
			LinearForwardP(h.Prec, lg, hb, h.W, nil, n, C, V)
		}
		fn(rows, lg, hb)
	}
}

// shadow rounds W to bf16 into w16 when the head's products are bf16 and
// W is f32 (see w16), and returns it; nil otherwise.
func (h *LMHead) shadow() []uint16 {
	if h.Prec != tensor.BF16 || h.Q != nil {
		return nil
	}
	n := h.V * h.C
	if len(h.w16) < n {
		h.w16 = make([]uint16, n)
	}
	w16, w := h.w16[:n], h.W[:n]
	tensor.ParallelFor(n, 1<<16, func(lo, hi int) {
		tensor.ToBF16(w16[lo:hi], w[lo:hi])
	})
	return w16
}

// backChunk turns the chunk's d(logits) in lg into d(hidden rows), added
// to dhidden, and d(W), added to DW.
func (h *LMHead) backChunk(dhidden []float32, rows []int32, lg, hb []float32) {
	n, V, C := len(rows), h.V, h.C
	if h.DW != nil && h.Q != nil {
		panic("nn: LMHead: a compact head (Q) is frozen: DW must be nil")
	}
	if h.DW != nil {
		LinearBackwardP(h.Prec, nil, h.DW, nil, lg, hb, nil, n, C, V)
	}
	if dhidden == nil {
		return
	}
	if len(h.dhb) < n*C {
		h.dhb = make([]float32, h.rows()*C)
	}
	dhb := h.dhb[:n*C]
	switch {
	case h.Q != nil:
		clear(dhb)
		LinearBackwardQP(h.Prec, dhb, lg, h.Q, n)
	case h.cur != nil:
		tensor.GemmBF16Bits(false, false, n, C, V, lg, V, h.cur, C, dhb, C, false)
	default:
		tensor.GemmPrec(h.Prec, false, false, n, C, V, lg, V, h.W, C, dhb, C, false)
	}
	for j, r := range rows {
		d := dhidden[int(r)*C : (int(r)+1)*C]
		for c, v := range dhb[j*C : (j+1)*C] {
			d[c] += v
		}
	}
}

// rowStats returns max(x) and, over z = (x − max)·inv, log Σ exp(z) and
// (when ent) Σ exp(z)·z / Σ exp(z), exponentiating in stack-sized pieces
// and summing in float64.
func rowStats(x []float32, inv float32, ent bool) (mx float32, lse, ez float64) {
	mx = maxf(x)
	var buf [expChunk]float32
	var s, sx float64
	for j := 0; j < len(x); j += expChunk {
		c := x[j:min(j+expChunk, len(x))]
		e := buf[:len(c)]
		expShift(e, c, mx, inv, 0)
		s += sum64(e)
		if ent {
			sx += dot64(e, c)
		}
	}
	if ent {
		// Σ e·(x − mx)·inv = inv·(Σ e·x − mx·Σ e)
		ez = float64(inv) * (sx - float64(mx)*s) / s
	}
	return mx, math.Log(s), ez
}

// LogSumExp is log Σ exp(x) over one row of logits, shifted by its max and
// summed in float64: the log-softmax of decoding (a sampled token's
// log-prob, top log-probs), where the row exists anyway.
func LogSumExp(x []float32) float64 {
	mx, lse, _ := rowStats(x, 1, false)
	return float64(mx) + lse
}

// Forward computes, for every row with targets[i] >= 0, log
// softmax(hidden[i]·Wᵀ / temp)[targets[i]] and what want asks for.
// hidden and targets must stay unchanged until Backward.
func (h *LMHead) Forward(hidden []float32, targets []int32, N int, temp float64, want HeadWant) *HeadPass {
	p := &HeadPass{Logp: make([]float64, N), hidden: hidden, targets: targets,
		active: activeRows(targets, N), mx: make([]float32, N), lse: make([]float64, N), temp: temp}
	if want.Entropy {
		p.Entropy = make([]float64, N)
	}
	if want.Raw {
		p.Raw = make([]float64, N)
	}
	inv := float32(1 / temp)
	V := h.V
	h.each(hidden, p.active, func(rows []int32, lg, _ []float32) {
		tensor.ParallelFor(len(rows), rowChunk(V), func(lo, hi int) {
			for j := lo; j < hi; j++ {
				i, x := rows[j], lg[j*V:(j+1)*V]
				mx, lse, ez := rowStats(x, inv, want.Entropy)
				p.mx[i], p.lse[i] = mx, lse
				xt := float64(x[targets[i]] - mx)
				p.Logp[i] = xt*float64(inv) - lse
				if want.Entropy {
					p.Entropy[i] = lse - ez
				}
				if want.Raw {
					if temp == 1 {
						p.Raw[i] = p.Logp[i]
					} else {
						_, l1, _ := rowStats(x, 1, false)
						p.Raw[i] = xt - l1
					}
				}
			}
		})
	})
	return p
}

// Backward adds to dhidden (may be nil) and to DW (when not nil) the
// gradient of a loss whose derivatives with respect to the Forward's
// per-row Logp and Entropy are dlogp and dent (either may be nil; dent
// needs Forward to have computed the entropy). Each chunk's logits are
// recomputed from the hidden states Forward was given. With z =
// logits/temp, p = softmax(z), H = −Σ p log p:
//
//	d logp / d z_v = 1[v = target] − p_v
//	d H / d z_v    = −p_v (log p_v + H)
//
// and d/d logits = d/dz / temp.
func (h *LMHead) Backward(dhidden []float32, p *HeadPass, dlogp, dent []float64) {
	if dent != nil && p.Entropy == nil {
		panic("nn: LMHead.Backward: an entropy gradient needs Forward with HeadWant.Entropy")
	}
	inv := 1 / p.temp
	V := h.V
	// Rows whose gradient is zero cost nothing.
	act := make([]int32, 0, len(p.active))
	for _, i := range p.active {
		if (dlogp != nil && dlogp[i] != 0) || (dent != nil && dent[i] != 0) {
			act = append(act, i)
		}
	}
	h.each(p.hidden, act, func(rows []int32, lg, hb []float32) {
		tensor.ParallelFor(len(rows), rowChunk(V), func(lo, hi int) {
			for j := lo; j < hi; j++ {
				i, x := rows[j], lg[j*V:(j+1)*V]
				var gl, ge float64
				if dlogp != nil {
					gl = dlogp[i]
				}
				if dent != nil {
					ge = dent[i]
				}
				logitGrad(x, p.targets[i], p.mx[i], p.lse[i], inv, gl, ge, entropyOf(p, i))
			}
		})
		h.backChunk(dhidden, rows, lg, hb)
	})
}

func entropyOf(p *HeadPass, i int32) float64 {
	if p.Entropy == nil {
		return 0
	}
	return p.Entropy[i]
}

// logitGrad overwrites the logits row x with d(loss)/d(logits) for
// d(loss)/d(logp) = gl and d(loss)/d(H) = ge (see Backward).
func logitGrad(x []float32, t int32, mx float32, lse, inv, gl, ge, H float64) {
	if ge == 0 {
		// p_v in place, then scaled: −gl·p_v/temp, and gl/temp at the target.
		expShift(x, x, mx, float32(inv), float32(lse))
		scaleRow(x, float32(-gl*inv))
		x[t] += float32(gl * inv)
		return
	}
	var buf [expChunk]float32
	a := float32(-(gl + ge*H) * inv)
	b := float32(-ge * inv)
	fi, fl := float32(inv), float32(lse)
	for j := 0; j < len(x); j += expChunk {
		c := x[j:min(j+expChunk, len(x))]
		e := buf[:len(c)]
		expShift(e, c, mx, fi, fl)
		for k, pv := range e {
			logp := (c[k]-mx)*fi - fl
			c[k] = pv * (a + b*logp)
		}
	}
	x[t] += float32(gl * inv)
}

// CrossEntropy is the one-pass form for SFT and pretraining: losses[i] =
// −log softmax(hidden[i]·Wᵀ)[targets[i]] (0 on ignored rows), and, for
// d(loss)/d(losses[i]) = dloss[i], the gradient added to dhidden (may be
// nil) and to DW (when not nil). With dloss nil it only evaluates.
func (h *LMHead) CrossEntropy(losses, dhidden, hidden []float32, targets []int32, dloss []float32, N int) {
	clear(losses[:N])
	V := h.V
	grad := dloss != nil
	h.each(hidden, activeRows(targets, N), func(rows []int32, lg, hb []float32) {
		tensor.ParallelFor(len(rows), rowChunk(V), func(lo, hi int) {
			for j := lo; j < hi; j++ {
				i, x := rows[j], lg[j*V:(j+1)*V]
				t := targets[i]
				mx, lse, _ := rowStats(x, 1, false)
				losses[i] = float32(lse - float64(x[t]-mx))
				if grad {
					logitGrad(x, t, mx, lse, 1, -float64(dloss[i]), 0, 0)
				}
			}
		})
		if grad {
			h.backChunk(dhidden, rows, lg, hb)
		}
	})
}
