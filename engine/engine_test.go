package engine

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/align-go/align/engine/enginetest"
	"github.com/align-go/align/generate"
)

// The tests only read the model directory, so one is written per test
// process (TestMain removes it).
var (
	dirOnce sync.Once
	dir5    string
	dirTemp string
)

// modelDir is enginetest.ModelDir(t, 5), written once per test process.
func modelDir(t *testing.T) string {
	t.Helper()
	dirOnce.Do(func() { dir5 = enginetest.ModelDir(keepTB{t}, 5) })
	if dir5 == "" { // the first call failed
		t.Fatal("the shared model directory was not written")
	}
	return dir5
}

// keepTB gives a TempDir that outlives the test asking first.
type keepTB struct{ *testing.T }

func (k keepTB) TempDir() string {
	d, err := os.MkdirTemp("", "engine-test")
	if err != nil {
		k.Fatal(err)
	}
	dirTemp = d
	return d
}

func TestMain(m *testing.M) {
	code := m.Run()
	if dirTemp != "" {
		os.RemoveAll(dirTemp)
	}
	os.Exit(code)
}

func testEngine(t *testing.T, o Options) *Engine {
	t.Helper()
	e, err := load(t, modelDir(t), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// load is Load with the tokenizer parsed once per test process
// (enginetest.Tokenizer, the one every enginetest.ModelDir holds) instead
// of once per engine. TestModelKeepsOwnSelection still goes through Load.
func load(t *testing.T, dir string, o Options) (*Engine, error) {
	t.Helper()
	return LoadWith(dir, enginetest.Tokenizer(t), o)
}

// Jobs submitted at different times share decode steps; each must still
// produce exactly what generate.Generate produces for it alone, greedy and
// seeded, with the same log-probabilities.
func TestEngineMatchesGenerate(t *testing.T) {
	e := testEngine(t, Options{MaxBatch: 3})
	prompts := []string{"The whale", "Once upon a time there was", "Hi", "A long prompt about ships and the sea"}
	samplings := []generate.Sampling{{}, {Temperature: 0.9, TopP: 0.8, PresencePenalty: 0.5},
		{Temperature: 1.3, FrequencyPenalty: 1, LogitBias: map[int32]float32{11: 3, 198: -100}}, {}}
	var ids [][]int32
	for _, p := range prompts {
		ids = append(ids, e.TextPrompt(p))
	}
	var wg sync.WaitGroup
	got := make([]Result, len(prompts))
	errs := make([]error, len(prompts))
	for i := range prompts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			jobs, err := e.Submit(context.Background(), Request{Prompt: ids[i], MaxTokens: 5 + 3*i,
				Sampling: samplings[i], Seed: 7, Logprobs: true, IgnoreEOS: i == 3})
			if err != nil {
				errs[i] = err
				return
			}
			got[i], errs[i] = jobs[0].Wait()
		}()
	}
	wg.Wait()
	for i := range prompts {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		var eos []int32
		if i != 3 {
			eos = e.EOS
		}
		want, err := generate.Generate(e.Model, ids[i:i+1], generate.Options{Sampling: samplings[i],
			MaxNewTokens: 5 + 3*i, Seed: 7, EOS: eos, Logprobs: true, Decode: e.Decode})
		if err != nil {
			t.Fatal(err)
		}
		w := want[0]
		if len(w.Tokens) != len(got[i].Tokens) || w.Text != got[i].Text || w.FinishReason != got[i].FinishReason {
			t.Fatalf("prompt %d: got %q (%d tokens, %s), generate gives %q (%d tokens, %s)", i,
				got[i].Text, len(got[i].Tokens), got[i].FinishReason, w.Text, len(w.Tokens), w.FinishReason)
		}
		for k, tk := range got[i].Tokens {
			if tk.ID != w.Tokens[k] || math.Abs(float64(tk.Logprob-w.Logprobs[k])) > 1e-4 {
				t.Fatalf("prompt %d token %d: got %d (%v), want %d (%v)", i, k, tk.ID, tk.Logprob, w.Tokens[k], w.Logprobs[k])
			}
		}
	}
}

func TestSafePrefix(t *testing.T) {
	for _, c := range []struct {
		text  string
		stops []string
		want  int
	}{
		{"hello", nil, 5},
		{"hello wo", []string{"world"}, 6}, // "wo" may become "world"
		{"hello w", []string{"xyz", "wx"}, 6},
		{"hello", []string{"lo!"}, 3},
		{"ab\uFFFD", nil, 2},
		{"abc", []string{"c"}, 3}, // a full match is the caller's cut, not held
	} {
		if got := safePrefix(c.text, c.stops); got != c.want {
			t.Errorf("safePrefix(%q, %q) = %d, want %d", c.text, c.stops, got, c.want)
		}
	}
}

func TestTopLogprobs(t *testing.T) {
	// log softmax of [0, ln 2, ln 3, ln 2] is ln([1,2,3,2]/8).
	lg := []float32{0, float32(math.Ln2), float32(math.Log(3)), float32(math.Ln2)}
	top := topLogprobs(lg, 3)
	want := []Candidate{{2, float32(math.Log(3.0 / 8))}, {1, float32(math.Log(2.0 / 8))}, {3, float32(math.Log(2.0 / 8))}}
	if len(top) != 3 {
		t.Fatalf("got %v", top)
	}
	for i := range want {
		if top[i].ID != want[i].ID || math.Abs(float64(top[i].Logprob-want[i].Logprob)) > 1e-6 {
			t.Fatalf("got %v, want %v", top, want)
		}
	}
}

