package main

import (
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestSFTPacking: `align sft --packing` trains, reports its packing
// efficiency, and follows the unpacked run's loss curve. With every example
// in one micro-batch both runs take full-batch steps on the same mean loss,
// so the curves may differ only by float rounding — unless a packed token
// saw another document or learned to predict its first token (--loss-on all
// puts a label on every document's first token).
func TestSFTPacking(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base")
	writeCharModel(t, base)
	words := []string{"red", "blue", "green", "cat", "dog", "sun", "moon", "tree", "fish", "bird",
		"rain", "snow", "wind", "fire", "rock", "sand", "leaf", "star", "ship", "sea"}
	var rows []any
	for i, w := range words {
		say := strings.Repeat(w+" ", 1+i%4) // varied lengths give the packer something to do
		rows = append(rows, map[string]any{"messages": []map[string]string{
			{"role": "user", "content": "Say " + say}, {"role": "assistant", "content": "OK: " + say + "!"}}})
	}
	data := filepath.Join(dir, "train.jsonl")
	writeLines(t, data, rows)
	curves := map[bool][]map[string]float64{}
	for _, packing := range []bool{false, true} {
		out := filepath.Join(dir, fmt.Sprint("run", packing))
		args := []string{"sft", "--model", base, "--data", data, "--eval-data", data, "--out", out,
			"--max-steps", "20", "--batch-size", "64", "--lr", "3e-3", "--lr-scheduler", "constant",
			"--logging-steps", "5", "--eval-steps", "10", "--save-steps", "0", "--loss-on", "all"}
		if packing {
			args = append(args, "--packing")
		}
		_, stderr, err := runAlign(t, "", args...)
		if err != nil {
			t.Fatalf("sft packing=%v: %v\n%s", packing, err, stderr)
		}
		if packing {
			m := regexp.MustCompile(`packed 20 train sequences \((\d+) tokens\) into (\d+) rows of 128: packing efficiency ([0-9.]+)%`).FindStringSubmatch(stderr)
			if m == nil {
				t.Fatalf("no packing report: %s", stderr)
			}
			tokens, _ := strconv.Atoi(m[1])
			nrows, _ := strconv.Atoi(m[2])
			eff, _ := strconv.ParseFloat(m[3], 64)
			t.Logf("%d tokens in %d rows: %.1f%%", tokens, nrows, eff)
			if nrows >= 20 || math.Abs(eff-100*float64(tokens)/float64(128*nrows)) > 0.06 {
				t.Errorf("packing report inconsistent: %s", m[0])
			}
		}
		curves[packing] = metricRows(t, out)
	}
	un, pk := curves[false], curves[true]
	if len(un) != len(pk) || len(pk) != 6 { // 4 training rows, 2 eval rows
		t.Fatalf("metrics rows: unpacked %d, packed %d", len(un), len(pk))
	}
	var train []float64
	for i := range pk {
		for _, key := range []string{"loss", "eval_loss"} {
			u, okU := un[i][key]
			p, okP := pk[i][key]
			if okU != okP {
				t.Fatalf("row %d: %s present unpacked=%v packed=%v", i, key, okU, okP)
			}
			if !okP {
				continue
			}
			if key == "loss" {
				train = append(train, p)
			}
			if math.Abs(p-u) > 1e-4*u {
				t.Errorf("step %v %s: packed %.6f, unpacked %.6f", pk[i]["step"], key, p, u)
			}
		}
	}
	if len(train) != 4 || train[3] > train[0]-1 {
		t.Errorf("packed training loss %v: not clearly falling", train)
	}
}
