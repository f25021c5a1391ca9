package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// chartSpec is one chart: the metric keys that can fill it, in order of
// preference. Each run contributes the first key it logged, because the
// trainers name the same idea differently (TRL's names: PPO's
// objective/scores is GRPO's reward; PPO logs lr, the loop learning_rate).
type chartSpec struct {
	id, title string
	keys      []string
}

var (
	lossSpec   = chartSpec{"loss", "Loss", []string{"loss", "loss/policy_avg"}}
	rewardSpec = chartSpec{"reward", "Reward", []string{"reward", "reward/mean", "objective/scores",
		"objective/rlhf_reward", "rewards/margins", "margin", "rewards/chosen"}}
	klSpec     = chartSpec{"kl", "KL to the reference", []string{"objective/kl", "kl"}}
	lineCharts = []chartSpec{
		lossSpec,
		rewardSpec,
		klSpec,
		{"length", "Completion length (tokens)", []string{"completions/mean_length", "completion_length"}},
		{"grad_norm", "Gradient norm", []string{"grad_norm"}},
		{"lr", "Learning rate", []string{"learning_rate", "lr"}},
		{"eval_loss", "Eval loss", []string{"eval_loss"}},
	}
)

// palette is Tableau 10 with its grey swapped for navy (grey reads as an
// axis). Runs past the tenth reuse it dashed.
var palette = []string{"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
	"#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#2f4b7c"}

func runColor(i int) (color, dash string) {
	if i >= len(palette) {
		dash = "6 3"
	}
	return palette[i%len(palette)], dash
}

// Chart geometry in SVG user units; the page scales the viewBox to fit.
const (
	chartW, chartH             = 600, 330
	plotL, plotR, plotT, plotB = 70, chartW - 18, 40, chartH - 46
	maxPoints                  = 2000 // per series; more are thinned
	markerLimit                = 60   // series this short get hoverable markers
	tickTarget                 = 5
)

// chart is what the template draws; every string in it is escaped there.
type chart struct {
	ID, Title      string
	W, H           int
	L, R, T, B     float64
	XLabel         string
	XTicks, YTicks []tick
	Lines          []line
	Legend         []legendEntry
	Notes          []string
}

type tick struct {
	Pos   float64
	Label string
}

type line struct {
	Name, Color, Dash string
	Segments          []string // SVG points lists; a gap wherever a value is not finite
	Marks             []mark
	Scatter           bool
}

type mark struct {
	X, Y float64
	Tip  string
}

type legendEntry struct {
	Color, Dash, Label string
}

// scale maps the domain [d0, d1] onto the pixel range [r0, r1].
type scale struct{ d0, d1, r0, r1 float64 }

func (s scale) at(v float64) float64 {
	// Halves: d1-d0 overflows for domains near ±MaxFloat64.
	return s.r0 + (v/2-s.d0/2)/(s.d1/2-s.d0/2)*(s.r1-s.r0)
}

// axis picks a padded, rounded domain for values in [lo, hi] with ticks at
// 1, 2 or 5 times a power of ten, at least minStep apart (steps are whole).
func axis(lo, hi, minStep float64) (d0, d1 float64, ticks []float64) {
	if !finite(lo) || !finite(hi) || lo > hi {
		lo, hi = 0, 1
	}
	// A constant series (or one point) still needs a non-empty domain.
	// (Spans near the smallest floats count as constant too: their ticks
	// would underflow.)
	if hi-lo <= 1e-12*math.Max(math.Abs(hi), math.Abs(lo)) || hi-lo < 1e-200 {
		pad := math.Abs(lo) * 0.1
		if pad < 1e-200 {
			pad = 1
		}
		lo, hi = lo-pad, hi+pad
	}
	step := niceStep((hi - lo) / tickTarget)
	if step < minStep {
		step = minStep
	}
	if !finite(step) || step <= 0 {
		return lo, hi, []float64{lo, hi}
	}
	d0, d1 = math.Floor(lo/step)*step, math.Ceil(hi/step)*step
	for i := 0; ; i++ {
		v := d0 + float64(i)*step
		if v > d1+step*1e-9 || i > 50 {
			break
		}
		ticks = append(ticks, v)
	}
	return d0, d1, ticks
}

// niceStep rounds raw up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 || !finite(raw) {
		return raw
	}
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	switch f := raw / mag; {
	case f <= 1:
		return mag
	case f <= 2:
		return 2 * mag
	case f <= 5:
		return 5 * mag
	}
	return 10 * mag
}

