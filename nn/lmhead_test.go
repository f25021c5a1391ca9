package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// headCase is a head problem: hidden [N,C], weight [V,C], targets (some
// ignored) and the loss's weights on each row's log-prob and entropy.
type headCase struct {
	N, C, V    int
	temp       float64
	hidden, w  []float32
	targets    []int32
	dlogp, den []float64
}

func newHeadCase(seed uint64, N, C, V int, temp float64) *headCase {
	r := rand.New(rand.NewPCG(seed, 3))
	hc := &headCase{N: N, C: C, V: V, temp: temp,
		hidden: randn(r, N*C, 1), w: randn(r, V*C, 0.5),
		targets: make([]int32, N), dlogp: make([]float64, N), den: make([]float64, N)}
	for i := range hc.targets {
		hc.targets[i] = int32(r.IntN(V))
		hc.dlogp[i] = r.NormFloat64()
		hc.den[i] = r.NormFloat64()
		if i%4 == 1 { // ignored rows: no target, whatever their weights say
			hc.targets[i] = -1
		}
	}
	hc.targets[N-1] = int32(V - 1) // the last vocabulary entry too
	return hc
}

// headRef is the unfused computation in float64: full logits, log-softmax
// at the temperature, and the loss L = Σ dlogp·logp + den·H over rows with
// a target, with its gradient written out by hand (not the code under test):
// dz_v = dlogp·(1[v=t] − p_v) − den·p_v·(log p_v + H), dlogits = dz/temp.
func headRef(hc *headCase, hidden, w []float64) (logp, ent, raw []float64, L float64, dh, dw []float64) {
	N, C, V := hc.N, hc.C, hc.V
	lg := refLinear(hidden, w, nil, N, C, V)
	logp, ent, raw = make([]float64, N), make([]float64, N), make([]float64, N)
	dh, dw = make([]float64, N*C), make([]float64, V*C)
	dz := make([]float64, V)
	for i := 0; i < N; i++ {
		t := hc.targets[i]
		if t < 0 {
			continue
		}
		x := lg[i*V : (i+1)*V]
		z := make([]float64, V)
		for v := range x {
			z[v] = x[v] / hc.temp
		}
		ls := refLogSoftmax(z, 1, V)
		ls1 := refLogSoftmax(x, 1, V)
		logp[i], raw[i] = ls[t], ls1[t]
		for _, l := range ls {
			ent[i] -= math.Exp(l) * l
		}
		L += hc.dlogp[i]*logp[i] + hc.den[i]*ent[i]
		for v, l := range ls {
			p := math.Exp(l)
			dz[v] = -hc.dlogp[i]*p - hc.den[i]*p*(l+ent[i])
		}
		dz[t] += hc.dlogp[i]
		for v := range dz {
			g := dz[v] / hc.temp
			for c := 0; c < C; c++ {
				dh[i*C+c] += g * w[v*C+c]
				dw[v*C+c] += g * hidden[i*C+c]
			}
		}
	}
	return
}

// maxRel is max |got − want| over max |want|.
func maxRel(got []float32, want []float64) float64 {
	var d, m float64
	for i := range want {
		d = math.Max(d, math.Abs(float64(got[i])-want[i]))
		m = math.Max(m, math.Abs(want[i]))
	}
	return d / m
}

func maxRel64(got, want []float64) float64 {
	var d, m float64
	for i := range want {
		d = math.Max(d, math.Abs(got[i]-want[i]))
		m = math.Max(m, math.Abs(want[i]))
	}
	return d / m
}

// runHead runs the fused head's two passes on hc with the given chunk rows.
func runHead(hc *headCase, rows int, ent bool) (*HeadPass, []float32, []float32) {
	h := &LMHead{W: hc.w, DW: make([]float32, hc.V*hc.C), V: hc.V, C: hc.C, Rows: rows}
	p := h.Forward(hc.hidden, hc.targets, hc.N, hc.temp, HeadWant{Entropy: ent, Raw: true})
	dh := make([]float32, hc.N*hc.C)
	var den []float64
	if ent {
		den = hc.den
	}
	h.Backward(dh, p, hc.dlogp, den)
	return p, dh, h.DW
}

