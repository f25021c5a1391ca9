package train

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestScheduleInMetrics(t *testing.T) {
	// learning_rate of the row for step s is the rate its update used:
	// lr·factor(s-1), with HF's factors (first warmup update at 0).
	tests := []struct {
		sched  string
		warmup int
		steps  int
		want   []float64 // factors for steps 1..steps
	}{
		{"linear", 3, 10, []float64{0, 1. / 3, 2. / 3, 1, 6. / 7, 5. / 7, 4. / 7, 3. / 7, 2. / 7, 1. / 7}},
		{"cosine", 2, 6, []float64{0, 0.5, 1, 0.8535533905932737, 0.5, 0.14644660940672627}},
		{"constant_with_warmup", 4, 6, []float64{0, 0.25, 0.5, 0.75, 1, 1}},
		{"constant", 4, 3, []float64{1, 1, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.sched, func(t *testing.T) {
			out := t.TempDir()
			s := quadSettings(out)
			s.LRScheduler, s.WarmupSteps, s.MaxSteps, s.LR = tc.sched, tc.warmup, tc.steps, 0.01
			if _, err := run(t, quadJob(newQuad(12, 1), s)); err != nil {
				t.Fatal(err)
			}
			rows := readRows(t, filepath.Join(out, metricsFile))
			if len(rows) != tc.steps {
				t.Fatalf("%d rows, want %d", len(rows), tc.steps)
			}
			for i, r := range rows {
				if r["step"] != float64(i+1) {
					t.Fatalf("row %d: step %v", i, r["step"])
				}
				if want := 0.01 * tc.want[i]; math.Abs(r["learning_rate"]-want) > 1e-12 {
					t.Errorf("step %d: learning_rate %v, want %v", i+1, r["learning_rate"], want)
				}
				for _, k := range []string{"loss", "grad_norm", "tokens_per_second", "epoch", "tokens"} {
					if _, ok := r[k]; !ok {
						t.Errorf("step %d: no %q in row %v", i+1, k, r)
					}
				}
			}
			// 12 examples, batch 2, accum 2: 3 steps per epoch.
			if got := rows[len(rows)-1]["epoch"]; math.Abs(got-float64(tc.steps)/3) > 1e-12 {
				t.Errorf("final epoch %v, want %v", got, float64(tc.steps)/3)
			}
		})
	}
}

func TestWarmupRatioAndEpochs(t *testing.T) {
	out := t.TempDir()
	s := quadSettings(out)
	s.MaxSteps, s.Epochs, s.WarmupRatio, s.LRScheduler = 0, 2, 0.25, "constant_with_warmup"
	// 10 examples / batch 2 = 5 micro-batches, accum 2 -> 3 steps/epoch (last has one micro-batch); 2 epochs = 6 steps;
	// warmup ceil(0.25*6) = 2.
	res, err := run(t, quadJob(newQuad(10, 2), s))
	if err != nil {
		t.Fatal(err)
	}
	if res.Steps != 6 {
		t.Fatalf("steps %d, want 6", res.Steps)
	}
	rows := readRows(t, filepath.Join(out, metricsFile))
	want := []float64{0, 0.5, 1, 1, 1, 1}
	for i, r := range rows {
		if math.Abs(r["learning_rate"]-s.LR*want[i]) > 1e-12 {
			t.Errorf("step %d: lr %v want %v", i+1, r["learning_rate"], s.LR*want[i])
		}
	}
}

func TestLossFallsAndLogWindowMeans(t *testing.T) {
	out := t.TempDir()
	s := quadSettings(out)
	s.MaxSteps, s.LoggingSteps = 60, 20
	q := newQuad(16, 3)
	res, err := run(t, quadJob(q, s))
	if err != nil {
		t.Fatal(err)
	}
	rows := readRows(t, filepath.Join(out, metricsFile))
	if len(rows) != 3 || rows[2]["step"] != 60 {
		t.Fatalf("rows %v", rows)
	}
	if !(rows[2]["loss"] < 0.2*rows[0]["loss"]) {
		t.Fatalf("loss did not fall: %v -> %v", rows[0]["loss"], rows[2]["loss"])
	}
	// "tokens" is units/total summed over micro-batches: exactly 1 per step,
	// so its window mean must be 1.
	if math.Abs(rows[1]["tokens"]-1) > 1e-12 {
		t.Fatalf("window mean of a per-step-1 metric is %v", rows[1]["tokens"])
	}
	if res.Loss != rows[2]["loss"] {
		t.Fatalf("Result.Loss %v != last row %v", res.Loss, rows[2]["loss"])
	}
	if !bytes.Equal(mustRead(t, filepath.Join(out, "weights.bin")), f32bytes(q.ps.Data)) {
		t.Fatal("final model not saved in OUT")
	}
	for _, f := range []string{configFile, stateFile} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestEvalRows(t *testing.T) {
	out := t.TempDir()
	s := quadSettings(out)
	s.MaxSteps, s.EvalSteps, s.LoggingSteps = 5, 2, 5
	q := newQuad(12, 4)
	ev := newQuad(7, 5)
	j := quadJob(q, s)
	j.Eval = ev
	// The eval set scores the training weights.
	ev.ps = q.ps
	if _, err := run(t, j); err != nil {
		t.Fatal(err)
	}
	var evalSteps []float64
	for _, r := range readRows(t, filepath.Join(out, metricsFile)) {
		if v, ok := r["eval_loss"]; ok {
			evalSteps = append(evalSteps, r["step"])
			if _, ok := r["loss"]; ok {
				t.Fatal("eval row carries a training loss")
			}
			if r["step"] == 5 {
				// Hand computation of the mean over all eval tokens at the final weights.
				w := q.ps.Data
				var sum float64
				n := 0
				for i := range ev.x {
					for tk, x := range ev.x[i] {
						r := float64(w[0])*float64(x[0]) + float64(w[1])*float64(x[1]) + float64(w[2])*float64(x[2]) + float64(w[3]) - float64(ev.y[i][tk])
						sum += 0.5 * r * r
						n++
					}
				}
				if want := sum / float64(n); math.Abs(v-want) > 1e-5*want {
					t.Fatalf("eval_loss %v, want %v", v, want)
				}
			}
		}
	}
	if len(evalSteps) != 3 || evalSteps[0] != 2 || evalSteps[1] != 4 || evalSteps[2] != 5 {
		t.Fatalf("eval at steps %v, want [2 4 5]", evalSteps)
	}
}

func TestCheckpointRotation(t *testing.T) {
	tests := []struct {
		limit int
		want  []int
	}{{2, []int{6, 8}}, {0, []int{2, 4, 6, 8}}, {1, []int{8}}}
	for _, tc := range tests {
		out := t.TempDir()
		s := quadSettings(out)
		s.MaxSteps, s.SaveSteps, s.SaveTotalLimit = 9, 2, tc.limit
		if _, err := run(t, quadJob(newQuad(12, 1), s)); err != nil {
			t.Fatal(err)
		}
		got, err := checkpoints(out)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(tc.want) {
			t.Fatalf("limit %d: checkpoints %v, want %v", tc.limit, got, tc.want)
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Fatalf("limit %d: checkpoints %v, want %v", tc.limit, got, tc.want)
			}
		}
		dir := filepath.Join(out, "checkpoint-8")
		for _, f := range []string{stateFile, optimizerFile, paramsFile, "weights.bin"} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Errorf("limit %d: %v", tc.limit, err)
			}
		}
		ents, _ := os.ReadDir(out)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".tmp") {
				t.Errorf("leftover temporary %s", e.Name())
			}
		}
	}
}

