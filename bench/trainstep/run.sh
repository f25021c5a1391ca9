#!/usr/bin/env bash
# Training-step throughput of the bench model: Align vs PyTorch, same machine, same run.
# Usage: bench/trainstep/run.sh [ROUNDS]   (needs Debian's python3-torch: apt-get install -y python3-torch)
#
# The machine is shared and its speed drifts by tens of percent over minutes, so the
# two sides run interleaved, round by round, and each side keeps its best run.
# PyTorch gets its best settings: passive OpenMP waiting; its default intra-op
# thread count (1 here: one physical core) and 2 threads; and OpenBLAS both as the
# machine's environment configures it (OPENBLAS_CORETYPE=Haswell, AVX2) and with
# that override removed (its own pick, AVX-512 kernels: faster here, same loss).
set -euo pipefail
cd "$(dirname "$0")/../.."
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/torch_blas_check.py
rounds=${1:-3}
go test -c -o /tmp/align-model.test ./model
go_tps=0
torch_tps=0
torch_env_tps=0
for r in $(seq "$rounds"); do
  out=$(cd model && /tmp/align-model.test -test.run '^$' -test.bench 'BenchmarkTrainStep$' -test.benchtime 20x)
  echo "$out" | grep Benchmark
  t=$(echo "$out" | awk '/BenchmarkTrainStep/ {for (i=1;i<=NF;i++) if ($(i+1)=="tokens/s") print int($i)}')
  if [ "$t" -gt "$go_tps" ]; then go_tps=$t; fi
  for blas in env native; do
    for threads in default 2; do
      cmd=(env)
      [ "$blas" = native ] && cmd+=(-u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)
      cmd+=(OMP_WAIT_POLICY=PASSIVE)
      [ "$threads" = 2 ] && cmd+=(OMP_NUM_THREADS=2)
      line=$("${cmd[@]}" /usr/bin/python3 bench/trainstep/torch_train_step.py 20)
      echo "round $r blas=$blas $line"
      t=$(echo "$line" | sed 's/.*tokens_per_s=//')
      if [ "$t" -gt "$torch_tps" ]; then torch_tps=$t; fi
      if [ "$blas" = env ] && [ "$t" -gt "$torch_env_tps" ]; then torch_env_tps=$t; fi
    done
  done
done
echo "best: align ${go_tps} tokens/s; torch ${torch_tps} tokens/s (best setting), ratio $(echo "scale=2; $go_tps / $torch_tps" | bc);" \
  "torch ${torch_env_tps} tokens/s (environment's OpenBLAS setting), ratio $(echo "scale=2; $go_tps / $torch_env_tps" | bc)"
