#!/bin/sh
# Peak RSS of one PPO update with all four roles vs the LoRA policy alone
# (see main.go). Each mode is its own process; GOGC=100 (Go's default) and 10.
set -e
cd "$(dirname "$0")/../.."
go build -o /tmp/ppo_memory ./bench/ppo_memory
for gogc in 100 10; do
	for mode in policy ppo-shared ppo-rm-copy; do
		printf 'GOGC=%s ' "$gogc"
		GOGC=$gogc /tmp/ppo_memory -mode "$mode" "$@" | tr '\n' ' '
		echo
	done
done
