package nn

import (
	"os"
	"runtime/debug"
	"testing"
)

// TestMain collects garbage at 4x the live heap instead of 2x (unless
// GOGC is set): the kernel tests allocate fresh operands for every case,
// and clearing and returning that memory was a large share of the
// package's CPU time (user and system), not what the tests are about.
func TestMain(m *testing.M) {
	if _, ok := os.LookupEnv("GOGC"); !ok {
		debug.SetGCPercent(400)
	}
	os.Exit(m.Run())
}
