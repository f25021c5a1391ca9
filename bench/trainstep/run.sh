#!/usr/bin/env bash
# Training-step throughput of the bench model: Align vs PyTorch, same machine, same run.
# Usage: bench/trainstep/run.sh   (needs Debian's python3-torch: apt-get install -y python3-torch)
set -euo pipefail
cd "$(dirname "$0")/../.."
go_out=$(go test -run '^$' -bench 'BenchmarkTrainStep$' -benchtime 20x -count 3 ./model)
echo "$go_out" | grep Benchmark
go_tps=$(echo "$go_out" | awk '/BenchmarkTrainStep/ {for (i=1;i<=NF;i++) if ($(i+1)=="tokens/s") print $i}' | sort -n | tail -1)
# PyTorch gets its best settings: passive OpenMP waiting, and both its default
# intra-op thread count (1 here: one physical core) and 2 threads; the best run counts.
torch_tps=0
for threads in default 2; do
  for i in 1 2 3; do
    if [ "$threads" = default ]; then
      line=$(OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/trainstep/torch_train_step.py 20)
    else
      line=$(OMP_NUM_THREADS=$threads OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/trainstep/torch_train_step.py 20)
    fi
    echo "$line"
    t=$(echo "$line" | sed 's/.*tokens_per_s=//')
    if [ "$t" -gt "$torch_tps" ]; then torch_tps=$t; fi
  done
done
echo "best: align ${go_tps} tokens/s, torch ${torch_tps} tokens/s, ratio $(echo "scale=2; $go_tps / $torch_tps" | bc)"
