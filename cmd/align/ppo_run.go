package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/align-go/align/ppo"
	"github.com/align-go/align/rl"
)

const ppoCkptPrefix = "checkpoint-"

// ppoCheckpoints lists the N of every OUT/checkpoint-N directory, ascending.
func ppoCheckpoints(out string) ([]int, error) {
	ents, err := os.ReadDir(out)
	if err != nil {
		return nil, err
	}
	var steps []int
	for _, e := range ents {
		n, err := strconv.Atoi(strings.TrimPrefix(e.Name(), ppoCkptPrefix))
		if e.IsDir() && strings.HasPrefix(e.Name(), ppoCkptPrefix) && err == nil {
			steps = append(steps, n)
		}
	}
	sort.Ints(steps)
	return steps, nil
}

// latestPPOCheckpoint is the highest-numbered OUT/checkpoint-N, or "".
func latestPPOCheckpoint(out string) (string, int, error) {
	steps, err := ppoCheckpoints(out)
	if err != nil || len(steps) == 0 {
		return "", -1, err
	}
	n := steps[len(steps)-1]
	return filepath.Join(out, ppoCkptPrefix+strconv.Itoa(n)), n, nil
}

// restore loads the newest checkpoint with --resume and trims metrics and
// samples written after it, or refuses an OUT that already holds a run.
func (o *ppoOpts) restore(tr *ppo.Trainer, log io.Writer) error {
	dir, n, err := latestPPOCheckpoint(o.out)
	if err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	if !o.resume {
		if dir != "" {
			return fmt.Errorf("--out %s already holds %s: pass --resume to continue that run, or choose another --out", o.out, dir)
		}
		for _, f := range []string{"metrics.jsonl", "samples.jsonl"} {
			os.Remove(filepath.Join(o.out, f))
		}
		return nil
	}
	if dir == "" {
		return fmt.Errorf("--resume: %s holds no checkpoint-N", o.out)
	}
	if err := tr.LoadState(dir); err != nil {
		return fmt.Errorf("--resume: %w", err)
	}
	for _, f := range []string{"metrics.jsonl", "samples.jsonl"} {
		if err := rl.TrimSteps(filepath.Join(o.out, f), n); err != nil {
			return err
		}
	}
	fmt.Fprintf(log, "ppo: resumed from %s at update %d\n", dir, n)
	return nil
}

// saveModels writes the policy (PEFT adapters or a full HF model) with the
// tokenizer into dir and the value model into dir/value.
func (o *ppoOpts) saveModels(tr *ppo.Trainer, dir string) error {
	r := tr.Roles
	if r.PolicySet != "" {
		if err := r.Policy.SavePEFTSet(dir, o.policy, r.PolicySet); err != nil {
			return err
		}
	} else if err := r.Policy.SaveDir(dir, o.dtype); err != nil {
		return err
	}
	if err := copyTokenizerFiles(o.policy, o.policy, dir); err != nil {
		return err
	}
	return r.Value.Save(filepath.Join(dir, "value"), o.policy, o.dtype)
}

// writeCheckpoint saves the trainer state atomically as OUT/checkpoint-N.
func (o *ppoOpts) writeCheckpoint(tr *ppo.Trainer) (string, error) {
	tmp, err := os.MkdirTemp(o.out, ".tmp-"+ppoCkptPrefix)
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := tr.SaveState(tmp); err != nil {
		return "", err
	}
	final := filepath.Join(o.out, ppoCkptPrefix+strconv.Itoa(tr.Update))
	os.RemoveAll(final)
	if err := os.Rename(tmp, final); err != nil {
		return "", err
	}
	if d, err := os.Open(o.out); err == nil { // make the rename durable before going on
		d.Sync()
		d.Close()
	}
	return final, o.rotate()
}

// rotate deletes the oldest OUT/checkpoint-N beyond --save-total-limit, after
// the newest is safely in place.
func (o *ppoOpts) rotate() error {
	if o.saveTotalLimit <= 0 {
		return nil
	}
	steps, err := ppoCheckpoints(o.out)
	if err != nil {
		return err
	}
	for len(steps) > o.saveTotalLimit {
		if err := os.RemoveAll(filepath.Join(o.out, ppoCkptPrefix+strconv.Itoa(steps[0]))); err != nil {
			return fmt.Errorf("rotating checkpoints: %w", err)
		}
		steps = steps[1:]
	}
	return nil
}

func appendJSONL(path string, rows []any) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, r := range rows {
		if err := enc.Encode(r); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// loop runs the updates, logging metrics and samples, checkpointing, and
// stopping cleanly (with a checkpoint) on SIGINT/SIGTERM.
func (o *ppoOpts) loop(ctx context.Context, tr *ppo.Trainer, log io.Writer, save func(string) error) error {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	for tr.Update < o.cfg.Updates {
		select {
		case s := <-sig:
			dir, err := o.writeCheckpoint(tr)
			if err != nil {
				return fmt.Errorf("interrupted (%s) after update %d, and the checkpoint failed: %w", s, tr.Update, err)
			}
			return fmt.Errorf("interrupted (%s) after update %d; checkpoint saved to %s; resume with --resume", s, tr.Update, dir)
		default:
		}
		if ctx != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		start := time.Now()
		met, err := tr.Step(ctx)
		if err != nil {
			return err
		}
		u := tr.Update
		row := map[string]any{"step": u}
		for k, v := range met {
			row[k] = v
		}
		row["time/update_s"] = time.Since(start).Seconds()
		if err := appendJSONL(filepath.Join(o.out, "metrics.jsonl"), []any{row}); err != nil {
			return err
		}
		if o.sample > 0 && u%o.sample == 0 {
			var rows []any
			for i, c := range tr.Last {
				rows = append(rows, map[string]any{"step": u, "prompt": tr.Decode(tr.Prompts[tr.BatchPrompt(u-1, c.Prompt)]),
					"completion": c.Text, "finish_reason": c.FinishReason, "score": tr.LastScores[i]})
			}
			if err := appendJSONL(filepath.Join(o.out, "samples.jsonl"), rows); err != nil {
				return err
			}
		}
		if o.loggingSteps > 0 && u%o.loggingSteps == 0 {
			fmt.Fprintf(log, "update %d/%d: score %.4f kl %.4f rlhf_reward %.4f policy_loss %.4f value_loss %.4f\n", u, o.cfg.Updates,
				met["objective/scores"], met["objective/kl"], met["objective/rlhf_reward"], met["loss/policy_avg"], met["loss/value_avg"])
		}
		if o.saveSteps > 0 && u%o.saveSteps == 0 && u < o.cfg.Updates {
			dir, err := o.writeCheckpoint(tr)
			if err != nil {
				return err
			}
			fmt.Fprintf(log, "saved %s\n", dir)
		}
	}
	if err := save(o.out); err != nil {
		return err
	}
	if _, err := o.writeCheckpoint(tr); err != nil {
		return err
	}
	fmt.Fprintf(log, "done: %d updates; policy saved to %s\n", tr.Update, o.out)
	return nil
}
