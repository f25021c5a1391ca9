#!/usr/bin/env bash
# Real-size benchmark: peak RSS and steady tokens/s of LoRA SFT, LoRA DPO,
# full SFT, a GRPO step and batch-1 decoding on a random checkpoint of a Hub
# model's exact shape (bench/realsize/main.go writes it as the Hub ships it:
# bf16 safetensors, 5 GB shards, config.json as published, Qwen3 tokenizer),
# each load dtype where it applies, and PyTorch's same steps (plain PyTorch
# modules, bench/realsize/torch_realsize.py) where PyTorch fits in memory.
#
# Usage: bench/realsize/run.sh [MODEL] [WORKDIR]
#   MODEL: qwen2.5-0.5b (default), qwen2.5-1.5b, llama-3.2-3b, llama-3.1-8b, or
#   tiny (a d_model-64 Qwen2.5-layout model: checks this script in a minute).
#   The checkpoint is written once into WORKDIR (default /tmp/realsize) and
#   reused: 1 GB for 0.5B, 3.1 GB for 1.5B, 6.4 GB for 3B, 16 GB for 8B.
# Needs GNU time (apt-get install -y time) and, for the PyTorch rows,
# Debian's python3-torch at /usr/bin/python3.
#
# Settings (environment): STEPS (optimizer steps per training run, default 6;
# tokens/s is the median of the steps after the first two, or after the first
# with under five steps: the first two carry the process's first touch of
# its gradient, optimizer and activation memory, which on this VM costs
# several seconds a GB), ROWS_TOKENS (default
# 500: SFT rows of ~500 tokens, preference sequences of ~500), SKIP_TORCH=1,
# BF16_ONLY=1: only the SFT comparison of issue 16 (--bf16 against f32, both
# against PyTorch), made to finish in about 20 minutes on the quiet machine:
# LoRA SFT on an f32 and on a bf16 base and full SFT, each in f32 and in
# --bf16 compute (STEPS default 6 there), PyTorch's LoRA and full SFT in f32
# and under torch.autocast(bfloat16) (TORCH_STEPS, default 3; each run cut at
# TORCH_TIMEOUT seconds, default 180, keeping the steps it finished), then
# one table with the --bf16/f32 and align/PyTorch ratios of the same run.
# Steps as in issue 16: B = 4 rows of ~500 tokens for SFT (--max-length 512);
# DPO one pair per micro-batch of up to 1,024 tokens; GRPO 8 generations × 128
# tokens of one prompt; decoding 128 new tokens at batch 1.
# PyTorch runs with OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE, the OpenMP
# OpenBLAS (LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp) and
# OpenBLAS's own kernel choice (the machine's OPENBLAS_CORETYPE=Haswell and
# OPENBLAS_L2_SIZE unset: AVX-512 kernels, faster here, bench/trainstep);
# TORCH_ENV adds settings to try (e.g. TORCH_ENV="MALLOC_MMAP_MAX_=0
# MALLOC_TRIM_THRESHOLD_=100000000000": glibc then reuses freed memory
# instead of faulting in fresh pages for every [rows, V] logits tensor).
set -euo pipefail
cd "$(dirname "$0")/../.."
shape=${1:-qwen2.5-0.5b}
work=${2:-/tmp/realsize}
steps=${STEPS:-6}
tsteps=${TORCH_STEPS:-$steps}
[ -n "${BF16_ONLY:-}" ] && tsteps=${TORCH_STEPS:-3}
tlimit=${TORCH_TIMEOUT:-0}
[ -n "${BF16_ONLY:-}" ] && tlimit=${TORCH_TIMEOUT:-180}
rowtok=${ROWS_TOKENS:-500}
mkdir -p "$work"
if [ ! -x /usr/bin/time ]; then
  echo "GNU time missing: apt-get install -y time" >&2
  exit 1
fi
go build -o "$work/align" ./cmd/align
if [ ! -f "$work/$shape/config.json" ]; then
  go run ./bench/realsize -model "$shape" -out "$work" -row-tokens "$rowtok"
fi
model="$work/$shape"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  commit: $(git rev-parse --short HEAD)  cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')  cores: $(nproc)  mem: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
"$work/align" info --model "$model" | sed 's/^/  /'

