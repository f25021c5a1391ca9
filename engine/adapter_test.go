package engine

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/align-go/align/engine/enginetest"
	"github.com/align-go/align/generate"
	"github.com/align-go/align/model"
)

// Rows of two adapters and of the base model share their steps (prefilled
// together where prompts have one length, decoded in one pass, some joining
// mid-stream); each must produce bitwise the tokens and log-probabilities it
// produces alone, the text of generate.Generate on a model holding only that
// adapter (or none), and the adapters must change the output.
func TestAdaptersShareSteps(t *testing.T) {
	dir := modelDir(t)
	e, err := load(t, dir, Options{MaxBatch: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	adA, adB := enginetest.RandomAdapter(t, dir, 1), enginetest.RandomAdapter(t, dir, 2)
	for name, d := range map[string]string{"a": adA, "b": adB} {
		if err := e.LoadAdapter(name, d); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.LoadAdapter("a", adA); err == nil {
		t.Fatal("an adapter loaded twice")
	}
	if g := e.Model.LoRASet("a").Grad; g != nil {
		t.Fatalf("a served adapter keeps a gradient buffer of %d floats", len(g))
	}
	p1, p2 := e.TextPrompt("The whale"), e.TextPrompt("Call me Ishmael. Some years ago")
	if len(p1) == len(p2) {
		t.Fatal("the prompts should differ in length")
	}
	reqs := []Request{{Prompt: p1}, {Prompt: p1, Adapter: "a"}, {Prompt: p1, Adapter: "b"}, {Prompt: p2, Adapter: "a"},
		{Prompt: p2}, {Prompt: p1, Adapter: "a"}, {Prompt: p2, Adapter: "b"}}
	for i := range reqs {
		reqs[i].MaxTokens, reqs[i].IgnoreEOS, reqs[i].Seed = 12, true, uint64(i)
		reqs[i].Sampling = generate.Sampling{Temperature: 0.8}
		reqs[i].Logprobs, reqs[i].TopLogprobs = true, 3
	}
	// Five start together; two more join once the first have tokens.
	first, err := e.Submit(context.Background(), reqs[:5]...)
	if err != nil {
		t.Fatal(err)
	}
	ev0 := <-first[0].Events()
	later, err := e.Submit(context.Background(), reqs[5:]...)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]Result, len(reqs))
	for i, j := range append(first[1:], later...) {
		if got[i+1], err = j.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	rest, err := first[0].Wait() // less its first event
	if err != nil {
		t.Fatal(err)
	}
	got[0] = Result{Tokens: append(ev0.Tokens, rest.Tokens...), Text: ev0.Text + rest.Text}
	texts := map[string]string{}
	for i, r := range reqs {
		jobs, err := e.Submit(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		alone, err := jobs[0].Wait()
		if err != nil {
			t.Fatal(err)
		}
		g := got[i]
		if !reflect.DeepEqual(g.Tokens, alone.Tokens) || g.Text != alone.Text {
			t.Errorf("request %d (adapter %q): in the mixed batch %v %q, alone %v %q", i, r.Adapter, g.Tokens, g.Text, alone.Tokens, alone.Text)
		}
		m, err := model.LoadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if r.Adapter != "" {
			if err := m.LoadPEFT(map[string]string{"a": adA, "b": adB}[r.Adapter]); err != nil {
				t.Fatal(err)
			}
		}
		want, err := generate.Generate(m, [][]int32{r.Prompt}, generate.Options{Sampling: r.Sampling,
			Seed: r.Seed, MaxNewTokens: 12, Decode: e.Decode})
		if err != nil {
			t.Fatal(err)
		}
		if alone.Text != want[0].Text {
			t.Errorf("request %d (adapter %q): %q, generate %q", i, r.Adapter, alone.Text, want[0].Text)
		}
		if i < 3 {
			texts[r.Adapter] = want[0].Text
		}
	}
	if texts[""] == texts["a"] || texts["a"] == texts["b"] {
		t.Errorf("the adapters change nothing: %q", texts)
	}
	if _, err := e.Submit(context.Background(), Request{Prompt: p1, MaxTokens: 2, Adapter: "c"}); !errors.Is(err, ErrNoAdapter) {
		t.Fatalf("unknown adapter: %v", err)
	}
}

// An adapter unloaded mid-stream: the unload succeeds at once, new requests
// naming it fail with ErrNoAdapter, the stream already running finishes
// with the adapter's weights (bitwise what it produces undisturbed), and a
// new adapter loaded under the same name serves the requests after it.
func TestUnloadMidStream(t *testing.T) {
	dir := modelDir(t)
	adA, adB := enginetest.RandomAdapter(t, dir, 1), enginetest.RandomAdapter(t, dir, 2)
	e, err := load(t, dir, Options{MaxBatch: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	prompt := e.TextPrompt("The whale")
	long := Request{Prompt: prompt, MaxTokens: e.ContextLen() - len(prompt), IgnoreEOS: true, Adapter: "p", Logprobs: true}
	short := Request{Prompt: prompt, MaxTokens: 8, IgnoreEOS: true, Adapter: "p", Logprobs: true}
	run := func(r Request) Result {
		t.Helper()
		jobs, err := e.Submit(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		res, err := jobs[0].Wait()
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	// References: each adapter's output undisturbed.
	if err := e.LoadAdapter("p", adB); err != nil {
		t.Fatal(err)
	}
	wantLong := run(long)
	if err := e.UnloadAdapter("p"); err != nil {
		t.Fatal(err)
	}
	if err := e.LoadAdapter("p", adA); err != nil {
		t.Fatal(err)
	}
	wantShortA := run(short)
	if err := e.UnloadAdapter("p"); err != nil {
		t.Fatal(err)
	}

	if err := e.LoadAdapter("p", adB); err != nil {
		t.Fatal(err)
	}
	jobs, err := e.Submit(context.Background(), long)
	if err != nil {
		t.Fatal(err)
	}
	firstEv := <-jobs[0].Events()
	if err := e.UnloadAdapter("p"); err != nil {
		t.Fatalf("unload while a stream runs: %v", err)
	}
	e.amu.Lock()
	draining := len(e.inUse)
	e.amu.Unlock()
	if draining != 1 {
		t.Fatalf("the stream ended before the unload (%d sets in use): the test proves nothing", draining)
	}
	if a := e.Adapters(); len(a) != 0 {
		t.Fatalf("adapters after the unload: %v", a)
	}
	if _, err := e.Submit(context.Background(), short); !errors.Is(err, ErrNoAdapter) {
		t.Fatalf("a request for the unloaded adapter: %v", err)
	}
	if err := e.LoadAdapter("p", adA); err != nil {
		t.Fatalf("loading a new adapter under the name: %v", err)
	}
	if got := run(short); !reflect.DeepEqual(got.Tokens, wantShortA.Tokens) {
		t.Errorf("the new adapter under the old name: %v, want %v", got.Tokens, wantShortA.Tokens)
	}
	rest, err := jobs[0].Wait()
	if err != nil {
		t.Fatal(err)
	}
	got := append(firstEv.Tokens, rest.Tokens...)
	if !reflect.DeepEqual(got, wantLong.Tokens) || firstEv.Text+rest.Text != wantLong.Text {
		t.Errorf("the stream whose adapter was unloaded changed: %d tokens, want %d", len(got), len(wantLong.Tokens))
	}
	e.amu.Lock()
	left := len(e.inUse)
	e.amu.Unlock()
	if left != 0 {
		t.Fatalf("%d sets still counted in use after every stream ended", left)
	}
}

// An unloaded adapter still finishing sequences counts toward MaxAdapters
// until the last of them ends.
func TestDrainingAdapterCounts(t *testing.T) {
	dir := modelDir(t)
	adA := enginetest.RandomAdapter(t, dir, 1)
	e, err := load(t, dir, Options{MaxBatch: 1, MaxAdapters: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.LoadAdapter("b", adA); err != nil {
		t.Fatal(err)
	}
	// A sequence submitted with b, held here without the scheduler.
	sets, err := e.claim([]Request{{Adapter: "b"}})
	if err != nil {
		t.Fatal(err)
	}
	job := &Job{req: Request{Adapter: "b"}, lora: sets[0]}
	if err := e.UnloadAdapter("b"); err != nil {
		t.Fatal(err)
	}
	if err := e.LoadAdapter("c", adA); err != nil {
		t.Fatal(err)
	}
	if err := e.LoadAdapter("d", adA); err == nil || !strings.Contains(err.Error(), "2 adapters are loaded or finishing requests") {
		t.Fatalf("a third adapter while b drains: %v", err)
	}
	e.unclaim(job)
	if err := e.LoadAdapter("d", adA); err != nil {
		t.Fatalf("once b's sequence ended: %v", err)
	}
}

// With Options.Adapter, a request without an adapter runs it, also once
// other adapters are loaded and share the steps.
func TestOwnAdapterStays(t *testing.T) {
	dir := modelDir(t)
	adA, adB := enginetest.RandomAdapter(t, dir, 1), enginetest.RandomAdapter(t, dir, 2)
	e, err := load(t, dir, Options{MaxBatch: 2, Adapter: adA})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.LoadAdapter("b", adB); err != nil {
		t.Fatal(err)
	}
	prompt := e.TextPrompt("The whale")
	jobs, err := e.Submit(context.Background(), Request{Prompt: prompt, MaxTokens: 10, IgnoreEOS: true},
		Request{Prompt: prompt, MaxTokens: 10, IgnoreEOS: true, Adapter: "b"})
	if err != nil {
		t.Fatal(err)
	}
	for i, ad := range []string{adA, adB} {
		got, err := jobs[i].Wait()
		if err != nil {
			t.Fatal(err)
		}
		m, err := model.LoadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.LoadPEFT(ad); err != nil {
			t.Fatal(err)
		}
		want, err := generate.Generate(m, [][]int32{prompt}, generate.Options{MaxNewTokens: 10, Decode: e.Decode})
		if err != nil {
			t.Fatal(err)
		}
		if got.Text != want[0].Text {
			t.Errorf("job %d: %q, want %q", i, got.Text, want[0].Text)
		}
	}
}

// Loading and unloading adapters leaves e.Model computing the engine's own
// weights (the base, or Options.Adapter) for a caller that runs it directly.
func TestModelKeepsOwnSelection(t *testing.T) {
	dir := modelDir(t)
	adA, adB := enginetest.RandomAdapter(t, dir, 1), enginetest.RandomAdapter(t, dir, 2)
	logits := func(m *model.Model) []float32 {
		t.Helper()
		c, err := model.NewKVCache(m.Cfg, 1, 8)
		if err != nil {
			t.Fatal(err)
		}
		lg, err := m.ForwardCached(c, nil, []int32{1, 2, 3}, nil, 3, false)
		if err != nil {
			t.Fatal(err)
		}
		return slices.Clone(lg)
	}
	for _, own := range []string{"", adA} {
		ld := Load // with an adapter, through Load itself
		if own == "" {
			ld = func(dir string, o Options) (*Engine, error) { return load(t, dir, o) }
		}
		e, err := ld(dir, Options{MaxBatch: 1, Adapter: own})
		if err != nil {
			t.Fatal(err)
		}
		ref, err := model.LoadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if own != "" {
			if err := ref.LoadPEFT(own); err != nil {
				t.Fatal(err)
			}
		}
		want := logits(ref)
		if err := e.LoadAdapter("x", adB); err != nil {
			t.Fatal(err)
		}
		e.modelMu.Lock()
		loaded := logits(e.Model)
		e.modelMu.Unlock()
		if err := e.UnloadAdapter("x"); err != nil {
			t.Fatal(err)
		}
		e.modelMu.Lock()
		unloaded := logits(e.Model)
		e.modelMu.Unlock()
		if !slices.Equal(loaded, want) || !slices.Equal(unloaded, want) {
			t.Errorf("own adapter %q: e.Model no longer computes the engine's own weights", own)
		}
		e.Close()
	}
}

// Several sequences of one prompt and adapter admitted together (a request's
// n choices) prefill it once and copy the cache row; each still samples
// bitwise what it samples alone. The same prompt under another adapter is
// not shared.
func TestSharedPromptPrefill(t *testing.T) {
	dir := modelDir(t)
	e, err := load(t, dir, Options{MaxBatch: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.LoadAdapter("a", enginetest.RandomAdapter(t, dir, 1)); err != nil {
		t.Fatal(err)
	}
	prompt := e.TextPrompt("Call me Ishmael. Some years ago, never mind how long precisely")
	var reqs []Request
	for i, ad := range []string{"a", "a", "", "a", "a"} {
		reqs = append(reqs, Request{Prompt: prompt, MaxTokens: 10, IgnoreEOS: true, Adapter: ad, Seed: 7, Stream: uint64(i),
			Sampling: generate.Sampling{Temperature: 0.9}, Logprobs: true})
	}
	before := e.PrefillTokens()
	jobs, err := e.Submit(context.Background(), reqs...)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]Result, len(jobs))
	for i, j := range jobs {
		if got[i], err = j.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.PrefillTokens() - before; n != int64(2*len(prompt)) {
		t.Errorf("%d prompt tokens prefilled, want %d (once per adapter)", n, 2*len(prompt))
	}
	distinct := map[string]bool{}
	for i, r := range reqs {
		jobs, err := e.Submit(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		alone, err := jobs[0].Wait()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got[i].Tokens, alone.Tokens) || got[i].Text != alone.Text {
			t.Errorf("sequence %d (adapter %q): %q together, %q alone", i, r.Adapter, got[i].Text, alone.Text)
		}
		distinct[alone.Text] = true
	}
	if len(distinct) < 3 {
		t.Errorf("the streams sample alike: %v", distinct)
	}
}