// TestLMHeadMatchesUnfused: log-probs, entropy, temperature-1 log-probs
// and the hidden and weight gradients match the float64 unfused
// computation to 1e-5 relative, at temperatures 1 and 0.7, for chunks of
// 1, 3 and 5 rows and the default (one chunk), and ignored rows get
// nothing.
func TestLMHeadMatchesUnfused(t *testing.T) {
	for _, temp := range []float64{1, 0.7} {
		for _, V := range []int{50, 1000} {
			hc := newHeadCase(uint64(V), 13, 24, V, temp)
			wantLp, wantEnt, wantRaw, _, wantDh, wantDw := headRef(hc, to64(hc.hidden), to64(hc.w))
			for _, rows := range []int{1, 3, 5, 0} {
				name := fmt.Sprintf("temp=%g V=%d rows=%d", temp, V, rows)
				p, dh, dw := runHead(hc, rows, true)
				for what, e := range map[string]float64{
					"logp": maxRel64(p.Logp, wantLp), "entropy": maxRel64(p.Entropy, wantEnt), "raw": maxRel64(p.Raw, wantRaw),
					"d(hidden)": maxRel(dh, wantDh), "d(weight)": maxRel(dw, wantDw),
				} {
					if e > 1e-5 {
						t.Errorf("%s: %s off by %.2g relative", name, what, e)
					}
				}
				for i, tg := range hc.targets {
					if tg >= 0 {
						continue
					}
					if p.Logp[i] != 0 || p.Entropy[i] != 0 {
						t.Errorf("%s: ignored row %d has logp %g entropy %g", name, i, p.Logp[i], p.Entropy[i])
					}
					for _, g := range dh[i*hc.C : (i+1)*hc.C] {
						if g != 0 {
							t.Fatalf("%s: ignored row %d has a hidden gradient", name, i)
						}
					}
				}
			}
		}
	}
}

// TestLMHeadLogpOnlyGradient: without an entropy term (the path PPO, GRPO
// and DPO take) the gradient is the log-prob's alone.
func TestLMHeadLogpOnlyGradient(t *testing.T) {
	hc := newHeadCase(5, 9, 16, 300, 0.6)
	clear(hc.den)
	_, _, _, _, wantDh, wantDw := headRef(hc, to64(hc.hidden), to64(hc.w))
	_, dh, dw := runHead(hc, 4, false)
	if e := maxRel(dh, wantDh); e > 1e-5 {
		t.Errorf("d(hidden) off by %.2g", e)
	}
	if e := maxRel(dw, wantDw); e > 1e-5 {
		t.Errorf("d(weight) off by %.2g", e)
	}
}

// TestLMHeadFiniteDifference checks headRef's hand-written gradient by
// central differences in float64, and the fused head's gradient by
// central differences of its own Forward (float32 logits: a looser bound).
func TestLMHeadFiniteDifference(t *testing.T) {
	hc := newHeadCase(9, 6, 8, 40, 0.8)
	h64, w64 := to64(hc.hidden), to64(hc.w)
	_, _, _, _, dh, dw := headRef(hc, h64, w64)
	_, gotDh, gotDw := runHead(hc, 4, true)
	loss := func(h, w []float64) float64 { _, _, _, L, _, _ := headRef(hc, h, w); return L }
	fused := func() float64 {
		hd := &LMHead{W: hc.w, V: hc.V, C: hc.C, Rows: 4}
		p := hd.Forward(hc.hidden, hc.targets, hc.N, hc.temp, HeadWant{Entropy: true})
		var L float64
		for i := range p.Logp {
			L += hc.dlogp[i]*p.Logp[i] + hc.den[i]*p.Entropy[i]
		}
		return L
	}
	r := rand.New(rand.NewPCG(1, 1))
	for k := 0; k < 12; k++ {
		for _, which := range []string{"hidden", "weight"} {
			x64, x32, g, got := h64, hc.hidden, dh, gotDh
			if which == "weight" {
				x64, x32, g, got = w64, hc.w, dw, gotDw
			}
			j := r.IntN(len(x64))
			const e = 1e-6
			old := x64[j]
			x64[j] = old + e
			lp := loss(h64, w64)
			x64[j] = old - e
			lm := loss(h64, w64)
			x64[j] = old
			if fd := (lp - lm) / (2 * e); math.Abs(fd-g[j]) > 1e-6*math.Max(1, math.Abs(fd)) {
				t.Errorf("reference d(%s)[%d] = %g, finite difference %g", which, j, g[j], fd)
			}
			const e32 = 1e-2
			o32 := x32[j]
			x32[j] = o32 + e32
			lp = fused()
			x32[j] = o32 - e32
			lm = fused()
			x32[j] = o32
			if fd := (lp - lm) / (2 * e32); math.Abs(fd-float64(got[j])) > 2e-3*math.Max(1, math.Abs(fd)) {
				t.Errorf("fused d(%s)[%d] = %g, finite difference of its forward %g", which, j, got[j], fd)
			}
		}
	}
}

