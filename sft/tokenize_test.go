package sft

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/align-go/align/chat"
	"github.com/align-go/align/data"
	"github.com/align-go/align/internal/refdata"
	"github.com/align-go/align/tokenizer"
)

func loadTok(t *testing.T, name string) *tokenizer.Tokenizer {
	t.Helper()
	tok, err := tokenizer.Load(refdata.Dir(t, "tokenizers/"+name))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// trained decodes the masked tokens as one string per contiguous run, so a test
// states exactly which text carries loss.
func trained(tok *tokenizer.Tokenizer, s Sequence) []string {
	var runs []string
	var cur []int
	for i, m := range s.Mask {
		if m {
			cur = append(cur, int(s.IDs[i]))
		} else if cur != nil {
			runs = append(runs, tok.Decode(cur))
			cur = nil
		}
	}
	if cur != nil {
		runs = append(runs, tok.Decode(cur))
	}
	return runs
}

func TestLossMaskPerFormat(t *testing.T) {
	qwen := loadTok(t, "qwen3")
	msgs := func(rc ...string) []chat.Message {
		var ms []chat.Message
		for i := 0; i < len(rc); i += 2 {
			ms = append(ms, chat.Message{Role: rc[i], Content: rc[i+1]})
		}
		return ms
	}
	cases := []struct {
		name   string
		ex     data.SFTExample
		lossOn LossOn
		want   []string
	}{
		{"prompt-completion text", data.SFTExample{Kind: data.KindPromptCompletion, PromptText: "Capital of France?",
			CompletionText: " Paris."}, LossCompletion, []string{" Paris.<|im_end|>"}},
		{"prompt-completion all", data.SFTExample{Kind: data.KindPromptCompletion, PromptText: "Capital of France?",
			CompletionText: " Paris."}, LossAll, []string{"Capital of France? Paris.<|im_end|>"}},
		{"plain text", data.SFTExample{Kind: data.KindText, Text: "Call me Ishmael."}, LossCompletion,
			[]string{"Call me Ishmael.<|im_end|>"}},
		{"multi-turn conversation: every assistant turn, each with its end-of-turn token",
			data.SFTExample{Kind: data.KindConversation, Messages: msgs("system", "Be brief.", "user", "Hi", "assistant", "Hello!",
				"user", "Bye", "assistant", "Goodbye.")}, LossCompletion,
			[]string{"Hello!<|im_end|>\n", "<think>\n\n</think>\n\nGoodbye.<|im_end|>\n"}},
		{"conversational prompt-completion", data.SFTExample{Kind: data.KindPromptCompletion, Conversational: true,
			Prompt: msgs("user", "2+2?"), Completion: msgs("assistant", "4")}, LossAssistant,
			[]string{"<think>\n\n</think>\n\n4<|im_end|>\n"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.ex.Loc = "test:1"
			seq, err := Tokenize(qwen, c.ex, Options{LossOn: c.lossOn})
			if err != nil {
				t.Fatal(err)
			}
			got := trained(qwen, seq)
			if strings.Join(got, "|") != strings.Join(c.want, "|") {
				t.Fatalf("trained spans %q, want %q", got, c.want)
			}
		})
	}
}

func TestTruncationPolicies(t *testing.T) {
	tok := loadTok(t, "qwen3")
	ex := data.SFTExample{Kind: data.KindPromptCompletion, PromptText: strings.Repeat("word ", 40), CompletionText: " end", Loc: "d.jsonl:7"}
	full, err := Tokenize(tok, ex, Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := len(full.IDs)
	right, err := Tokenize(tok, ex, Options{MaxLength: 10})
	if err == nil || !errors.As(err, new(ErrSkip)) {
		// right-truncation keeps only prompt tokens: nothing left to train, which must be reported
		t.Fatalf("right truncation of a long prompt: got %v tokens, err %v; want a skip naming the row", len(right.IDs), err)
	}
	left, err := Tokenize(tok, ex, Options{MaxLength: 10, Truncation: TruncateLeft})
	if err != nil || len(left.IDs) != 10 || !left.Truncated || left.IDs[9] != full.IDs[n-1] {
		t.Fatalf("left truncation: %v %v", left, err)
	}
	_, err = Tokenize(tok, ex, Options{MaxLength: 10, Truncation: TruncateSkip})
	var skip ErrSkip
	if !errors.As(err, &skip) || !strings.Contains(skip.Reason, "d.jsonl:7") {
		t.Fatalf("skip policy: %v", err)
	}
	seqs, st, reasons, err := TokenizeAll(tok, []data.SFTExample{ex, {Kind: data.KindText, Text: "short", Loc: "d.jsonl:8"}},
		Options{MaxLength: 10, Truncation: TruncateSkip}, false)
	if err != nil || len(seqs) != 1 || st.Skipped != 1 || st.Rows != 2 || len(reasons) != 1 {
		t.Fatalf("TokenizeAll: %d seqs, %+v, %v, %v", len(seqs), st, reasons, err)
	}
}

// TestLossMaskFromFiles runs each on-disk SFT format through the reader and the
// tokeniser, and states exactly which text carries loss.
func TestLossMaskFromFiles(t *testing.T) {
	qwen := loadTok(t, "qwen3")
	cases := []struct {
		format, row string
		want        []string
	}{
		{"sharegpt", `{"conversations":[{"from":"human","value":"Hi"},{"from":"gpt","value":"Hello!"}]}`,
			[]string{"<think>\n\n</think>\n\nHello!<|im_end|>\n"}},
		{"alpaca", `{"instruction":"Add","input":"2 and 3","output":"5"}`,
			[]string{"<think>\n\n</think>\n\n5<|im_end|>\n"}},
		{"messages", `{"messages":[{"role":"user","content":"A"},{"role":"assistant","content":"B"},{"role":"user","content":"C"},{"role":"assistant","content":"D"}]}`,
			[]string{"B<|im_end|>\n", "<think>\n\n</think>\n\nD<|im_end|>\n"}},
		{"prompt_completion", `{"prompt":"2+2=","completion":"4"}`, []string{"4<|im_end|>"}},
		{"text", `{"text":"whole row"}`, []string{"whole row<|im_end|>"}},
	}
	for _, c := range cases {
		t.Run(c.format, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "d.jsonl")
			os.WriteFile(p, []byte(c.row+"\n"), 0o644)
			rows, rep, err := data.ReadSFT(p, data.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if string(rep.Format) != c.format {
				t.Fatalf("detected %q, want %q", rep.Format, c.format)
			}
			seq, err := Tokenize(qwen, rows[0], Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := trained(qwen, seq); strings.Join(got, "|") != strings.Join(c.want, "|") {
				t.Fatalf("trained %q, want %q", got, c.want)
			}
		})
	}
}
