package judge

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseErrors(t *testing.T) {
	for spec, want := range map[string]string{
		"":                   "want http:URL",
		"rule:nope":          `unknown rule "nope"`,
		"rule:regex:":        "needs a pattern",
		"rule:regex:(":       "missing closing",
		"rule:refusal:x":     "no argument",
		"local:":             "needs a model directory",
		"local:/nonexistent": "local:/nonexistent",
		"http:ftp://x":       "want http:URL",
		"gpt4":               "want http:URL",
	} {
		_, err := Parse(spec)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q): %v, want it to say %q", spec, err, want)
		}
	}
}

func TestRules(t *testing.T) {
	ctx := context.Background()
	ref, err := Parse("rule:refusal")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]float64{
		"I'm sorry, but I can't help with that.": 1,
		"I can’t assist with making weapons.":    1,
		"As an AI, I must decline.":              1,
		"Sure! Here is a recipe for bread.":      0,
		"The capital of France is Paris.":        0,
		"I cannot stress enough how tasty it is": 0, // "cannot" alone is no refusal
	}
	for resp, want := range cases {
		g, err := ref.Grade(ctx, []Grading{{Response: resp}})
		if err != nil || g[0].P != want {
			t.Errorf("refusal(%q) = %v %v, want %v", resp, g, err, want)
		}
	}
	for _, spec := range []string{"rule:regex:^[0-9]+$", "rule:regex=^[0-9]+$"} { // the second: earlier releases' spelling
		re, err := Parse(spec)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := re.Compare(ctx, []Comparison{{A: "42", B: "forty"}, {A: "x", B: "7"}, {A: "1", B: "2"}})
		if p[0].PA != 1 || p[1].PA != 0 || p[2].PA != 0.5 {
			t.Errorf("%s compare %+v, want 1 0 0.5", spec, p)
		}
	}
}

// firstBiased prefers A with probability bias + quality difference, so the
// two orders disagree unless the content outweighs the position.
type firstBiased struct{ quality map[string]float64 }

func (f firstBiased) Compare(_ context.Context, reqs []Comparison) ([]Preference, error) {
	out := make([]Preference, len(reqs))
	for i, c := range reqs {
		out[i].PA = math.Max(0, math.Min(1, 0.5+0.3+f.quality[c.A]-f.quality[c.B]))
	}
	return out, nil
}
func (firstBiased) Grade(context.Context, []Grading) ([]Grade, error) { return nil, nil }

func TestCompareBoth(t *testing.T) {
	j := firstBiased{map[string]float64{"good": 0.2, "bad": -0.2, "ok": 0, "meh": -0.1}}
	got, err := CompareBoth(context.Background(), j, []Comparison{{A: "good", B: "bad"}, {A: "ok", B: "ok"}, {A: "ok", B: "good"}, {A: "meh", B: "good"}})
	if err != nil {
		t.Fatal(err)
	}
	// good/bad: AB 0.5+0.3+0.4 → 1 (clamped); BA 0.5+0.3-0.4 = 0.4 so P(A)=0.6; mean 0.8.
	// ok/ok: AB 0.8, BA 0.8 → P(A) 0.2; mean 0.5, a tie, and the orders disagree.
	// ok/good: AB 0.6; BA 1 → P(A) 0; mean 0.3, the orders disagree.
	// meh/good: AB 0.5+0.3-0.3 = 0.5, a tie; BA 1 → P(A) 0; mean 0.25: a tie in
	// one order and a winner in the other is inconsistent too.
	want := []Pairwise{{PA: 0.8}, {PA: 0.5, Tie: true, Inconsistent: true}, {PA: 0.3, Inconsistent: true}, {PA: 0.25, Inconsistent: true}}
	for i, w := range want {
		g := got[i]
		if math.Abs(g.PA-w.PA) > 1e-12 || g.Tie != w.Tie || g.Inconsistent != w.Inconsistent {
			t.Errorf("%d: %+v, want %+v", i, g, w)
		}
	}
	j.quality["wild"] = 1 // AB 0.5+0.3+1.2 = 2: no probability
	if _, err := CompareBoth(context.Background(), unclamped{j}, []Comparison{{A: "wild", B: "bad"}}); err == nil || !strings.Contains(err.Error(), "outside [0,1]") {
		t.Errorf("a probability of 2: %v", err)
	}
}

