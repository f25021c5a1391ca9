//go:build !amd64 || purego

package membw

func best() int { return kGo }

func readSumAVX512(p *byte, n int) uint64 { panic("unreachable") }
func readSumAVX2(p *byte, n int) uint64   { panic("unreachable") }