// tickLabels formats ticks with just enough digits to tell neighbours
// apart: fixed-point normally, exponents for tiny steps (learning rates) and
// huge values.
func tickLabels(ticks []float64) []string {
	if len(ticks) == 0 {
		return nil
	}
	step := math.Inf(1)
	maxAbs := 0.0
	for i, v := range ticks {
		maxAbs = math.Max(maxAbs, math.Abs(v))
		if i > 0 {
			step = math.Min(step, v-ticks[i-1])
		}
	}
	if !finite(step) || step <= 0 {
		step = math.Max(maxAbs, 1)
	}
	out := make([]string, len(ticks))
	for i, v := range ticks {
		if math.Abs(v) < step*1e-6 {
			out[i] = "0"
			continue
		}
		var s string
		if step >= 1e-4 && maxAbs < 1e6 {
			dec := max(0, int(math.Ceil(-math.Log10(step)-1e-9)))
			s = strconv.FormatFloat(v, 'f', dec, 64)
		} else {
			sig := int(math.Floor(math.Log10(math.Abs(v)))) - int(math.Floor(math.Log10(step))) + 1
			s = strconv.FormatFloat(v, 'g', min(max(sig, 1), 15), 64)
			s = strings.NewReplacer("e-0", "e-", "e+0", "e").Replace(s)
			s = strings.Replace(s, "e+", "e", 1)
		}
		out[i] = s
	}
	return out
}

// frame is the chart with its axes set, ready for lines.
type frame struct {
	c      *chart
	sx, sy scale
}

// add draws ln and gives it a legend entry.
func (f *frame) add(ln line) {
	f.c.Lines = append(f.c.Lines, ln)
	f.c.Legend = append(f.c.Legend, legendEntry{ln.Color, ln.Dash, ln.Name})
}

// note adds a note under the chart listing runs (nothing when there are none).
func (f *frame) note(prefix string, runs []string) {
	if len(runs) > 0 {
		f.c.Notes = append(f.c.Notes, prefix+strings.Join(runs, ", "))
	}
}

func newFrame(id, title, xLabel string, xlo, xhi, xMinStep, ylo, yhi float64) *frame {
	c := &chart{ID: id, Title: title, W: chartW, H: chartH, L: plotL, R: plotR, T: plotT, B: plotB, XLabel: xLabel}
	x0, x1, xt := axis(xlo, xhi, xMinStep)
	y0, y1, yt := axis(ylo, yhi, 0)
	f := &frame{c: c, sx: scale{x0, x1, plotL, plotR}, sy: scale{y0, y1, plotB, plotT}}
	for i, l := range tickLabels(xt) {
		c.XTicks = append(c.XTicks, tick{round1(f.sx.at(xt[i])), l})
	}
	for i, l := range tickLabels(yt) {
		c.YTicks = append(c.YTicks, tick{round1(f.sy.at(yt[i])), l})
	}
	return f
}

// lineChart overlays one metric of every run against step. It returns nil
// when no run logged any of the spec's keys.
func lineChart(spec chartSpec, runs []*Run) *chart {
	type use struct {
		i   int
		key string
		s   Series
	}
	var uses []use
	var missing []string
	keysUsed := map[string]bool{}
	xlo, xhi, ylo, yhi := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for i, r := range runs {
		key := pick(r, spec.keys)
		if key == "" {
			missing = append(missing, r.Name)
			continue
		}
		s := thin(r.Series[key], maxPoints)
		uses = append(uses, use{i, key, s})
		keysUsed[key] = true
		for _, p := range s {
			if finite(p.Value) {
				xlo, xhi = math.Min(xlo, p.Step), math.Max(xhi, p.Step)
				ylo, yhi = math.Min(ylo, p.Value), math.Max(yhi, p.Value)
			}
		}
	}
	if len(uses) == 0 {
		return nil
	}
	var used []string
	for _, k := range spec.keys {
		if keysUsed[k] {
			used = append(used, k)
		}
	}
	f := newFrame(spec.id, spec.title+" — "+strings.Join(used, ", "), "step", xlo, xhi, 1, ylo, yhi)
	var bad []string
	for _, u := range uses {
		color, dash := runColor(u.i)
		name := runs[u.i].Name
		if len(used) > 1 {
			name += " (" + u.key + ")"
		}
		ln := line{Name: name, Color: color, Dash: dash}
		var seg []string
		skipped := 0
		flush := func() {
			if len(seg) > 0 {
				ln.Segments = append(ln.Segments, strings.Join(seg, " "))
			}
			seg = nil
		}
		for k, p := range u.s {
			if !finite(p.Value) {
				skipped++
				flush()
				continue
			}
			x, y := round1(f.sx.at(p.Step)), round1(f.sy.at(p.Value))
			seg = append(seg, fmt.Sprintf("%.1f,%.1f", x, y))
			// A point with no finite neighbour draws no line: mark it.
			alone := (k == 0 || !finite(u.s[k-1].Value)) && (k+1 == len(u.s) || !finite(u.s[k+1].Value))
			if len(u.s) <= markerLimit || alone {
				ln.Marks = append(ln.Marks, mark{x, y, fmt.Sprintf("%s\nstep %s: %s", name, fmtNum(p.Step), fmtNum(p.Value))})
			}
		}
		flush()
		if skipped > 0 {
			bad = append(bad, fmt.Sprintf("%s (%d)", runs[u.i].Name, skipped))
		}
		f.add(ln)
	}
	f.note("non-finite values (NaN, ±Inf) not drawn: ", bad)
	f.note("not logged by ", missing)
	return f.c
}

