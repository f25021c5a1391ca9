package pref

import (
	"github.com/align-go/align/optim"
	"github.com/align-go/align/rewardmodel"
	"github.com/align-go/align/train"
)

// The reward model itself lives in rewardmodel (so scoring does not import
// the training loop); these names keep pref's callers unchanged.
type (
	RewardModel = rewardmodel.RewardModel
	Scorer      = rewardmodel.Scorer
	Encoder     = rewardmodel.Encoder
	Pair        = rewardmodel.Pair
	Seq         = rewardmodel.Seq
)

// ScoreTensor is the head's tensor name (see rewardmodel.ScoreTensor).
const ScoreTensor = rewardmodel.ScoreTensor

var (
	NewRewardModel  = rewardmodel.NewRewardModel
	LoadRewardModel = rewardmodel.LoadRewardModel
	LoadScorer      = rewardmodel.LoadScorer
	NewEncoder      = rewardmodel.NewEncoder
	ResolveEOS      = rewardmodel.ResolveEOS
	ResolvePad      = rewardmodel.ResolvePad
	Join            = rewardmodel.Join
	LastReal        = rewardmodel.LastReal
)

// HeadParams is a reward model's head as a parameter set for the training
// loop. The head is a Linear weight, so weight decay applies as HF's Trainer
// would apply it.
func HeadParams(r *RewardModel) train.ParamSet {
	if r.HeadGrad == nil {
		r.HeadGrad = make([]float32, len(r.Head))
	}
	return train.ParamSet{Name: "score", Data: r.Head, Grad: r.HeadGrad,
		Spans: []optim.Span{{Name: ScoreTensor, Offset: 0, Size: len(r.Head), Decay: true}}}
}

// grow returns s with length n, reallocating only when it is too small.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
