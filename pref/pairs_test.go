package pref

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/align-go/align/data"
	"github.com/align-go/align/pairenc"
)

// LoadPairs reads, encodes and splits as align rm and align dpo do: rows in
// file order with their locations, a bad row skipped and counted only when
// asked, an eval file or a seeded fraction, never both.
func TestLoadPairs(t *testing.T) {
	enc, _ := pairenc.NewEncoder(byteTokenizer(t), tinyModel(t, "llama", 1).Cfg)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var rows strings.Builder
	for _, c := range "abcdefghij" {
		rows.WriteString(`{"prompt":"P","chosen":"` + string(c) + `","rejected":"zz"}` + "\n")
	}
	tr := write("train.jsonl", rows.String()+"{\"prompt\":\"P\"}\n")
	ev := write("eval.jsonl", `{"prompt":"Q","chosen":"y","rejected":"n","margin":2}`+"\n")

	var log bytes.Buffer
	if _, _, err := LoadPairs(enc, PairFiles{Train: tr}, &log); err == nil || !strings.Contains(err.Error(), "train.jsonl:11") {
		t.Fatalf("a bad row without SkipBadRows: %v", err)
	}
	skip := data.Options{SkipBadRows: true}
	trainP, evalP, err := LoadPairs(enc, PairFiles{Train: tr, Eval: ev, Options: skip}, &log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "train.jsonl: skipped 1 bad rows (first: ") {
		t.Errorf("log %q", log.String())
	}
	if len(trainP) != 10 || !slices.Equal(trainP[3].Chosen, []int32{'d', testEOS}) || trainP[3].Loc != tr+":4" {
		t.Fatalf("train pairs: %d, fourth %+v", len(trainP), trainP[3])
	}
	if len(evalP) != 1 || !slices.Equal(evalP[0].Prompt, []int32{'Q'}) || *evalP[0].Margin != 2 {
		t.Fatalf("eval pairs %+v", evalP)
	}
	a, b, err := LoadPairs(enc, PairFiles{Train: tr, EvalFraction: 0.2, Seed: 3, Options: skip}, nil)
	if err != nil || len(a) != 8 || len(b) != 2 {
		t.Fatalf("fraction 0.2 of 10: %d + %d, %v", len(a), len(b), err)
	}
	a2, b2, _ := LoadPairs(enc, PairFiles{Train: tr, EvalFraction: 0.2, Seed: 3, Options: skip}, nil)
	if a2[0].Loc != a[0].Loc || b2[0].Loc != b[0].Loc || b[0].Loc == b[1].Loc {
		t.Fatalf("the split must be the seed's: %s %s vs %s %s", b[0].Loc, b[1].Loc, b2[0].Loc, b2[1].Loc)
	}
	if _, _, err := LoadPairs(enc, PairFiles{Train: tr, Eval: ev, EvalFraction: 0.2}, nil); err == nil {
		t.Fatal("eval file and fraction together")
	}
}
