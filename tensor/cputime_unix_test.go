//go:build unix

package tensor

import "syscall"

// cpuSeconds is the process's user+system CPU time: on a shared machine a
// rate over it counts only the time the benchmark actually ran.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}
