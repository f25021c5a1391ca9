//go:build race

package nn

// raceEnabled: the race detector makes sync.Pool drop items on purpose, so
// allocation counts (the GEMM's pooled packing buffers) mean nothing under it.
const raceEnabled = true
