//go:build !linux

package hugepage

import "errors"

func advise([]byte) {}

// Advised cannot tell off Linux.
func Advised(uintptr) (bool, error) { return false, errors.New("huge-page advice is Linux-only") }
