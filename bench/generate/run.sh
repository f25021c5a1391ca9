#!/usr/bin/env bash
# Greedy generation throughput, GPT-2-small shape, 32-token prompts, 64 new
# tokens: Align (generate.BenchmarkGenerate, f32 and bf16 decode weights) vs
# PyTorch eager f32 with a KV cache (torch_generate.py), batch 1, 16 and 64,
# interleaved round by round on the same machine.
# Usage: [TORCH_RUNS=2] bench/generate/run.sh [ROUNDS] [BATCHES]   (BATCHES default "1 16 64";
# needs Debian's python3-torch at /usr/bin/python3)
# torch gets its best settings (BENCHMARKS.md): OMP_WAIT_POLICY=PASSIVE,
# OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset (OpenBLAS picks its own AVX-512
# kernels; the environment's Haswell pin is 12-14% slower at batch 16), its
# default thread count and, in case it helps, every core. Each configuration
# keeps its best round; ratios are against the best torch configuration, and
# every torch run must decode the same greedy tokens (checked by hash).
set -euo pipefail
cd "$(dirname "$0")/../.."
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/torch_blas_check.py
rounds=${1:-3}
batches=${2:-1 16 64}
cores=$(nproc)
bin=$(mktemp -d)/generate.test
go test -c -o "$bin" ./generate
declare -A best
keep() { # keep NAME VALUE: remember the larger
  local cur=${best[$1]:-0}
  if awk -v a="$2" -v b="$cur" 'BEGIN{exit !(a>b)}'; then best[$1]=$2; fi
}
gobench() { # gobench BATCH: run BenchmarkGenerate at one batch size, keep tokens/s per dtype
  local b=$1 out
  out=$(env ALIGN_BENCH_BATCHES="$b" "$bin" -test.run '^$' -test.bench "BenchmarkGenerate" -test.benchtime 2x)
  echo "$out" | grep Benchmark
  for dt in f32 bf16; do
    keep "align$dt$b" "$(echo "$out" | awk -v p="dtype=$dt/batch=$b" '$1 ~ p"(-[0-9]+)?$" {for (i=1;i<=NF;i++) if ($(i+1)=="tokens/s") print $i}')"
  done
}
declare -A hash
torchbench() { # torchbench NAME BATCH THREADS|""
  local name=$1 b=$2 th=$3 line h
  line=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/generate/torch_generate.py "$b" "${TORCH_RUNS:-2}" $th)
  echo "$name: $line"
  h=${line#*tokens=}
  h=${h%% *}
  if [[ -n ${hash[$b]:-} && ${hash[$b]} != "$h" ]]; then
    echo "torch batch $b: greedy tokens differ between settings ($h vs ${hash[$b]})" >&2
    exit 1
  fi
  hash[$b]=$h
  keep "$name$b" "${line##*tokens_per_s=}"
  keep "torchbest$b" "${line##*tokens_per_s=}"
}
for r in $(seq "$rounds"); do
  echo "round $r $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"
  for b in $batches; do
    gobench "$b"
    torchbench torch "$b" ""
    torchbench torchall "$b" "$cores"
  done
done
ratio() { echo "$1 / $2" | bc -l; }
for b in $batches; do
  printf 'batch %2d: torch default threads %6.1f, %d threads %6.1f | align f32 %6.1f: %.2fx | align bf16 %6.1f: %.2fx (bf16/f32 %.2fx)\n' \
    "$b" "${best[torch$b]}" "$cores" "${best[torchall$b]}" \
    "${best[alignf32$b]}" "$(ratio "${best[alignf32$b]}" "${best[torchbest$b]}")" \
    "${best[alignbf16$b]}" "$(ratio "${best[alignbf16$b]}" "${best[torchbest$b]}")" \
    "$(ratio "${best[alignbf16$b]}" "${best[alignf32$b]}")"
done
