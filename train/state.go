package train

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/align-go/align/checkpoint"
	"github.com/align-go/align/optim"
	"github.com/align-go/align/option"
)

// Files of a checkpoint directory besides what the Saver writes.
const (
	stateFile     = "trainer_state.json"
	optimizerFile = "optimizer.safetensors"
	paramsFile    = "params.safetensors"
	metricsFile   = "metrics.jsonl"
	configFile    = "config.yaml"
	ckptPrefix    = "checkpoint-"
	tmpPrefix     = ".tmp-" + ckptPrefix
)

// trainerState is trainer_state.json: where the run stands, and what must
// match for a resume to continue the same run.
type trainerState struct {
	GlobalStep     int              `json:"global_step"`
	Epoch          float64          `json:"epoch"`
	MaxSteps       int              `json:"max_steps"`
	DataEpoch      int              `json:"data_epoch"`      // epoch of the next batch
	DataStep       int              `json:"data_step"`       // steps of DataEpoch already taken
	SchedulerStep  int              `json:"scheduler_step"`  // updates taken: the schedule's input
	OptimizerSteps map[string]int64 `json:"optimizer_steps"` // AdamW step per parameter set
	RNG            []byte           `json:"rng_state"`       // the objective's RNG, base64
	Window         windowState      `json:"log_window"`      // metrics since the last logged row
	// Objective is a StatefulObjective's own state (KL controller, running
	// statistics), base64; empty for objectives without any.
	Objective []byte `json:"objective_state,omitempty"`

	// Identity of the run: a resume with different values would not continue it.
	Seed          uint64   `json:"seed"`
	BatchSize     int      `json:"train_batch_size"`
	GradAccum     int      `json:"gradient_accumulation_steps"`
	GroupByLength bool     `json:"group_by_length"`
	NumExamples   int      `json:"num_examples"`
	ParamSets     []string `json:"param_sets"`
	LastGood      string   `json:"-"`
}

// windowState accumulates the logging window (step values summed).
type windowState struct {
	Steps   int     `json:"steps"`
	Metrics Metrics `json:"metrics"`
}

// tensorName names span sp of set in the state files.
func tensorName(set, span, suffix string) string {
	if suffix == "" {
		return set + "/" + span
	}
	return set + "/" + span + "." + suffix
}

