package chat

import (
	"encoding/json"
	"testing"
)

// The wire shape is the OpenAI / HuggingFace one: datasets, servers and
// remote clients all depend on these two lower-case keys.
func TestMessageJSON(t *testing.T) {
	b, err := json.Marshal([]Message{{Role: RoleUser, Content: "hi"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `[{"role":"user","content":"hi"}]`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	var m Message
	if err := json.Unmarshal([]byte(`{"role":"assistant","content":"ok","name":"x"}`), &m); err != nil || m != (Message{RoleAssistant, "ok"}) {
		t.Fatalf("got %+v, %v", m, err)
	}
}
