package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/align-go/align/data"
	"github.com/align-go/align/optim"
	"github.com/align-go/align/option"
)

// Job is one training run: settings, an objective, the parameters it
// trains and how to save the model.
type Job struct {
	Settings  Settings
	Objective Objective
	Eval      Evaluator  // held-out set; nil for none
	Params    []ParamSet // each gets its own AdamW; clipping is global
	Saver     Saver      // writes the model as an HF directory (final and checkpoints)

	// ConfigYAML is written as OUT/config.yaml (Flags.ConfigYAML gives every
	// flag of the command); nil writes the loop settings alone.
	ConfigYAML []byte
	// Log receives progress and messages; nil means os.Stderr. A terminal
	// gets a progress bar, anything else plain lines every logging step.
	Log io.Writer
	// ResumeCommand is shown when the run is interrupted; "" derives it
	// from os.Args.
	ResumeCommand string
}

// Result summarises a finished run.
type Result struct {
	Steps int     // optimizer steps taken in total
	Loss  float64 // mean training loss of the last logging window
	Out   string  // the run directory holding the final model
}

// InterruptedError reports a run stopped by SIGINT/SIGTERM (or a cancelled
// context) after it finished its step and saved a checkpoint.
type InterruptedError struct {
	Reason     string
	Step       int
	Checkpoint string
	Command    string
}

func (e *InterruptedError) Error() string {
	return fmt.Sprintf("interrupted (%s) after step %d; checkpoint saved to %s; resume with:\n  %s",
		e.Reason, e.Step, e.Checkpoint, e.Command)
}

// NonFiniteError reports a NaN or Inf loss or gradient. Nothing was written
// from the poisoned state; LastCheckpoint is the newest good one ("" if none).
type NonFiniteError struct {
	Step           int
	What           string
	LastCheckpoint string
}

func (e *NonFiniteError) Error() string {
	last := "no checkpoint was written yet"
	if e.LastCheckpoint != "" {
		last = "last good checkpoint: " + e.LastCheckpoint
	}
	return fmt.Sprintf("train: step %d: %s; stopped without saving (%s)", e.Step, e.What, last)
}

type runner struct {
	job     *Job
	s       Settings
	obj     Objective
	sets    []ParamSet
	opts    []*optim.AdamW // nil for a set with nothing trainable
	rng     *data.RNG
	n       int
	lengths []int
	spe     int // steps per epoch
	total   int
	sched   optim.Schedule
	plan    *plan
	prog    progress
	metrics *os.File
	last    string // newest checkpoint directory

	winTokens int
	winStart  time.Time
	lastLoss  float64

	rollout     RolloutObjective // r.obj when it is one
	rolloutSize int              // examples per rollout
}