// writeCheckpoint writes OUT/checkpoint-STEP atomically: everything goes into
// a temporary directory in out, is synced, and is renamed into place, so a
// crash leaves either the complete checkpoint or none.
func (r *runner) writeCheckpoint(st *trainerState) (string, error) {
	if err := r.checkParams(); err != nil {
		return "", fmt.Errorf("train: not writing checkpoint %d: %w", st.GlobalStep, err)
	}
	tmp, err := os.MkdirTemp(r.s.Out, tmpPrefix)
	if err != nil {
		return "", fmt.Errorf("train: %w", err)
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	if err := r.job.Saver.Save(tmp); err != nil {
		return "", fmt.Errorf("train: saving model for checkpoint %d: %w", st.GlobalStep, err)
	}
	var params, opt []checkpoint.Tensor
	meta := map[string]string{"format": "align-train"}
	for i, ps := range r.sets {
		o := r.opts[i]
		if o == nil {
			continue
		}
		ost := o.State()
		meta[ps.Name+".step"] = strconv.FormatInt(ost.Step, 10)
		for j, name := range ost.Names {
			sp := spanByName(ps.Spans, name)
			params = append(params, checkpoint.Tensor{Name: tensorName(ps.Name, name, ""), Shape: []int{sp.Size}, Data: ps.Data[sp.Offset : sp.Offset+sp.Size]})
			opt = append(opt,
				checkpoint.Tensor{Name: tensorName(ps.Name, name, "exp_avg"), Shape: []int{sp.Size}, Data: ost.M[j]},
				checkpoint.Tensor{Name: tensorName(ps.Name, name, "exp_avg_sq"), Shape: []int{sp.Size}, Data: ost.V[j]})
		}
	}
	if err := checkpoint.Write(filepath.Join(tmp, paramsFile), params, map[string]string{"format": "align-train"}); err != nil {
		return "", err
	}
	if err := checkpoint.Write(filepath.Join(tmp, optimizerFile), opt, meta); err != nil {
		return "", err
	}
	if err := checkpoint.WriteJSON(filepath.Join(tmp, stateFile), st); err != nil {
		return "", err
	}
	if err := syncTree(tmp); err != nil {
		return "", fmt.Errorf("train: syncing checkpoint: %w", err)
	}
	final := filepath.Join(r.s.Out, ckptPrefix+strconv.Itoa(st.GlobalStep))
	var old string
	if _, err := os.Stat(final); err == nil {
		// A resumed run re-reaching a step saved before: swap, then drop the old one.
		old = tmp + ".old"
		if err := os.Rename(final, old); err != nil {
			return "", err
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("train: %w", err)
	}
	done = true
	if err := syncDir(r.s.Out); err != nil {
		return "", err
	}
	if old != "" {
		os.RemoveAll(old)
	}
	return final, r.rotate()
}

func spanByName(spans []optim.Span, name string) optim.Span {
	for _, s := range spans {
		if s.Name == name {
			return s
		}
	}
	return optim.Span{}
}

// syncTree fsyncs every file under dir and the directories themselves.
func syncTree(dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return syncDir(path)
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		err = f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	})
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// checkpoints lists the complete checkpoints in out, oldest step first.
func checkpoints(out string) ([]int, error) {
	ents, err := os.ReadDir(out)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var steps []int
	for _, e := range ents {
		name := e.Name()
		if !e.IsDir() || !strings.HasPrefix(name, ckptPrefix) {
			continue
		}
		n, err := strconv.Atoi(strings.TrimPrefix(name, ckptPrefix))
		if err != nil || n < 0 {
			continue
		}
		if _, err := os.Stat(filepath.Join(out, name, stateFile)); err != nil {
			continue
		}
		steps = append(steps, n)
	}
	sort.Ints(steps)
	return steps, nil
}

// rotate deletes the oldest checkpoints beyond SaveTotalLimit.
func (r *runner) rotate() error {
	if r.s.SaveTotalLimit <= 0 {
		return nil
	}
	steps, err := checkpoints(r.s.Out)
	if err != nil {
		return err
	}
	for len(steps) > r.s.SaveTotalLimit {
		if err := os.RemoveAll(filepath.Join(r.s.Out, ckptPrefix+strconv.Itoa(steps[0]))); err != nil {
			return fmt.Errorf("train: rotating checkpoints: %w", err)
		}
		steps = steps[1:]
	}
	return nil
}

// cleanTemps removes half-written checkpoints left by a killed run.
func cleanTemps(out string) error {
	ents, err := os.ReadDir(out)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			if err := os.RemoveAll(filepath.Join(out, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// LatestCheckpoint returns the newest complete checkpoint directory in out,
// or "" when there is none.
func LatestCheckpoint(out string) (string, error) {
	steps, err := checkpoints(out)
	if err != nil || len(steps) == 0 {
		return "", err
	}
	return filepath.Join(out, ckptPrefix+strconv.Itoa(steps[len(steps)-1])), nil
}

// resumeDir resolves Settings.Resume to a checkpoint directory.
func resumeDir(s *Settings) (string, error) {
	if s.Resume != ResumeLatest {
		return s.Resume, nil
	}
	dir, err := LatestCheckpoint(s.Out)
	if err != nil {
		return "", err
	}
	if dir == "" {
		return "", option.Bad("train.Settings.Resume", "no checkpoint in %s", s.Out)
	}
	return dir, nil
}

// loadCheckpoint restores parameters, optimizer moments and the loop state
// from dir.
func (r *runner) loadCheckpoint(dir string) (*trainerState, error) {
	var st trainerState
	if err := checkpoint.ReadJSON(filepath.Join(dir, stateFile), &st); err != nil {
		return nil, option.Bad("train.Settings.Resume", "%w", err)
	}
	sf := filepath.Join(dir, stateFile)
	mismatch := func(field string, have, want any) error {
		return option.Bad("train.Settings.Resume", "%s: %s is %v but this run has %v; a resumed run must keep it", sf, field, have, want)
	}
	switch {
	case st.Seed != r.s.Seed:
		return nil, mismatch("seed", st.Seed, r.s.Seed)
	case st.BatchSize != r.s.BatchSize:
		return nil, mismatch("train_batch_size", st.BatchSize, r.s.BatchSize)
	case st.GradAccum != r.s.GradAccum:
		return nil, mismatch("gradient_accumulation_steps", st.GradAccum, r.s.GradAccum)
	case st.GroupByLength != r.s.GroupByLength:
		return nil, mismatch("group_by_length", st.GroupByLength, r.s.GroupByLength)
	case st.NumExamples != r.n:
		return nil, mismatch("num_examples", st.NumExamples, r.n)
	case strings.Join(st.ParamSets, ",") != strings.Join(r.setNames(), ","):
		return nil, mismatch("param_sets", st.ParamSets, r.setNames())
	case st.DataStep < 0 || st.DataEpoch < 0 || st.GlobalStep < 0:
		return nil, option.Bad("train.Settings.Resume", "%s: negative position", sf)
	}
	pf, err := checkpoint.Open(filepath.Join(dir, paramsFile))
	if err != nil {
		return nil, option.Bad("train.Settings.Resume", "%w", err)
	}
	of, err := checkpoint.Open(filepath.Join(dir, optimizerFile))
	if err != nil {
		return nil, option.Bad("train.Settings.Resume", "%w", err)
	}
	for i, ps := range r.sets {
		o := r.opts[i]
		if o == nil {
			continue
		}
		stepStr, ok := of.Metadata()[ps.Name+".step"]
		step, err := strconv.ParseInt(stepStr, 10, 64)
		if !ok || err != nil {
			return nil, option.Bad("train.Settings.Resume", "%s: metadata %q missing or not an integer", of.Path(), ps.Name+".step")
		}
		ost := optim.State{Step: step}
		for _, sp := range ps.Spans {
			if sp.Frozen {
				continue
			}
			if err := pf.Float32Into(tensorName(ps.Name, sp.Name, ""), ps.Data[sp.Offset:sp.Offset+sp.Size], []int{sp.Size}); err != nil {
				return nil, option.Bad("train.Settings.Resume", "%w", err)
			}
			m, v := make([]float32, sp.Size), make([]float32, sp.Size)
			if err := of.Float32Into(tensorName(ps.Name, sp.Name, "exp_avg"), m, []int{sp.Size}); err != nil {
				return nil, option.Bad("train.Settings.Resume", "%w", err)
			}
			if err := of.Float32Into(tensorName(ps.Name, sp.Name, "exp_avg_sq"), v, []int{sp.Size}); err != nil {
				return nil, option.Bad("train.Settings.Resume", "%w", err)
			}
			ost.Names = append(ost.Names, sp.Name)
			ost.M = append(ost.M, m)
			ost.V = append(ost.V, v)
		}
		if err := o.Load(ost); err != nil {
			return nil, option.Bad("train.Settings.Resume", "%s: %w", of.Path(), err)
		}
	}
	if err := r.rng.UnmarshalBinary(st.RNG); err != nil {
		return nil, option.Bad("train.Settings.Resume", "%s: rng_state: %w", sf, err)
	}
	if so, ok := r.obj.(StatefulObjective); ok {
		if err := so.LoadState(st.Objective); err != nil {
			return nil, option.Bad("train.Settings.Resume", "%s: objective_state: %w", sf, err)
		}
	}
	if st.Window.Metrics == nil {
		st.Window.Metrics = Metrics{}
	}
	return &st, nil
}
