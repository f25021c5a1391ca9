//go:build !amd64 || purego

package cputest

// AsmBuild reports whether this build contains the amd64 assembly kernels.
const AsmBuild = false