// Run trains job to completion, or until interrupted or poisoned by a
// non-finite value, and writes the final model into Settings.Out.
func Run(ctx context.Context, job *Job) (*Result, error) {
	r, st, err := setup(job)
	if err != nil {
		return nil, err
	}
	defer r.metrics.Close()
	// Preparing the data (tokenising every row) leaves garbage behind. With
	// a multi-gigabyte model live the collector would not run again until
	// as much again was allocated, so that garbage would sit in the peak
	// RSS of every step (~0.3 GB on the 8B shape's runs); hand it back now.
	// The heap is mostly pointer-free weight arrays: this costs milliseconds.
	debug.FreeOSMemory()

	var stopReason atomic.Pointer[string]
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	quit := make(chan struct{})
	defer func() { signal.Stop(sig); close(quit) }()
	go func() {
		select {
		case s := <-sig:
			// A second signal gets the default action: kill.
			signal.Stop(sig)
			reason := s.String()
			stopReason.Store(&reason)
			r.prog.message(reason + " received: finishing the current step, then writing a checkpoint (send it again to abort)")
		case <-quit:
		}
	}()

	r.prog.start(st.GlobalStep, r.total)
	r.winStart = time.Now()
	evalEvery := r.s.EvalSteps
	if evalEvery == 0 {
		evalEvery = r.s.LoggingSteps
	}
	evaluated := -1
	stopped := func() *string {
		if err := context.Cause(ctx); err != nil {
			reason := err.Error()
			return &reason
		}
		return stopReason.Load()
	}
	for st.GlobalStep < r.total {
		if reason := stopped(); reason != nil {
			return nil, r.interrupt(st, *reason)
		}
		if err := r.step(st); err != nil {
			return nil, err
		}
		step := st.GlobalStep
		if step%r.s.LoggingSteps == 0 || step == r.total {
			if err := r.logRow(st); err != nil {
				return nil, err
			}
		}
		if r.job.Eval != nil && (step%evalEvery == 0 || step == r.total) {
			if err := r.evaluate(st); err != nil {
				return nil, err
			}
			evaluated = step
		}
		if r.s.SaveSteps > 0 && step%r.s.SaveSteps == 0 {
			dir, err := r.writeCheckpoint(r.snapshot(st))
			if err != nil {
				return nil, err
			}
			r.last = dir
			r.prog.message("saved " + dir)
		}
	}
	if r.job.Eval != nil && evaluated != st.GlobalStep && st.GlobalStep > 0 {
		if err := r.evaluate(st); err != nil {
			return nil, err
		}
	}
	if err := r.checkParams(); err != nil {
		return nil, fmt.Errorf("train: final model: %w", err)
	}
	if err := r.job.Saver.Save(r.s.Out); err != nil {
		return nil, fmt.Errorf("train: saving final model: %w", err)
	}
	if err := writeJSONFile(filepath.Join(r.s.Out, stateFile), r.snapshot(st)); err != nil {
		return nil, err
	}
	r.prog.finish(fmt.Sprintf("done: %d steps; model saved to %s", st.GlobalStep, r.s.Out))
	return &Result{Steps: st.GlobalStep, Loss: r.lastLoss, Out: r.s.Out}, nil
}

