package engine

import (
	"errors"
	"fmt"
	"slices"

	"github.com/align-go/align/model"
)

// Several LoRA adapters share one base model (model.LoadPEFTSet): a request
// names its adapter in Request.Adapter, and each step runs one forward pass
// over every active row whatever its adapter (model.ForwardCachedSets): the
// base weights are read once per step, and each row adds its own adapter's
// low-rank term, the rows of one adapter together (batch.go).
//
// Unloading is immediate for new requests and gentle for running ones: the
// name is free at once (a new adapter may be loaded under it, as an RL
// trainer pushing a new policy does), requests that name it fail with
// ErrNoAdapter, and the sequences already submitted with it — queued or
// decoding — finish with the weights they started with. Its memory is freed
// when the last of them ends; until then it counts toward MaxAdapters.

// ErrNoAdapter is a request or an unload naming an adapter not loaded.
var ErrNoAdapter = errors.New("engine: no such adapter")

// LoadAdapter attaches the PEFT LoRA adapter in dir as name (at most
// Options.MaxAdapters at once, counting unloaded ones that still finish
// sequences). Decoding pauses while its weights are read.
func (e *Engine) LoadAdapter(name, dir string) error {
	if name == "" || name == model.DefaultLoRA {
		return fmt.Errorf("adapter name %q: want a name other than %q", name, model.DefaultLoRA)
	}
	e.modelMu.Lock()
	defer e.modelMu.Unlock()
	e.amu.Lock()
	_, loaded := e.sets[name]
	held := e.heldLocked()
	e.amu.Unlock()
	switch {
	case loaded:
		return fmt.Errorf("adapter %q is already loaded", name)
	case held >= e.maxAdapters:
		return fmt.Errorf("%d adapters are loaded or finishing requests, the most this engine holds (unload one first)", held)
	}
	if err := e.Model.LoadPEFTSet(dir, name); err != nil {
		return err
	}
	e.selectOwn()
	lo := e.Model.LoRASet(name)
	lo.DropGrad() // served, never trained here: hold the weights once
	e.amu.Lock()
	e.adapters = append(e.adapters, name)
	e.sets[name] = lo
	e.amu.Unlock()
	return nil
}

// heldLocked counts the adapter sets in memory: the loaded ones and the
// unloaded ones still used by sequences.
func (e *Engine) heldLocked() int {
	n := len(e.sets)
	for lo, k := range e.inUse {
		if k > 0 && e.sets[lo.Name] != lo {
			n++
		}
	}
	return n
}

// UnloadAdapter detaches adapter name: new requests naming it fail, the
// sequences already submitted with it finish with its weights.
func (e *Engine) UnloadAdapter(name string) error {
	e.modelMu.Lock()
	defer e.modelMu.Unlock()
	e.amu.Lock()
	defer e.amu.Unlock()
	if _, ok := e.sets[name]; !ok {
		return fmt.Errorf("%w %q", ErrNoAdapter, name)
	}
	// The model forgets the set; the jobs that use it hold it.
	if err := e.Model.DetachLoRASet(name); err != nil {
		return err
	}
	e.selectOwn()
	delete(e.sets, name)
	e.adapters = slices.DeleteFunc(e.adapters, func(s string) bool { return s == name })
	return nil
}

// selectOwn keeps the model's selection on the engine's own weights (the
// first set attached becomes the selected one, a detached one moves it), so
// that a caller running e.Model directly gets what a request without an
// adapter gets. The engine's passes do not read the selection.
func (e *Engine) selectOwn() {
	name := ""
	if e.own != nil {
		name = e.own.Name
	}
	e.Model.UseLoRA(name) // "" or a set still attached: cannot fail
}

// Adapters lists the loaded adapters in load order.
func (e *Engine) Adapters() []string {
	e.amu.Lock()
	defer e.amu.Unlock()
	return slices.Clone(e.adapters)
}

// claim resolves each request's adapter to the set its rows will run with
// (the engine's own for none) and counts the sequences on it, or fails
// naming an adapter that is not loaded.
func (e *Engine) claim(reqs []Request) ([]*model.LoRA, error) {
	e.amu.Lock()
	defer e.amu.Unlock()
	sets := make([]*model.LoRA, len(reqs))
	for i, r := range reqs {
		if r.Adapter == "" {
			sets[i] = e.own
			continue
		}
		lo, ok := e.sets[r.Adapter]
		if !ok {
			return nil, fmt.Errorf("%w %q", ErrNoAdapter, r.Adapter)
		}
		sets[i] = lo
	}
	for i, r := range reqs {
		if r.Adapter != "" {
			e.inUse[sets[i]]++
		}
	}
	return sets, nil
}

func (e *Engine) unclaim(j *Job) {
	if j.req.Adapter == "" {
		return
	}
	e.amu.Lock()
	if e.inUse[j.lora]--; e.inUse[j.lora] <= 0 {
		delete(e.inUse, j.lora) // an unloaded set is now garbage
	}
	e.amu.Unlock()
}
