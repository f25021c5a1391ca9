#!/usr/bin/env bash
# Greedy generation throughput, GPT-2-small shape, 32-token prompts, 64 new
# tokens: Align (generate.BenchmarkGenerate) vs PyTorch eager with a KV cache
# (torch_generate.py), batch 1 and 16, interleaved on the same machine.
# Usage: bench/generate/run.sh [ROUNDS]   (needs Debian's python3-torch at /usr/bin/python3)
# Each configuration reports its best round. Align runs with every core and,
# for a per-core comparison, with one (GOMAXPROCS=1); torch with its default
# thread count and with every core, each both under this environment's
# OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE (which pin OpenBLAS to its AVX2 kernels)
# and with them unset (OpenBLAS picks its own kernels: faster here). The
# ratios are against the best torch configuration; every torch run must
# decode the same greedy tokens (checked by hash).
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}
cores=$(nproc)
bin=$(mktemp -d)/generate.test
go test -c -o "$bin" ./generate
declare -A best
keep() { # keep NAME VALUE: remember the larger
  local cur=${best[$1]:-0}
  if awk -v a="$2" -v b="$cur" 'BEGIN{exit !(a>b)}'; then best[$1]=$2; fi
}
gobench() { # gobench NAME [ENV...]: run BenchmarkGenerate, keep tokens/s per batch
  local name=$1; shift
  local out
  out=$(env "$@" "$bin" -test.run '^$' -test.bench 'BenchmarkGenerate' -test.benchtime 2x)
  echo "$out" | grep Benchmark | sed "s/^/$name: /"
  for b in 1 16; do
    # The name carries a -GOMAXPROCS suffix unless GOMAXPROCS is 1.
    keep "$name$b" "$(echo "$out" | awk -v b="batch=$b" '$1 ~ b"(-[0-9]+)?$" {for (i=1;i<=NF;i++) if ($(i+1)=="tokens/s") print $i}')"
  done
}
declare -A hash
torchbench() { # torchbench NAME BATCH THREADS|"" [env -u ...]
  local name=$1 b=$2 th=$3 line h
  shift 3
  line=$("$@" env OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/generate/torch_generate.py "$b" 2 $th)
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
native=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)
for r in $(seq "$rounds"); do
  gobench align
  gobench align1 GOMAXPROCS=1
  for b in 1 16; do
    torchbench torch "$b" ""
    torchbench torchall "$b" "$cores"
    torchbench torchnative "$b" "" "${native[@]}"
    torchbench torchnativeall "$b" "$cores" "${native[@]}"
  done
done
ratio() { echo "$1 / $2" | bc -l; }
for b in 1 16; do
  printf 'batch %2d torch tok/s: env default threads %6.1f, env %d threads %6.1f, unset default threads %6.1f, unset %d threads %6.1f\n' \
    "$b" "${best[torch$b]}" "$cores" "${best[torchall$b]}" "${best[torchnative$b]}" "$cores" "${best[torchnativeall$b]}"
done
for b in 1 16; do
  printf 'batch %2d: align %6.1f tok/s vs best torch %6.1f: %.2fx | align 1 thread %6.1f: %.2fx\n' \
    "$b" "${best[align$b]}" "${best[torchbest$b]}" "$(ratio "${best[align$b]}" "${best[torchbest$b]}")" \
    "${best[align1$b]}" "$(ratio "${best[align1$b]}" "${best[torchbest$b]}")"
done
