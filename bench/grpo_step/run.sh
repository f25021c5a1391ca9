#!/bin/sh
# GRPO step time split on the quickstart "small" model (see BENCHMARKS.md):
# builds align, runs the quickstart once for its SFT and reward models, then
# ROUNDS rounds of 30 GRPO steps, full fine-tune and LoRA, interleaved.
set -e
ROUNDS=${1:-2}
W=${WORK:-/tmp/grpo-step-bench}
mkdir -p "$W"
go build -o "$W/align" ./cmd/align
[ -d "$W/qs/rm" ] || "$W/align" quickstart --preset small --out "$W/qs" >/dev/null
go run ./bench/grpo_step prompts >"$W/prompts.jsonl"
common="--policy $W/qs/sft --prompts $W/prompts.jsonl --reward exact-match --reward rm:$W/qs/rm --reward-weights 1,0.1
  --num-generations 8 --batch-size 8 --max-new-tokens 32 --max-steps 30 --lr-scheduler constant --beta 0.04
  --logging-steps 1 --save-steps 0"
for r in $(seq "$ROUNDS"); do
  rm -rf "$W/full$r" "$W/lora$r"
  "$W/align" grpo $common --lr 2e-4 --out "$W/full$r" >/dev/null 2>&1
  "$W/align" grpo $common --lr 2e-3 --lora-r 8 --out "$W/lora$r" >/dev/null 2>&1
  go run ./bench/grpo_step split "$W/full$r" 64
  go run ./bench/grpo_step split "$W/lora$r" 64
done