results=()
# measure NAME TOKENS_PER_STEP CMD...: run under GNU time; peak RSS; steady
# tokens/s from metrics.jsonl (training) or from the wall time (generation).
measure() {
  local name=$1; shift
  local log="$work/$name.log" out="$work/out-$name"
  rm -rf "$out"
  local t0 t1
  t0=$(date +%s.%N)
  if ! /usr/bin/time -v "$@" --out "$out" > "$log.stdout" 2> "$log"; then
    echo "$name: FAILED (see $log)"
    results+=("$(printf '%-26s %10s %12s' "$name" failed -)")
    return
  fi
  t1=$(date +%s.%N)
  local kb tps
  kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
  tps=$(python3 - "$out/metrics.jsonl" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"tokens_per_second"' in l]
skip = 2 if len(rows) >= 5 else 1
v = [r["tokens_per_second"] for r in rows[skip:]] or [r["tokens_per_second"] for r in rows]
print("%.1f" % statistics.median(v) if v else "-")
EOF
)
  results+=("$(printf '%-26s %8.2f GB %12s   wall %.0f s' "$name" "$(echo "$kb / 1048576" | bc -l)" "$tps" "$(echo "$t1 - $t0" | bc -l)")")
  echo "${results[-1]}"
}

common=(--max-steps "$steps" --logging-steps 1 --save-steps 0 --lr-scheduler constant --seed 1)
sft=(sft --model "$model" --data "$work/sft.jsonl" --batch-size 4 --max-length 512 "${common[@]}" --lr 1e-4)
lora=(--lora-r 16 --lora-alpha 32 --lora-dropout 0)
declare -A tags=(["--torch-dtype float32"]=f32 ["--torch-dtype auto"]=bf16 ["--load-in-8bit"]=8bit
  ["--load-in-4bit --bnb-4bit-use-double-quant"]=nf4-dq)

# torch_row NAME WHAT [ENV...]: one PyTorch run of torch_realsize.py; with
# tlimit > 0 it is stopped after tlimit seconds and keeps the figure of the
# steps it finished (the script prints one after each step).
torch_row() {
  local name=$1 what=$2; shift 2
  local log="$work/$name.log" kb tps note= rc=0
  local lim=()
  [ "$tlimit" != 0 ] && lim=(timeout "$tlimit")
  # shellcheck disable=SC2086
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE \
    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp ${TORCH_ENV:-} "$@" \
    /usr/bin/time -v "${lim[@]}" /usr/bin/python3 bench/realsize/torch_realsize.py "$what" "$model" "$work" "$tsteps" \
    > "$log.stdout" 2> "$log" || rc=$?
  tps=$(sed -n 's/.*tokens_per_s=//p' "$log.stdout" | tail -1)
  [ "$rc" = 124 ] && note="   stopped at ${tlimit} s after $(grep -c '^step ' "$log.stdout" || true) steps"
  if [ -n "$tps" ] && { [ "$rc" = 0 ] || [ "$rc" = 124 ]; }; then
    kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
    results+=("$(printf '%-26s %8.2f GB %12s%s' "$name" "$(echo "$kb / 1048576" | bc -l)" "$tps" "$note")")
  else
    results+=("$(printf '%-26s %10s   (see %s)' "$name" failed "$log")")
  fi
  echo "${results[-1]}"
}

# tps NAME: the tokens/s column of a result row.
tps() { printf '%s\n' "${results[@]}" | awk -v n="$1" '$1 == n {print $4}'; }

if [ -n "${BF16_ONLY:-}" ]; then
  for load in "--torch-dtype float32" "--torch-dtype auto"; do
    tag=-${tags[$load]}
    # shellcheck disable=SC2086
    measure "lora-sft$tag" "$work/align" "${sft[@]}" "${lora[@]}" $load
    # shellcheck disable=SC2086
    measure "lora-sft$tag+bf16" "$work/align" "${sft[@]}" "${lora[@]}" $load --bf16
  done
  measure full-sft "$work/align" "${sft[@]}" --lr 1e-5
  measure full-sft+bf16 "$work/align" "${sft[@]}" --lr 1e-5 --bf16
  if [ -z "${SKIP_TORCH:-}" ] && /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    for what in lora-sft full-sft; do
      torch_row "torch-$what" "$what"
      torch_row "torch-$what+autocast" "$what" AUTOCAST=bf16
    done
  fi
  echo
  printf '%-26s %11s %12s\n' run "peak RSS" "tokens/s"
  printf '%s\n' "${results[@]}"
  echo
  # ratio A B: A's tokens/s over B's, or - where either is missing.
  ratio() {
    local a b
    a=$(tps "$1") b=$(tps "$2")
    if [[ "$a" =~ ^[0-9.]+$ && "$b" =~ ^[0-9.]+$ ]]; then echo "scale=2; $a / $b" | bc -l; else echo -; fi
  }
  for r in lora-sft-f32 lora-sft-bf16 full-sft; do
    echo "$r: --bf16 / f32 tokens/s = $(ratio "$r+bf16" "$r")"
  done
  for r in torch-lora-sft torch-full-sft; do
    echo "$r: autocast bf16 / f32 tokens/s = $(ratio "$r+autocast" "$r")"
  done
  for r in lora-sft full-sft; do
    a=$r; [ "$r" = lora-sft ] && a=lora-sft-f32 # PyTorch's base is f32
    echo "$r: align / PyTorch tokens/s: f32 $(ratio "$a" "torch-$r"), bf16 $(ratio "$a+bf16" "torch-$r+autocast")" \
      "(bf16 base: $( [ "$r" = lora-sft ] && ratio lora-sft-bf16+bf16 "torch-$r+autocast" || echo -))"
  done
  exit 0
