package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestReportCommand(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "runs", "sft")
	if err := os.MkdirAll(run, 0o755); err != nil {
		t.Fatal(err)
	}
	rows := `{"step":1,"epoch":0.1,"loss":2,"learning_rate":0.001,"grad_norm":1}` + "\n" +
		`{"step":2,"epoch":0.2,"loss":1.5,"learning_rate":0.001,"grad_norm":0.8}` + "\n"
	if err := os.WriteFile(filepath.Join(run, "metrics.jsonl"), []byte(rows), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "r.html")
	stdout, stderr, err := runAlign(t, "", "report", filepath.Join(dir, "runs"), "--out", out)
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	if !strings.Contains(stdout, "wrote "+out+": 1 run(s), 3 chart(s)") {
		t.Errorf("stdout %q", stdout)
	}
	b, err := os.ReadFile(out)
	if err != nil || strings.Count(string(b), "<svg") != 3 {
		t.Fatalf("%v: %d charts", err, strings.Count(string(b), "<svg"))
	}

	// --out defaults to report.html in the working directory.
	cmd := exec.Command(alignBin, "report", run)
	cmd.Dir = dir
	if o, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(o), "wrote report.html") {
		t.Fatalf("%v: %s", err, o)
	}
	if _, err := os.Stat(filepath.Join(dir, "report.html")); err != nil {
		t.Fatal(err)
	}

	// A bad line is reported with its file and line; nothing is written.
	bad := filepath.Join(run, "metrics.jsonl")
	if err := os.WriteFile(bad, []byte(rows+"{oops}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, err = runAlign(t, "", "report", run, "--out", filepath.Join(dir, "bad.html"))
	if err == nil || !strings.Contains(stderr, bad+":3: ") {
		t.Errorf("err %v, stderr %q", err, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "bad.html")); err == nil {
		t.Error("a report was written for bad input")
	}
	if _, stderr, err = runAlign(t, "", "report"); err == nil || !strings.Contains(stderr, "requires at least 1 arg") {
		t.Errorf("no arguments: err %v, stderr %q", err, stderr)
	}
}
