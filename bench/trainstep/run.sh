#!/usr/bin/env bash
# Training-step throughput of the bench model: Align vs PyTorch, same machine, same run.
# Usage: bench/trainstep/run.sh   (needs Debian's python3-torch: apt-get install -y python3-torch)
set -euo pipefail
cd "$(dirname "$0")/../.."
go_out=$(go test -run '^$' -bench 'BenchmarkTrainStep$' -benchtime 20x -count 3 ./model)
echo "$go_out" | grep Benchmark
go_tps=$(echo "$go_out" | awk '/BenchmarkTrainStep/ {for (i=1;i<=NF;i++) if ($(i+1)=="tokens/s") print $i}' | sort -n | tail -1)
# PyTorch gets its best settings: passive OpenMP waiting; its default intra-op
# thread count (1 here: one physical core) and 2 threads; and OpenBLAS both as the
# machine's environment configures it (OPENBLAS_CORETYPE=Haswell, AVX2) and with
# that override removed (its own pick, AVX-512 kernels: faster here, same loss).
# Every combination runs; the best run counts.
torch_tps=0
for blas in env native; do
  for threads in default 2; do
    for i in 1 2; do
      cmd=(env)
      [ "$blas" = native ] && cmd+=(-u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)
      cmd+=(OMP_WAIT_POLICY=PASSIVE)
      [ "$threads" = 2 ] && cmd+=(OMP_NUM_THREADS=2)
      line=$("${cmd[@]}" /usr/bin/python3 bench/trainstep/torch_train_step.py 20)
      echo "blas=$blas $line"
      t=$(echo "$line" | sed 's/.*tokens_per_s=//')
      if [ "$t" -gt "$torch_tps" ]; then torch_tps=$t; fi
    done
  done
done
echo "best: align ${go_tps} tokens/s, torch ${torch_tps} tokens/s, ratio $(echo "scale=2; $go_tps / $torch_tps" | bc)"
