package train

import (
	"fmt"

	"github.com/align-go/align/data"
	"github.com/align-go/align/model"
	"github.com/align-go/align/optim"
)

// Metrics are additive values an Objective reports for a micro-batch. The loop
// sums them over the micro-batches of a step, so an objective scales each one
// the way it scales its loss (typically by 1/totalUnits): the sum is then the
// step's value. Over a logging window the loop reports the mean of the step
// values. The key "loss" is required of Accumulate.
type Metrics map[string]float64

// Add accumulates o into m.
func (m Metrics) Add(o Metrics) {
	for k, v := range o {
		m[k] += v
	}
}

// Objective is what a trainer plugs into the loop: a dataset of Len examples
// and a loss over any subset of them.
type Objective interface {
	// Len is the number of training examples.
	Len() int
	// Length is example i's size (tokens), used only to bucket examples of
	// similar length into the same micro-batch so padding stays small.
	Length(i int) int
	// Units is the number of loss units (predicted tokens, pairs, ...) in
	// the examples idx. The loop sums it over every micro-batch of a step,
	// so that the loss is a mean over the whole accumulated batch.
	Units(idx []int) int
	// Accumulate runs forward and backward on the micro-batch idx with the
	// loss scaled by 1/totalUnits, adding the gradients into the parameter
	// sets' Grad buffers (never zeroing them). It returns the micro-batch's
	// additive metrics, including "loss".
	Accumulate(idx []int, totalUnits int) (Metrics, error)
}

// Evaluator is a held-out objective. Eval computes the metrics of idx with
// the same scaling as Accumulate but without touching gradients; the loop
// passes the unit count of the whole evaluation set, so the sum over its
// batches is a mean over the set.
type Evaluator interface {
	Objective
	Eval(idx []int, totalUnits int) (Metrics, error)
}

// StepContext describes the optimizer step in progress.
type StepContext struct {
	Step  int       // 1-based number of the step being taken
	Epoch int       // 0-based epoch the step's batch comes from
	RNG   *data.RNG // the run's random source; saved in checkpoints
}

// BatchPreparer is implemented by objectives that must do work on a whole
// step's examples before their units are known, such as sampling
// completions for GRPO. Random choices must come from ctx.RNG so resumed
// runs repeat them.
type BatchPreparer interface {
	PrepareBatch(ctx *StepContext, idx []int) error
}

// RolloutObjective is an Objective that makes its own training data at
// every step and then takes several optimizer updates on it: PPO's
// num_ppo_epochs × num_mini_batches updates over each rollout batch. For such
// an objective one loop step is one rollout. The loop calls Rollout, then for
// each update of the plan it returns sums Units over the update's
// micro-batches, clears the gradients, calls Accumulate on each micro-batch
// (indices into the rollout, not into the Len examples), checks the loss and
// gradient norm, clips across every parameter set and steps AdamW. The
// learning-rate schedule advances once per update, so its total and its
// warm-up count updates. The step's row holds the Rollout metrics and the
// mean over its updates of the Accumulate metrics; checkpoints, resume,
// signals and rotation are the loop's as for any objective.
//
// The loop's data order is not used: Rollout chooses its examples itself
// from ctx.Step and its seed (or ctx.RNG), so that a resumed run repeats
// them. Len and Length describe the examples a rollout draws from (PPO's
// prompts); Len sets the epoch count and is checked on resume.
type RolloutObjective interface {
	Objective
	// RolloutSize is the number of examples each rollout draws and the
	// number of optimizer updates it takes (every plan's length).
	RolloutSize() (examples, updates int)
	// Rollout generates and scores step ctx.Step's batch and returns its
	// plan — plan[u] lists update u's micro-batches — and its metrics.
	Rollout(ctx *StepContext) (plan [][][]int, m Metrics, err error)
}

// StepHook is implemented by objectives that act after each optimizer
// update (refreshing a reference or old policy, say).
type StepHook interface {
	AfterStep(ctx *StepContext) error
}

// StatefulObjective is implemented by objectives that carry state across
// steps beyond the run's RNG (an adaptive KL coefficient, reward-length
// baselines, running statistics). The loop stores State in every
// checkpoint's trainer_state.json and hands it back to LoadState on resume
// (nil when the checkpoint has none), so such runs resume bit-exactly.
type StatefulObjective interface {
	State() ([]byte, error)
	LoadState([]byte) error
}

// ParamSet is one flat parameter allocation the loop optimises with its own
// AdamW: a model's parameters, a set of LoRA adapters, a reward head. Spans
// name the tensors inside Data/Grad and say which decay and which are
// frozen; frozen spans get neither state nor updates.
type ParamSet struct {
	Name  string
	Data  []float32
	Grad  []float32
	Spans []optim.Span
}

func (p *ParamSet) validate() error {
	if p.Name == "" {
		return fmt.Errorf("train: parameter set with no name")
	}
	if len(p.Grad) != len(p.Data) {
		return fmt.Errorf("train: parameter set %q: %d gradients for %d parameters", p.Name, len(p.Grad), len(p.Data))
	}
	return optim.ValidateSpans(p.Spans, len(p.Data))
}

// trainable reports whether any span of p is trained.
func (p *ParamSet) trainable() bool { return optim.TrainableSize(p.Spans) > 0 }

// ModelParams returns the parameter set of m's flat allocation, enabling its
// gradients. Decay follows model.Param.Decay (matrices yes; norms, biases and
// embeddings no) and frozen parameters are frozen spans.
func ModelParams(name string, m *model.Model) ParamSet {
	m.EnableGrad()
	spans := make([]optim.Span, len(m.Params))
	for i, p := range m.Params {
		spans[i] = optim.Span{Name: p.Name, Offset: p.Offset, Size: p.Size, Decay: p.Decay, Frozen: m.Frozen(p.Name)}
	}
	return ParamSet{Name: name, Data: m.Data, Grad: m.Grad, Spans: spans}
}

// Saver writes the trained model as a loadable HuggingFace directory (the
// trainer knows its model, adapters and tokenizer files). The loop calls it
// for the final model (in OUT) and for every checkpoint.
type Saver interface {
	Save(dir string) error
}

// SaverFunc adapts a function to Saver.
type SaverFunc func(dir string) error

// Save calls f.
func (f SaverFunc) Save(dir string) error { return f(dir) }
