// Package peakrss reads the process's peak resident set size, the figure the
// memory benchmarks report (GNU time's "Maximum resident set size").
package peakrss

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// KiB is VmHWM from /proc/self/status: the peak resident set size of this
// process so far, in KiB (Linux only).
func KiB() (int, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	return parse(string(b))
}

func parse(status string) (int, error) {
	for _, l := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				return 0, fmt.Errorf("/proc/self/status: VmHWM %q: %w", strings.TrimSpace(v), err)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("/proc/self/status: no VmHWM line")
}
