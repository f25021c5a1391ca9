// Package optim updates a model's parameters: AdamW with PyTorch's exact
// semantics, global-norm gradient clipping, finiteness checks and the
// HuggingFace learning-rate schedules.
//
// Parameters live in one flat []float32 and their gradients in another of the
// same length. A table of Spans names the tensors inside them and says which
// are decayed and which are frozen. Optimizer state is allocated only for the
// trainable spans, so a LoRA run whose base weights are frozen holds moments
// for the adapters alone.
//
// Schedules are pure functions of the optimizer step, so a resumed run needs
// nothing but the step counter to recover its learning rate.
package optim
