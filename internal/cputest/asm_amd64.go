//go:build !purego

package cputest

// AsmBuild reports whether this build contains the amd64 assembly kernels
// (the same build constraint as their files).
const AsmBuild = true
