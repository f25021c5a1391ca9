package engine

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/align-go/align/engine/enginetest"
	"github.com/align-go/align/generate"
	"github.com/align-go/align/model"
)

// Rows of two adapters and of the base model decode in the same steps; each
// must produce what generate.Generate produces on a model holding only that
// adapter (or none), and the adapters must change the output.
func TestAdaptersShareSteps(t *testing.T) {
	dir := enginetest.ModelDir(t, 5)
	e, err := Load(dir, Options{MaxBatch: 3})
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
	prompt := e.TextPrompt("The whale")
	names := []string{"", "a", "b", "a"}
	got := make([]Result, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			jobs, err := e.Submit(context.Background(), Request{Prompt: prompt, MaxTokens: 12, IgnoreEOS: true, Adapter: name,
				Sampling: generate.Sampling{Temperature: 0.8}, Seed: uint64(i)})
			if err != nil {
				errs[i] = err
				return
			}
			got[i], errs[i] = jobs[0].Wait()
		}()
	}
	wg.Wait()
	texts := map[string]string{}
	for i, name := range names {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		m, err := model.LoadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if name != "" {
			if err := m.LoadPEFT(map[string]string{"a": adA, "b": adB}[name]); err != nil {
				t.Fatal(err)
			}
		}
		want, err := generate.Generate(m, [][]int32{prompt}, generate.Options{Sampling: generate.Sampling{Temperature: 0.8},
			Seed: uint64(i), MaxNewTokens: 12, Decode: e.Decode})
		if err != nil {
			t.Fatal(err)
		}
		if got[i].Text != want[0].Text {
			t.Errorf("request %d (adapter %q): %q, alone %q", i, name, got[i].Text, want[0].Text)
		}
		texts[name] = want[0].Text
	}
	if texts[""] == texts["a"] || texts["a"] == texts["b"] {
		t.Errorf("the adapters change nothing: %q", texts)
	}

	// Unknown adapters are refused; an adapter in use cannot be unloaded.
	if _, err := e.Submit(context.Background(), Request{Prompt: prompt, MaxTokens: 2, Adapter: "c"}); !errors.Is(err, ErrNoAdapter) {
		t.Fatalf("unknown adapter: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	jobs, err := e.Submit(ctx, Request{Prompt: prompt, MaxTokens: 400, IgnoreEOS: true, Adapter: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.UnloadAdapter("b"); err == nil {
		t.Fatal("unloaded an adapter in use")
	}
	cancel()
	jobs[0].Wait()
	if err := e.UnloadAdapter("b"); err != nil {
		t.Fatal(err)
	}
	if a := e.Adapters(); len(a) != 1 || a[0] != "a" {
		t.Fatalf("adapters %v", a)
	}
	if err := e.UnloadAdapter("b"); !errors.Is(err, ErrNoAdapter) {
		t.Fatalf("unloading twice: %v", err)
	}
}

// With Options.Adapter, a request without an adapter runs it, also once
// other adapters are loaded and share the steps.
func TestOwnAdapterStays(t *testing.T) {
	dir := enginetest.ModelDir(t, 5)
	adA, adB := enginetest.RandomAdapter(t, dir, 1), enginetest.RandomAdapter(t, dir, 2)
	e, err := Load(dir, Options{MaxBatch: 2, Adapter: adA})
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
