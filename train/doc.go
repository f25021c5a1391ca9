// Package train is the training loop every Align trainer shares: pretraining,
// SFT, reward models, DPO, PPO and GRPO each supply data, a model and a loss
// (an Objective), and the loop does the rest — deterministic length-bucketed
// batches, gradient accumulation normalised over the whole accumulated batch,
// AdamW per parameter set with global-norm clipping, learning-rate schedules,
// logging to metrics.jsonl, periodic evaluation, atomic checkpoints with
// rotation, bit-exact resume, and clean stops on SIGINT/SIGTERM or on a
// non-finite loss.
//
// Every choice that affects the weights is a pure function of the settings,
// the seed and the step counter, or is stored in the checkpoint, so a run
// killed at any moment and resumed ends bit-identical to one that was never
// interrupted.
package train
