#!/usr/bin/env bash
# llama.cpp vs Align on the same weights: the Qwen2.5-0.5B shape from
# bench/realsize (random bf16 weights in the Hub's layout), exported with
# `align export --format gguf` to f32, bf16 and q8_0. For each precision,
# llama.cpp (the prebuilt CPU build npm node-llama-cpp 3.21.1 ships, run by
# bench/gguf/llamacpp_bench.mjs) and `align generate` at the same precision:
#   f32  -> align --dtype f32 (f32 weights)
#   bf16 -> align --torch-dtype auto (the checkpoint's bf16 weights, as stored)
#   q8_0 -> align --load-in-8bit (int8 weights, one scale per row; llama.cpp's
#           Q8_0 has one per 32 values: the same 8-bit class, not the same bits)
# Reported: 512-token prompt processing (pp512) and batch-1 greedy decoding
# (tg64), tokens/s. Align's figures come from whole `align generate` runs:
# pp = 511 / (t(512-token prompt, 1 new) - t(1-token prompt, 1 new)) and
# tg = 64 / (t(1-token prompt, 65 new) - t(1-token prompt, 1 new)), each time
# the best of ROUNDS, so model loading cancels out.
# Usage: [LLAMA_THREADS=N] bench/gguf/run.sh [ROUNDS=3] [WORKDIR=/tmp/align-gguf-bench]
# LLAMA_THREADS (default: every core) is llama.cpp's thread count: on a busy
# machine its per-op thread barriers starve (2 threads decoded 0.3 tok/s where
# 1 thread made 7.3 with the load average at ~20), so try 1 there too.
# Needs ~5 GB of disk and ~3 GB of memory (the f32 runs); testdata/llamacpp
# installed (cd testdata/llamacpp && npm ci).
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}
work=${2:-/tmp/align-gguf-bench}
mkdir -p "$work"
grep -m1 'model name' /proc/cpuinfo
echo "commit $(git rev-parse --short HEAD), $(nproc) CPUs, $(date -u +%FT%TZ)"
go build -o "$work/align" ./cmd/align
if [ ! -f "$work/ckpt/qwen2.5-0.5b/config.json" ]; then
	mkdir -p "$work/tok"
	gunzip -c testdata/tokenizers/qwen3/tokenizer.json.gz >"$work/tok/tokenizer.json"
	cp testdata/tokenizers/qwen3/tokenizer_config.json "$work/tok/"
	go run ./bench/realsize -model qwen2.5-0.5b -out "$work/ckpt" -tokenizer "$work/tok" -rows 1
fi
ckpt="$work/ckpt/qwen2.5-0.5b"
for t in f32 bf16 q8_0; do
	[ -f "$work/m-$t.gguf" ] || "$work/align" export --model "$ckpt" --format gguf --type "$t" --out "$work/m-$t.gguf"
done
prompt512=$(printf 'hello%.0s' 1; for _ in $(seq 511); do printf ' hello'; done)
secs() { # secs ARGS...: best wall time of `align generate ARGS` over the rounds
	local best=""
	for _ in $(seq "$rounds"); do
		local s e
		s=$(date +%s.%N)
		"$work/align" generate --model "$ckpt" --temperature 0 --batch-size 1 "$@" >/dev/null
		e=$(date +%s.%N)
		best=$(echo "$e - $s" | bc -l | awk -v b="$best" '{ if (b == "" || $1 < b) print $1; else print b }')
	done
	echo "$best"
}
declare -A alignflags=([f32]="--dtype f32" [bf16]="--torch-dtype auto" [q8_0]="--load-in-8bit")
for t in f32 bf16 q8_0; do
	echo "== $t: load $(cut -d' ' -f1 /proc/loadavg)"
	node bench/gguf/llamacpp_bench.mjs "$work/m-$t.gguf" 512 64 "$rounds" "${LLAMA_THREADS:-$(nproc)}" | sed 's/^/llama.cpp: /'
	# shellcheck disable=SC2086
	a=$(secs ${alignflags[$t]} --prompt hello --max-new-tokens 1)
	# shellcheck disable=SC2086
	b=$(secs ${alignflags[$t]} --prompt "$prompt512" --max-new-tokens 1)
	# shellcheck disable=SC2086
	c=$(secs ${alignflags[$t]} --prompt hello --max-new-tokens 65)
	awk -v a="$a" -v b="$b" -v c="$c" -v f="${alignflags[$t]}" \
		'BEGIN { printf "align (%s): pp_tok_s=%.1f tg_tok_s=%.1f (runs %.2fs %.2fs %.2fs)\n", f, 511/(b-a), 64/(c-a), a, b, c }'
done
