package pref

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/align-go/align/pairenc"
	"github.com/align-go/align/rewardmodel"
)

// ScoreJSONL scores each row's sequences exactly as ScoreIDs scores the
// pairs encoded by hand, and writes the rows back with the reward fields in
// place (replaced where present, appended otherwise).
func TestScoreJSONL(t *testing.T) {
	m := tinyModel(t, "llama", 2)
	enc, err := pairenc.NewEncoder(byteTokenizer(t), m.Cfg)
	if err != nil {
		t.Fatal(err)
	}
	sc := &rewardmodel.Scorer{RM: rewardmodel.NewRewardModel(m, testPAD, 3), Enc: enc, BatchSize: 2}
	in := `{"prompt":"P","completion":"ab","reward":9}

{"id":7,"prompt":"Q","chosen":"y","rejected":"nn"}
`
	scored, err := sc.ScoreJSONL(strings.NewReader(in), "rows.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	seqs := [][]int32{pairenc.Join([]int32{'P'}, []int32{'a', 'b', testEOS}).IDs,
		pairenc.Join([]int32{'Q'}, []int32{'y', testEOS}).IDs, pairenc.Join([]int32{'Q'}, []int32{'n', 'n', testEOS}).IDs}
	want, err := sc.ScoreIDs(seqs)
	if err != nil {
		t.Fatal(err)
	}
	if scored.Rows() != 2 || scored.Sequences != 3 || math.Abs(scored.MeanReward-(want[0]+want[1]+want[2])/3) > 1e-12 {
		t.Fatalf("rows %d sequences %d mean %v", scored.Rows(), scored.Sequences, scored.MeanReward)
	}
	var out bytes.Buffer
	if err := scored.WriteJSONL(&out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	num := func(v float64) string { b, _ := json.Marshal(v); return string(b) }
	if len(lines) != 2 || lines[0] != `{"prompt":"P","completion":"ab","reward":`+num(want[0])+`}` ||
		lines[1] != `{"id":7,"prompt":"Q","chosen":"y","rejected":"nn","reward_chosen":`+num(want[1])+`,"reward_rejected":`+num(want[2])+`}` {
		t.Fatalf("got\n%s", out.String())
	}
	if _, err := sc.ScoreJSONL(strings.NewReader(`{"prompt":"P"}`), "bad.jsonl"); err == nil || !strings.HasPrefix(err.Error(), "bad.jsonl:1: ") {
		t.Fatalf("bad row: %v", err)
	}
}
