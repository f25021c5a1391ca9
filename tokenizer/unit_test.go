package tokenizer

import (
	"encoding/json"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/align-go/align/chat"
	"github.com/align-go/align/internal/refdata"
)

// pieces splits s with a scanner, for comparing against hand-made splits.
func pieces(s string, scan func(string, int) int) []string {
	var out []string
	for i := 0; i < len(s); {
		j := scan(s, i)
		out = append(out, s[i:j])
		i = j
	}
	return out
}

func TestScanners(t *testing.T) {
	qwen := func(s string, i int) int { return scanQwen2(s, i, 1) }
	cl100k := func(s string, i int) int { return scanQwen2(s, i, 3) }
	cases := []struct {
		name string
		scan func(string, int) int
		in   string
		want []string
	}{
		// Expected splits worked out by hand from the regexes' alternation order.
		{"gpt2 words", scanGPT2, "Hello world", []string{"Hello", " world"}},
		{"gpt2 lookahead", scanGPT2, "a   b", []string{"a", "  ", " b"}},
		{"gpt2 trailing", scanGPT2, "a  ", []string{"a", "  "}},
		{"gpt2 tab before word", scanGPT2, "a \tb", []string{"a", " ", "\t", "b"}},
		{"gpt2 contractions", scanGPT2, "don't DON'T", []string{"don", "'t", " DON", "'", "T"}},
		{"gpt2 digits", scanGPT2, "x 1234", []string{"x", " 1234"}},
		{"gpt2 punct run", scanGPT2, "?'s", []string{"?'", "s"}},
		{"gpt2 newlines", scanGPT2, "\n\n\nx", []string{"\n\n", "\n", "x"}},
		{"gpt2 nbsp", scanGPT2, "a\u00a0b", []string{"a", "\u00a0", "b"}},
		{"qwen letters with prefix", qwen, "(hello", []string{"(hello"}},
		{"qwen tab prefix", qwen, "\tx", []string{"\tx"}},
		{"qwen newline no prefix", qwen, "\nx", []string{"\n", "x"}},
		{"qwen digits single", qwen, "123", []string{"1", "2", "3"}},
		{"qwen contraction folds", qwen, "DON'T", []string{"DON", "'T"}},
		{"qwen punct newline", qwen, "a;\n\nb", []string{"a", ";\n\n", "b"}},
		{"qwen space newline run", qwen, "a  \n  b", []string{"a", "  \n", " ", " b"}},
		{"qwen trailing", qwen, "x   ", []string{"x", "   "}},
		{"qwen space punct", qwen, "a ?!", []string{"a", " ?!"}},
		{"cl100k digits", cl100k, "1234567", []string{"123", "456", "7"}},
		{"invalid utf8", qwen, "a\xffb", []string{"a", "\xffb"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := pieces(c.in, c.scan); !slices.Equal(got, c.want) {
				t.Errorf("%q: got %q want %q", c.in, got, c.want)
			}
		})
	}
}

func TestSplitBehaviors(t *testing.T) {
	// HuggingFace's documented example: splitting "the-final--countdown" on "-".
	cases := map[string][]string{
		behaviorRemoved:            {"the", "final", "countdown"},
		behaviorIsolated:           {"the", "-", "final", "-", "-", "countdown"},
		behaviorMergedWithPrevious: {"the-", "final-", "-", "countdown"},
		behaviorMergedWithNext:     {"the", "-final", "-", "-countdown"},
		behaviorContiguous:         {"the", "-", "final", "--", "countdown"},
	}
	s := "the-final--countdown"
	for beh, want := range cases {
		st, err := newSplitStage("-", true, beh, false)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		sp := st.appendSplits(nil, s, 0)
		for k := 0; k < len(sp); k += 2 {
			got = append(got, s[sp[k]:sp[k+1]])
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %q want %q", beh, got, want)
		}
	}
}

