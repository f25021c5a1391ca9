#!/usr/bin/env bash
# Greedy generation throughput, GPT-2-small shape, 32-token prompts, 64 new
# tokens: Align (generate.BenchmarkGenerate) vs PyTorch eager with a KV cache
# (torch_generate.py), batch 1 and 16, interleaved on the same machine.
# Usage: bench/generate/run.sh [ROUNDS]   (needs Debian's python3-torch at /usr/bin/python3)
# Each side reports its best round; torch runs with its default thread count
# and, for reference, with every core.
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}
cores=$(nproc)
go test -c -o /tmp/align-generate.test ./generate
declare -A best
keep() { # keep NAME VALUE: remember the larger
  local cur=${best[$1]:-0}
  if awk -v a="$2" -v b="$cur" 'BEGIN{exit !(a>b)}'; then best[$1]=$2; fi
}
for r in $(seq "$rounds"); do
  out=$(/tmp/align-generate.test -test.run '^$' -test.bench 'BenchmarkGenerate' -test.benchtime 2x)
  echo "$out" | grep Benchmark
  for b in 1 16; do
    keep "align$b" "$(echo "$out" | awk -v b="batch=$b-" 'index($1,b) {for (i=1;i<=NF;i++) if ($(i+1)=="tokens/s") print $i}')"
    line=$(OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/generate/torch_generate.py "$b" 2)
    echo "torch default threads: $line"
    keep "torch$b" "${line##*tokens_per_s=}"
    line=$(OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/generate/torch_generate.py "$b" 2 "$cores")
    echo "torch $cores threads:      $line"
    keep "torchall$b" "${line##*tokens_per_s=}"
  done
done
for b in 1 16; do
  printf 'batch %2d: align %7.1f tokens/s | torch default %7.1f (ratio %.2f) | torch %d threads %7.1f (ratio %.2f)\n' \
    "$b" "${best[align$b]}" "${best[torch$b]}" "$(echo "${best[align$b]} / ${best[torch$b]}" | bc -l)" \
    "$cores" "${best[torchall$b]}" "$(echo "${best[align$b]} / ${best[torchall$b]}" | bc -l)"
done
