// Package tensor holds Align's numeric kernels: single-precision matrix multiply
// (Go assembly for AVX-512 and AVX2+FMA, chosen at run time, with a portable Go
// fallback) and the small parallel-for helper every op uses.
//
// All matrices are row-major float32 slices. Nothing here allocates in steady
// state: callers own the matrices, and Gemm's packing scratch is pooled.
package tensor