func TestMergeHeapMatchesLinear(t *testing.T) {
	tok := qwen3(t)
	rng := rand.New(rand.NewSource(1))
	alphabet := []string{"a", "b", "th", "e", " ", "in", "g", "é", "0"}
	for i := 0; i < 2000; i++ {
		var b strings.Builder
		for n := rng.Intn(40) + 2; n > 0; n-- {
			b.WriteString(alphabet[rng.Intn(len(alphabet))])
		}
		w := b.String()
		lin := tok.model.mergeWord(w)
		if len(tok.model.initialSymbols(w)) > longWord {
			continue
		}
		heap := tok.model.mergeWordHeap(tok.model.initialSymbols(w))
		if !slices.Equal(lin, heap) {
			t.Fatalf("%q: linear %v heap %v", w, lin, heap)
		}
	}
}

// tinySpec is a hand-built vocabulary: the 256 byte symbols (ids 0..255 in
// byte order), then "ab" (256) and "Ġab" (257).
func tinySpec() BPESpec {
	var vocab []string
	for b := 0; b < 256; b++ {
		vocab = append(vocab, ByteSymbol(byte(b)))
	}
	vocab = append(vocab, "ab", "Ġab", "<eos>")
	return BPESpec{
		Vocab:  vocab,
		Merges: [][2]string{{"a", "b"}, {"Ġ", "ab"}},
		Added:  []AddedToken{{ID: 258, Content: "<eos>", Special: true}},
		Config: Config{EOSToken: "<eos>", AddEOSToken: true},
	}
}

func TestNewBPESaveLoad(t *testing.T) {
	tok, err := NewBPE(tinySpec())
	if err != nil {
		t.Fatal(err)
	}
	// "ab ab<eos>c": "ab" -> 256, " ab" -> 257, <eos> -> 258, "c" -> byte 99.
	want := []int{256, 257, 258, 99}
	if got := tok.Encode("ab ab<eos>c"); !slices.Equal(got, want) {
		t.Fatalf("encode: got %v want %v", got, want)
	}
	if got := tok.EncodeWith("ab", EncodeOptions{AddSpecialTokens: true}); !slices.Equal(got, []int{256, 258}) {
		t.Fatalf("add eos: got %v", got)
	}
	dir := t.TempDir()
	if err := tok.Save(dir); err != nil {
		t.Fatal(err)
	}
	back, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := back.Encode("ab ab<eos>c"); !slices.Equal(got, want) {
		t.Fatalf("reloaded encode: got %v want %v", got, want)
	}
	if back.EOS() != 258 || back.VocabSize() != 259 || !back.Config().AddEOSToken {
		t.Fatalf("reloaded config: eos %d size %d cfg %+v", back.EOS(), back.VocabSize(), back.Config())
	}
}

func TestSaveRoundTripQwen3(t *testing.T) {
	tok := qwen3(t)
	dir := t.TempDir()
	if err := tok.Save(dir); err != nil {
		t.Fatal(err)
	}
	back, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The saved vocabulary and merges must equal the original file's.
	type model struct {
		Vocab  map[string]int  `json:"vocab"`
		Merges json.RawMessage `json:"merges"`
	}
	read := func(path string) (model, [][2]string) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var f struct {
			Model       model            `json:"model"`
			AddedTokens []map[string]any `json:"added_tokens"`
		}
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatal(err)
		}
		m, err := parseMerges(f.Model.Merges, path)
		if err != nil {
			t.Fatal(err)
		}
		return f.Model, m
	}
	orig, origMerges := read(refdata.Path(t, "tokenizers/qwen3/tokenizer.json"))
	saved, savedMerges := read(filepath.Join(dir, "tokenizer.json"))
	if len(orig.Vocab) != len(saved.Vocab) || !slices.Equal(origMerges, savedMerges) {
		t.Fatalf("vocab %d vs %d, merges equal %v", len(orig.Vocab), len(saved.Vocab), slices.Equal(origMerges, savedMerges))
	}
	for k, v := range orig.Vocab {
		if saved.Vocab[k] != v {
			t.Fatalf("vocab[%q] = %d, want %d", k, saved.Vocab[k], v)
		}
	}
	if back.Config() != tok.Config() || back.VocabSize() != tok.VocabSize() {
		t.Fatalf("config or size changed")
	}
	for _, s := range []string{"Hello <|im_start|>user\nnaïve 123<|im_end|>", "  x\n\n"} {
		if !slices.Equal(tok.Encode(s), back.Encode(s)) {
			t.Fatalf("%q encodes differently after Save/Load", s)
		}
	}
}