// rewardKLChart plots each run's reward against its KL at the same steps:
// the trade-off RLHF tunes (more reward for how far the policy drifted).
func rewardKLChart(runs []*Run) *chart {
	type use struct {
		i       int
		rk, kk  string
		kl, rew []float64
		steps   []float64
		bad     int
	}
	var uses []use
	var missing []string
	xlo, xhi, ylo, yhi := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for i, r := range runs {
		rk, kk := pick(r, rewardSpec.keys), pick(r, klSpec.keys)
		if rk == "" || kk == "" {
			missing = append(missing, r.Name)
			continue
		}
		klAt := map[float64]float64{}
		for _, p := range r.Series[kk] {
			klAt[p.Step] = p.Value
		}
		u := use{i: i, rk: rk, kk: kk}
		for _, p := range r.Series[rk] {
			kl, ok := klAt[p.Step]
			if !ok {
				continue
			}
			if !finite(kl) || !finite(p.Value) {
				u.bad++
				continue
			}
			u.kl, u.rew, u.steps = append(u.kl, kl), append(u.rew, p.Value), append(u.steps, p.Step)
			xlo, xhi = math.Min(xlo, kl), math.Max(xhi, kl)
			ylo, yhi = math.Min(ylo, p.Value), math.Max(yhi, p.Value)
		}
		uses = append(uses, u)
	}
	if len(uses) == 0 {
		return nil
	}
	var pairs []string
	seen := map[string]bool{}
	for _, u := range uses {
		if p := u.rk + " vs " + u.kk; !seen[p] {
			seen[p] = true
			pairs = append(pairs, p)
		}
	}
	f := newFrame("reward_kl", "Reward vs KL — "+strings.Join(pairs, ", "), "KL", xlo, xhi, 0, ylo, yhi)
	var bad []string
	for _, u := range uses {
		color, dash := runColor(u.i)
		name := runs[u.i].Name
		if len(pairs) > 1 {
			name += " (" + u.rk + " vs " + u.kk + ")"
		}
		ln := line{Name: name, Color: color, Dash: dash, Scatter: true}
		stride := max(1, len(u.kl)/maxPoints)
		var pts []string
		for k := 0; k < len(u.kl); k += stride {
			x, y := round1(f.sx.at(u.kl[k])), round1(f.sy.at(u.rew[k]))
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
			ln.Marks = append(ln.Marks, mark{x, y, fmt.Sprintf("%s\nstep %s: KL %s, reward %s",
				name, fmtNum(u.steps[k]), fmtNum(u.kl[k]), fmtNum(u.rew[k]))})
		}
		if len(pts) > 1 { // a faint path in step order shows which way the run went
			ln.Segments = []string{strings.Join(pts, " ")}
		}
		if u.bad > 0 {
			bad = append(bad, fmt.Sprintf("%s (%d)", runs[u.i].Name, u.bad))
		}
		f.add(ln)
	}
	f.note("steps with a non-finite reward or KL not drawn: ", bad)
	f.note("no reward and KL logged together by ", missing)
	return f.c
}

// round1 keeps the page small: a tenth of a unit is below a pixel.
func round1(v float64) float64 { return math.Round(v*10) / 10 }

// pick is the first of keys the run logged.
func pick(r *Run, keys []string) string {
	for _, k := range keys {
		if len(r.Series[k]) > 0 {
			return k
		}
	}
	return ""
}

// thin keeps at most about n points, the lowest and highest of each
// bucket, so spikes survive and a 100k-step run stays a small page.
func thin(s Series, n int) Series {
	if len(s) <= n {
		return s
	}
	buckets := n / 2
	out := make(Series, 0, n+1)
	for b := 0; b < buckets; b++ {
		part := s[b*len(s)/buckets : (b+1)*len(s)/buckets]
		lo, hi := -1, -1
		for i, p := range part {
			if !finite(p.Value) {
				continue
			}
			if lo == -1 || p.Value < part[lo].Value {
				lo = i
			}
			if hi == -1 || p.Value > part[hi].Value {
				hi = i
			}
		}
		switch {
		case lo == -1: // nothing finite: one point keeps the gap
			out = append(out, part[0])
		case lo == hi:
			out = append(out, part[lo])
		case lo < hi:
			out = append(out, part[lo], part[hi])
		default:
			out = append(out, part[hi], part[lo])
		}
	}
	return out
}
