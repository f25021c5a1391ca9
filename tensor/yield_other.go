//go:build !linux

package tensor

import "runtime"

// osYield stands in for sched_yield where the engine does not make the
// system call: it yields to other goroutines only.
func osYield() { runtime.Gosched() }
