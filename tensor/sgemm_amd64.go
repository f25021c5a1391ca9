//go:build !purego

package tensor

import "golang.org/x/sys/cpu"

//go:generate go run ./internal/asmgen

func archImpls() []*sgemmImpl {
	var out []*sgemmImpl
	// x/sys/cpu reports AVX-512 and AVX only when the OS saves the vector
	// state, so these checks are sufficient.
	// Blocking for Zen 4/5 (32-48 KiB L1d, 1 MiB L2 per core, 32 MiB L3):
	// a KC×NR B micro-panel (32 KiB at 12×32) stays in L1 while A rows
	// stream; the MC×KC block of A (480 KiB) stays in L2; the packed KC×NC
	// B block (1 MiB) lives in L2/L3. NC also sets how much of C each k pass
	// revisits: at NC = 3072 an m = 1024 block of C is 12 MiB per thread and
	// k/KC passes over it fall out of L3 (8% slower at n = 16384 than
	// NC = 1024, measured). The kernel runs at ~97% of FMA peak on
	// Zen 5 for any of 12×32, 14×32, 6×64, 8×48, so the choice is about
	// edges: n = 64 attention heads are two full panels.
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL {
		im := &sgemmImpl{
			name: "avx512", mr: mrAvx512, nr: nrAvx512,
			kc: 256, mc: 480, nc: 1024,
			packNN: packNNAvx512, packNT: packNTAvx512,
			directB: 64, dotM: 32, dotMR: 4, dotNR: 4,
			rowKern: kernAvx512_row, rowNR: rowNRAvx512,
		}
		copy(im.kern[:], kernsAvx512[:])
		for i := range dotsAvx512 {
			copy(im.dot[i][:], dotsAvx512[i][:])
		}
		out = append(out, im)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		im := &sgemmImpl{
			name: "avx2", mr: mrAvx2, nr: nrAvx2,
			kc: 256, mc: 240, nc: 1024,
			packNN: packNNAvx2, packNT: packNTAvx2,
			directB: 64, dotM: 16, dotMR: 2, dotNR: 4,
			rowKern: kernAvx2_row, rowNR: rowNRAvx2,
		}
		copy(im.kern[:], kernsAvx2[:])
		for i := range dotsAvx2 {
			copy(im.dot[i][:], dotsAvx2[i][:])
		}
		out = append(out, im)
	}
	return out
}
