package train

import (
	"math"

	"github.com/align-go/align/model"
	"github.com/align-go/align/optim"
	"github.com/align-go/align/option"
	"github.com/align-go/align/tensor"
)

// Settings are the loop's knobs, named and defaulted like HuggingFace
// TrainingArguments / TRL so that their configs and habits carry over.
type Settings struct {
	Out            string  // run directory
	MaxSteps       int     // optimizer steps; > 0 overrides Epochs
	Epochs         float64 // passes over the data (may be fractional)
	BatchSize      int     // examples per micro-batch (per_device_train_batch_size)
	GradAccum      int     // micro-batches per optimizer step (gradient_accumulation_steps)
	LR             float64 // peak learning rate
	LRScheduler    string  // constant, constant_with_warmup, linear, cosine, cosine_with_min_lr
	WarmupSteps    int     // linear warmup steps; 0 uses WarmupRatio
	WarmupRatio    float64 // warmup as a fraction of the total steps
	WeightDecay    float64 // decoupled, on matrices only (see model.Param.Decay)
	DecayAll       bool    // also decay norms, biases and embeddings
	AdamBeta1      float64
	AdamBeta2      float64
	AdamEpsilon    float64
	MaxGradNorm    float64 // global L2 clip across all parameter sets; 0 disables
	Seed           uint64  // data order and the run's RNG
	LoggingSteps   int     // metrics.jsonl row every N steps
	EvalSteps      int     // evaluate every N steps (0: every LoggingSteps) when there is an eval set
	SaveSteps      int     // checkpoint every N steps; 0 disables
	SaveTotalLimit int     // keep the newest N checkpoints; 0 keeps all
	Resume         string  // "" (fresh run), "latest" (newest checkpoint in Out) or a checkpoint directory
	GroupByLength  bool    // bucket examples of similar length into micro-batches
	// GradientCheckpointing recomputes each block's forward pass in backward
	// instead of keeping its activations (model.SetGradientCheckpointing).
	GradientCheckpointing bool
	// BF16 runs the trained model's weight products in bfloat16 with f32
	// sums (TRL's --bf16; model.SetCompute). Master weights, gradients and
	// optimizer state stay f32.
	BF16 bool
}

// ConfigureModel applies the settings that belong to a model being trained
// (or to a copy of it that must compute alike, such as a DPO reference):
// gradient checkpointing and the --bf16 compute.
func (s *Settings) ConfigureModel(m *model.Model) {
	m.SetGradientCheckpointing(s.GradientCheckpointing)
	m.SetCompute(s.Compute())
}

// Compute is the arithmetic of the trained model's products: tensor.BF16
// under BF16, else tensor.F32.
func (s *Settings) Compute() tensor.Prec {
	if s.BF16 {
		return tensor.BF16
	}
	return tensor.F32
}

// ResumeLatest is the Resume value that picks the newest checkpoint in Out.
const ResumeLatest = "latest"

// DefaultSettings returns HuggingFace's defaults (TRL's logging cadence).
func DefaultSettings() Settings {
	return Settings{
		Epochs:        3,
		BatchSize:     8,
		GradAccum:     1,
		LR:            5e-5,
		LRScheduler:   "linear",
		AdamBeta1:     0.9,
		AdamBeta2:     0.999,
		AdamEpsilon:   1e-8,
		MaxGradNorm:   1,
		Seed:          42,
		LoggingSteps:  10,
		SaveSteps:     500,
		GroupByLength: true,
	}
}

// Validate reports the first setting that cannot work, as an *option.Error
// naming its field (train.Settings.BatchSize).
func (s *Settings) Validate() error {
	bad := func(field string, format string, args ...any) error {
		return option.Bad("train.Settings."+field, format, args...)
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case s.Out == "":
		return bad("Out", "a run directory is required")
	case s.MaxSteps <= 0 && !(s.Epochs > 0 && finite(s.Epochs)):
		return bad("Epochs", "%v: need a positive number of epochs or train.Settings.MaxSteps", s.Epochs)
	case s.BatchSize <= 0:
		return bad("BatchSize", "%d must be positive", s.BatchSize)
	case s.GradAccum <= 0:
		return bad("GradAccum", "%d must be positive", s.GradAccum)
	case !(s.LR >= 0) || !finite(s.LR):
		return bad("LR", "%v must be finite and >= 0", s.LR)
	case s.WarmupSteps < 0:
		return bad("WarmupSteps", "%d must be >= 0", s.WarmupSteps)
	case !(s.WarmupRatio >= 0 && s.WarmupRatio <= 1):
		return bad("WarmupRatio", "%v outside [0,1]", s.WarmupRatio)
	case !(s.MaxGradNorm >= 0) || !finite(s.MaxGradNorm):
		return bad("MaxGradNorm", "%v must be finite and >= 0", s.MaxGradNorm)
	case s.LoggingSteps <= 0:
		return bad("LoggingSteps", "%d must be positive", s.LoggingSteps)
	case s.EvalSteps < 0:
		return bad("EvalSteps", "%d must be >= 0", s.EvalSteps)
	case s.SaveSteps < 0:
		return bad("SaveSteps", "%d must be >= 0", s.SaveSteps)
	case s.SaveTotalLimit < 0:
		return bad("SaveTotalLimit", "%d must be >= 0", s.SaveTotalLimit)
	}
	if err := s.adam().Validate(); err != nil {
		return err
	}
	if err := (optim.Schedule{Name: s.LRScheduler, Total: 1}).Validate(); err != nil {
		return bad("LRScheduler", "%v", err)
	}
	return nil
}

// adamConfig wraps optim.AdamWConfig so validation errors name Settings fields.
type adamConfig optim.AdamWConfig

func (s *Settings) adam() adamConfig {
	return adamConfig{Beta1: s.AdamBeta1, Beta2: s.AdamBeta2, Eps: s.AdamEpsilon, WeightDecay: s.WeightDecay}
}

func (a adamConfig) Validate() error {
	switch {
	case !(a.Beta1 >= 0 && a.Beta1 < 1):
		return option.Bad("train.Settings.AdamBeta1", "%v outside [0,1)", a.Beta1)
	case !(a.Beta2 >= 0 && a.Beta2 < 1):
		return option.Bad("train.Settings.AdamBeta2", "%v outside [0,1)", a.Beta2)
	case !(a.Eps >= 0) || math.IsInf(a.Eps, 0):
		return option.Bad("train.Settings.AdamEpsilon", "%v must be finite and >= 0", a.Eps)
	case !(a.WeightDecay >= 0) || math.IsInf(a.WeightDecay, 0):
		return option.Bad("train.Settings.WeightDecay", "%v must be finite and >= 0", a.WeightDecay)
	}
	return nil
}

// schedule builds the learning-rate schedule for a run of total steps.
func (s *Settings) schedule(total int) optim.Schedule {
	warm := s.WarmupSteps
	if warm == 0 && s.WarmupRatio > 0 {
		warm = int(math.Ceil(s.WarmupRatio * float64(total)))
	}
	return optim.Schedule{Name: s.LRScheduler, Warmup: warm, Total: total}
}
