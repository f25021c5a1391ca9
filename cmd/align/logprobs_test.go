package main

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/align-go/align/checkpoint"
)

// TestLogprobsMatchesPyTorch scores the fixture inputs (checkpoints written by
// PyTorch) and compares with log-softmax of PyTorch's own logits. The bf16
// and f16 checkpoints also run with their weights kept compact
// (--torch-dtype auto: PyTorch's reference used the same rounded weights).
func TestLogprobsMatchesPyTorch(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
	}{{"gpt2", nil}, {"llama", nil}, {"qwen3", nil}, {"llama_bf16", nil}, {"mistral", nil},
		{"llama_bf16", []string{"--torch-dtype", "auto"}}, {"gpt2_f16", []string{"--torch-dtype", "auto"}},
		{"llama", []string{"--torch-dtype", "auto"}}} {
		name := c.name
		t.Run(strings.Join(append([]string{name}, c.args...), " "), func(t *testing.T) {
			dir := filepath.Join("..", "..", "testdata", "models", name)
			ref, err := checkpoint.Open(filepath.Join(dir, "reference.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			ids, shape, _ := ref.Int64("input_ids")
			mask, _, _ := ref.Int64("attention_mask")
			logits, lshape, _ := ref.Float32("logits")
			T, V := shape[1], lshape[2]
			// Row 0's real tokens, scored on their own.
			var seq []string
			var pos []int
			for t0 := 0; t0 < T; t0++ {
				if mask[t0] == 1 {
					seq = append(seq, strconv.FormatInt(ids[t0], 10))
					pos = append(pos, t0)
				}
			}
			out, stderr, err := runAlign(t, "", append([]string{"logprobs", "--model", dir, "--ids", strings.Join(seq, ","), "--json"}, c.args...)...)
			if err != nil {
				t.Fatalf("%v: %s", err, stderr)
			}
			var got struct {
				IDs      []int     `json:"ids"`
				Logprobs []float64 `json:"logprobs"`
			}
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("%v: %q", err, out)
			}
			if len(got.IDs) != len(seq) || len(got.Logprobs) != len(seq)-1 {
				t.Fatalf("got %d ids, %d logprobs for %d tokens", len(got.IDs), len(got.Logprobs), len(seq))
			}
			for i := 0; i+1 < len(pos); i++ {
				row := logits[pos[i]*V : (pos[i]+1)*V]
				want := logSoftmaxAt(row, int(ids[pos[i+1]]))
				if math.Abs(got.Logprobs[i]-want) > 1e-4 {
					t.Errorf("logprobs[%d] = %.6f, PyTorch %.6f", i, got.Logprobs[i], want)
				}
			}
		})
	}
}

func TestLogprobsErrors(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "models", "llama")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"logprobs", "--model", dir, "--ids", "1,x"}, `"x" is not an integer`},
		{[]string{"logprobs", "--model", dir, "--ids", "1,99999"}, "outside vocabulary"},
		{[]string{"logprobs", "--model", dir}, "exactly one of --text and --ids"},
		{[]string{"logprobs", "--model", "/nonexistent", "--ids", "1"}, "/nonexistent"},
	} {
		_, stderr, err := runAlign(t, "", c.args...)
		if err == nil || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: err %v, stderr %q; want it to mention %q", c.args, err, stderr, c.want)
		}
	}
}

// logSoftmaxAt is log softmax(row)[j], summed in float64: the reference the
// command's output is checked against.
func logSoftmaxAt(row []float32, j int) float64 {
	mx := math.Inf(-1)
	for _, v := range row {
		mx = math.Max(mx, float64(v))
	}
	var s float64
	for _, v := range row {
		s += math.Exp(float64(v) - mx)
	}
	return float64(row[j]) - mx - math.Log(s)
}
