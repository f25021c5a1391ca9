package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// alignBin is the align binary built once for every CLI test, so each test runs
// the real command in a fresh process (cobra flag state never leaks between tests).
var alignBin string

func TestMain(m *testing.M) {
	if os.Getenv(cmdRewardEnv) != "" { // re-executed as a cmd: reward program (grpo_test.go)
		os.Exit(cmdRewardHelper())
	}
	dir, err := os.MkdirTemp("", "align-cli")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	alignBin = filepath.Join(dir, "align")
	if out, err := exec.Command("go", "build", "-o", alignBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building align: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runAlign runs the built binary with stdin and returns stdout, stderr and the exit error.
func runAlign(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(alignBin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}
