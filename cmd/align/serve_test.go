package main

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The real binary (decoding bf16 weights): it prints its address, answers with the model named after
// its directory, checks the key, and exits 0 on SIGTERM.
func TestServeCLI(t *testing.T) {
	dir := genModelDir(t)
	cmd := exec.Command(alignBin, "serve", "--model", dir, "--addr", "127.0.0.1:0", "--api-key", "k",
		"--served-model-name", "tiny", "--dtype", "bf16")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	_, base, ok := strings.Cut(strings.TrimSpace(line), " on ")
	if !ok || !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("address line %q", line)
	}
	post := func(key string, ctype ...string) (int, string) {
		req, _ := http.NewRequest("POST", base+"/chat/completions", strings.NewReader(
			`{"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":3,"temperature":0}`))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", append(ctype, "application/json")[0])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post("k"); code != 200 || !strings.Contains(body, `"chat.completion"`) {
		t.Fatalf("%d %s", code, body)
	}
	if code, body := post("nope"); code != 401 || !strings.Contains(body, "invalid_api_key") {
		t.Fatalf("%d %s", code, body)
	}
	if code, body := post("k", "text/plain"); code != 415 {
		t.Fatalf("text/plain: %d %s", code, body)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}

func TestServeCLIBadFlags(t *testing.T) {
	dir := genModelDir(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--dtype", "f16"}, "--dtype"},
		{[]string{"--max-batch", "0"}, "--max-batch"},
	} {
		_, stderr, err := runAlign(t, "", append([]string{"serve", "--model", dir, "--addr", "127.0.0.1:0"}, c.args...)...)
		if err == nil || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: err %v, stderr %q, want it to name %s", c.args, err, stderr, c.want)
		}
	}
}

func TestServeAPIKey(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/key"
	if err := os.WriteFile(file, []byte("  from-file \nsecond line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ALIGN_API_KEY", "from-env")
	for _, c := range []struct {
		o       serveFlags
		want    string
		wantErr string
	}{
		{serveFlags{apiKeyFile: file}, "from-file", ""},
		{serveFlags{apiKey: "flag"}, "flag", ""},
		{serveFlags{}, "from-env", ""},
		{serveFlags{apiKey: "a", apiKeyFile: file}, "", "give one"},
		{serveFlags{apiKeyFile: dir + "/missing"}, "", "--api-key-file"},
	} {
		got, err := serveAPIKey(&c.o)
		if got != c.want || (err == nil) != (c.wantErr == "") || err != nil && !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("%+v: %q, %v", c.o, got, err)
		}
	}
}
