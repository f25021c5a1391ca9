package tokenizer

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/align-go/align/chat"
	"github.com/align-go/align/internal/refdata"
)

var defaultSpecials = []string{"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"}

func mobyDick(t testing.TB) string {
	t.Helper()
	data, err := refdata.Load("corpora/moby-dick.txt")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func trainText(t testing.TB, opt TrainOptions, texts ...string) *Tokenizer {
	t.Helper()
	tr, err := NewTrainer(opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range texts {
		tr.AddText(s)
	}
	tok, err := tr.Train()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// mergeStrings lists a tokenizer's merges as HuggingFace's "a b" lines.
func mergeStrings(tok *Tokenizer) []string {
	m := tok.model
	out := make([]string, len(m.merges))
	for i, p := range m.merges {
		out[i] = m.tokens[p[0]] + " " + m.tokens[p[1]]
	}
	return out
}

var (
	moby8kOnce sync.Once
	moby8k     *Tokenizer
)

// mobyTokenizer is Moby-Dick trained to 8192 with the default special
// tokens, as the HuggingFace fixture was made.
func mobyTokenizer(t testing.TB) *Tokenizer {
	text := mobyDick(t)
	moby8kOnce.Do(func() {
		moby8k = trainText(t, TrainOptions{VocabSize: 8192, SpecialTokens: defaultSpecials, ModelMaxLength: 2048}, text)
	})
	if moby8k == nil {
		t.Fatal("training Moby-Dick failed earlier")
	}
	return moby8k
}

// TestTrainHandComputed checks merges worked out on paper for the words
// "aaab", "Ġaab", "Ġab" (GPT-2 pre-tokenization of "aaab aab ab"); the same
// list comes out of HuggingFace's trainer. Ids: a < b < Ġ (code-point
// order), merged tokens after them in creation order.
//
//	counts (a,a)=3 (a,b)=3 (Ġ,a)=2  -> tie, (a,a) has the smaller ids
//	merge "aa": (a,b)=2 (Ġ,a)=1 (aa,a)=1 (Ġ,aa)=1 (aa,b)=1
//	merge "ab": remaining pairs all 1: (Ġ,aa) (Ġ,ab) (aa,ab) (aa,b)
//	ties by ids: (Ġ,aa) < (Ġ,ab) < (aa,ab) ; then (Ġaa,b)
//
// A tie-break on spellings would take "aa ab" before "Ġ aa".
func TestTrainHandComputed(t *testing.T) {
	want := []string{"a a", "a b", "Ġ aa", "Ġ ab", "aa ab", "Ġaa b"}
	for _, c := range []struct {
		name     string
		vocab    int
		specials []string
		want     []string
	}{
		{"to exhaustion", 1000, nil, want},
		{"stopped by vocab size", 256 + 3, nil, want[:3]},
		{"specials shift ids, not order", 260 + 4, defaultSpecials, want[:4]},
	} {
		t.Run(c.name, func(t *testing.T) {
			tok := trainText(t, TrainOptions{VocabSize: c.vocab, SpecialTokens: c.specials}, "aaab aab ab")
			if got := mergeStrings(tok); !slices.Equal(got, c.want) {
				t.Fatalf("merges %q, want %q", got, c.want)
			}
			if n := len(c.specials) + 256 + len(c.want); tok.VocabSize() != n {
				t.Fatalf("vocab size %d, want %d", tok.VocabSize(), n)
			}
		})
	}
}

func TestTrainMinFrequency(t *testing.T) {
	// Counts after the first merges are 3, 2, 1, 1, 1, 1 (see above).
	for _, c := range []struct {
		min  int64
		want int
	}{{0, 6}, {1, 6}, {2, 2}, {3, 1}, {4, 0}} {
		tok := trainText(t, TrainOptions{VocabSize: 1000, MinFrequency: c.min}, "aaab aab ab")
		if got := len(tok.model.merges); got != c.want {
			t.Errorf("min frequency %d: %d merges, want %d", c.min, got, c.want)
		}
	}
}

// TestTrainPerLine: like HuggingFace's train_from_files, each line is
// pre-tokenized alone, so "  \n" at a line end stays one word instead of
// giving its last space to the next line's first word.
func TestTrainPerLine(t *testing.T) {
	tr, err := NewTrainer(TrainOptions{VocabSize: 300})
	if err != nil {
		t.Fatal(err)
	}
	tr.AddText("a  \n b")
	got := map[string]int64{}
	for w, n := range tr.counts {
		got[w] = n
	}
	want := map[string]int64{"a": 1, "  \n": 1, " b": 1}
	if len(got) != len(want) {
		t.Fatalf("words %v, want %v", got, want)
	}
	for w, n := range want {
		if got[w] != n {
			t.Fatalf("words %v, want %v", got, want)
		}
	}
}

func TestTrainSpecialTokens(t *testing.T) {
	// The corpus spells the special tokens many times; they are cut out,
	// so no merge learns their pieces.
	corpus := strings.Repeat("<|im_start|>user\nhello there<|im_end|>\n<|endoftext|>", 50)
	tok := trainText(t, TrainOptions{VocabSize: 300, SpecialTokens: defaultSpecials}, corpus)
	for id, s := range defaultSpecials {
		if got, ok := tok.TokenID(s); !ok || got != id {
			t.Errorf("%s: id %d, %v; want %d", s, got, ok, id)
		}
		if ids := tok.Encode(s); !slices.Equal(ids, []int{id}) {
			t.Errorf("Encode(%q) = %v, want [%d]", s, ids, id)
		}
		if !tok.IsSpecial(id) {
			t.Errorf("%s is not special", s)
		}
	}
	for _, m := range mergeStrings(tok) {
		if strings.ContainsAny(m, "<|>") {
			t.Errorf("merge %q learned from special-token text", m)
		}
	}
	ids := tok.Encode(corpus[:60])
	if ids[0] != 1 || tok.Decode(ids) != corpus[:60] {
		t.Errorf("chat text: ids %v decode %q", ids, tok.Decode(ids))
	}
	// Alphabet right after the specials, in code-point order.
	if id, _ := tok.TokenID("!"); id != 4 {
		t.Errorf("\"!\" has id %d, want 4", id)
	}
	if id, _ := tok.TokenID(ByteSymbol(0)); id != 4+188 {
		t.Errorf("byte 0 has id %d, want %d", id, 4+188)
	}
}

func TestTrainErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.txt")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.txt")
	for _, c := range []struct {
		name string
		opt  TrainOptions
		file string
		want string
	}{
		{"vocab below bytes", TrainOptions{VocabSize: 255}, "", "vocab size 255"},
		{"vocab below bytes+specials", TrainOptions{VocabSize: 259, SpecialTokens: defaultSpecials}, "", "plus 4 special tokens (260)"},
		{"empty special", TrainOptions{VocabSize: 300, SpecialTokens: []string{"<a>", ""}}, "", "special token 1 is empty"},
		{"duplicate special", TrainOptions{VocabSize: 300, SpecialTokens: []string{"<a>", "<a>"}}, "", `"<a>" given twice`},
		{"eos not special", TrainOptions{VocabSize: 300, EOSToken: "<eos>"}, "", `eos token "<eos>"`},
		{"bad pattern", TrainOptions{VocabSize: 300, Pattern: `\w+`}, "", "unsupported pre-tokenizer pattern"},
		{"negative min frequency", TrainOptions{VocabSize: 300, MinFrequency: -1}, "", "min frequency -1"},
		{"empty file", TrainOptions{VocabSize: 300}, empty, empty + ": empty file"},
		{"missing file", TrainOptions{VocabSize: 300}, missing, missing},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr, err := NewTrainer(c.opt)
			if err == nil && c.file != "" {
				err = tr.AddFile(c.file)
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	tr, err := NewTrainer(TrainOptions{VocabSize: 300})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Train(); err == nil || !strings.Contains(err.Error(), "no training text") {
		t.Fatalf("training on nothing: %v", err)
	}
}

func TestTrainDeterministic(t *testing.T) {
	text := mobyDick(t)[:300_000]
	opt := TrainOptions{VocabSize: 2000, SpecialTokens: defaultSpecials}
	var outs [][]byte
	for run := 0; run < 2; run++ {
		tr, err := NewTrainer(opt)
		if err != nil {
			t.Fatal(err)
		}
		if run == 0 {
			tr.AddText(text) // split across workers
		} else {
			for len(text) > 0 { // line by line, in one goroutine each
				n := strings.IndexByte(text, '\n') + 1
				if n == 0 {
					n = len(text)
				}
				tr.AddText(text[:n])
				text = text[n:]
			}
		}
		tok, err := tr.Train()
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, tok.MarshalTokenizerJSON())
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Fatal("two trainings on the same text wrote different tokenizer.json")
	}
}

// TestTrainCompression: more merges, fewer tokens, and exact round trips.
func TestTrainCompression(t *testing.T) {
	text := mobyDick(t)
	prev := len(text) + 1
	for _, size := range []int{300, 1024, 4096, 8192} {
		var tok *Tokenizer
		if size == 8192 {
			tok = mobyTokenizer(t)
		} else {
			tok = trainText(t, TrainOptions{VocabSize: size, SpecialTokens: defaultSpecials}, text)
		}
		if tok.VocabSize() != size {
			t.Fatalf("vocab %d: got %d tokens", size, tok.VocabSize())
		}
		ids := tok.Encode(text)
		t.Logf("vocab %5d: %d tokens, %.2f bytes/token", size, len(ids), float64(len(text))/float64(len(ids)))
		if len(ids) >= prev {
			t.Errorf("vocab %d: %d tokens, not fewer than %d", size, len(ids), prev)
		}
		prev = len(ids)
		if tok.Decode(ids) != text {
			t.Fatalf("vocab %d: Decode(Encode(moby-dick)) differs", size)
		}
	}
	if float64(len(text))/float64(prev) < 3.5 {
		t.Errorf("vocab 8192 compresses Moby-Dick to only %.2f bytes/token", float64(len(text))/float64(prev))
	}
}

func TestTrainSaveLoad(t *testing.T) {
	tok := mobyTokenizer(t)
	dir := t.TempDir()
	if err := tok.SaveAll(dir); err != nil {
		t.Fatal(err)
	}
	back, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	text := mobyDick(t)
	if !slices.Equal(back.Encode(text), tok.Encode(text)) {
		t.Fatal("loaded tokenizer encodes differently")
	}
	cfg := back.Config()
	if cfg.EOSToken != "<|im_end|>" || back.EOS() != 2 || cfg.PADToken != "<|pad|>" || back.PAD() != 3 || back.BOS() != -1 {
		t.Fatalf("config %+v, eos %d pad %d bos %d", cfg, back.EOS(), back.PAD(), back.BOS())
	}
	if cfg.ChatTemplate != ChatMLTemplate {
		t.Fatalf("chat template %q", cfg.ChatTemplate)
	}
	s, err := back.RenderChat([]chat.Message{{Role: "user", Content: "Call me Ishmael."}}, true)
	if err != nil || s != "<|im_start|>user\nCall me Ishmael.<|im_end|>\n<|im_start|>assistant\n" {
		t.Fatalf("RenderChat = %q, %v", s, err)
	}
	for _, c := range []struct{ file, want string }{
		{"tokenizer_config.json", `"model_max_length": 2048`},
		{"tokenizer_config.json", `"additional_special_tokens": [`},
		{"special_tokens_map.json", `"eos_token": {`},
		{"special_tokens_map.json", `"content": "<|pad|>"`},
		{"tokenizer.json", `"pre_tokenizer": {"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true}`},
		{"tokenizer.json", `"post_processor": {"type":"ByteLevel","add_prefix_space":false,"trim_offsets":false,"use_regex":false}`},
	} {
		b, err := os.ReadFile(filepath.Join(dir, c.file))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), c.want) {
			t.Errorf("%s lacks %s", c.file, c.want)
		}
	}
}