func TestEncodeOffsets(t *testing.T) {
	gpt2 := gpt2JSON(t)
	ids, offs := gpt2.EncodeOffsets("Hello world<|endoftext|>", EncodeOptions{})
	wantIDs := []int{15496, 995, 50256}
	wantOffs := []Span{{0, 5}, {5, 11}, {11, 24}}
	if !slices.Equal(ids, wantIDs) || !slices.Equal(offs, wantOffs) {
		t.Fatalf("got %v %v", ids, offs)
	}
	// NFC composes e+U+0301 (3 bytes) into é; the offsets still cover the
	// original bytes.
	q := qwen3(t)
	text := "cafe\u0301 ok"
	ids, offs = q.EncodeOffsets(text, EncodeOptions{})
	if len(ids) != len(offs) || offs[0].Start != 0 || offs[len(offs)-1].End != len(text) {
		t.Fatalf("offsets %v for %q", offs, text)
	}
	for k := 1; k < len(offs); k++ {
		if offs[k].Start < offs[k-1].Start || offs[k].Start > offs[k].End {
			t.Fatalf("non-monotone offsets %v", offs)
		}
	}
	if q.Decode(ids) != "café ok" {
		t.Fatalf("decode %q", q.Decode(ids))
	}
}

func TestSpecialTokenOptions(t *testing.T) {
	q := qwen3(t)
	if got := q.Encode("<|im_end|>"); !slices.Equal(got, []int{151645}) {
		t.Fatalf("special match: %v", got)
	}
	split := q.EncodeWith("<|im_end|>", EncodeOptions{SplitSpecialTokens: true})
	if slices.Contains(split, 151645) || q.Decode(split) != "<|im_end|>" {
		t.Fatalf("split special: %v", split)
	}
	if got := q.DecodeWith([]int{151644, 872, 151645}, DecodeOptions{SkipSpecial: true}); got != "user" {
		t.Fatalf("skip special: %q", got)
	}
	// Qwen3: add_bos_token false and no BOS; EOS is <|im_end|>, PAD <|endoftext|>.
	if q.BOS() != -1 || q.EOS() != 151645 || q.PAD() != 151643 || q.VocabSize() != 151669 {
		t.Fatalf("ids: bos %d eos %d pad %d size %d", q.BOS(), q.EOS(), q.PAD(), q.VocabSize())
	}
	if got := q.EncodeWith("hi", EncodeOptions{AddSpecialTokens: true}); !slices.Equal(got, q.Encode("hi")) {
		t.Fatalf("qwen3 adds nothing: %v", got)
	}
	// GPT-2 with a config asking for BOS.
	dir := t.TempDir()
	refdata.CopyTo(t, "tokenizers/gpt2", dir, "tokenizer.json")
	cfg := `{"bos_token": {"content": "<|endoftext|>", "__type": "AddedToken"}, "add_bos_token": true,
		"chat_template": [{"name": "tool_use", "template": "x"}, {"name": "default", "template": "{{ bos_token }}D"}]}`
	if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	g, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := g.EncodeWith("Hello", EncodeOptions{AddSpecialTokens: true}); !slices.Equal(got, []int{50256, 15496}) {
		t.Fatalf("gpt2 add bos: %v", got)
	}
	if r, err := g.RenderChat(nil, false); err != nil || r != "<|endoftext|>D" {
		t.Fatalf("default template from list: %q %v", r, err)
	}
}

