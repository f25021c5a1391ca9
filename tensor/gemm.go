package tensor

// Gemm computes C = op(A)·op(B) (+ C when acc), all row-major:
//
//	op(A) is m×k: A is m×k with row stride lda, or k×m (transA) with row stride lda
//	op(B) is k×n: B is k×n with row stride ldb, or n×k (transB) with row stride ldb
//	C is m×n with row stride ldc
//
// Gemm may split the work across Threads() goroutines. Callers that already
// parallelise at a higher level (e.g. one goroutine per attention head) use GemmSerial.
func Gemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, acc bool) {
	gemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, acc, true)
}

// GemmSerial is Gemm on the calling goroutine only.
func GemmSerial(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, acc bool) {
	gemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, acc, false)
}

// MatMul: C[m,n] (+)= A[m,k]·B[k,n].
func MatMul(c, a, b []float32, m, k, n int, acc bool) {
	Gemm(false, false, m, n, k, a, k, b, n, c, n, acc)
}

// MatMulBT: C[m,n] (+)= A[m,k]·B[n,k]ᵀ — a Linear forward with torch's [out,in] weight.
func MatMulBT(c, a, b []float32, m, k, n int, acc bool) {
	Gemm(false, true, m, n, k, a, k, b, k, c, n, acc)
}

// MatMulAT: C[m,n] (+)= A[k,m]ᵀ·B[k,n] — a weight gradient.
func MatMulAT(c, a, b []float32, m, k, n int, acc bool) {
	Gemm(true, false, m, n, k, a, m, b, n, c, n, acc)
}