func TestTrainEOSChoice(t *testing.T) {
	for _, c := range []struct {
		specials []string
		eos      string
		wantEOS  string
		wantPAD  string
		chat     bool
	}{
		{defaultSpecials, "", "<|im_end|>", "<|pad|>", true},
		{[]string{"<|endoftext|>"}, "", "<|endoftext|>", "<|endoftext|>", false},
		{[]string{"<|endoftext|>", "<|im_start|>", "<|im_end|>"}, "<|endoftext|>", "<|endoftext|>", "<|endoftext|>", true},
		{nil, "", "", "", false},
	} {
		tok := trainText(t, TrainOptions{VocabSize: 300, SpecialTokens: c.specials, EOSToken: c.eos}, "hello world")
		cfg := tok.Config()
		if cfg.EOSToken != c.wantEOS || cfg.PADToken != c.wantPAD || (cfg.ChatTemplate != "") != c.chat {
			t.Errorf("specials %q eos %q: got eos %q pad %q chat %v", c.specials, c.eos, cfg.EOSToken, cfg.PADToken, cfg.ChatTemplate != "")
		}
	}
}

// BenchmarkTrainMobyDick: the whole training (counting words and learning
// merges) of Moby-Dick to 8192 tokens.
func BenchmarkTrainMobyDick(b *testing.B) {
	text := mobyDick(b)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		trainText(b, TrainOptions{VocabSize: 8192, SpecialTokens: defaultSpecials}, text)
	}
}
