package pref

import (
	"github.com/align-go/align/optim"
	"github.com/align-go/align/rewardmodel"
	"github.com/align-go/align/train"
)

// HeadParams is a reward model's head as a parameter set for the training
// loop. The head is a Linear weight, so weight decay applies as HF's Trainer
// would apply it.
func HeadParams(r *rewardmodel.RewardModel) train.ParamSet {
	if r.HeadGrad == nil {
		r.HeadGrad = make([]float32, len(r.Head))
	}
	return train.ParamSet{Name: "score", Data: r.Head, Grad: r.HeadGrad,
		Spans: []optim.Span{{Name: rewardmodel.ScoreTensor, Offset: 0, Size: len(r.Head), Decay: true}}}
}

// grow returns s with length n, reallocating only when it is too small.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
