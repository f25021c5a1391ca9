// Package loss holds Align's training objectives as pure functions over
// per-sequence and per-token quantities: reward-model (Bradley-Terry) loss,
// the DPO family, the reference-free CPO and ORPO, KTO on unpaired labels,
// and the pieces of PPO/GRPO (aggregation modes, advantage
// estimators, clipped policy and value losses, KL estimators).
//
// Every loss returns its value, its gradient with respect to each input the
// model produced (an explicit backward, since the engine has no autograd) and
// a metrics map whose keys follow TRL and verl so that logs compare directly.
// Everything is float64: the inputs are a few numbers per sequence or token,
// and the finite-difference checks in the tests need the headroom.
//
// Losses are registered by name, in the style of verl's core_algos.py, so a
// configuration string selects them, and token aggregation is always an
// explicit argument rather than a hidden default.
//
// Token-level inputs are row-major [B, T] slices with T given explicitly; the
// mask holds 1 for response tokens that count and 0 for padding.
package loss
