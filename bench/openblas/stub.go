//go:build !openblas

// Command openblas compares tensor.Gemm with OpenBLAS; the comparison needs
// cgo, so it is built only with the openblas tag (see main.go). Without the
// tag this stub keeps the package buildable and says how to run it.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "build with: go run -tags openblas ./bench/openblas (needs cgo and libopenblas-dev)")
	os.Exit(2)
}
