//go:build !amd64 || purego

package nn

func geluFwdVec(out, in []float32) int { return 0 }

func geluBwdVec(dinp, in, dout []float32) int { return 0 }
