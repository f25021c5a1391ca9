#!/usr/bin/env bash
# The real-size steps issue 16 sets limits for, each under GNU time on a quiet
# machine (24 GiB): peak RSS and tokens/s of
#   1. a LoRA r 16 DPO step on the Llama-3.1-8B shape, bf16 base (--torch-dtype
#      auto: the checkpoint's bf16 kept as stored), one pair of 1,024-token
#      sequences per micro-batch, --gradient-checkpointing   (limit 20 GB)
#   2. the same step on a 4-bit base (--load-in-4bit, NF4, double-quantised
#      scales)                                                  (limit 10 GB)
#   3. a GRPO LoRA step on the Qwen2.5-1.5B shape, 4-bit base, one prompt ×
#      8 generations × 128 new tokens, --gradient-checkpointing
#
# Usage: bench/realsize/bigsteps.sh [WORKDIR]   (default /tmp/realsize-big)
# Writes the random checkpoints once (bench/realsize: 16 GB for 8B, 3.1 GB
# for 1.5B, bf16 safetensors in the Hub's layout) with data whose preference
# sequences exceed 1,024 tokens (--max-length 1024 cuts them to exactly that).
# Settings (environment): STEPS (optimizer steps per run, default 1).
# For a shape cut to its first N layers (the fixed and per-layer parts of the
# memory, on a machine that cannot hold the whole model): LAYERS=N.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=${1:-/tmp/realsize-big}
steps=${STEPS:-1}
mkdir -p "$work"
if [ ! -x /usr/bin/time ]; then
  echo "GNU time missing: apt-get install -y time" >&2
  exit 1
fi
go build -o "$work/align" ./cmd/align
layers=()
suffix=
if [ -n "${LAYERS:-}" ]; then
  layers=(-layers "$LAYERS")
  suffix=-L$LAYERS
fi
for shape in llama-3.1-8b qwen2.5-1.5b; do
  if [ ! -f "$work/$shape$suffix/config.json" ]; then
    go run ./bench/realsize -model "$shape" -out "$work" -row-tokens 1100 "${layers[@]}"
  fi
done
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  commit: $(git rev-parse --short HEAD)  cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')  cores: $(nproc)  mem: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"

results=()
# measure NAME LIMIT_GB CMD...: GNU time's peak RSS against the limit, and
# tokens/s from metrics.jsonl (the median of the steps after the first, or
# the only one).
measure() {
  local name=$1 limit=$2; shift 2
  local log="$work/$name.log" out="$work/out-$name"
  rm -rf "$out"
  echo "+ $*" >&2
  if ! /usr/bin/time -v "$@" --out "$out" > "$log.stdout" 2> "$log"; then
    echo "$name: FAILED (see $log)"
    results+=("$(printf '%-22s %10s' "$name" failed)")
    return
  fi
  local kb tps verdict=
  kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
  tps=$(python3 - "$out/metrics.jsonl" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"tokens_per_second"' in l]
v = [r["tokens_per_second"] for r in rows[1:]] or [r["tokens_per_second"] for r in rows]
print("%.1f" % statistics.median(v) if v else "-")
EOF
)
  if [ "$limit" != - ]; then
    verdict=$(awk -v kb="$kb" -v l="$limit" 'BEGIN { printf "%s %s GB", (kb*1024 <= l*1e9 ? "within" : "OVER"), l }')
  fi
  results+=("$(printf '%-22s %7.2f GB (%6.2f GiB) %9s tokens/s  wall %s  %s' "$name" "$(echo "$kb * 1024 / 10^9" | bc -l)" \
    "$(echo "$kb / 1048576" | bc -l)" "$tps" "$(awk -F': ' '/Elapsed/ {print $2}' "$log")" "$verdict")")
  echo "${results[-1]}"
}

m8=$work/llama-3.1-8b$suffix
m15=$work/qwen2.5-1.5b$suffix
dpo=(dpo --model "$m8" --data "$work/pairs.jsonl" --batch-size 1 --max-length 1024 --max-steps "$steps"
  --logging-steps 1 --save-steps 0 --lr-scheduler constant --seed 1 --lr 1e-5
  --lora-r 16 --lora-alpha 32 --lora-dropout 0 --gradient-checkpointing)
measure dpo-8b-bf16 20 "$work/align" "${dpo[@]}" --torch-dtype auto
measure dpo-8b-4bit 10 "$work/align" "${dpo[@]}" --load-in-4bit --bnb-4bit-use-double-quant
# length:64 alone gives every completion of a random model (128 tokens, no
# EOS) the same reward, hence zero advantages; the regex on the first letter
# splits a group, so the step's gradient is not zero.
measure grpo-1.5b-4bit - "$work/align" grpo --policy "$m15" --prompts "$work/prompts.jsonl" --reward length:64 \
  --reward 'regex:^\s*[a-mA-M]' \
  --num-generations 8 --batch-size 1 --max-new-tokens 128 --max-steps "$steps" --logging-steps 1 --save-steps 0 \
  --seed 1 --lr 1e-6 --lora-r 16 --lora-alpha 32 --lora-dropout 0 --gradient-checkpointing \
  --load-in-4bit --bnb-4bit-use-double-quant

echo
printf '%s\n' "${results[@]}"
