package rl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// Monitors returns the reward-hacking monitors of one step's completions
// (token ids): mean length and distinct-1/distinct-2, the share of unique
// uni- and bigrams among all of them (a policy collapsing onto one string
// drives these toward 0).
func Monitors(completions [][]int32) map[string]float64 {
	uni, bi := map[int32]bool{}, map[[2]int32]bool{}
	var n1, n2, length float64
	for _, c := range completions {
		length += float64(len(c))
		for i, id := range c {
			uni[id] = true
			n1++
			if i > 0 {
				bi[[2]int32{c[i-1], id}] = true
				n2++
			}
		}
	}
	met := map[string]float64{}
	if len(completions) > 0 {
		met["completions/mean_length"] = length / float64(len(completions))
	}
	if n1 > 0 {
		met["completions/distinct_1"] = float64(len(uni)) / n1
	}
	if n2 > 0 {
		met["completions/distinct_2"] = float64(len(bi)) / n2
	}
	return met
}

// Alarms watch the monitors. Length compares the mean completion length
// with its mean over the first BaselineSteps steps; zero thresholds are off.
type Alarms struct {
	LengthRatio   float64 // alarm when length > ratio × baseline or < baseline / ratio
	Distinct      float64 // alarm when distinct-2 < this
	KL            float64 // alarm when kl > this
	BaselineSteps int     // steps that form the length baseline (default 3)

	// Baseline state, saved in checkpoints (State/LoadState).
	Seen      int     `json:"seen"`
	LengthSum float64 `json:"length_sum"`
}

// Check adds alarm/* metrics (1 when firing) to met and writes one warning
// line per alarm to log. kl may be NaN when the trainer has none.
func (a *Alarms) Check(step int, met map[string]float64, kl float64, log io.Writer) {
	n := a.BaselineSteps
	if n <= 0 {
		n = 3
	}
	length := met["completions/mean_length"]
	fire := func(name, msg string) {
		met["alarm/"+name] = 1
		if log != nil {
			fmt.Fprintf(log, "warning: step %d: %s (possible reward hacking)\n", step, msg)
		}
	}
	if a.Seen < n {
		a.Seen++
		a.LengthSum += length
	} else if r := a.LengthRatio; r > 0 {
		base := a.LengthSum / float64(n)
		if base > 0 && (length > r*base || length < base/r) {
			fire("length", fmt.Sprintf("mean completion length %.1f drifted past %g× the first steps' %.1f", length, r, base))
		}
	}
	if d, ok := met["completions/distinct_2"]; ok && a.Distinct > 0 && d < a.Distinct {
		fire("distinct", fmt.Sprintf("distinct-2 %.3f is below %g", d, a.Distinct))
	}
	if a.KL > 0 && kl > a.KL {
		fire("kl", fmt.Sprintf("kl %.4f exceeds %g", kl, a.KL))
	}
}

// State is the baseline as JSON.
func (a *Alarms) State() ([]byte, error) { return json.Marshal(a) }

// LoadState restores State's output; nil leaves a fresh baseline.
func (a *Alarms) LoadState(b []byte) error {
	if b == nil {
		return nil
	}
	var x Alarms
	if err := json.Unmarshal(b, &x); err != nil {
		return err
	}
	a.Seen, a.LengthSum = x.Seen, x.LengthSum
	return nil
}

// AppendJSONL appends v as one JSON line to path (samples.jsonl).
func AppendJSONL(path string, v any) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// TrimSteps drops the JSONL rows of path whose "step" is beyond step: rows
// a killed run wrote after the checkpoint it resumes from (or an earlier
// run's, when step is 0). A missing file is fine.
func TrimSteps(path string, step int) error {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	} else if err != nil {
		return err
	}
	var keep []byte
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		var row struct {
			Step int `json:"step"`
		}
		if json.Unmarshal(line, &row) == nil && row.Step <= step {
			keep = append(keep, line...)
		}
	}
	return os.WriteFile(path, keep, 0o644)
}
