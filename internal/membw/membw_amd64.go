//go:build !purego

package membw

import "golang.org/x/sys/cpu"

func best() int {
	switch {
	case cpu.X86.HasAVX512F:
		return kAVX512
	case cpu.X86.HasAVX2:
		return kAVX2
	}
	return kGo
}

//go:noescape
func readSumAVX512(p *byte, n int) uint64

//go:noescape
func readSumAVX2(p *byte, n int) uint64
