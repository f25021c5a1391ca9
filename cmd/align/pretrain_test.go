package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/align-go/align/internal/refdata"
	"github.com/align-go/align/model"
	"github.com/align-go/align/tokenizer"
)

func metricRows(t *testing.T, out string) []map[string]float64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]float64
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m map[string]float64
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("metrics.jsonl: %v: %s", err, line)
		}
		rows = append(rows, m)
	}
	return rows
}

func TestPretrainLossFalls(t *testing.T) {
	cfg, text, tokDir := smallPretrainFixture(t)
	out := filepath.Join(t.TempDir(), "run")
	yml := filepath.Join(t.TempDir(), "c.yaml")
	// seq_len comes from the file and from the command line: the flag must win.
	os.WriteFile(yml, []byte("max_steps: 30\nlr: 0.01\nlr_scheduler: constant\nwarmup-ratio: 0\nseq_len: 16\n"+
		"logging_steps: 5\nbatch_size: 4\neval_fraction: 0.1\neval_steps: 10\nsave_steps: 0\n"), 0o644)
	stdout, stderr, err := runAlign(t, "", "pretrain", "--config", yml, "--model-config", cfg, "--tokenizer", tokDir,
		"--text", text, "--out", out, "--seq-len", "32")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, "trained 30 steps") {
		t.Fatalf("stdout: %s", stdout)
	}
	resolved, _ := os.ReadFile(filepath.Join(out, "config.yaml"))
	for _, want := range []string{"seq_len: 32\n", "max_steps: 30\n", "lr: 0.01\n", "lr_scheduler: constant\n", "eval_fraction: 0.1\n"} {
		if !strings.Contains(string(resolved), want) {
			t.Errorf("config.yaml lacks %q:\n%s", want, resolved)
		}
	}
	var train, eval []map[string]float64
	for _, r := range metricRows(t, out) {
		if _, ok := r["eval_loss"]; ok {
			eval = append(eval, r)
		} else {
			train = append(train, r)
		}
	}
	if len(train) != 6 || len(eval) != 3 {
		t.Fatalf("%d train rows and %d eval rows, want 6 and 3", len(train), len(eval))
	}
	// A random init predicts uniformly: loss ≈ ln 1024 = 6.93 over the
	// trained 1,024-token vocabulary. Thirty steps take it well below
	// (6.72 -> 6.14 for the first and last 5-step windows, eval 6.25 ->
	// 6.08; with the default LR of 3e-4 instead of 0.01, 6.94 -> 6.80).
	first, last := train[0]["loss"], train[5]["loss"]
	t.Logf("training loss %.3f -> %.3f, eval loss %.3f -> %.3f", first, last, eval[0]["eval_loss"], eval[2]["eval_loss"])
	if uniform := math.Log(1024); first < uniform-0.5 || first > uniform+0.5 || last > first-0.4 {
		t.Fatalf("training loss %v -> %v: not clearly falling", first, last)
	}
	if !(eval[2]["eval_loss"] < eval[0]["eval_loss"]-0.1) {
		t.Fatalf("eval loss %v -> %v", eval[0]["eval_loss"], eval[2]["eval_loss"])
	}
	for _, r := range train {
		if r["learning_rate"] != 0.01 || r["grad_norm"] <= 0 || r["tokens_per_second"] <= 0 {
			t.Fatalf("row %v", r)
		}
	}
	// OUT is an HF directory: the model and the tokenizer load from it.
	m, err := model.LoadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	if m.Cfg.Vocab != 1024 || m.Cfg.Dim != 32 {
		t.Fatalf("saved config: %s", m.Cfg.Describe())
	}
	tok, err := tokenizer.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if ids := tok.Encode("Call me Ishmael."); len(ids) == 0 {
		t.Fatal("tokenizer in OUT encodes nothing")
	}
}