// setup validates the job, builds the optimizers and restores a checkpoint
// when resuming.
func setup(job *Job) (*runner, *trainerState, error) {
	s := job.Settings
	if err := s.Validate(); err != nil {
		return nil, nil, err
	}
	if job.Objective == nil || job.Saver == nil || len(job.Params) == 0 {
		return nil, nil, errors.New("train: a job needs an Objective, a Saver and at least one ParamSet")
	}
	r := &runner{job: job, s: s, obj: job.Objective, sets: job.Params, rng: data.NewRNG(s.Seed, runStream)}
	names := map[string]bool{}
	anyTrainable := false
	for i := range r.sets {
		ps := &r.sets[i]
		if err := ps.validate(); err != nil {
			return nil, nil, err
		}
		if names[ps.Name] {
			return nil, nil, fmt.Errorf("train: two parameter sets named %q", ps.Name)
		}
		names[ps.Name] = true
		var o *optim.AdamW
		if ps.trainable() {
			anyTrainable = true
			var err error
			spans := ps.Spans
			if s.DecayAll {
				spans = append([]optim.Span(nil), spans...)
				for j := range spans {
					spans[j].Decay = true
				}
			}
			if o, err = optim.NewAdamW(optim.AdamWConfig(s.adam()), spans, len(ps.Data)); err != nil {
				return nil, nil, fmt.Errorf("train: parameter set %q: %w", ps.Name, err)
			}
		}
		r.opts = append(r.opts, o)
	}
	if !anyTrainable {
		return nil, nil, errors.New("train: every parameter is frozen; nothing to train")
	}
	r.n = r.obj.Len()
	if r.n <= 0 {
		return nil, nil, errors.New("train: the training set is empty")
	}
	r.lengths = make([]int, r.n)
	for i := range r.lengths {
		r.lengths[i] = r.obj.Length(i)
	}
	r.spe = stepsPerEpoch(r.n, s.BatchSize, s.GradAccum)
	updates := 1 // optimizer updates per step: the schedule's unit
	if ro, ok := r.obj.(RolloutObjective); ok {
		var examples int
		if examples, updates = ro.RolloutSize(); examples <= 0 || updates <= 0 {
			return nil, nil, fmt.Errorf("train: a rollout of %d examples and %d updates", examples, updates)
		}
		r.rollout, r.rolloutSize = ro, examples
		r.spe = (r.n + examples - 1) / examples
	}
	r.total = s.MaxSteps
	if r.total <= 0 {
		r.total = int(math.Ceil(s.Epochs * float64(r.spe)))
		if r.rollout != nil { // TRL's ceil(total_episodes / batch_size)
			r.total = int(math.Ceil(s.Epochs * float64(r.n) / float64(r.rolloutSize)))
		}
	}
	r.sched = s.schedule(r.total * updates)
	if err := r.sched.Validate(); err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(s.Out, 0o755); err != nil {
		return nil, nil, option.Bad("train.Settings.Out", "%w", err)
	}
	if err := cleanTemps(s.Out); err != nil {
		return nil, nil, option.Bad("train.Settings.Out", "%w", err)
	}
	st := &trainerState{Window: windowState{Metrics: Metrics{}}}
	if s.Resume != "" {
		dir, err := resumeDir(&s)
		if err != nil {
			return nil, nil, err
		}
		if st, err = r.loadCheckpoint(dir); err != nil {
			return nil, nil, err
		}
		if st.GlobalStep > r.total {
			return nil, nil, option.Bad("train.Settings.Resume", "%s is at step %d, beyond this run's %d steps", dir, st.GlobalStep, r.total)
		}
		r.last = dir
	} else if latest, err := LatestCheckpoint(s.Out); err != nil {
		return nil, nil, err
	} else if latest != "" {
		return nil, nil, option.Bad("train.Settings.Out", "%s already holds %s: set train.Settings.Resume to continue that run, or choose another directory", s.Out, latest)
	}
	r.prog = newProgress(job.Log, s.LoggingSteps)
	var err error
	if r.metrics, err = openMetrics(filepath.Join(s.Out, metricsFile), s.Resume != "", st.GlobalStep); err != nil {
		return nil, nil, err
	}
	cfg := job.ConfigYAML
	if cfg == nil {
		cfg = settingsYAML(&s)
	}
	if err := writeFileAtomic(filepath.Join(s.Out, configFile), cfg); err != nil {
		r.metrics.Close()
		return nil, nil, err
	}
	if s.Resume != "" {
		r.prog.message(fmt.Sprintf("resumed from %s at step %d", r.last, st.GlobalStep))
	}
	return r, st, nil
}

func (r *runner) setNames() []string {
	out := make([]string, len(r.sets))
	for i, ps := range r.sets {
		out[i] = ps.Name
	}
	return out
}

// step takes one optimizer step from the data position in st and advances it.
func (r *runner) step(st *trainerState) error {
	if r.rollout != nil {
		return r.rolloutStep(st)
	}
	if r.plan == nil || r.plan.epoch != st.DataEpoch {
		r.plan = epochPlan(r.lengths, r.s.BatchSize, r.s.GradAccum, r.s.Seed, st.DataEpoch, r.s.GroupByLength)
	}
	if st.DataStep >= len(r.plan.steps) {
		st.DataEpoch++
		st.DataStep = 0
		r.plan = epochPlan(r.lengths, r.s.BatchSize, r.s.GradAccum, r.s.Seed, st.DataEpoch, r.s.GroupByLength)
	}
	micro := r.plan.steps[st.DataStep]
	stepNo := st.GlobalStep + 1
	ctx := &StepContext{Step: stepNo, Epoch: st.DataEpoch, RNG: r.rng}
	if p, ok := r.obj.(BatchPreparer); ok {
		var all []int
		for _, mb := range micro {
			all = append(all, mb...)
		}
		if err := p.PrepareBatch(ctx, all); err != nil {
			return fmt.Errorf("train: step %d: %w", stepNo, err)
		}
	}
	tokens := 0
	for _, mb := range micro {
		for _, i := range mb {
			tokens += r.lengths[i]
		}
	}
	sum, norm, lr, _, err := r.update(st, stepNo, micro)
	if err != nil {
		return err
	}
	loss := sum["loss"]
	st.GlobalStep = stepNo
	st.DataStep++
	st.Epoch = float64(st.DataEpoch) + float64(st.DataStep)/float64(r.spe)
	if h, ok := r.obj.(StepHook); ok {
		if err := h.AfterStep(ctx); err != nil {
			return fmt.Errorf("train: step %d: %w", stepNo, err)
		}
	}
	st.Window.Steps++
	st.Window.Metrics.Add(sum)
	st.Window.Metrics["learning_rate"] = lr // last value, not summed: see logRow
	st.Window.Metrics["grad_norm"] = norm
	r.winTokens += tokens
	r.prog.update(stepNo, loss, r.tokensPerSecond())
	return nil
}