// TestTopLogprobsAnyK: the insertion path (k ≤ 64) and the sorting path
// (larger k, a local judge's whole vocabulary) both give the k largest
// logits in descending order, ties by id, against a selection written out
// here; k beyond the vocabulary gives every id.
func TestTopLogprobsAnyK(t *testing.T) {
	const V = 300
	rng := rand.New(rand.NewPCG(3, 4))
	lg := make([]float32, V)
	for i := range lg {
		lg[i] = float32(rng.IntN(40)) / 4 // many ties
	}
	lse := 0.0
	for _, l := range lg {
		lse += math.Exp(float64(l))
	}
	lse = math.Log(lse)
	for _, k := range []int{1, 3, 64, 65, 200, V, V + 5} {
		top := topLogprobs(lg, k)
		used := make([]bool, V)
		if len(top) != min(k, V) {
			t.Fatalf("k=%d: %d candidates", k, len(top))
		}
		for r := range top {
			best := -1
			for i, l := range lg {
				if !used[i] && (best < 0 || l > lg[best]) {
					best = i
				}
			}
			used[best] = true
			want := float64(lg[best]) - lse
			if top[r].ID != int32(best) || math.Abs(float64(top[r].Logprob)-want) > 1e-5 {
				t.Fatalf("k=%d rank %d: got %+v, want id %d logprob %.6f", k, r, top[r], best, want)
			}
		}
	}
}

func TestStopStringAndEvents(t *testing.T) {
	e := testEngine(t, Options{})
	p := e.TextPrompt("The whale")
	jobs, err := e.Submit(context.Background(), Request{Prompt: p, MaxTokens: 12, IgnoreEOS: true})
	if err != nil {
		t.Fatal(err)
	}
	full, err := jobs[0].Wait()
	if err != nil {
		t.Fatal(err)
	}
	r := []rune(full.Text)
	if len(r) < 4 {
		t.Skipf("greedy text %q too short to cut", full.Text)
	}
	stop := string(r[2:4])
	jobs, err = e.Submit(context.Background(), Request{Prompt: p, MaxTokens: 12, IgnoreEOS: true, Stop: []string{stop}})
	if err != nil {
		t.Fatal(err)
	}
	var text string
	var last Event
	for ev := range jobs[0].Events() {
		text += ev.Text
		last = ev
	}
	if want := string(r[:2]); text != want || last.FinishReason != generate.FinishStop || !last.Done {
		t.Fatalf("streamed %q (%s), want %q (stop)", text, last.FinishReason, want)
	}
}

func TestSubmitErrors(t *testing.T) {
	e := testEngine(t, Options{MaxSeqLen: 64, QueueSize: 1, MaxBatch: 1})
	p := e.TextPrompt("The whale")
	var tl *TooLongError
	if _, err := e.Submit(context.Background(), Request{Prompt: p, MaxTokens: 64}); !errors.As(err, &tl) {
		t.Fatalf("too long: got %v", err)
	}
	if _, err := e.Submit(context.Background(), Request{Prompt: p, MaxTokens: 0}); err == nil {
		t.Fatal("max tokens 0 accepted")
	}
	if _, err := e.Submit(context.Background(), Request{Prompt: p, MaxTokens: 4},
		Request{Prompt: p, MaxTokens: 4}); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("two requests into a queue of one: got %v", err)
	}
	// A cancelled job ends with its context's error.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	jobs, err := e.Submit(ctx, Request{Prompt: p, MaxTokens: 4})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jobs[0].Wait(); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled job: got %v", err)
	}
	if _, err := e.Submit(context.Background(), Request{Prompt: p, MaxTokens: 4,
		Sampling: generate.Sampling{LogitBias: map[int32]float32{int32(e.Model.Cfg.Vocab): 1}}}); err == nil {
		t.Fatal("logit bias past the vocabulary accepted")
	}

	e.Close()
	if _, err := e.Submit(context.Background(), Request{Prompt: p, MaxTokens: 4}); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: got %v", err)
	}
}

func TestCancelLeavesQueue(t *testing.T) {
	e := testEngine(t, Options{QueueSize: 1, MaxBatch: 1})
	p := e.TextPrompt("The whale")
	// A waiting job whose caller goes away leaves the queue at once: the one
	// row is busy with a long job, the one queue place is taken and given up,
	// and the place is free again before the long job ends (500 tokens).
	long, err := e.Submit(context.Background(), Request{Prompt: p, MaxTokens: 500, IgnoreEOS: true})
	if err != nil {
		t.Fatal(err)
	}
	for e.Queued() != 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	waiting, err := e.Submit(ctx, Request{Prompt: p, MaxTokens: 4})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Submit(context.Background(), Request{Prompt: p, MaxTokens: 4}); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("queue of one holding one: got %v", err)
	}
	cancel()
	if _, err := waiting[0].Wait(); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiting job: got %v", err)
	}
	if q := e.Queued(); q != 0 {
		t.Fatalf("%d jobs still queued after their caller left", q)
	}
	// The long job's events are buffered, unread: had the cancelled job
	// waited for its row, the long job's Done would be among them already
	// (the scheduler ends a job before it admits the next).
drain:
	for {
		select {
		case ev, ok := <-long[0].Events():
			if !ok || ev.Done {
				t.Fatal("the cancelled job left the queue only once the long job had ended")
			}
		default:
			break drain
		}
	}
	next, err := e.Submit(context.Background(), Request{Prompt: p, MaxTokens: 4})
	if err != nil {
		t.Fatalf("the freed place: %v", err)
	}
	if _, err := long[0].Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := next[0].Wait(); err != nil {
		t.Fatal(err)
	}

}
