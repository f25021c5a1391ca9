package pairenc

import (
	"slices"
	"strings"
	"testing"

	"github.com/align-go/align/chat"
	"github.com/align-go/align/data"
)

func bytesOf(s string) []int32 {
	out := make([]int32, len(s))
	for i := range len(s) {
		out[i] = int32(s[i])
	}
	return out
}

func cat(parts ...[]int32) []int32 {
	var out []int32
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestEncoder(t *testing.T) {
	tok := byteTokenizer(t)
	enc, err := NewEncoder(tok, byteConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	if enc.EOS != testEOS {
		t.Fatalf("EOS %d, want %d", enc.EOS, testEOS)
	}
	eos := []int32{testEOS}
	user := []chat.Message{{Role: "user", Content: "hi"}}
	tests := []struct {
		name       string
		plain      [2]string
		prompt     []chat.Message
		response   []chat.Message
		wantP      []int32
		wantR      []int32
		wantErrSub string
	}{
		{name: "plain", plain: [2]string{"Q:", " yes"}, wantP: bytesOf("Q:"), wantR: cat(bytesOf(" yes"), eos)},
		{name: "plain already closed", plain: [2]string{"Q:", " yes<eos>"}, wantP: bytesOf("Q:"), wantR: cat(bytesOf(" yes"), eos)},
		{name: "plain empty response", plain: [2]string{"Q:", ""}, wantP: bytesOf("Q:"), wantR: eos},
		// ChatML (the fallback template): the response keeps <|im_end|> and
		// loses the newline after it before EOS closes it.
		{name: "chat", prompt: user, response: []chat.Message{{Role: "assistant", Content: "yo"}},
			wantP: bytesOf("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"),
			wantR: cat(bytesOf("yo<|im_end|>"), eos)},
		{name: "chat two turns", prompt: user, response: []chat.Message{{Role: "assistant", Content: "a"}, {Role: "user", Content: "b"}, {Role: "assistant", Content: "c"}},
			wantP: bytesOf("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"),
			wantR: cat(bytesOf("a<|im_end|>\n<|im_start|>user\nb<|im_end|>\n<|im_start|>assistant\nc<|im_end|>"), eos)},
		{name: "chat empty response", prompt: user, wantErrSub: "empty response"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p, r []int32
			var err error
			if tc.prompt == nil {
				p, r, err = enc.Plain(tc.plain[0], tc.plain[1])
			} else {
				p, r, err = enc.Chat(tc.prompt, tc.response)
			}
			if tc.wantErrSub != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErrSub) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErrSub)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p, tc.wantP) || !slices.Equal(r, tc.wantR) {
				t.Fatalf("got\n  prompt %v\n  response %v\nwant\n  prompt %v\n  response %v", p, r, tc.wantP, tc.wantR)
			}
		})
	}
}

func TestEncoderVocabMismatch(t *testing.T) {
	tok := byteTokenizer(t)
	cfg := *byteConfig(t)
	cfg.Vocab = 100 // 'y' (121) is outside
	if _, err := NewEncoder(tok, &cfg); err == nil || !strings.Contains(err.Error(), "EOS id 256") {
		t.Fatalf("EOS outside the vocabulary: %v", err)
	}
	enc := &Encoder{Tok: tok, EOS: 0, Vocab: 100}
	if _, _, err := enc.Plain("a", "y"); err == nil || !strings.Contains(err.Error(), "token id 121") {
		t.Fatalf("token outside the vocabulary: %v", err)
	}
}

func TestPairEncoding(t *testing.T) {
	tok := byteTokenizer(t)
	enc, _ := NewEncoder(tok, byteConfig(t))
	mg := 1.5
	p, err := enc.Pair(data.PreferenceExample{PromptText: "P", ChosenText: "c", RejectedText: "rr", Margin: &mg, Loc: "f:1"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Prompt, bytesOf("P")) || !slices.Equal(p.Chosen, []int32{'c', testEOS}) ||
		!slices.Equal(p.Rejected, []int32{'r', 'r', testEOS}) || *p.Margin != 1.5 || p.Loc != "f:1" {
		t.Fatalf("plain pair: %+v", p)
	}
	p, err = enc.Pair(data.PreferenceExample{Conversational: true, Prompt: []chat.Message{{Role: "user", Content: "q"}},
		Chosen: []chat.Message{{Role: "assistant", Content: "c"}}, Rejected: []chat.Message{{Role: "assistant", Content: "r"}}})
	if err != nil {
		t.Fatal(err)
	}
	wantP := bytesOf("<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n")
	if !slices.Equal(p.Prompt, wantP) || !slices.Equal(p.Chosen, cat(bytesOf("c<|im_end|>"), []int32{testEOS})) ||
		!slices.Equal(p.Rejected, cat(bytesOf("r<|im_end|>"), []int32{testEOS})) {
		t.Fatalf("chat pair: %+v", p)
	}
}

func TestKeepEnd(t *testing.T) {
	s := Seq{IDs: []int32{1, 2, 3, 4, 5, 6}, Start: 3}
	tests := []struct {
		max       int
		wantIDs   []int32
		wantStart int
	}{
		{0, []int32{1, 2, 3, 4, 5, 6}, 3},
		{6, []int32{1, 2, 3, 4, 5, 6}, 3},
		{5, []int32{2, 3, 4, 5, 6}, 2},
		{3, []int32{4, 5, 6}, 0},
		{2, []int32{5, 6}, 0},
	}
	for _, tc := range tests {
		got := s.KeepEnd(tc.max)
		if !slices.Equal(got.IDs, tc.wantIDs) || got.Start != tc.wantStart {
			t.Errorf("KeepEnd(%d) = %v start %d, want %v start %d", tc.max, got.IDs, got.Start, tc.wantIDs, tc.wantStart)
		}
	}
}