// smallPretrainFixture is pretrainFixture's text with a 1,024-token
// tokenizer trained on it and a GPT-2 config of that vocabulary: a step
// costs a small fraction of one over GPT-2's 50,257 tokens.
func smallPretrainFixture(t *testing.T) (cfg, text, tokDir string) {
	t.Helper()
	dir := t.TempDir()
	text = filepath.Join(dir, "moby.txt")
	if err := os.WriteFile(text, refdata.ReadFile(t, "corpora/moby-dick.txt")[:40000], 0o644); err != nil {
		t.Fatal(err)
	}
	tr, err := tokenizer.NewTrainer(tokenizer.TrainOptions{VocabSize: 1024, SpecialTokens: []string{"<|endoftext|>"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.AddFile(text); err != nil {
		t.Fatal(err)
	}
	tok, err := tr.Train()
	if err != nil {
		t.Fatal(err)
	}
	tokDir = filepath.Join(dir, "tok")
	if err := tok.SaveAll(tokDir); err != nil {
		t.Fatal(err)
	}
	cfg = filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`{"model_type":"gpt2","vocab_size":%d,"n_embd":32,"n_layer":2,"n_head":2,"n_positions":64}`,
		tok.VocabSize())), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg, text, tokDir
}

// pretrainMaxSteps is pretrainArgs' run length: long enough that a signal
// sent after step 9 lands well before the end, even on a loaded machine.
const pretrainMaxSteps = 96

// pretrainArgs is a run long enough to interrupt: 96 short steps, a
// checkpoint every 6, cosine schedule with warmup, weight decay, accumulation.
func pretrainArgs(cfg, tokDir, text, out string) []string {
	return []string{"pretrain", "--model-config", cfg, "--tokenizer", tokDir, "--text", text, "--out", out,
		"--seq-len", "32", "--batch-size", "2", "--grad-accum", "2", "--max-steps", strconv.Itoa(pretrainMaxSteps), "--save-steps", "6",
		"--logging-steps", "3", "--lr", "0.01", "--warmup-steps", "3", "--eval-fraction", "0.05", "--eval-steps", "6"}
}

// running is a started align process whose stderr is being collected.
type running struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	log  bytes.Buffer
	done chan struct{}
}

// startAlign runs the binary and returns once onLine accepts a stderr line,
// so the caller can signal the process at that point; stderr keeps being
// collected until the process exits.
func startAlign(t *testing.T, args []string, onLine func(string) bool) *running {
	t.Helper()
	r := &running{cmd: exec.Command(alignBin, args...), done: make(chan struct{})}
	pipe, err := r.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	hit := make(chan bool, 1)
	go func() {
		defer close(r.done)
		sc := bufio.NewScanner(pipe)
		found := false
		for sc.Scan() {
			r.mu.Lock()
			r.log.WriteString(sc.Text() + "\n")
			r.mu.Unlock()
			if !found && onLine(sc.Text()) {
				found = true
				hit <- true
			}
		}
		if !found {
			hit <- false
		}
	}()
	if !<-hit {
		r.wait()
		t.Fatalf("process ended before the awaited line:\n%s", r.output())
	}
	return r
}

// wait collects the rest of stderr and the exit status.
func (r *running) wait() error {
	<-r.done
	return r.cmd.Wait()
}

func (r *running) output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.log.String()
}

func sameRun(t *testing.T, ref, out string) {
	t.Helper()
	a, err := os.ReadFile(filepath.Join(ref, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("resumed model.safetensors differs from the uninterrupted run's")
	}
	ra, rb := metricRows(t, ref), metricRows(t, out)
	if len(ra) != len(rb) {
		t.Fatalf("metrics rows: %d vs %d", len(ra), len(rb))
	}
	for i := range ra {
		for k, v := range ra[i] {
			if k != "tokens_per_second" && rb[i][k] != v {
				t.Fatalf("metrics row %d %s: %v vs %v", i, k, v, rb[i][k])
			}
		}
	}
}

// TestPretrainInterruptAndResume kills runs for real — SIGKILL right after a
// checkpoint, SIGTERM mid-run — and resumes them; each must end with weights
// bit-identical to an uninterrupted run with the same seed.
func TestPretrainInterruptAndResume(t *testing.T) {
	cfg, text, tokDir := smallPretrainFixture(t)
	ref := filepath.Join(t.TempDir(), "ref")
	if _, stderr, err := runAlign(t, "", pretrainArgs(cfg, tokDir, text, ref)...); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}

	t.Run("SIGKILL", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "run")
		args := pretrainArgs(cfg, tokDir, text, out)
		p := startAlign(t, args, func(l string) bool { return strings.HasPrefix(l, "saved ") && strings.HasSuffix(l, "checkpoint-6") })
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.wait()
		if _, err := os.Stat(filepath.Join(out, "model.safetensors")); err == nil {
			t.Fatalf("the run finished before it was killed:\n%s", p.output())
		}
		if _, stderr, err := runAlign(t, "", append(args, "--resume")...); err != nil {
			t.Fatalf("resume: %v\n%s", err, stderr)
		}
		sameRun(t, ref, out)
	})

	t.Run("SIGTERM", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "run")
		p := startAlign(t, pretrainArgs(cfg, tokDir, text, out), func(l string) bool { return strings.HasPrefix(l, "train step 9/") })
		p.cmd.Process.Signal(syscall.SIGTERM)
		msg := ""
		if err := p.wait(); err == nil {
			t.Fatalf("SIGTERM: exit status 0\n%s", p.output())
		}
		msg = p.output()
		i := strings.Index(msg, "resume with:\n")
		if i < 0 {
			t.Fatalf("no resume instructions:\n%s", msg)
		}
		resume := strings.Fields(strings.SplitN(msg[i+len("resume with:\n"):], "\n", 2)[0])
		if resume[0] != alignBin || resume[len(resume)-1] != "--resume" {
			t.Fatalf("resume command %q", resume)
		}
		// The stop came after step 9 finished: its checkpoint is there.
		j := strings.Index(msg, "after step ")
		step, _ := strconv.Atoi(strings.TrimSuffix(strings.Fields(msg[j+len("after step "):])[0], ";"))
		if step < 9 || step >= pretrainMaxSteps {
			t.Fatalf("stopped after step %d\n%s", step, msg)
		}
		if _, err := os.Stat(filepath.Join(out, "checkpoint-"+strconv.Itoa(step), "trainer_state.json")); err != nil {
			t.Fatal(err)
		}
		if _, stderr, err := runAlign(t, "", resume[1:]...); err != nil {
			t.Fatalf("resume: %v\n%s", err, stderr)
		}
		sameRun(t, ref, out)
	})
}