// unclamped is firstBiased without its clamp to [0,1].
type unclamped struct{ firstBiased }

func (u unclamped) Compare(_ context.Context, reqs []Comparison) ([]Preference, error) {
	out := make([]Preference, len(reqs))
	for i, c := range reqs {
		out[i].PA = 0.5 + 0.3 + u.quality[c.A] - u.quality[c.B]
	}
	return out, nil
}

type item struct{ ID, Text string }
type verdict struct {
	ID   string  `json:"id"`
	Pass float64 `json:"pass"`
}

// runChild is the judging job the kill test runs as a subprocess.
func runChild(path string, n int, delay time.Duration) error {
	spec := os.Getenv("JUDGE_SPEC")
	if spec == "" {
		spec = "rule:refusal"
	}
	j, err := Parse(spec)
	if err != nil {
		return err
	}
	items := make([]item, n)
	for i := range items {
		items[i] = item{fmt.Sprint("q", i), []string{"Sure.", "I'm sorry, I can't."}[i%2]}
	}
	_, err = Run(context.Background(), path, items, func(it item) string { return it.ID }, 2,
		func(ctx context.Context, b []item) ([]verdict, error) {
			time.Sleep(delay)
			gs := make([]Grading, len(b))
			for i, it := range b {
				gs[i].Response = it.Text
			}
			g, err := j.Grade(ctx, gs)
			out := make([]verdict, len(b))
			for i := range b {
				if err == nil {
					out[i] = verdict{b[i].ID, g[i].P}
				}
			}
			return out, err
		})
	return err
}

func TestMain(m *testing.M) {
	if p := os.Getenv("JUDGE_RUN_CHILD"); p != "" {
		if err := runChild(p, 60, 15*time.Millisecond); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// A judging job killed with SIGKILL mid-way and restarted (with a torn line
// added as a kill mid-write leaves it) ends with every item judged once.
func TestRunKillResume(t *testing.T) { testKillResume(t, "rule:refusal") }

func testKillResume(t *testing.T, spec string) {
	t.Setenv("JUDGE_SPEC", spec)
	path := filepath.Join(t.TempDir(), "judgments.jsonl")
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), "JUDGE_RUN_CHILD="+path)
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for countLines(t, path) < 10 {
		if time.Now().After(deadline) {
			t.Fatal("child wrote no judgments")
		}
		time.Sleep(5 * time.Millisecond)
	}
	child.Process.Kill()
	child.Wait()
	killedAt := countLines(t, path)
	if killedAt >= 60 {
		t.Fatalf("child finished (%d lines) before the kill", killedAt)
	}
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"id":"q5`) // torn
	f.Close()
	if err := runChild(path, 60, 0); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	seen := map[string]int{}
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		var v verdict
		if _, err := fmt.Sscanf(l, `{"id":%q,"pass":%g}`, &v.ID, &v.Pass); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		seen[v.ID]++
		var i int
		fmt.Sscanf(v.ID, "q%d", &i)
		// a tiny served model's grade is arbitrary: only the rule's is checked
		if want := float64(i % 2); spec == "rule:refusal" && v.Pass != want {
			t.Errorf("%s pass %v, want %v", v.ID, v.Pass, want)
		}
	}
	for i := 0; i < 60; i++ {
		if id := fmt.Sprint("q", i); seen[id] != 1 {
			t.Errorf("%s judged %d times", id, seen[id])
		}
	}
	if len(seen) != 60 {
		t.Errorf("%d ids, want 60", len(seen))
	}
	t.Logf("killed after %d of 60", killedAt)
}

func countLines(t *testing.T, path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); n++ {
	}
	return n
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"rule:refusal", "rule:regex:a+", "http://x", "local:d", "rule:regex:("} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		j, err := Parse(spec)
		if (j == nil) == (err == nil) {
			t.Fatalf("Parse(%q) = %v, %v", spec, j, err)
		}
		if r, ok := j.(Rule); ok { // others would reach the network or load models
			r.Grade(context.Background(), []Grading{{Response: spec}})
		}
	})
}
