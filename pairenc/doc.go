// Package pairenc turns prompts and responses into the token rows that
// preference training and reward scoring share: the Encoder (plain text or a
// chat template, each response closed by EOS), encoded preference Pairs,
// prompt+response sequences (Seq, Join, KeepEnd), the right-padded batch
// (Padder) and the last real token of each row (LastReal), where a reward is
// read.
//
// It sits below both users so that they agree token for token without
// importing each other: rewardmodel (the scorer RL trainers and evaluation
// call) and pref (reward-model, DPO-family and KTO training) import it, and
// it imports neither the training loop nor the reward model.
package pairenc
