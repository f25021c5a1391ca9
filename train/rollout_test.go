package train

import (
	"bytes"
	"context"
	"errors"
	"math"
	"path/filepath"
	"testing"
)

// rolloutQuad is the quadratic objective as a RolloutObjective: each step
// draws 3 examples (from the step number) and a noise (from ctx.RNG), then
// takes 2 updates on them, the first over micro-batches {0} and {1, 2} (or
// {0, 1, 2} with oneMicro), the second over {2, 0}.
type rolloutQuad struct {
	*quad
	cur      []int
	oneMicro bool
}

func (q *rolloutQuad) RolloutSize() (int, int) { return 3, 2 }

func (q *rolloutQuad) Rollout(ctx *StepContext) ([][][]int, Metrics, error) {
	q.step = ctx.Step
	q.noise = float32(ctx.RNG.Uint64n(1000)) / 1e4
	q.cur = []int{(3 * ctx.Step) % q.quad.Len(), (3*ctx.Step + 1) % q.quad.Len(), (3*ctx.Step + 2) % q.quad.Len()}
	first := [][]int{{0}, {1, 2}}
	if q.oneMicro {
		first = [][]int{{0, 1, 2}}
	}
	return [][][]int{first, {{2, 0}}}, Metrics{"rollout/noise": float64(q.noise)}, nil
}

func (q *rolloutQuad) ex(idx []int) []int {
	out := make([]int, len(idx))
	for i, k := range idx {
		out[i] = q.cur[k]
	}
	return out
}

func (q *rolloutQuad) Units(idx []int) int { return q.quad.Units(q.ex(idx)) }
func (q *rolloutQuad) Accumulate(idx []int, total int) (Metrics, error) {
	return q.quad.loss(q.ex(idx), total, true), nil
}

func rolloutJob(q *rolloutQuad, s Settings) *Job {
	return &Job{Settings: s, Objective: q, Params: []ParamSet{q.ps}, Saver: q.saver(), Log: discard{}}
}

// TestRolloutObjective: a step is one rollout and its updates; the schedule
// and its warm-up count updates (6 in 3 steps), the row holds the rollout's
// metrics and the mean of the updates' loss; micro-batches of an update add
// up to the whole update; and a run interrupted after step 2 resumes
// bit-exactly.
func TestRolloutObjective(t *testing.T) {
	out := t.TempDir()
	s := quadSettings(out)
	s.MaxSteps, s.LR, s.LRScheduler, s.WarmupSteps = 3, 0.05, "linear", 2
	q := &rolloutQuad{quad: newQuad(12, 1)}
	if _, err := run(t, rolloutJob(q, s)); err != nil {
		t.Fatal(err)
	}
	rows := readRows(t, filepath.Join(out, metricsFile))
	if len(rows) != 3 {
		t.Fatalf("%d rows, want 3", len(rows))
	}
	// Updates 0..5, warm-up 2: factors 0, 1/2, 1, 3/4, 2/4, 1/4; a row shows
	// its step's last update.
	for i, f := range []float64{0.5, 0.75, 0.25} {
		if r := rows[i]; math.Abs(r["learning_rate"]-0.05*f) > 1e-15 || r["lr"] != r["learning_rate"] {
			t.Errorf("step %d: learning_rate %v, lr %v; want %v", i+1, r["learning_rate"], r["lr"], 0.05*f)
		}
		if _, ok := rows[i]["rollout/noise"]; !ok {
			t.Errorf("step %d: no rollout metric in %v", i+1, rows[i])
		}
		// tokens is Σ units/total over each update's micro-batches: 1 per
		// update, so 1 as their mean.
		if math.Abs(rows[i]["tokens"]-1) > 1e-12 {
			t.Errorf("step %d: tokens %v, want 1 (micro-batches not normalised by the update's units)", i+1, rows[i]["tokens"])
		}
		if want := 3 * float64(i+1) / 12; math.Abs(rows[i]["epoch"]-want) > 1e-12 {
			t.Errorf("step %d: epoch %v, want %v", i+1, rows[i]["epoch"], want)
		}
	}
	// Without --max-steps, --epochs 1.5 over 12 examples in rollouts of 3:
	// TRL's ceil(18 / 3) = 6 steps.
	s2 := s
	s2.Out, s2.MaxSteps, s2.Epochs = t.TempDir(), 0, 1.5
	if res, err := run(t, rolloutJob(&rolloutQuad{quad: newQuad(12, 1)}, s2)); err != nil || res.Steps != 6 {
		t.Fatalf("epochs 1.5: %v steps (%v), want 6", res, err)
	}
	whole := &rolloutQuad{quad: newQuad(12, 1), oneMicro: true}
	s.Out = t.TempDir()
	if _, err := run(t, rolloutJob(whole, s)); err != nil {
		t.Fatal(err)
	}
	for i := range q.ps.Data {
		if math.Abs(float64(q.ps.Data[i]-whole.ps.Data[i])) > 1e-6 {
			t.Errorf("param %d: two micro-batches %v, one %v", i, q.ps.Data[i], whole.ps.Data[i])
		}
	}

	// Interrupted after step 2 of 3, then resumed.
	out2 := t.TempDir()
	s.Out = out2
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	half := &rolloutQuad{quad: newQuad(12, 1)}
	half.cancelAt, half.cancel = 2, cancel
	_, err := Run(ctx, rolloutJob(half, s))
	var ie *InterruptedError
	if !errors.As(err, &ie) || ie.Step != 2 {
		t.Fatalf("interrupted run: %v", err)
	}
	s.Resume = ResumeLatest
	resumed := &rolloutQuad{quad: newQuad(12, 1)}
	if _, err := run(t, rolloutJob(resumed, s)); err != nil {
		t.Fatal(err)
	}
	if a, b := mustRead(t, filepath.Join(out, "weights.bin")), mustRead(t, filepath.Join(out2, "weights.bin")); !bytes.Equal(a, b) {
		t.Fatalf("resumed weights differ: %v vs %v", resumed.ps.Data, q.ps.Data)
	}
}
