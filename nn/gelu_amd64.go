//go:build !purego

package nn

//go:noescape
func geluFwdAVX2(out, in *float32, n int)

//go:noescape
func geluBwdAVX2(dinp, in, dout *float32, n int)

// geluVec runs the vector kernels on the longest multiple-of-8 prefix and
// returns how many elements they did (0 without AVX2+FMA).
func geluFwdVec(out, in []float32) int {
	n := len(in) &^ 7
	if !useExpAVX2 || n == 0 {
		return 0
	}
	geluFwdAVX2(&out[0], &in[0], n)
	return n
}

func geluBwdVec(dinp, in, dout []float32) int {
	n := len(in) &^ 7
	if !useExpAVX2 || n == 0 {
		return 0
	}
	geluBwdAVX2(&dinp[0], &in[0], &dout[0], n)
	return n
}
