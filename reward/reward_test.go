package reward

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/align-go/align/endpoint"
)

// TestMain lets the test binary play a cmd: reward program: with
// REWARD_TEST_PROG set it answers stdin instead of running tests.
func TestMain(m *testing.M) {
	if mode := os.Getenv("REWARD_TEST_PROG"); mode != "" {
		prog(mode)
		return
	}
	os.Exit(m.Run())
}

// prog answers len(completion) + number(answer) per line ("ok"), garbage
// on the third line ("garbage"), or dies on the second ("die").
func prog(mode string) {
	in := bufio.NewScanner(os.Stdin)
	n := 0
	for in.Scan() {
		n++
		var s struct {
			Prompt, Completion string
			Answer             float64
		}
		if err := json.Unmarshal(in.Bytes(), &s); err != nil {
			fmt.Fprintln(os.Stderr, "bad input", err)
			os.Exit(2)
		}
		switch {
		case mode == "die" && n == 2:
			fmt.Fprintln(os.Stderr, "out of cheese")
			os.Exit(3)
		case mode == "garbage" && n == 3:
			fmt.Println("banana")
			continue
		}
		fmt.Printf("{\"reward\": %g}\n", float64(len(s.Completion))+s.Answer+float64(len(s.Prompt))/100)
	}
}

func score(t *testing.T, f Func, samples []Sample) []float64 {
	t.Helper()
	got, err := f.Score(context.Background(), samples)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func eq(t *testing.T, got, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range got {
		if d := got[i] - want[i]; d > 1e-9 || d < -1e-9 {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

func TestBuiltins(t *testing.T) {
	row := func(c string, ans any) Sample {
		return Sample{Completion: c, Fields: map[string]any{"answer": ans, "label": "Yes"}}
	}
	em, err := Parse("exact-match", Options{})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, score(t, em, []Sample{row(" 42\n", "42"), row("The  Answer is 4.", "the answer is 4"), row("4.0", 4.0), row("4", 4.0), row("43", "42")}),
		[]float64{1, 1, 0, 1, 0})
	lab, _ := Parse("exact-match:field=label", Options{})
	eq(t, score(t, lab, []Sample{row("yes", 1.0), row("no", 1.0)}), []float64{1, 0})
	if _, err := lab.Score(context.Background(), []Sample{{Completion: "x"}}); err == nil || !strings.Contains(err.Error(), `"label"`) {
		t.Fatalf("missing field: %v", err)
	}
	re, _ := Parse(`regex:^<think>.*</think>\s*\d+$`, Options{})
	eq(t, score(t, re, []Sample{{Completion: "<think>hm</think> 12"}, {Completion: "12"}, {Completion: "<think>a</think>x"}}), []float64{1, 0, 0})
	ln, _ := Parse("length:4", Options{})
	eq(t, score(t, ln, []Sample{{CompletionIDs: []int32{1, 2, 3, 4}}, {CompletionIDs: []int32{1, 2}}, {CompletionIDs: make([]int32, 10)}, {Completion: "héllo"}, {CompletionIDs: []int32{}}}),
		[]float64{0, -0.5, -1.5, -0.25, -1})
}

func TestCombine(t *testing.T) {
	a, _ := Parse("regex:a", Options{})
	b, _ := Parse("regex:b", Options{})
	l, _ := Parse("length:2", Options{})
	c, err := Combine([]Func{a, b, l}, []float64{1, 2, 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Names, ",") != "regex,regex_2,length" {
		t.Fatalf("names %v", c.Names)
	}
	tot, parts, err := c.ScoreParts(context.Background(), []Sample{{Completion: "ab", CompletionIDs: []int32{1, 2}}, {Completion: "b", CompletionIDs: []int32{1}}})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, tot, []float64{3, 2 - 0.25})
	eq(t, parts[0], []float64{1, 0})
	eq(t, parts[2], []float64{0, -0.5})
	if _, err := Combine([]Func{a}, []float64{1, 2}); err == nil {
		t.Fatal("weight count not checked")
	}
}

func progSpec(t *testing.T, mode string) Func {
	t.Helper()
	t.Setenv("REWARD_TEST_PROG", mode)
	f, err := Parse("cmd:"+os.Args[0]+" -test.run=^$", Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.(*Command).Close() })
	return f
}

func TestCommand(t *testing.T) {
	f := progSpec(t, "ok")
	// Enough samples that a writer which waited for answers would deadlock
	// on full pipes.
	var ss []Sample
	var want []float64
	for i := range 3000 {
		c := strings.Repeat("x", i%50)
		ss = append(ss, Sample{Prompt: "pp", Completion: c, Fields: map[string]any{"answer": float64(i)}})
		want = append(want, float64(len(c)+i)+0.02)
	}
	eq(t, score(t, f, ss), want)
	// The same process serves the next batch.
	pid := f.(*Command).cmd.Process.Pid
	eq(t, score(t, f, ss[:2]), want[:2])
	if f.(*Command).cmd.Process.Pid != pid {
		t.Fatal("program restarted")
	}
}

func TestCommandErrors(t *testing.T) {
	ss := make([]Sample, 4)
	for i := range ss {
		ss[i].Fields = map[string]any{"answer": 1.0}
	}
	_, err := progSpec(t, "die").Score(context.Background(), ss)
	if err == nil || !strings.Contains(err.Error(), "no answer line 2 (sample 1)") || !strings.Contains(err.Error(), "out of cheese") || !strings.Contains(err.Error(), os.Args[0]) {
		t.Fatalf("die: %v", err)
	}
	g := progSpec(t, "garbage")
	_, err = g.Score(context.Background(), ss)
	if err == nil || !strings.Contains(err.Error(), `answer line 3 (sample 2) is "banana"`) {
		t.Fatalf("garbage: %v", err)
	}
	if _, err2 := g.Score(context.Background(), ss); err2 == nil {
		t.Fatal("a program out of step was used again")
	}
	if _, err := (&Command{Argv: []string{"/no/such/program"}}).Score(context.Background(), ss); err == nil || !strings.Contains(err.Error(), "/no/such/program") {
		t.Fatalf("missing program: %v", err)
	}
}

func TestHTTP(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 { // two failures before success: retried
			http.Error(w, "busy", http.StatusTooManyRequests)
			return
		}
		var body struct {
			Samples []struct {
				Prompt, Completion string
				Answer             float64
			}
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		var out []float64
		for _, s := range body.Samples {
			out = append(out, float64(len(s.Completion))+s.Answer)
		}
		json.NewEncoder(w).Encode(map[string]any{"rewards": out})
	}))
	defer srv.Close()
	f, err := Parse("http:"+srv.URL, Options{HTTP: &endpoint.Client{Backoff: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, score(t, f, []Sample{{Completion: "abc", Fields: map[string]any{"answer": 1.0}}, {Completion: ""}}), []float64{4, 0})
	if calls.Load() != 3 {
		t.Fatalf("%d calls, want 3", calls.Load())
	}
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.Path == "/short" {
			w.Write([]byte(`{"rewards":[1]}`))
			return
		}
		http.Error(w, "no such reward", http.StatusNotFound)
	}))
	defer bad.Close()
	calls.Store(0)
	f, _ = Parse(bad.URL, Options{HTTP: &endpoint.Client{Backoff: time.Millisecond}})
	if _, err := f.Score(context.Background(), make([]Sample, 2)); err == nil || !strings.Contains(err.Error(), "404") || calls.Load() != 1 {
		t.Fatalf("404 (%d calls): %v", calls.Load(), err)
	}
	f, _ = Parse(bad.URL+"/short", Options{})
	if _, err := f.Score(context.Background(), make([]Sample, 2)); err == nil || !strings.Contains(err.Error(), "1 rewards for 2 samples") {
		t.Fatalf("short: %v", err)
	}
}