func TestTemplateProcessing(t *testing.T) {
	data, err := refdata.Load("tokenizers/gpt2/tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]any
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	f["post_processor"] = map[string]any{"type": "Sequence", "processors": []any{
		map[string]any{"type": "ByteLevel"},
		map[string]any{"type": "TemplateProcessing",
			"single":         []any{map[string]any{"SpecialToken": map[string]any{"id": "<|endoftext|>"}}, map[string]any{"Sequence": map[string]any{"id": "A"}}},
			"special_tokens": map[string]any{"<|endoftext|>": map[string]any{"id": "<|endoftext|>", "ids": []int{50256}}}},
	}}
	data, _ = json.Marshal(f)
	tok, err := ParseTokenizerJSON(data, "tp.json")
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.EncodeWith("Hello", EncodeOptions{AddSpecialTokens: true}); !slices.Equal(got, []int{50256, 15496}) {
		t.Fatalf("got %v", got)
	}
}

func TestChatMLDefault(t *testing.T) {
	tok, err := NewBPE(tinySpec())
	if err != nil {
		t.Fatal(err)
	}
	msgs := []chat.Message{{Role: "system", Content: "S"}, {Role: "user", Content: "U"}, {Role: "assistant", Content: "A"}}
	got, err := tok.RenderChat(msgs, false)
	want := "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\nA<|im_end|>\n"
	if err != nil || got != want {
		t.Fatalf("got %q %v", got, err)
	}
	got, _ = tok.RenderChat(msgs[:2], true)
	if want := "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n"; got != want {
		t.Fatalf("generation prompt: %q", got)
	}
	text, spans, err := tok.RenderChatSpans(msgs, ChatOptions{})
	if err != nil || len(spans) != 1 || text[spans[0].Start:spans[0].End] != "A<|im_end|>\n" {
		t.Fatalf("spans %v %v", spans, err)
	}
}

func TestRenderChatSpansQwen3(t *testing.T) {
	q := qwen3(t)
	msgs := []chat.Message{
		{Role: "system", Content: "Be brief."},
		{Role: "user", Content: "Hi"},
		{Role: "assistant", Content: "<think>\nhmm\n</think>\n\nHello!"},
		{Role: "user", Content: "Again"},
		{Role: "assistant", Content: "Bye."},
	}
	text, spans, err := q.RenderChatSpans(msgs, ChatOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Qwen3 drops the earlier turn's reasoning and adds an empty think block
	// to the final turn.
	wantText := "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n" +
		"<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nAgain<|im_end|>\n" +
		"<|im_start|>assistant\n<think>\n\n</think>\n\nBye.<|im_end|>\n"
	if text != wantText {
		t.Fatalf("text %q", text)
	}
	var got []string
	for _, s := range spans {
		got = append(got, text[s.Start:s.End])
	}
	want := []string{"Hello!<|im_end|>\n", "<think>\n\n</think>\n\nBye.<|im_end|>\n"}
	if !slices.Equal(got, want) {
		t.Fatalf("spans %q", got)
	}
	ids, mask, err := q.EncodeChat(msgs, ChatOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var trained []int
	for k, id := range ids {
		if mask[k] {
			trained = append(trained, id)
		}
	}
	if d := q.Decode(trained); d != strings.Join(want, "") {
		t.Fatalf("masked tokens decode to %q", d)
	}
}

func TestChatTemplateErrors(t *testing.T) {
	tok, err := NewBPE(tinySpec())
	if err != nil {
		t.Fatal(err)
	}
	tok.SetChatTemplate("{{ raise_exception('no system role') }}")
	if _, err := tok.RenderChat(nil, false); err == nil || !strings.Contains(err.Error(), "no system role") {
		t.Fatalf("raise_exception: %v", err)
	}
	tok.SetChatTemplate("{% for m in messages %}")
	if _, err := tok.RenderChat(nil, false); err == nil {
		t.Fatal("unterminated for: no error")
	}
}

func TestConcurrentUse(t *testing.T) {
	q := qwen3(t)
	texts := []string{"Hello world, again and again.", "naïve café 123", "<|im_start|>user\nhi<|im_end|>"}
	want := make([][]int, len(texts))
	for i, s := range texts {
		want[i] = q.Encode(s)
	}
	done := make(chan error, 4)
	for w := 0; w < 4; w++ {
		go func() {
			for k := 0; k < 200; k++ {
				i := k % len(texts)
				if !slices.Equal(q.Encode(texts[i]), want[i]) {
					done <- errorString("concurrent encode differs")
					return
				}
				if _, err := q.RenderChat([]chat.Message{{Role: "user", Content: texts[i]}}, true); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for w := 0; w < 4; w++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }
