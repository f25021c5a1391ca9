package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/align-go/align/checkpoint"
	"go.yaml.in/yaml/v3"
)

// Keys every training row has, in this order; objective metrics follow sorted.
var trainKeys = []string{"loss", "learning_rate", "grad_norm", "tokens_per_second"}

// lastValued window entries are the value at the row's step, not a mean.
// episode (TRL's PPO count of completions so far) is one too.
var lastValued = map[string]bool{"learning_rate": true, "lr": true, "grad_norm": true, "episode": true}

func (r *runner) tokensPerSecond() float64 {
	el := time.Since(r.winStart).Seconds()
	if el <= 0 {
		return 0
	}
	return float64(r.winTokens) / el
}

// logRow writes the training row for the window ending at st.GlobalStep and
// starts a new window.
func (r *runner) logRow(st *trainerState) error {
	w := &st.Window
	if w.Steps == 0 {
		return nil
	}
	row := Metrics{"tokens_per_second": r.tokensPerSecond()}
	for k, v := range w.Metrics {
		if lastValued[k] {
			row[k] = v
		} else {
			row[k] = v / float64(w.Steps)
		}
	}
	r.lastLoss = row["loss"]
	*w = windowState{Metrics: Metrics{}}
	r.winTokens, r.winStart = 0, time.Now()
	return r.writeRow(st, row, "train")
}

// writeRow appends one JSON object to metrics.jsonl and shows it.
func (r *runner) writeRow(st *trainerState, row Metrics, kind string) error {
	var first []string
	if kind == "train" {
		first = trainKeys
	} else {
		first = []string{"eval_loss"}
	}
	var rest []string
	for k := range row {
		if !contains(first, k) {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"step":%d,"epoch":%s`, st.GlobalStep, num(st.Epoch))
	var human []string
	for _, k := range append(first, rest...) {
		v, ok := row[k]
		if !ok {
			continue
		}
		kb, _ := json.Marshal(k)
		fmt.Fprintf(&b, ",%s:%s", kb, num(v))
		human = append(human, fmt.Sprintf("%s %s", k, short(v)))
	}
	b.WriteString("}\n")
	if _, err := r.metrics.Write(b.Bytes()); err != nil {
		return fmt.Errorf("train: %s: %w", r.metrics.Name(), err)
	}
	r.prog.row(kind, st.GlobalStep, fmt.Sprintf("epoch %.3f | %s", st.Epoch, strings.Join(human, " | ")))
	return nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// num formats v for JSON (non-finite values become null, which JSON lacks).
func num(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "null"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func short(v float64) string {
	if v != 0 && (math.Abs(v) < 1e-3 || math.Abs(v) >= 1e5) {
		return strconv.FormatFloat(v, 'e', 3, 64)
	}
	return strconv.FormatFloat(v, 'f', 4, 64)
}

// openMetrics opens metrics.jsonl for appending. A fresh run starts it
// empty; a resumed run keeps only the rows up to the checkpoint's step, so
// rows the interrupted run logged after its checkpoint are not duplicated.
func openMetrics(path string, resume bool, step int) (*os.File, error) {
	if !resume {
		return os.Create(path)
	}
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	var keep bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(old))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var row struct {
			Step *int `json:"step"`
		}
		if json.Unmarshal(sc.Bytes(), &row) != nil || row.Step == nil || *row.Step > step {
			continue
		}
		keep.Write(sc.Bytes())
		keep.WriteByte('\n')
	}
	if err := writeFileAtomic(path, keep.Bytes()); err != nil {
		return nil, err
	}
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o644)
}

// writeFileAtomic replaces path with b via a synced temporary file.
func writeFileAtomic(path string, b []byte) error {
	return checkpoint.WriteAtomic(path, func(w io.Writer) error { _, err := w.Write(b); return err })
}

func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'))
}

func readJSONFile(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// settingsYAML renders Settings alone, for jobs built without Flags.
func settingsYAML(s *Settings) []byte {
	m := map[string]any{
		"out": s.Out, "max_steps": s.MaxSteps, "epochs": s.Epochs, "batch_size": s.BatchSize,
		"grad_accum": s.GradAccum, "lr": s.LR, "lr_scheduler": s.LRScheduler, "warmup_steps": s.WarmupSteps,
		"warmup_ratio": s.WarmupRatio, "weight_decay": s.WeightDecay, "weight_decay_all": s.DecayAll, "adam_beta1": s.AdamBeta1,
		"adam_beta2": s.AdamBeta2, "adam_epsilon": s.AdamEpsilon, "max_grad_norm": s.MaxGradNorm,
		"seed": s.Seed, "logging_steps": s.LoggingSteps, "eval_steps": s.EvalSteps, "save_steps": s.SaveSteps,
		"save_total_limit": s.SaveTotalLimit, "group_by_length": s.GroupByLength,
	}
	b, _ := yaml.Marshal(m)
	return b
}

// epochOrderByLength is 0..n-1 sorted longest first (stable).
func epochOrderByLength(lengths []int) []int {
	order := make([]int, len(lengths))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return lengths[order[i]] > lengths[order[j]] })
	return order
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// ResumeCommand rebuilds the command line args with a bare --resume in
// place of any --resume it had, shell-quoted so it can be pasted.
func ResumeCommand(args []string) string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if i > 0 && (a == "--resume" || strings.HasPrefix(a, "--resume=")) {
			if a == "--resume" && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				i++ // "--resume DIR"
			}
			continue
		}
		out = append(out, quote(a))
	}
	return strings.Join(append(out, "--resume"), " ")
}

func quote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
