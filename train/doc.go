// Package train is the training loop every Align trainer shares:
// pretraining, SFT, reward models, DPO and GRPO each supply data, a model and
// a loss (an Objective); PPO, which makes its own data each step and then
// takes num_ppo_epochs × num_mini_batches optimizer updates on it, is a
// RolloutObjective. The loop does the rest — deterministic length-bucketed
// batches (for plain objectives), gradient accumulation normalised over the
// whole accumulated batch, AdamW per parameter set with global-norm
// clipping, learning-rate schedules with warm-up (counted in optimizer
// updates), logging to metrics.jsonl, periodic evaluation, atomic
// checkpoints (trainer_state.json, params.safetensors,
// optimizer.safetensors and the Saver's model) with rotation, bit-exact
// resume, and clean stops on SIGINT/SIGTERM or on a non-finite loss.
//
// Every choice that affects the weights is a pure function of the settings,
// the seed and the step counter, or is stored in the checkpoint (an
// objective's own state through StatefulObjective), so a run killed at any
// moment and resumed ends bit-identical to one that was never interrupted.
package train