func TestPretrainErrors(t *testing.T) {
	// Every case is a process that stops before training: a small tokenizer
	// and a model of its vocabulary keep each one cheap (GPT-2's 50,257
	// tokens took most of the time to load).
	tokDir := t.TempDir()
	tok := chatTokenizer(t, tokDir)
	cfg := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`{"model_type":"gpt2","vocab_size":%d,"n_embd":16,"n_layer":1,"n_head":2,"n_positions":64}`, tok.VocabSize())), 0o644)
	text := filepath.Join(t.TempDir(), "text.txt")
	os.WriteFile(text, []byte(chatTokenizerText), 0o644)
	// A model whose vocabulary ends at the tokenizer's EOS id (not a
	// tokenizer of that model), and one too small for the text's ids.
	small := filepath.Join(t.TempDir(), "small.json")
	os.WriteFile(small, []byte(fmt.Sprintf(`{"model_type":"gpt2","vocab_size":%d,"n_embd":16,"n_layer":1,"n_head":2,"n_positions":64}`, tok.EOS())), 0o644)
	if tok.EOS() < 2 {
		t.Fatalf("EOS id %d: want one past the first two ids", tok.EOS())
	}
	fewIDs := filepath.Join(t.TempDir(), "few.json")
	os.WriteFile(fewIDs, []byte(`{"model_type":"gpt2","vocab_size":100,"n_embd":16,"n_layer":1,"n_head":2,"n_positions":64}`), 0o644)
	badYAML := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(badYAML, []byte("max_steps: 3\nsequence_length: 9\n"), 0o644)
	out := filepath.Join(t.TempDir(), "o")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--model", "x", "--model-config", cfg, "--text", text, "--out", out}, "--model: give exactly one of it (a model directory) and --model-config"},
		{[]string{"--model-config", cfg, "--tokenizer", tokDir, "--out", out}, "--text"},
		{[]string{"--model-config", small, "--tokenizer", tokDir, "--text", text, "--out", out},
			fmt.Sprintf("EOS id %d is outside the model's vocab_size %d (tokenizer and model do not match)", tok.EOS(), tok.EOS())},
		{[]string{"--model-config", fewIDs, "--tokenizer", tokDir, "--text", text, "--out", out, "--seq-len", "32"}, "is outside the model's vocab_size 100 (tokenizer and model do not match)"},
		{[]string{"--model-config", cfg, "--tokenizer", tokDir, "--text", text, "--out", out, "--seq-len", "65"}, "exceeds the model's context of 64"},
		{[]string{"--model-config", cfg, "--tokenizer", tokDir, "--text", text, "--out", out, "--config", badYAML}, "bad.yaml:2: sequence_length: unknown setting"},
		{[]string{"--model-config", cfg, "--tokenizer", tokDir, "--text", text}, "--out"},
		{[]string{"--model-config", cfg, "--tokenizer", tokDir, "--text", text, "--out", out, "--seq-len", "32", "--resume"}, "no checkpoint in"},
	}
	for _, tc := range tests {
		_, stderr, err := runAlign(t, "", append([]string{"pretrain"}, tc.args...)...)
		if err == nil || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: err %v, stderr %q; want %q", tc.args, err, stderr, tc.want)
		}
	}
}
