//go:build !linux

package model

// adviseHuge is a no-op off Linux (see hugepage_linux.go).
func adviseHuge[T any](s []T) {}