// TestResumeBitExact interrupts a run (as SIGINT would, through the
// context) and resumes it; the weights and every logged value except the
// timing must equal an uninterrupted run's, bit for bit.
func TestResumeBitExact(t *testing.T) {
	// 3 steps per epoch: an epoch boundary, a step that also saved, mid-epoch.
	for _, stopAt := range []int{3, 4, 7} {
		ref := t.TempDir()
		s := quadSettings(ref)
		s.MaxSteps, s.SaveSteps, s.LoggingSteps, s.WeightDecay = 11, 4, 2, 0.1
		qa := newQuad(12, 6)
		if _, err := run(t, quadJob(qa, s)); err != nil {
			t.Fatal(err)
		}

		out := t.TempDir()
		s.Out = out
		qb := newQuad(12, 6)
		ctx, cancel := context.WithCancel(context.Background())
		qb.cancelAt, qb.cancel = stopAt, cancel
		j := quadJob(qb, s)
		j.ResumeCommand = "align test --resume"
		_, err := Run(ctx, j)
		var ie *InterruptedError
		if !errors.As(err, &ie) || ie.Step != stopAt || !strings.Contains(err.Error(), "align test --resume") {
			t.Fatalf("stop at %d: got %v", stopAt, err)
		}
		if filepath.Base(ie.Checkpoint) != "checkpoint-"+strconv.Itoa(stopAt) {
			t.Fatalf("checkpoint %s", ie.Checkpoint)
		}
		if _, err := os.Stat(filepath.Join(out, "weights.bin")); err == nil {
			t.Fatal("an interrupted run wrote the final model")
		}

		s.Resume = ResumeLatest
		qc := newQuad(12, 6) // fresh weights: everything must come from the checkpoint
		if _, err := run(t, quadJob(qc, s)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(mustRead(t, filepath.Join(ref, "weights.bin")), mustRead(t, filepath.Join(out, "weights.bin"))) {
			t.Fatalf("stop at %d: resumed weights differ: %v vs %v", stopAt, qa.ps.Data, qc.ps.Data)
		}
		a, b := readRows(t, filepath.Join(ref, metricsFile)), readRows(t, filepath.Join(out, metricsFile))
		if len(a) != len(b) {
			t.Fatalf("stop at %d: %d rows vs %d", stopAt, len(a), len(b))
		}
		for i := range a {
			for k, v := range a[i] {
				if k != "tokens_per_second" && b[i][k] != v {
					t.Fatalf("stop at %d: row %d %s: %v vs %v", stopAt, i, k, v, b[i][k])
				}
			}
		}
	}
}

func TestFreshRunRefusesExistingCheckpoints(t *testing.T) {
	out := t.TempDir()
	s := quadSettings(out)
	s.MaxSteps, s.SaveSteps = 2, 1
	if _, err := run(t, quadJob(newQuad(8, 1), s)); err != nil {
		t.Fatal(err)
	}
	_, err := run(t, quadJob(newQuad(8, 1), s))
	if err == nil || !strings.Contains(err.Error(), "train.Settings.Resume") {
		t.Fatalf("got %v", err)
	}
	// A resume with another batch size would not continue the same run.
	s.Resume, s.BatchSize = ResumeLatest, 3
	_, err = run(t, quadJob(newQuad(8, 1), s))
	if err == nil || !strings.Contains(err.Error(), "train_batch_size") {
		t.Fatalf("got %v", err)
	}
}

func TestNonFiniteStops(t *testing.T) {
	tests := []struct {
		name      string
		loss, grd int
		want      string
	}{
		{"loss", 5, 0, "step 5: loss is NaN"},
		{"grad", 0, 5, `step 5: non-finite gradient in parameter set "toy": optim: tensor "b" element 0 is +Inf`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			s := quadSettings(out)
			// constant: a clean 4-step run below must see the same rates.
			s.MaxSteps, s.SaveSteps, s.LRScheduler = 10, 2, "constant"
			q := newQuad(12, 7)
			q.nanLossAt, q.nanGradAt = tc.loss, tc.grd
			_, err := run(t, quadJob(q, s))
			var nf *NonFiniteError
			if !errors.As(err, &nf) || nf.Step != 5 || !strings.Contains(err.Error(), tc.want) ||
				!strings.Contains(err.Error(), "checkpoint-4") {
				t.Fatalf("got %v", err)
			}
			got, _ := checkpoints(out)
			if len(got) != 2 || got[1] != 4 {
				t.Fatalf("checkpoints %v, want [2 4]", got)
			}
			if _, err := os.Stat(filepath.Join(out, "weights.bin")); err == nil {
				t.Fatal("final model written from a poisoned run")
			}
			// checkpoint-4 is intact: identical to a clean run's checkpoint-4.
			clean := t.TempDir()
			s.Out, s.MaxSteps = clean, 4
			if _, err := run(t, quadJob(newQuad(12, 7), s)); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{paramsFile, optimizerFile, "weights.bin"} {
				if !bytes.Equal(mustRead(t, filepath.Join(out, "checkpoint-4", f)), mustRead(t, filepath.Join(clean, "checkpoint-4", f))) {
					t.Fatalf("checkpoint-4/%s differs from a clean run's", f)
				}
			}
		})
	}
}

