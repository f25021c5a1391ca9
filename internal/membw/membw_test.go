package membw

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/align-go/align/internal/cputest"
)

// Every read loop sums every word: the wrapping sum of random words,
// computed here word by word, at lengths of one to several chunks and at an
// offset that is not a multiple of the vector size.
func TestReadSumKernels(t *testing.T) {
	cputest.Check(t, best() == kAVX512, "avx512 read loop", "avx512f")
	if !cputest.Has("avx512f") {
		cputest.Check(t, best() == kAVX2, "avx2 read loop", "avx2")
	}
	defer func(k int) { kernel = k }(kernel)
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 8*chunk+8)
	for i := range buf {
		buf[i] = byte(r.Uint32())
	}
	for _, name := range Kernels() {
		if err := SetKernel(name); err != nil {
			t.Fatal(err)
		}
		for _, off := range []int{0, 8} {
			for _, n := range []int{chunk, 3 * chunk, 8 * chunk} {
				b := buf[off : off+n]
				var want uint64
				for i := 0; i < n; i += 8 {
					want += binary.LittleEndian.Uint64(b[i:])
				}
				if got := readSum(b); got != want {
					t.Fatalf("%s, %d bytes at offset %d: sum %#x, want %#x", name, n, off, got, want)
				}
			}
		}
	}
	if err := SetKernel("avx1024"); err == nil {
		t.Fatal("SetKernel accepted an unknown kernel")
	}
}

func TestMeasure(t *testing.T) {
	res := Measure(8<<20, 2, 2)
	if res.Bytes != 8<<20 || res.Threads != 2 || res.Passes != 2 || !(res.BytesPerSec > 0) {
		t.Fatalf("Measure(8 MiB, 2 threads, 2 passes) = %+v", res)
	}
}
