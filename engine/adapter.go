package engine

import (
	"errors"
	"fmt"
	"slices"

	"github.com/align-go/align/model"
)

// Several LoRA adapters share one base model (model.LoadPEFTSet): a request
// names its adapter in Request.Adapter, and each decode step runs one
// forward pass per adapter among the active rows, the rows of one adapter
// batched together. (One pass over rows of different adapters, as vLLM's
// punica kernels do, is later work: with few adapters in use at once the
// passes differ only in the LoRA products, the base weights are read once
// per pass.)

// ErrNoAdapter is a request or an unload naming an adapter not loaded.
var ErrNoAdapter = errors.New("engine: no such adapter")

// LoadAdapter attaches the PEFT LoRA adapter in dir as name (at most
// Options.MaxAdapters at once). Decoding pauses while its weights are read.
func (e *Engine) LoadAdapter(name, dir string) error {
	if name == "" || name == model.DefaultLoRA {
		return fmt.Errorf("adapter name %q: want a name other than %q", name, model.DefaultLoRA)
	}
	e.modelMu.Lock()
	defer e.modelMu.Unlock()
	e.amu.Lock()
	n := len(e.adapters)
	loaded := slices.Contains(e.adapters, name)
	e.amu.Unlock()
	switch {
	case loaded:
		return fmt.Errorf("adapter %q is already loaded", name)
	case n >= e.maxAdapters:
		return fmt.Errorf("%d adapters are loaded, the most this engine holds (unload one first)", n)
	}
	if err := e.Model.LoadPEFTSet(dir, name); err != nil {
		return err
	}
	e.amu.Lock()
	e.adapters = append(e.adapters, name)
	e.amu.Unlock()
	return nil
}

// UnloadAdapter detaches adapter name; it fails while requests use it.
func (e *Engine) UnloadAdapter(name string) error {
	e.modelMu.Lock()
	defer e.modelMu.Unlock()
	e.amu.Lock()
	defer e.amu.Unlock()
	if !slices.Contains(e.adapters, name) {
		return fmt.Errorf("%w %q", ErrNoAdapter, name)
	}
	if n := e.inUse[name]; n > 0 {
		return fmt.Errorf("adapter %q is in use by %d sequences; retry when they end", name, n)
	}
	if err := e.Model.DetachLoRASet(name); err != nil {
		return err
	}
	e.adapters = slices.DeleteFunc(e.adapters, func(s string) bool { return s == name })
	return nil
}

// Adapters lists the loaded adapters in load order.
func (e *Engine) Adapters() []string {
	e.amu.Lock()
	defer e.amu.Unlock()
	return slices.Clone(e.adapters)
}

// claim counts the sequences of reqs on their adapters, or fails naming an
// adapter that is not loaded.
func (e *Engine) claim(reqs []Request) error {
	e.amu.Lock()
	defer e.amu.Unlock()
	for _, r := range reqs {
		if r.Adapter != "" && !slices.Contains(e.adapters, r.Adapter) {
			return fmt.Errorf("%w %q", ErrNoAdapter, r.Adapter)
		}
	}
	for _, r := range reqs {
		if r.Adapter != "" {
			e.inUse[r.Adapter]++
		}
	}
	return nil
}

func (e *Engine) unclaim(r *Request) {
	if r.Adapter == "" {
		return
	}
	e.amu.Lock()
	e.inUse[r.Adapter]--
	e.amu.Unlock()
}

// use selects the weights a job's rows run with: its adapter, else the
// engine's own (the set the model had selected at New, or the base model).
func (e *Engine) use(adapter string) error {
	if adapter == "" {
		adapter = e.ownSet // "": adapters off
	}
	return e.Model.UseLoRA(adapter)
}
