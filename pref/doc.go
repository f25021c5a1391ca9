// Package pref trains on preferences: a Bradley-Terry reward model (a scalar
// head on a transformer's final hidden state, saved as a HuggingFace
// sequence-classification directory; rewardmodel.Scorer reads it back for RL
// and evaluation), the DPO family of direct preference losses, the
// reference-free one-stage losses CPO and ORPO (NewCPOObjective,
// NewORPOObjective), and KTO on unpaired thumbs-up/down feedback
// (KTOObjective).
//
// Both trainers see a preference pair the same way, through pairenc.Encoder:
// the prompt's tokens, then each response's tokens closed by EOS. The reward is
// read at that EOS — the last real token of the sequence, wherever padding
// sits — and DPO's log-probabilities are summed over exactly the response
// tokens, EOS included, so a model is rewarded or penalised for stopping too.
//
// The engine has no autograd: each objective runs the model forward, takes
// the pure loss functions of package loss, and turns their gradients with
// respect to per-sequence quantities (a reward, a summed log-prob) into the
// gradients the model's explicit backward pass needs.
package pref
