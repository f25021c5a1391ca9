package peakrss

import (
	"runtime"
	"testing"
)

func TestParse(t *testing.T) {
	n, err := parse("Name:\tx\nVmPeak:\t  999 kB\nVmHWM:\t   12345 kB\nVmRSS:\t 100 kB\n")
	if err != nil || n != 12345 {
		t.Fatalf("got %d, %v; want 12345", n, err)
	}
	for _, bad := range []string{"VmRSS:\t1 kB\n", "VmHWM:\tmany kB\n"} {
		if _, err := parse(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// Touching 64 MiB raises the peak by about that much.
func TestKiBGrows(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("VmHWM is Linux's")
	}
	before, err := KiB()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 64<<20)
	for i := range b {
		b[i] = 1
	}
	after, err := KiB()
	if err != nil {
		t.Fatal(err)
	}
	if after-before < 48<<10 {
		t.Fatalf("peak %d -> %d KiB after touching 64 MiB", before, after)
	}
	runtime.KeepAlive(b)
}
