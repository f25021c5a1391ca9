package llm

import (
	"strings"
	"testing"
)

// A reply that is not a usable chat completion is an error saying what is
// wrong with it, never an empty answer; a message with null content (a
// tool-call turn) is an answer with empty text.
func TestDecodeReplies(t *testing.T) {
	for _, c := range []struct{ body, wantErr string }{
		{`{"choices":[null]}`, "choices[0] is null"},
		{`{"choices":[null,{"message":{"content":"x"}}]}`, "choices[0] is null"},
		{`{"choices":[{"finish_reason":"stop"}]}`, "choices[0] has no message"},
		{`{"choices":[{"message":null}]}`, "choices[0] has no message"},
		{`{"choices":[]}`, "no choices"},
		{`{"choices":null,"error":null}`, "no choices"},
		{`{"error":{"message":"model not found"}}`, `no choices but an error: {"message":"model not found"}`},
		{`[]`, "not a chat completion"},
		{``, "not a chat completion"},
	} {
		if _, err := decode([]byte(c.body)); err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("%s: error %v, want one containing %q", c.body, err, c.wantErr)
		}
	}
	r, err := decode([]byte(`{"choices":[{"message":{"role":"assistant","content":null,"tool_calls":[]},"finish_reason":"tool_calls"}]}`))
	if err != nil || r.Text != "" || r.FinishReason != "tool_calls" {
		t.Fatalf("tool-call turn: %+v, %v", r, err)
	}
	r, err = decode([]byte(`{"choices":[{"message":{"content":"B"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}`))
	if err != nil || r.Text != "B" || r.PromptTokens != 3 || r.CompletionTokens != 1 {
		t.Fatalf("plain answer: %+v, %v", r, err)
	}
}
