#!/usr/bin/env bash
# Peak RSS of `align dpo`: full fine-tune vs LoRA on a model whose weights
# dominate memory (Llama-shaped, d 512, 8 layers, ffn 1376, vocab 8192: 33.7M
# parameters, 128.5 MiB in F32). Each run is measured twice: with Go's default
# GC (GOGC=100, what a user gets: the heap may grow to twice the live data
# between collections) and with GOGC=10 (peak RSS close to the peak live heap).
#
# Usage: bench/dpo_memory/run.sh [WORKDIR]      (needs GNU time: apt-get install -y time)
#
# Micro-batches are 2 pairs of 64-token sequences = 256 token rows: a LoRA
# backward with more rows than that panics in tensor.Gemm (see BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
work=${1:-$(mktemp -d /tmp/dpo_memory.XXXXXX)}
mkdir -p "$work"
if [ ! -x /usr/bin/time ]; then
  echo "GNU time missing: apt-get install -y time" >&2
  exit 1
fi

go build -o "$work/align" ./cmd/align
rm -rf "$work/in"
go run ./bench/dpo_memory -out "$work/in" -lora-r 16 -batch-size 2 > "$work/budget.txt"

steps=5
common=(--model "$work/in/model" --data "$work/in/pairs.jsonl" --max-steps $steps --batch-size 2
  --max-length 64 --logging-steps 1 --save-steps 0 --lr-scheduler constant --seed 1)
declare -A args=(
  [full]="--lr 1e-5"
  [full-precompute-ref]="--lr 1e-5 --precompute-ref"
  [lora-r16]="--lr 1e-4 --lora-r 16 --lora-alpha 32 --lora-dropout 0"
  [lora-r16-dropout0.05]="--lr 1e-4 --lora-r 16 --lora-alpha 32 --lora-dropout 0.05"
)
order=(full full-precompute-ref lora-r16 lora-r16-dropout0.05)

echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  commit: $(git rev-parse --short HEAD)  cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "command: align dpo ${common[*]//$work/WORK} <run args>   ($steps steps)"
declare -A rss
for gogc in 100 10; do
  for name in "${order[@]}"; do
    out="$work/out-$name-$gogc"
    rm -rf "$out"
    # shellcheck disable=SC2086
    GOGC=$gogc /usr/bin/time -v "$work/align" dpo "${common[@]}" --out "$out" ${args[$name]} \
      > "$work/$name-$gogc.stdout" 2> "$work/$name-$gogc.stderr"
    kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/$name-$gogc.stderr")
    wall=$(awk -F'): ' '/Elapsed \(wall clock\)/ {print $2}' "$work/$name-$gogc.stderr")
    loss=$(tail -1 "$out/metrics.jsonl" | sed 's/.*"loss":\([0-9.e-]*\).*/\1/')
    rss[$name-$gogc]=$kb
    printf 'GOGC=%-3s %-22s peak RSS %7.1f MiB   wall %s   last loss %s   args: %s\n' \
      "$gogc" "$name" "$(echo "$kb / 1024" | bc -l)" "$wall" "$loss" "${args[$name]}"
  done
done
for gogc in 100 10; do
  printf 'GOGC=%-3s LoRA r16 / full peak RSS = %.3f   (with dropout 0.05: %.3f; full with --precompute-ref: %.3f of full)\n' "$gogc" \
    "$(echo "${rss[lora-r16-$gogc]} / ${rss[full-$gogc]}" | bc -l)" \
    "$(echo "${rss[lora-r16-dropout0.05-$gogc]} / ${rss[full-$gogc]}" | bc -l)" \
    "$(echo "${rss[full-precompute-ref-$gogc]} / ${rss[full-$gogc]}" | bc -l)"
done

echo
echo "where the memory goes, by arithmetic (MiB; from bench/dpo_memory/main.go):"
grep -v '^budget' "$work/budget.txt"
printf '%-50s %9s %9s\n' "" full "LoRA r16"
awk -F'\t' '/^budget/ {printf "%-50s %9s %9s\n", $2, $3, $4}' "$work/budget.txt"
