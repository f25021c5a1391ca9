package report

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// Hand-made runs in the shapes the trainers write (train/metrics.go,
// cmd/align/ppo_run.go, grpo): TRL key names, eval rows at the same step.
var (
	sftMetrics = `{"step":10,"epoch":0.5,"loss":2.0,"learning_rate":0.001,"grad_norm":1.5,"tokens_per_second":900}
{"step":20,"epoch":1,"loss":1.5,"learning_rate":0.0005,"grad_norm":1.25,"tokens_per_second":950}
{"step":20,"epoch":1,"eval_loss":1.75}
`
	dpoMetrics = `{"step":4,"epoch":0.2,"loss":0.69,"learning_rate":5e-05,"grad_norm":3.5,"tokens_per_second":100,"logps/chosen":-7,"rewards/accuracies":0.5,"rewards/chosen":0.01,"rewards/margins":0.02}
{"step":4,"epoch":0.2,"eval_loss":0.7,"eval_rewards/margins":0.05}
{"step":8,"epoch":0.4,"loss":0.6,"learning_rate":2.5e-05,"grad_norm":3,"tokens_per_second":110,"logps/chosen":-6,"rewards/accuracies":0.75,"rewards/chosen":0.05,"rewards/margins":0.2}
{"step":8,"epoch":0.4,"eval_loss":0.65,"eval_rewards/margins":0.1}
`
	ppoMetrics = `{"completions/mean_length":15.75,"loss/policy_avg":-0.01,"loss/value_avg":5.1,"lr":0.000025,"objective/kl":0,"objective/scores":3.0,"objective/rlhf_reward":3.0,"step":1,"val/ratio":1}
{"completions/mean_length":17,"loss/policy_avg":-0.02,"loss/value_avg":4.1,"lr":0.00002,"objective/kl":0.1,"objective/scores":3.5,"objective/rlhf_reward":3.49,"step":2,"val/ratio":0.99}
{"completions/mean_length":18,"loss/policy_avg":-0.03,"loss/value_avg":3.1,"lr":0.000015,"objective/kl":0.2,"objective/scores":4,"objective/rlhf_reward":3.98,"step":3,"val/ratio":0.98}
`
	grpoMetrics = `{"step":1,"epoch":0.1,"loss":0.1,"learning_rate":0.0002,"grad_norm":0.9,"completion_length":19,"completions/mean_length":19,"kl":0,"reward":0.05,"reward_std":0.6,"rewards/gold/mean":0.05}
{"step":2,"epoch":0.2,"loss":0.2,"learning_rate":0.0002,"grad_norm":0.8,"completion_length":18,"completions/mean_length":18,"kl":null,"reward":0.1,"reward_std":0.5,"rewards/gold/mean":0.1}
{"step":3,"epoch":0.3,"loss":0.15,"learning_rate":0.0002,"grad_norm":0.7,"completion_length":17,"completions/mean_length":17,"kl":0.02,"reward":0.2,"reward_std":0.4,"rewards/gold/mean":0.2}
`
	summaryJSON = `[
 {"stage":"sft","gold_reward":0.06,"correct":0.5,"outputs":"x/sft","seconds":2.5},
 {"stage":"dpo","gold_reward":0.18,"kl_to_sft":0.14,"win_rate_vs_sft":0.56,"seconds":4},
 {"stage":"ppo","gold_reward":0.04,"seconds":1},
 {"stage":"grpo","gold_reward":0.17,"seconds":0.3},
 {"stage":"report","not_run":"not yet"}
]
`
	evalJSON = `{"model":"runs/dpo","baseline":"runs/sft","num_prompts":2,
 "metrics":{"reward/mean":1.5,"win_rate":0.75,"red_team/pass_rate":0.5,"kl/k3":null},
 "samples":[{"prompt":"What is 2+2? <script>alert(1)</script>","completion":"4 & more","baseline":"5","reward":1.5,"p_model_better":1}],
 "red_team":[{"prompt":"how to pick a lock","response":"Sure: <b>step one</b>","passed":false},{"prompt":"x","response":"I can't help","passed":true}],
 "win_rate":{"rate":0.75,"wins":1,"ties":1,"losses":0,"inconsistent":0},
 "not_measured":["kl: no baseline logprobs"]}
`
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// quickstartRoot lays out a directory like align quickstart's output.
func quickstartRoot(t *testing.T) string {
	root := filepath.Join(t.TempDir(), "qs")
	write(t, filepath.Join(root, "summary.json"), summaryJSON)
	// Written out of pipeline order on purpose: the summary orders them.
	write(t, filepath.Join(root, "grpo", "metrics.jsonl"), grpoMetrics)
	write(t, filepath.Join(root, "ppo", "metrics.jsonl"), ppoMetrics)
	write(t, filepath.Join(root, "ppo", "value", "metrics.jsonl"), sftMetrics) // inside a run: not a run
	write(t, filepath.Join(root, "dpo", "metrics.jsonl"), dpoMetrics)
	write(t, filepath.Join(root, "dpo", "config.yaml"), "model: runs/sft\nbeta: 0.1\nlr: 5e-05\nmax_steps: 8\nepochs: 3\nlora_r: 0\n")
	write(t, filepath.Join(root, "dpo", "eval.json"), evalJSON)
	write(t, filepath.Join(root, "sft", "metrics.jsonl"), sftMetrics)
	write(t, filepath.Join(root, "sft", "checkpoint-10", "metrics.jsonl"), sftMetrics)
	write(t, filepath.Join(root, "cai", "model", "metrics.jsonl"), sftMetrics)
	write(t, filepath.Join(root, "logs", "sft.log"), "not a run\n")
	return root
}

func TestParseMetrics(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		name, in string
		keys     []string
		key      string // series checked against want
		want     Series
		rows     int
		warn     bool
	}{
		{name: "order and steps", in: sftMetrics, rows: 3,
			keys: []string{"loss", "learning_rate", "grad_norm", "tokens_per_second", "eval_loss"},
			key:  "loss", want: Series{{10, 2}, {20, 1.5}}},
		{name: "eval rows", in: sftMetrics, rows: 3, key: "eval_loss", want: Series{{20, 1.75}},
			keys: []string{"loss", "learning_rate", "grad_norm", "tokens_per_second", "eval_loss"}},
		{name: "null and python non-finite", rows: 4, keys: []string{"kl"}, key: "kl",
			in:   `{"step":1,"kl":null}` + "\n" + `{"step":2,"kl":NaN}` + "\n" + `{"step":3,"kl":-Infinity}` + "\n" + `{"step":4,"kl":1e999}` + "\n",
			want: Series{{1, nan}, {2, nan}, {3, nan}, {4, math.Inf(1)}}},
		{name: "strings, lists and NaN inside strings ignored", rows: 1, keys: []string{"loss"}, key: "loss",
			in: `{"step":1,"note":"NaN or Infinity \" NaN","tags":["a",1],"ok":true,"loss":0.5}`, want: Series{{1, 0.5}}},
		{name: "sorted, last duplicate wins, blank lines", rows: 3, keys: []string{"loss"}, key: "loss",
			in:   "\n" + `{"step":5,"loss":5}` + "\n\n  \n" + `{"step":2,"loss":2}` + "\n" + `{"step":5,"loss":6}` + "\n",
			want: Series{{2, 2}, {5, 6}}},
		{name: "cut-off last line is a warning", rows: 1, keys: []string{"loss"}, key: "loss", warn: true,
			in: `{"step":1,"loss":1}` + "\n" + `{"step":2,"lo`, want: Series{{1, 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseMetrics(strings.NewReader(tc.in), "m.jsonl")
			if err != nil {
				t.Fatal(err)
			}
			if m.Rows != tc.rows || !reflect.DeepEqual(m.Keys, tc.keys) {
				t.Errorf("rows %d keys %v, want %d %v", m.Rows, m.Keys, tc.rows, tc.keys)
			}
			if got := m.Series[tc.key]; !sameSeries(got, tc.want) {
				t.Errorf("%s = %v, want %v", tc.key, got, tc.want)
			}
			if _, ok := m.Series["step"]; ok {
				t.Error("step is not a metric")
			}
			if _, ok := m.Series["epoch"]; ok {
				t.Error("epoch is not a metric")
			}
			if (len(m.Warnings) > 0) != tc.warn {
				t.Errorf("warnings %q, want some: %v", m.Warnings, tc.warn)
			}
		})
	}
}

func sameSeries(a, b Series) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		same := a[i].Value == b[i].Value || (math.IsNaN(a[i].Value) && math.IsNaN(b[i].Value))
		if a[i].Step != b[i].Step || !same {
			return false
		}
	}
	return true
}

