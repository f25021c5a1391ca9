//go:build !purego

package tensor

import "golang.org/x/sys/cpu"

//go:generate go run gen_asm.go

func archImpls() []*sgemmImpl {
	var out []*sgemmImpl
	// The assembly also uses BMI-free integer code only; AVX-512 needs the
	// OS to save ZMM state, which x/sys/cpu folds into HasAVX512F.
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL {
		im := &sgemmImpl{
			name: "avx512", mr: 12, nr: 32,
			kc: 256, mc: 480, nc: 3072,
			packNN: packNNAvx512, packNT: packNTAvx512,
			directB: 12, dotM: dotMax,
		}
		copy(im.kern[:], kernsAvx512[:])
		fillDot(im)
		out = append(out, im)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		im := &sgemmImpl{
			name: "avx2", mr: 6, nr: 16,
			kc: 256, mc: 240, nc: 3072,
			packNN: packNNAvx2, packNT: packNTAvx2,
			directB: 6, dotM: dotMax,
		}
		copy(im.kern[:], kernsAvx2[:])
		fillDot(im)
		out = append(out, im)
	}
	return out
}

// fillDot uses the Go dot tiles until assembly ones exist.
func fillDot(im *sgemmImpl) {
	for i := 1; i <= dotMax; i++ {
		for j := 1; j <= dotMax; j++ {
			im.dot[i][j] = dotGo(i, j)
		}
	}
}