fi
for load in "--torch-dtype float32" "--torch-dtype auto" "--load-in-8bit" "--load-in-4bit --bnb-4bit-use-double-quant"; do
  tag=-${tags[$load]}
  # shellcheck disable=SC2086
  measure "lora-sft$tag" "$work/align" "${sft[@]}" "${lora[@]}" $load
  # shellcheck disable=SC2086
  measure "lora-sft$tag+bf16" "$work/align" "${sft[@]}" "${lora[@]}" $load --bf16
  # shellcheck disable=SC2086
  measure "lora-sft-gc$tag" "$work/align" "${sft[@]}" "${lora[@]}" $load --gradient-checkpointing
  # shellcheck disable=SC2086
  measure "lora-dpo-gc$tag" "$work/align" dpo --model "$model" --data "$work/pairs.jsonl" --batch-size 1 --max-length 1024 \
    "${common[@]}" --lr 1e-5 "${lora[@]}" $load --gradient-checkpointing
done
case "$shape" in
  qwen2.5-0.5b|tiny) measure full-sft "$work/align" "${sft[@]}" --lr 1e-5 ;;
esac
for load in "--torch-dtype auto" "--load-in-4bit --bnb-4bit-use-double-quant"; do
  tag=-${tags[$load]}
  # shellcheck disable=SC2086
  measure "grpo-step$tag" "$work/align" grpo --policy "$model" --prompts "$work/prompts.jsonl" --reward length:64 \
    --num-generations 8 --batch-size 1 --max-new-tokens 128 --max-steps 2 --logging-steps 1 --save-steps 0 \
    --lr 1e-6 "${lora[@]}" $load
done

# Batch-1 decoding: 128 new tokens of 4 prompts, one at a time; tokens/s
# from the generated token count over the run's wall time (the load
# included, reported beside it by a 1-token run).
decode() { # decode NAME ARGS...
  local name=$1; shift
  local log="$work/$name.log"
  local t0 t1 n
  t0=$(date +%s.%N)
  /usr/bin/time -v "$work/align" generate --model "$model" --prompts "$work/prompts4.jsonl" --batch-size 1 \
    --max-new-tokens 128 --temperature 0 "$@" > "$log.stdout" 2> "$log"
  t1=$(date +%s.%N)
  n=$(python3 -c 'import json,sys; print(sum(json.loads(l)["tokens"] for l in open(sys.argv[1])))' "$log.stdout")
  local kb
  kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
  results+=("$(printf '%-26s %8.2f GB %12.1f   wall %.0f s, %d tokens (load included)' "$name" "$(echo "$kb / 1048576" | bc -l)" \
    "$(echo "$n / ($t1 - $t0)" | bc -l)" "$(echo "$t1 - $t0" | bc -l)" "$n")")
  echo "${results[-1]}"
}
head -4 "$work/prompts.jsonl" > "$work/prompts4.jsonl"
decode decode-f32
decode decode-f32-bf16copy --dtype bf16
decode decode-auto --torch-dtype auto
decode decode-8bit --load-in-8bit
decode decode-4bit --load-in-4bit
decode decode-8bit-qhead --load-in-8bit --quantize-lm-head
decode decode-4bit-qhead --load-in-4bit --quantize-lm-head
# Steady batch-1 decode (no load, no prefill) of each load dtype against the
# memory-bandwidth bound, bandwidth measured in the same process
# (bench/decode: MB read per token, tokens/s, bound, fraction, ratio to bf16).
go run ./bench/decode -model "$model" -dtypes bf16,int8,int8-head,nf4,nf4-dq,nf4-head -tokens 64 -rounds 3 | tee "$work/decode-bound.log"

if [ -z "${SKIP_TORCH:-}" ] && /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  for what in lora-sft full-sft decode; do
    [ "$what" = full-sft ] && [ "$shape" != qwen2.5-0.5b ] && [ "$shape" != tiny ] && continue
    torch_row "torch-$what" "$what"
  done
  torch_row torch-lora-sft+autocast lora-sft AUTOCAST=bf16
else
  echo "PyTorch rows skipped (SKIP_TORCH set, or no python3-torch)"
fi

echo
printf '%-26s %11s %12s\n' run "peak RSS" "tokens/s"
printf '%s\n' "${results[@]}"