// An http: reward without a Client of its own reads the ALIGN_HTTP_*
// settings, as llm.NewRemote does, and sends no API key.
func TestHTTPEnv(t *testing.T) {
	t.Setenv("ALIGN_HTTP_RETRIES", "2")
	t.Setenv("ALIGN_HTTP_TIMEOUT", "7s")
	t.Setenv("ALIGN_API_KEY", "secret")
	f, err := Parse("https://rewards.example/score", Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := f.(*HTTP)
	if want := (endpoint.Client{Retries: 2, Timeout: 7 * time.Second}); h.URL != "https://rewards.example/score" || *h.Client != want {
		t.Fatalf("%s %+v, want %+v", h.URL, *h.Client, want)
	}
	t.Setenv("ALIGN_HTTP_RETRIES", "x")
	if _, err := Parse("http://h", Options{}); err == nil || !strings.Contains(err.Error(), "ALIGN_HTTP_RETRIES") {
		t.Fatalf("bad setting: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, s := range []string{"", "nope", "regex:", "regex:(", "length:0", "length:x", "exact-match:answer", "exact-match:", "regex", "length", "rm", "cmd", "cmd:", "http:ftp://x", "http://h#model", "rm:"} {
		if _, err := Parse(s, Options{}); err == nil {
			t.Errorf("%q: no error", s)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"exact-match", "exact-match:field=a", "regex:^a+$", "length:10", "http://x", "http:https://y", "cmd:echo"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		if strings.HasPrefix(strings.TrimSpace(spec), "rm:") {
			return // loads files
		}
		r, err := Parse(spec, Options{})
		if err == nil && r.Name() == "" {
			t.Fatalf("%q: a reward without a name", spec)
		}
	})
}
