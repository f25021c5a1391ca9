package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/align-go/align/internal/gctest"
)

// alignBin is the align command every CLI test runs, each in a fresh process
// (cobra flag state never leaks between tests): this test binary itself,
// re-executed with cliMainEnv set, which runs main. Re-executing it costs
// nothing to build, where a `go build` of the command costs a link.
var alignBin string

// cliMainEnv makes the test binary run as the align command (TestMain).
const cliMainEnv = "ALIGN_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if len(os.Args) == 2 && os.Args[1] == cmdRewardArg { // re-executed as a cmd: reward program (grpo_test.go)
		os.Exit(cmdRewardHelper())
	}
	if os.Getenv(cliMainEnv) != "" {
		main()
		os.Exit(0)
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	alignBin = self
	// Every process the tests start inherits it (a cmd: reward program
	// started by align is told apart by its argument, checked first).
	os.Setenv(cliMainEnv, "1")
	// The ~100 align processes the tests start hold heaps of tens of MB;
	// collecting at 4x the live heap instead of 2x takes about a tenth off
	// their CPU time (user and system) for ~10 MB more peak RSS.
	gctest.SetEnv()
	code := m.Run()
	for _, d := range sharedDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// sharedDirs are directories that outlive one test (trainRM's), removed
// after the last.
var sharedDirs []string

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
