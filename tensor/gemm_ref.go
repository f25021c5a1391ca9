package tensor

// gemmRef is the obviously-correct triple loop the fast kernels are tested against.
func gemmRef(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, acc bool) {
	// A by rows and B by columns, copied out first so each dot product walks
	// memory in order (the sums are the same, in the same order).
	ra, rb := make([]float32, m*k), make([]float32, n*k)
	for i := 0; i < m; i++ {
		for p := 0; p < k; p++ {
			if transA {
				ra[i*k+p] = a[p*lda+i]
			} else {
				ra[i*k+p] = a[i*lda+p]
			}
		}
	}
	for j := 0; j < n; j++ {
		for p := 0; p < k; p++ {
			if transB {
				rb[j*k+p] = b[j*ldb+p]
			} else {
				rb[j*k+p] = b[p*ldb+j]
			}
		}
	}
	for i := 0; i < m; i++ {
		ai := ra[i*k : (i+1)*k]
		for j := 0; j < n; j++ {
			bj := rb[j*k : (j+1)*k]
			var s float32
			for p, av := range ai {
				s += av * bj[p]
			}
			if acc {
				c[i*ldc+j] += s
			} else {
				c[i*ldc+j] = s
			}
		}
	}
}
