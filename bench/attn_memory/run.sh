#!/usr/bin/env bash
# Attention memory and speed: an SFT-style training step (forward, cross-entropy,
# backward, AdamW) of a GPT-2-small-shaped model (12 layers, d 768, 12 heads,
# vocab 50257), batch 1. Step time at T = 256, 512 and peak RSS (VmHWM) at
# T = 512, 1024, 2048, each T in its own process. Given a second commit, both
# are built and run interleaved (shared machines drift), for before/after ratios.
#
# Usage: bench/attn_memory/run.sh [BASE_COMMIT]
set -euo pipefail
cd "$(dirname "$0")/../.."
go build -o /tmp/attn_new ./bench/attn_memory
bins=(new)
if [ -n "${1:-}" ]; then
  wt=$(mktemp -d /tmp/attn_base.XXXXXX)
  git worktree add -q --detach "$wt" "$1"
  mkdir -p "$wt/bench/attn_memory"
  cp bench/attn_memory/main.go "$wt/bench/attn_memory/"
  (cd "$wt" && go build -o /tmp/attn_base ./bench/attn_memory)
  git worktree remove --force "$wt"
  bins=(base new)
fi
for r in 1 2; do for T in 256 512; do for bin in "${bins[@]}"; do
  echo "speed $bin $(/tmp/attn_$bin -T $T -steps 3)"
done; done; done
for T in 512 1024 2048; do for bin in "${bins[@]}"; do
  echo "mem $bin $(/tmp/attn_$bin -T $T -steps 1)"
done; done