// TestLMHeadCrossEntropy: the one-pass SFT form gives the unfused path's
// losses (nn.CrossEntropyFused over full logits) and, through the
// head, the same hidden and weight gradients, for any chunk size; with no
// gradient wanted (dloss nil) it only evaluates, leaving DW alone.
func TestLMHeadCrossEntropy(t *testing.T) {
	N, C, V := 11, 16, 700
	hc := newHeadCase(21, N, C, V, 1)
	dloss := make([]float32, N)
	for i := range dloss {
		dloss[i] = float32(0.1 * float64(i+1))
	}
	logits := make([]float32, N*V)
	LinearForward(logits, hc.hidden, hc.w, nil, N, C, V)
	wantL, dlogits := make([]float32, N), make([]float32, N*V)
	CrossEntropyFused(wantL, dlogits, logits, hc.targets, dloss, N, V)
	wantDh, wantDw := make([]float32, N*C), make([]float32, V*C)
	LinearBackward(wantDh, wantDw, nil, dlogits, hc.hidden, hc.w, N, C, V)
	for _, rows := range []int{1, 4, 0} {
		h := &LMHead{W: hc.w, DW: make([]float32, V*C), V: V, C: C, Rows: rows}
		losses, dh := make([]float32, N), make([]float32, N*C)
		h.CrossEntropy(losses, dh, hc.hidden, hc.targets, dloss, N)
		if e := maxRel(losses, to64(wantL)); e > 1e-5 {
			t.Errorf("rows=%d: losses off by %.2g", rows, e)
		}
		if e := maxRel(dh, to64(wantDh)); e > 1e-5 {
			t.Errorf("rows=%d: d(hidden) off by %.2g", rows, e)
		}
		if e := maxRel(h.DW, to64(wantDw)); e > 1e-5 {
			t.Errorf("rows=%d: d(weight) off by %.2g", rows, e)
		}
		dw := append([]float32(nil), h.DW...)
		only := make([]float32, N)
		h.CrossEntropy(only, nil, hc.hidden, hc.targets, nil, N)
		if e := maxRel(only, to64(wantL)); e > 1e-5 {
			t.Errorf("rows=%d: evaluation losses off by %.2g", rows, e)
		}
		for i := range dw {
			if dw[i] != h.DW[i] {
				t.Fatalf("rows=%d: evaluation changed the weight gradient", rows)
			}
		}
	}
}

// TestLMHeadRows: the default chunk holds 64 MB of logits within [32, 1024] rows.
func TestLMHeadRows(t *testing.T) {
	for _, c := range []struct{ V, want int }{{151936, 110}, {50257, 333}, {32000, 524}, {1000, 1024}, {1 << 20, 32}} {
		if got := HeadRows(c.V); got != c.want {
			t.Errorf("HeadRows(%d) = %d, want %d", c.V, got, c.want)
		}
	}
}