// checkParams refuses to persist a model holding NaN or Inf.
func (r *runner) checkParams() error {
	for _, ps := range r.sets {
		if err := optim.CheckFinite(ps.Data, ps.Spans); err != nil {
			return fmt.Errorf("parameter set %q: %w", ps.Name, err)
		}
	}
	return nil
}

// snapshot is the resumable state after st.GlobalStep steps.
func (r *runner) snapshot(st *trainerState) *trainerState {
	c := *st
	c.MaxSteps = r.total
	c.Seed, c.BatchSize, c.GradAccum = r.s.Seed, r.s.BatchSize, r.s.GradAccum
	c.GroupByLength, c.NumExamples, c.ParamSets = r.s.GroupByLength, r.n, r.setNames()
	c.OptimizerSteps = map[string]int64{}
	for i, o := range r.opts {
		if o != nil {
			c.OptimizerSteps[r.sets[i].Name] = o.StepCount()
		}
	}
	c.RNG, _ = r.rng.MarshalBinary()
	if so, ok := r.obj.(StatefulObjective); ok {
		// An objective whose state cannot be written would resume wrongly;
		// the error surfaces as a missing state when loading.
		c.Objective, _ = so.State()
	}
	c.Window.Metrics = Metrics{}
	c.Window.Metrics.Add(st.Window.Metrics)
	return &c
}

// interrupt writes a checkpoint of the finished steps and reports how to resume.
func (r *runner) interrupt(st *trainerState, reason string) error {
	dir := r.last
	lastStep := -1
	if dir != "" {
		var prev trainerState
		if err := readJSONFile(filepath.Join(dir, stateFile), &prev); err == nil {
			lastStep = prev.GlobalStep
		}
	}
	if lastStep != st.GlobalStep {
		var err error
		if dir, err = r.writeCheckpoint(r.snapshot(st)); err != nil {
			return fmt.Errorf("interrupted (%s) after step %d, and the checkpoint failed: %w", reason, st.GlobalStep, err)
		}
	}
	r.prog.finish("stopped: checkpoint " + dir)
	cmd := r.job.ResumeCommand
	if cmd == "" {
		cmd = ResumeCommand(os.Args)
	}
	return &InterruptedError{Reason: reason, Step: st.GlobalStep, Checkpoint: dir, Command: cmd}
}

// evaluate runs the held-out objective and logs an eval_ row.
func (r *runner) evaluate(st *trainerState) error {
	ev := r.job.Eval
	n := ev.Len()
	if n == 0 {
		return nil
	}
	lengths := make([]int, n)
	for i := range lengths {
		lengths[i] = ev.Length(i)
	}
	// Longest first keeps padding small; the order is fixed, so eval metrics
	// are reproducible.
	order := epochOrderByLength(lengths)
	units := ev.Units(order)
	sum := Metrics{}
	for lo := 0; lo < n; lo += r.s.BatchSize {
		m, err := ev.Eval(order[lo:min(lo+r.s.BatchSize, n)], max(units, 1))
		if err != nil {
			return fmt.Errorf("train: evaluation at step %d: %w", st.GlobalStep, err)
		}
		sum.Add(m)
	}
	row := Metrics{}
	for k, v := range sum {
		row["eval_"+k] = v
	}
	return r.writeRow(st, row, "eval")
}
