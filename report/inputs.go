package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/align-go/align/eval"
	"go.yaml.in/yaml/v3"
)

// Eval is an eval.json written by align eval.
type Eval struct {
	Name, Path  string
	Model       string
	Baseline    string
	Prompts     int
	Metrics     map[string]float64 // null values are NaN
	Samples     []eval.Sample
	RedTeam     []eval.RedTeamResult
	WinRate     *eval.WinRate
	NotMeasured []string
}

// Summary is the quickstart's summary.json: one object per stage.
type Summary struct {
	Name, Path string
	Columns    []string // in display order
	Rows       []map[string]any
}

// summaryOrder puts the quickstart's columns first, in its table's order.
var summaryOrder = []string{"stage", "gold_reward", "correct", "polite", "red_team_pass", "kl_to_sft",
	"win_rate_vs_sft", "wins", "ties", "losses", "rm_score", "reward_accuracy", "mean_length", "seconds"}

// readEval parses an eval.json; name is how the report refers to it.
func readEval(path, name string) (*Eval, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var raw struct {
		Model       string               `json:"model"`
		Baseline    string               `json:"baseline"`
		Prompts     int                  `json:"num_prompts"`
		Metrics     map[string]*float64  `json:"metrics"`
		Samples     []eval.Sample        `json:"samples"`
		RedTeam     []eval.RedTeamResult `json:"red_team"`
		WinRate     *eval.WinRate        `json:"win_rate"`
		NotMeasured []string             `json:"not_measured"`
	}
	if err := unmarshal(path, nonFiniteToNull(b), &raw); err != nil {
		return nil, err
	}
	if raw.Metrics == nil {
		return nil, fmt.Errorf(`%s: no "metrics" object: not an eval.json from align eval`, path)
	}
	e := &Eval{Name: name, Path: path, Model: raw.Model, Baseline: raw.Baseline, Prompts: raw.Prompts,
		Metrics: map[string]float64{}, Samples: raw.Samples, RedTeam: raw.RedTeam, WinRate: raw.WinRate,
		NotMeasured: raw.NotMeasured}
	for k, v := range raw.Metrics {
		e.Metrics[k] = math.NaN()
		if v != nil {
			e.Metrics[k] = *v
		}
	}
	return e, nil
}

// readSummary parses a quickstart summary.json.
func readSummary(path, name string) (*Summary, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rows []map[string]any
	if err := unmarshal(path, nonFiniteToNull(b), &rows); err != nil {
		return nil, err
	}
	s := &Summary{Name: name, Path: path, Rows: rows}
	seen := map[string]bool{}
	for _, r := range rows {
		for k := range r {
			seen[k] = true
		}
	}
	for _, k := range summaryOrder {
		if seen[k] {
			s.Columns = append(s.Columns, k)
			delete(seen, k)
		}
	}
	var rest []string
	// The runs table shows where each stage's run is; why a stage did not
	// run is a sentence, shown under the table rather than squeezed in it.
	delete(seen, "outputs")
	delete(seen, "not_run")
	for k := range seen {
		rest = append(rest, k)
	}
	sort.Strings(rest)
	s.Columns = append(s.Columns, rest...)
	return s, nil
}

// stages lists the summary's stage names in its order.
func (s *Summary) stages() []string {
	var out []string
	for _, r := range s.Rows {
		if st, ok := r["stage"].(string); ok {
			out = append(out, st)
		}
	}
	return out
}

// unmarshal decodes JSON, naming the file and line of a syntax error.
func unmarshal(path string, b []byte, v any) error {
	err := json.Unmarshal(b, v)
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		return fmt.Errorf("%s:%d: %v", path, lineAt(b, se.Offset), se)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "the top level"
		}
		return fmt.Errorf("%s:%d: %s is a JSON %s, want %s", path, lineAt(b, te.Offset), field, te.Value, te.Type)
	}
	return fmt.Errorf("%s: %w", path, err)
}

// lineAt is the 1-based line holding byte offset off.
func lineAt(b []byte, off int64) int {
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	return bytes.Count(b[:off], []byte("\n")) + 1
}

// describeKeys are the config.yaml settings that tell runs apart, in the
// order they are shown.
var describeKeys = []string{"model", "policy", "reward", "data", "prompts", "loss_type", "loss", "beta",
	"num_generations", "kl_coef", "lora_r", "lr", "learning_rate", "max_steps", "updates", "epochs", "batch_size"}

// describe makes a one-line description from a run's config.yaml (empty
// when the run has none). An unreadable config only loses the description.
func describe(dir string) (desc, warning string) {
	b, err := os.ReadFile(filepath.Join(dir, "config.yaml"))
	if err != nil {
		return "", ""
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		return "", fmt.Sprintf("%s: %v (no description for this run)", filepath.Join(dir, "config.yaml"), err)
	}
	var parts []string
	for _, k := range describeKeys {
		v, ok := cfg[k]
		if !ok {
			continue
		}
		s := yamlValue(v)
		// Zero and empty are the "off" values of these flags (no LoRA,
		// epochs bounded by max_steps): they would only add noise.
		if s == "" || s == "0" || s == "[]" || (k == "epochs" && cfg["max_steps"] != nil && yamlValue(cfg["max_steps"]) != "0") {
			continue
		}
		parts = append(parts, k+"="+s)
	}
	return strings.Join(parts, " · "), ""
}

func yamlValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return shorten(x, 60)
	case float64:
		return strconv.FormatFloat(x, 'g', 6, 64)
	case []any:
		var s []string
		for _, e := range x {
			s = append(s, yamlValue(e))
		}
		return shorten(strings.Join(s, ","), 60)
	}
	return shorten(fmt.Sprint(v), 60)
}

// shorten keeps the end of long values: of a path, the end is what differs.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return "…" + string(r[len(r)-n+1:])
}
