package ppo

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/align-go/align/checkpoint"
	"github.com/align-go/align/optim"
)

// Files a trainer checkpoint holds (beside the models the caller saves).
const (
	StateFile      = "ppo_state.json"
	TrainStateFile = "ppo_train.safetensors"
)

// State is what a resumed run must restore besides weights and optimizer
// moments. The rollout RNG needs no state of its own: every random draw of
// update u comes from (Seed, u), so Update is the RNG's position.
type State struct {
	Update    int     `json:"update"`
	KLCoef    float64 `json:"kl_coef"`
	Seed      uint64  `json:"seed"`
	BatchSize int     `json:"batch_size"`
	Updates   int     `json:"updates"`
	Prompts   int     `json:"num_prompts"`
	// Alarms is the alarms' length baseline (rl.Alarms.State).
	Alarms json.RawMessage `json:"alarms,omitempty"`
}

// SaveState writes the trainer's state, every trained parameter set and its
// AdamW moments into dir (which the caller makes atomic).
func (t *Trainer) SaveState(dir string) error {
	st := State{Update: t.Update, KLCoef: t.Cfg.KL.Coef, Seed: t.Cfg.Seed, BatchSize: t.Cfg.BatchSize,
		Updates: t.Cfg.Updates, Prompts: len(t.Prompts)}
	var err error
	if st.Alarms, err = t.Cfg.Alarms.State(); err != nil {
		return err
	}
	if err := checkpoint.WriteJSON(filepath.Join(dir, StateFile), st); err != nil {
		return err
	}
	var ts []checkpoint.Tensor
	meta := map[string]string{"format": "align-ppo"}
	for i, ps := range t.sets {
		ts = append(ts, checkpoint.Tensor{Name: ps.Name + "/data", Shape: []int{len(ps.Data)}, Data: ps.Data})
		ost := t.opts[i].State()
		meta[ps.Name+".step"] = strconv.FormatInt(ost.Step, 10)
		for j, n := range ost.Names {
			ts = append(ts,
				checkpoint.Tensor{Name: ps.Name + "/" + n + ".exp_avg", Shape: []int{len(ost.M[j])}, Data: ost.M[j]},
				checkpoint.Tensor{Name: ps.Name + "/" + n + ".exp_avg_sq", Shape: []int{len(ost.V[j])}, Data: ost.V[j]})
		}
	}
	return checkpoint.Write(filepath.Join(dir, TrainStateFile), ts, meta)
}

// LoadState restores what SaveState wrote, refusing a checkpoint of a
// different run (seed, batch size, prompt count).
func (t *Trainer) LoadState(dir string) error {
	var st State
	p := filepath.Join(dir, StateFile)
	if err := checkpoint.ReadJSON(p, &st); err != nil {
		return err
	}
	if st.Seed != t.Cfg.Seed || st.BatchSize != t.Cfg.BatchSize || st.Prompts != len(t.Prompts) {
		return fmt.Errorf("%s: written by a run with seed %d, batch size %d and %d prompts; this one has %d, %d and %d",
			p, st.Seed, st.BatchSize, st.Prompts, t.Cfg.Seed, t.Cfg.BatchSize, len(t.Prompts))
	}
	wp := filepath.Join(dir, TrainStateFile)
	f, err := checkpoint.Open(wp)
	if err != nil {
		return err
	}
	for i, ps := range t.sets {
		if err := f.Float32Into(ps.Name+"/data", ps.Data, []int{len(ps.Data)}); err != nil {
			return fmt.Errorf("%s: %w", wp, err)
		}
		ost := optim.State{}
		if ost.Step, err = strconv.ParseInt(f.Metadata()[ps.Name+".step"], 10, 64); err != nil {
			return fmt.Errorf("%s: metadata %q: %w", wp, ps.Name+".step", err)
		}
		for _, sp := range ps.Spans {
			if sp.Frozen {
				continue
			}
			m, _, err := f.Float32(ps.Name + "/" + sp.Name + ".exp_avg")
			if err != nil {
				return fmt.Errorf("%s: %w", wp, err)
			}
			v, _, err := f.Float32(ps.Name + "/" + sp.Name + ".exp_avg_sq")
			if err != nil {
				return fmt.Errorf("%s: %w", wp, err)
			}
			ost.Names, ost.M, ost.V = append(ost.Names, sp.Name), append(ost.M, m), append(ost.V, v)
		}
		if err := t.opts[i].Load(ost); err != nil {
			return fmt.Errorf("%s: parameter set %s: %w", wp, ps.Name, err)
		}
	}
	if len(st.Alarms) > 0 {
		if err := t.Cfg.Alarms.LoadState(st.Alarms); err != nil {
			return fmt.Errorf("%s: alarms: %w", p, err)
		}
	}
	t.Update, t.Cfg.KL.Coef = st.Update, st.KLCoef
	return nil
}
