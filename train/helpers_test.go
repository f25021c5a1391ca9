package train

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/align-go/align/optim"
)

// quad is a fast synthetic objective: linear regression, one "token" per
// (x, y) pair, loss 0.5·(w·x + b - y - noise)² summed over tokens and
// scaled by 1/totalUnits. noise is drawn from the run RNG in PrepareBatch, so
// resume tests also prove the RNG state is restored.
type quad struct {
	x     [][][3]float32
	y     [][]float32
	ps    ParamSet
	noise float32
	step  int

	nanLossAt, nanGradAt int
	cancelAt             int
	cancel               func()
}

func newQuad(n int, seed int) *quad {
	q := &quad{}
	s := uint32(seed*7919 + 1)
	next := func() float32 { s = s*1664525 + 1013904223; return float32(s>>8)/float32(1<<24)*2 - 1 }
	for i := 0; i < n; i++ {
		L := 1 + i%5
		xs := make([][3]float32, L)
		ys := make([]float32, L)
		for t := range xs {
			xs[t] = [3]float32{next(), next(), next()}
			ys[t] = 0.5*xs[t][0] - 2*xs[t][1] + xs[t][2] + 0.3
		}
		q.x, q.y = append(q.x, xs), append(q.y, ys)
	}
	data := []float32{0.1, -0.1, 0.2, 0}
	q.ps = ParamSet{Name: "toy", Data: data, Grad: make([]float32, 4), Spans: []optim.Span{
		{Name: "w", Offset: 0, Size: 3, Decay: true}, {Name: "b", Offset: 3, Size: 1}}}
	return q
}

func (q *quad) Len() int         { return len(q.x) }
func (q *quad) Length(i int) int { return len(q.x[i]) }
func (q *quad) Units(idx []int) int {
	n := 0
	for _, i := range idx {
		n += len(q.x[i])
	}
	return n
}

func (q *quad) PrepareBatch(ctx *StepContext, idx []int) error {
	q.step = ctx.Step
	q.noise = float32(ctx.RNG.Uint64n(1000)) / 1e4
	return nil
}

func (q *quad) AfterStep(ctx *StepContext) error {
	if ctx.Step == q.cancelAt && q.cancel != nil {
		q.cancel()
	}
	return nil
}

func (q *quad) loss(idx []int, total int, grad bool) Metrics {
	w := q.ps.Data
	scale := 1 / float32(total)
	var sum float64
	for _, i := range idx {
		for t, x := range q.x[i] {
			r := w[0]*x[0] + w[1]*x[1] + w[2]*x[2] + w[3] - q.y[i][t] - q.noise
			sum += float64(0.5 * r * r * scale)
			if grad {
				g := q.ps.Grad
				g[0] += r * x[0] * scale
				g[1] += r * x[1] * scale
				g[2] += r * x[2] * scale
				g[3] += r * scale
			}
		}
	}
	if q.nanLossAt > 0 && q.step == q.nanLossAt {
		sum = math.NaN()
	}
	if grad && q.nanGradAt > 0 && q.step == q.nanGradAt {
		q.ps.Grad[3] = float32(math.Inf(1))
	}
	return Metrics{"loss": sum, "tokens": float64(q.Units(idx)) / float64(total)}
}

func (q *quad) Accumulate(idx []int, total int) (Metrics, error) {
	return q.loss(idx, total, true), nil
}
func (q *quad) Eval(idx []int, total int) (Metrics, error) { return q.loss(idx, total, false), nil }

// saver writes the raw parameter bytes, so runs can be compared bit for bit.
func (q *quad) saver() Saver {
	return SaverFunc(func(dir string) error {
		return os.WriteFile(filepath.Join(dir, "weights.bin"), f32bytes(q.ps.Data), 0o644)
	})
}

func f32bytes(x []float32) []byte {
	b := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

func quadJob(q *quad, s Settings) *Job {
	return &Job{Settings: s, Objective: q, Params: []ParamSet{q.ps}, Saver: q.saver(), Log: discard{}}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func quadSettings(out string) Settings {
	s := DefaultSettings()
	s.Out = out
	s.MaxSteps = 10
	s.BatchSize = 2
	s.GradAccum = 2
	s.LR = 0.05
	s.LoggingSteps = 1
	s.SaveSteps = 0
	return s
}

func readRows(t *testing.T, path string) []map[string]float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []map[string]float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]float64
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: %v: %s", path, err, sc.Text())
		}
		rows = append(rows, m)
	}
	return rows
}

func run(t *testing.T, j *Job) (*Result, error) {
	t.Helper()
	return Run(context.Background(), j)
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
