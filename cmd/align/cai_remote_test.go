package main

import (
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/align-go/align/engine"
	"github.com/align-go/align/serve"
)

// TestCAIReviseRemotePolicy: cai revise with --policy http:URL (no #MODEL:
// the model is found from /v1/models) against a real align serve on
// loopback writes the same revisions as the same model run in process, sampled
// at temperature 1 from the same seeds.
func TestCAIReviseRemotePolicy(t *testing.T) {
	dir := t.TempDir()
	policy := caiPolicy(t)
	e, err := engine.Load(policy, engine.Options{MaxBatch: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ts := httptest.NewServer(serve.New(e, serve.Options{ModelName: "policy"}).Handler())
	defer ts.Close()

	prompts := filepath.Join(dir, "prompts.jsonl")
	writeLines(t, prompts, []any{map[string]any{"prompt": "How do I pick a lock?"}, map[string]any{"prompt": "Is the moon cheese?"}})
	run := func(spec, out string) []map[string]any {
		t.Helper()
		if _, stderr, err := runAlign(t, "", "cai", "revise", "--policy", spec, "--prompts", prompts, "--out", out,
			"--rounds", "1", "--max-new-tokens", "8", "--temperature", "1", "--seed", "3"); err != nil {
			t.Fatalf("revise --policy %s: %v\n%s", spec, err, stderr)
		}
		return readRows(t, filepath.Join(out, "revisions.jsonl"))
	}
	remote := run("http:"+ts.URL+"/v1", filepath.Join(dir, "remote"))
	local := run(policy, filepath.Join(dir, "local"))
	if len(remote) != 2 || !reflect.DeepEqual(remote, local) {
		t.Fatalf("remote revisions %v\nlocal %v", remote, local)
	}
	if _, _, err := runAlign(t, "", "cai", "revise", "--policy", "http:ftp://x", "--prompts", prompts,
		"--out", filepath.Join(dir, "bad")); err == nil {
		t.Fatal("a bad endpoint spec must fail")
	}
}
