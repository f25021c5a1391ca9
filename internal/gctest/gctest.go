// Package gctest sets how often test processes collect garbage. Kernel and
// command tests allocate fresh operands, models and processes for every
// case, and clearing and returning that memory was a large share of their
// CPU time (user and system), not what the tests are about: collecting at
// 4x the live heap instead of 2x took about a tenth off it, for some MB
// more peak RSS. A GOGC set by the caller is always kept.
package gctest

import (
	"os"
	"runtime/debug"
	"strconv"
	"testing"
)

// Percent is the GOGC test processes run with unless GOGC is set.
const Percent = 400

// Main is a package's TestMain: it runs the tests at GOGC=Percent unless
// the environment sets GOGC, and exits with their status.
func Main(m *testing.M) {
	if _, ok := os.LookupEnv("GOGC"); !ok {
		debug.SetGCPercent(Percent)
	}
	os.Exit(m.Run())
}

// SetEnv gives the processes a test starts GOGC=Percent, unless GOGC is
// already set.
func SetEnv() {
	if _, ok := os.LookupEnv("GOGC"); !ok {
		os.Setenv("GOGC", strconv.Itoa(Percent))
	}
}
