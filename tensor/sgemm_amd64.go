//go:build !purego

package tensor

import "golang.org/x/sys/cpu"

//go:generate go run ./internal/asmgen

func archImpls() []*sgemmImpl {
	var out []*sgemmImpl
	// The assembly also uses BMI-free integer code only; AVX-512 needs the
	// OS to save ZMM state, which x/sys/cpu folds into HasAVX512F.
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL {
		im := &sgemmImpl{
			name: "avx512", mr: mrAvx512, nr: nrAvx512,
			kc: 256, mc: 480, nc: 3072,
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
			kc: 256, mc: 240, nc: 3072,
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
