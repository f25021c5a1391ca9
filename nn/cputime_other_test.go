//go:build !unix

package nn

// cpuTime has no portable source off Unix: the benchmarks that report it
// print zeros there.
func cpuTime() float64 { return 0 }
