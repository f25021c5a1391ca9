package tokenizer

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/align-go/align/internal/refdata"
)

// hfTrainRow is one line of testdata/train_hf.jsonl (see gen_train_hf.js).
type hfTrainRow struct {
	Kind string `json:"kind"`
	// encode_config
	VocabSize     int      `json:"vocab_size"`
	SpecialTokens []string `json:"special_tokens"`
	// training
	Corpus         string   `json:"corpus"`
	Text           string   `json:"text"`
	Pattern        string   `json:"pattern"`
	NFC            bool     `json:"nfc"`
	MergesCompared int      `json:"merges_compared"`
	MergesSHA256   string   `json:"merges_sha256"`
	MergesHead     []string `json:"merges_head"`
	Merges         []string `json:"merges"`
	// encode
	IDs []int `json:"ids"`
}

func readHFTrain(t *testing.T) []hfTrainRow {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "train_hf.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []hfTrainRow
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		var r hfTrainRow
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("train_hf.jsonl:%d: %v", n, err)
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

var hfPatterns = map[string]string{"gpt2": PatternGPT2, "qwen2": PatternQwen2}

// TestTrainMatchesHuggingFace: the merges HuggingFace's BpeTrainer learned
// on the same text, in the same order.
func TestTrainMatchesHuggingFace(t *testing.T) {
	n := 0
	for i, r := range readHFTrain(t) {
		if r.Kind != "training" {
			continue
		}
		n++
		opt := TrainOptions{Pattern: hfPatterns[r.Pattern], NFC: r.NFC}
		if opt.Pattern == "" {
			t.Fatalf("row %d: pattern %q", i, r.Pattern)
		}
		if r.Corpus == "" {
			// Small corpus: both run until no pair is left.
			opt.VocabSize = 1 << 20
			tok := trainText(t, opt, r.Text)
			if got := mergeStrings(tok); !slices.Equal(got, r.Merges) {
				t.Errorf("row %d (%s, nfc %v, text %q): %s", i, r.Pattern, r.NFC, r.Text, firstDiff(got, r.Merges))
			}
			continue
		}
		// Corpus: the first MergesCompared merges, with special tokens,
		// which shift every id alike and so change nothing.
		opt.SpecialTokens = defaultSpecials
		opt.VocabSize = len(defaultSpecials) + 256 + r.MergesCompared
		text, err := refdata.Load(r.Corpus)
		if err != nil {
			t.Fatal(err)
		}
		var tok *Tokenizer
		if r.Pattern == "gpt2" && !r.NFC && opt.VocabSize == 8192 {
			tok = mobyTokenizer(t)
		} else {
			tok = trainText(t, opt, string(text))
		}
		got := mergeStrings(tok)
		sum := sha256.Sum256([]byte(strings.Join(got, "\n")))
		if len(got) != r.MergesCompared || hex.EncodeToString(sum[:]) != r.MergesSHA256 {
			t.Errorf("%s (%s, nfc %v): %d merges differ from HuggingFace's %d; within the first %d: %s",
				r.Corpus, r.Pattern, r.NFC, len(got), r.MergesCompared, len(r.MergesHead), firstDiff(got[:min(len(got), len(r.MergesHead))], r.MergesHead))
		}
	}
	if n < 10 {
		t.Fatalf("only %d training rows in the fixture", n)
	}
}

func firstDiff(got, want []string) string {
	for i := range max(len(got), len(want)) {
		if i >= len(got) || i >= len(want) || got[i] != want[i] {
			g, w := "(end)", "(end)"
			if i < len(got) {
				g = got[i]
			}
			if i < len(want) {
				w = want[i]
			}
			return fmt.Sprintf("merge %d is %q, HuggingFace has %q", i, g, w)
		}
	}
	return "no difference"
}

// TestTrainedEncodesLikeHuggingFace: HuggingFace, loading the tokenizer.json
// align wrote for Moby-Dick, gives the same ids as this package does.
func TestTrainedEncodesLikeHuggingFace(t *testing.T) {
	rows := readHFTrain(t)
	if rows[0].Kind != "encode_config" || rows[0].VocabSize != 8192 || !slices.Equal(rows[0].SpecialTokens, defaultSpecials) {
		t.Fatalf("fixture made with another configuration: %+v", rows[0])
	}
	tok := mobyTokenizer(t)
	n := 0
	for i, r := range rows {
		if r.Kind != "encode" {
			continue
		}
		n++
		if got := tok.Encode(r.Text); !slices.Equal(got, r.IDs) {
			t.Errorf("row %d %q:\n got %v\nwant %v", i, r.Text, got, r.IDs)
		}
		if back := tok.Decode(r.IDs); back != r.Text {
			t.Errorf("row %d: Decode = %q, want %q", i, back, r.Text)
		}
	}
	if n < 300 {
		t.Fatalf("only %d encode rows in the fixture", n)
	}
}