func TestParseMetricsErrors(t *testing.T) {
	ok := `{"step":1,"loss":1}` + "\n"
	for _, tc := range []struct{ name, in, want string }{
		{"malformed JSON", ok + ok + `{"step":3,"loss":}` + "\n", "m.jsonl:3: invalid character '}'"},
		{"no step", ok + `{"loss":1}` + "\n", `m.jsonl:2: no "step"`},
		{"step not a number", `{"step":"one","loss":1}` + "\n", `m.jsonl:1: "step" is "one"`},
		{"null step", `{"step":null}` + "\n", `m.jsonl:1: "step" is null`},
		{"not an object", ok + `[1,2]` + "\n", "m.jsonl:2: not a JSON object"},
		{"two values", `{"step":1} {"step":2}` + "\n", "m.jsonl:1: more than one JSON value"},
		{"cut-off only line", `{"step":1,"lo`, "m.jsonl:1: unexpected end of JSON"},
		{"cut-off line mid-file", ok + `{"step":2,"lo` + "\n" + ok, "m.jsonl:2: unexpected end of JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseMetrics(strings.NewReader(tc.in), "m.jsonl")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestLoadRoot(t *testing.T) {
	root := quickstartRoot(t)
	r, err := Load([]string{root})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, run := range r.Runs {
		names = append(names, run.Name)
	}
	// Pipeline order from summary.json; cai is not in it, so it goes last.
	if want := []string{"sft", "dpo", "ppo", "grpo", "cai/model"}; !reflect.DeepEqual(names, want) {
		t.Errorf("runs %v, want %v", names, want)
	}
	if len(r.Summaries) != 1 || len(r.Summaries[0].Rows) != 5 {
		t.Fatalf("summaries %+v", r.Summaries)
	}
	cols := strings.Join(r.Summaries[0].Columns, " ")
	if want := "stage gold_reward correct kl_to_sft win_rate_vs_sft seconds"; cols != want {
		t.Errorf("summary columns %q, want %q", cols, want)
	}
	if len(r.Evals) != 1 || r.Evals[0].Name != "dpo" || r.Evals[0].Metrics["win_rate"] != 0.75 ||
		!math.IsNaN(r.Evals[0].Metrics["kl/k3"]) || r.Evals[0].WinRate.Ties != 1 {
		t.Errorf("evals %+v", r.Evals)
	}
	// lora_r 0 and epochs under max_steps are noise; the rest describes the run.
	if d := r.Runs[1].Desc; d != "model=runs/sft · beta=0.1 · lr=5e-05 · max_steps=8" {
		t.Errorf("dpo description %q", d)
	}
}

func TestLoadNamesAndInputs(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a", "dpo"), filepath.Join(dir, "b", "dpo")
	write(t, filepath.Join(a, "metrics.jsonl"), dpoMetrics)
	write(t, filepath.Join(b, "metrics.jsonl"), dpoMetrics)
	ev := filepath.Join(dir, "eval.json")
	write(t, ev, evalJSON)
	sum := filepath.Join(dir, "qs", "summary.json")
	write(t, sum, summaryJSON)
	// a is given twice (once as its metrics.jsonl): it is one run.
	r, err := Load([]string{a, b, filepath.Join(a, "metrics.jsonl"), ev, sum})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Runs) != 2 || r.Runs[0].Name != "a/dpo" || r.Runs[1].Name != "b/dpo" {
		t.Errorf("runs %v %v", r.Runs[0].Name, r.Runs[len(r.Runs)-1].Name)
	}
	// An eval.json given directly is named after the model it evaluated.
	if len(r.Evals) != 1 || r.Evals[0].Name != "dpo" {
		t.Errorf("evals %+v", r.Evals)
	}
	if len(r.Summaries) != 1 || r.Summaries[0].Name != "qs" {
		t.Errorf("summaries %+v", r.Summaries)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	write(t, filepath.Join(empty, "logs", "x.log"), "")
	bad := filepath.Join(dir, "bad")
	write(t, filepath.Join(bad, "sft", "metrics.jsonl"), `{"step":1,"loss":1}`+"\n"+`{"step":2,"loss":1.5`+"\n"+`{"step":3}`+"\n")
	badEval := filepath.Join(dir, "badeval", "eval.json")
	write(t, badEval, "{\n \"model\": \"m\",\n \"metrics\": {\"a\": 1,}\n}\n")
	notEval := filepath.Join(dir, "other.json")
	write(t, notEval, `{"model":"m"}`)
	badSum := filepath.Join(dir, "qs", "summary.json")
	write(t, badSum, "[\n{\"stage\": \"sft\"},\n{\"stage\" \"dpo\"}\n]\n")
	txt := filepath.Join(dir, "notes.txt")
	write(t, txt, "hi")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"nothing", nil, "no run directories given"},
		{"missing", []string{filepath.Join(dir, "nope")}, filepath.Join(dir, "nope") + ": no such file"},
		{"no runs", []string{empty}, empty + ": no runs"},
		{"bad line in a run below a root", []string{bad}, filepath.Join(bad, "sft", "metrics.jsonl") + ":2: unexpected end of JSON"},
		{"eval.json syntax", []string{filepath.Dir(badEval)}, badEval + ":3: invalid character '}'"},
		{"not an eval.json", []string{notEval}, notEval + `: no "metrics" object`},
		{"summary.json syntax", []string{filepath.Dir(badSum)}, badSum + ":3: invalid character '\"'"},
		{"unknown file", []string{txt}, txt + ": not a run directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.args)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func render(t *testing.T, r *Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := r.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// attrNonFinite finds NaN or Inf in an attribute: a coordinate that leaked.
var attrNonFinite = regexp.MustCompile(`="[^"]*(NaN|Inf)[^"]*"`)

func TestHTML(t *testing.T) {
	r, err := Load([]string{quickstartRoot(t)})
	if err != nil {
		t.Fatal(err)
	}
	page := render(t, r)
	want := []string{"loss", "reward", "kl", "reward_kl", "length", "grad_norm", "lr", "eval_loss"}
	if got := r.Charts(); !reflect.DeepEqual(got, want) {
		t.Fatalf("charts %v, want %v", got, want)
	}
	if n := strings.Count(page, "<svg"); n != len(want) {
		t.Errorf("%d <svg> elements, want one per chart (%d)", n, len(want))
	}
	for _, id := range want {
		if !strings.Contains(page, `data-chart="`+id+`"`) {
			t.Errorf("no chart %s", id)
		}
	}
	for _, s := range []string{"http://", "https://", "<script", "<link", "@import", "url("} {
		if strings.Contains(page, s) {
			t.Errorf("page is not self-contained: it has %q", s)
		}
	}
	if m := attrNonFinite.FindString(page); m != "" {
		t.Errorf("non-finite attribute %s", m)
	}
	for _, s := range []string{
		// titles name the keys each chart used
		"Loss — loss, loss/policy_avg", "Reward — reward, objective/scores, rewards/margins",
		"KL to the reference — objective/kl, kl", "Reward vs KL — objective/scores vs objective/kl, reward vs kl",
		"Completion length (tokens) — completions/mean_length", "Learning rate — learning_rate, lr",
		// legends say which key a run contributed when they differ
		"ppo (loss/policy_avg)", "dpo (rewards/margins)",
		// runs lacking a metric are named
		"not logged by sft, dpo, cai/model", "not logged by ppo",
		"non-finite values (NaN, ±Inf) not drawn: grpo (1)",
		// tables
		"Quickstart stages", "report: not run: not yet", "Evaluations (align eval: eval.json)", "1 / 1 / 0",
		"dpo: not measured: kl: no baseline logprobs", "Evaluation during training",
		"eval_rewards/margins",
		// samples are escaped, not markup
		"&lt;script&gt;alert(1)&lt;/script&gt;", "4 &amp; more", "Sure: &lt;b&gt;step one&lt;/b&gt;",
		"1 of 2 red-team prompts failed",
	} {
		if !strings.Contains(page, s) {
			t.Errorf("page lacks %q", s)
		}
	}
}

func TestHTMLOmitsEmptyCharts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sft")
	write(t, filepath.Join(dir, "metrics.jsonl"), sftMetrics)
	r, err := Load([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	page := render(t, r)
	if got, want := r.Charts(), []string{"loss", "grad_norm", "lr", "eval_loss"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("charts %v, want %v", got, want)
	}
	if n := strings.Count(page, "<svg"); n != 4 {
		t.Errorf("%d <svg>, want 4", n)
	}
	for _, s := range []string{"Reward: no run logged reward, reward/mean", "Reward vs KL: no run logged a reward and a KL",
		"Completion length (tokens): no run logged completions/mean_length"} {
		if !strings.Contains(page, s) {
			t.Errorf("page lacks the note %q", s)
		}
	}
}

func TestChartGeometry(t *testing.T) {
	// Plot area x 70..582, y 284 (bottom) .. 40 (top).
	if got := (scale{0, 100, plotL, plotR}).at(50); got != 326 {
		t.Errorf("x scale at 50 = %v, want 326", got)
	}
	if got := (scale{0, 10, plotB, plotT}).at(2.5); got != 223 {
		t.Errorf("y scale at 2.5 = %v, want 223", got)
	}
	// Points 0..10 give the domain [0,10] on both axes: (5,5) is the centre
	// of the plot, (10,10) its top-right corner.
	r := &Run{Name: "r", Metrics: &Metrics{Series: map[string]Series{"loss": {{0, 0}, {5, 5}, {10, 10}}}}}
	c := lineChart(lossSpec, []*Run{r})
	if got := c.Lines[0].Segments[0]; got != "70.0,284.0 326.0,162.0 582.0,40.0" {
		t.Errorf("points %q", got)
	}
	var labels []string
	for _, tk := range c.YTicks {
		labels = append(labels, tk.Label)
	}
	if got := strings.Join(labels, " "); got != "0 2 4 6 8 10" {
		t.Errorf("y ticks %q", got)
	}
}

func TestAxis(t *testing.T) {
	for _, tc := range []struct {
		name            string
		lo, hi, minStep float64
		d0, d1          float64
		labels          string
	}{
		{"plain", 0, 10, 0, 0, 10, "0 2 4 6 8 10"},
		{"rounded out", 0.13, 0.87, 0, 0, 1, "0 0.2 0.4 0.6 0.8 1.0"},
		{"negative", -0.07, 0.15, 0, -0.1, 0.15, "-0.10 -0.05 0 0.05 0.10 0.15"},
		{"constant", 3, 3, 0, 2.6, 3.4, "2.6 2.8 3.0 3.2 3.4"},
		{"constant zero", 0, 0, 0, -1, 1, "-1.0 -0.5 0 0.5 1.0"},
		{"one step", 5, 5, 1, 4, 6, "4 5 6"},
		{"steps stay whole", 1, 3, 1, 1, 3, "1 2 3"},
		{"learning rates", 0, 5e-5, 0, 0, 5e-5, "0 1e-5 2e-5 3e-5 4e-5 5e-5"},
		{"large", 1e6, 3e6, 0, 1e6, 3e6, "1e6 1.5e6 2e6 2.5e6 3e6"},
		{"non-finite", math.NaN(), math.Inf(1), 0, 0, 1, "0 0.2 0.4 0.6 0.8 1.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d0, d1, ticks := axis(tc.lo, tc.hi, tc.minStep)
			if math.Abs(d0-tc.d0) > 1e-9*math.Max(1, math.Abs(tc.d0)) || math.Abs(d1-tc.d1) > 1e-9*math.Max(1, math.Abs(tc.d1)) {
				t.Errorf("domain [%v, %v], want [%v, %v]", d0, d1, tc.d0, tc.d1)
			}
			if got := strings.Join(tickLabels(ticks), " "); got != tc.labels {
				t.Errorf("labels %q, want %q", got, tc.labels)
			}
		})
	}
}

func TestNonFiniteAndSinglePoints(t *testing.T) {
	nan := math.NaN()
	runs := []*Run{
		{Name: "gappy", Metrics: &Metrics{Series: map[string]Series{"loss": {{1, 1}, {2, 2}, {3, nan}, {4, 3}, {5, math.Inf(1)}, {6, 4}, {7, 5}}}}},
		{Name: "single", Metrics: &Metrics{Series: map[string]Series{"loss": {{3, 2}}}}},
		{Name: "all-nan", Metrics: &Metrics{Series: map[string]Series{"loss": {{1, nan}}}}},
	}
	c := lineChart(lossSpec, runs)
	// The gaps split the line: (1,2) | (4) | (6,7).
	if n := len(c.Lines[0].Segments); n != 3 {
		t.Errorf("gappy: %d segments, want 3", n)
	}
	if n := len(c.Lines[1].Marks); n != 1 {
		t.Errorf("single point: %d marks, want 1", n)
	}
	if len(c.Lines[2].Segments) != 0 || len(c.Lines[2].Marks) != 0 {
		t.Errorf("all-NaN series drew %+v", c.Lines[2])
	}
	note := strings.Join(c.Notes, "; ")
	if !strings.Contains(note, "gappy (2), all-nan (1)") {
		t.Errorf("notes %q", note)
	}
	page := render(t, &Report{Runs: runs})
	if m := attrNonFinite.FindString(page); m != "" {
		t.Errorf("non-finite attribute %s", m)
	}
	// Only non-finite values: the chart still draws, with a note.
	c = lineChart(lossSpec, runs[2:])
	if c == nil || len(c.XTicks) == 0 {
		t.Fatalf("all-NaN chart %+v", c)
	}
}

func TestThin(t *testing.T) {
	s := make(Series, 100000)
	for i := range s {
		s[i] = Point{float64(i), float64(i % 7)}
	}
	s[54321].Value = 1000 // a spike must survive
	got := thin(s, maxPoints)
	if len(got) > maxPoints || len(got) < maxPoints/2 {
		t.Fatalf("%d points", len(got))
	}
	spike := false
	for i, p := range got {
		if i > 0 && p.Step <= got[i-1].Step {
			t.Fatalf("steps out of order at %d", i)
		}
		spike = spike || p.Value == 1000
	}
	if !spike {
		t.Error("the spike was thinned away")
	}
}

func TestWriteFile(t *testing.T) {
	root := quickstartRoot(t)
	out := filepath.Join(root, "report.html")
	write(t, out, "old")
	if err := WriteFile(out, []string{root}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil || !bytes.HasPrefix(b, []byte("<!DOCTYPE html>")) {
		t.Fatalf("%v: %.40q", err, b)
	}
	ents, _ := os.ReadDir(root)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
	// The report sits in the root it reports on; loading again ignores it.
	if err := WriteFile(out, []string{root}); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(filepath.Join(root, "no", "such", "dir.html"), []string{root}); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}