func TestJobValidation(t *testing.T) {
	q := newQuad(4, 1)
	frozen := q.ps
	frozen.Spans = append(frozen.Spans[:0:0], frozen.Spans...)
	for i := range frozen.Spans {
		frozen.Spans[i].Frozen = true
	}
	s := quadSettings(t.TempDir())
	tests := []struct {
		name string
		job  *Job
		want string
	}{
		{"frozen", &Job{Settings: s, Objective: q, Params: []ParamSet{frozen}, Saver: q.saver()}, "frozen"},
		{"dup", &Job{Settings: s, Objective: q, Params: []ParamSet{q.ps, q.ps}, Saver: q.saver()}, "two parameter sets"},
		{"empty", &Job{Settings: s, Objective: newQuad(0, 1), Params: []ParamSet{q.ps}, Saver: q.saver()}, "empty"},
		{"grad", &Job{Settings: s, Objective: q, Params: []ParamSet{{Name: "x", Data: make([]float32, 2)}}, Saver: q.saver()}, "gradients"},
		{"settings", &Job{Settings: Settings{}, Objective: q, Params: []ParamSet{q.ps}, Saver: q.saver()}, "train.Settings.Out"},
	}
	for _, tc := range tests {
		if _, err := Run(context.Background(), tc.job); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestWeightDecayAll: by default the bias span (Decay false) is not decayed;
// --weight-decay-all decays it too, by exactly lr·wd·p on the first step.
func TestWeightDecayAll(t *testing.T) {
	bias := func(all bool) float64 {
		q := newQuad(8, 1)
		q.ps.Data[3] = 1
		s := quadSettings(t.TempDir())
		s.MaxSteps, s.LR, s.WeightDecay, s.DecayAll = 1, 0.1, 0.5, all
		s.LRScheduler, s.WarmupSteps, s.WarmupRatio, s.SaveSteps = "constant", 0, 0, 0
		if _, err := run(t, quadJob(q, s)); err != nil {
			t.Fatal(err)
		}
		return float64(q.ps.Data[3])
	}
	plain, all := bias(false), bias(true)
	if d := plain - all; math.Abs(d-0.05) > 1e-6 {
		t.Fatalf("bias after one step: %v without, %v with --weight-decay-all; difference %v, want lr·wd·1 = 0.05", plain, all, d)
	}
}
