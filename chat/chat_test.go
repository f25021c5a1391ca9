package chat

import (
	"encoding/json"
	"reflect"
	"testing"
)

// The wire shape is the OpenAI / HuggingFace one: datasets, servers and
// remote clients all depend on these lower-case keys.
func TestMessageJSON(t *testing.T) {
	b, err := json.Marshal([]Message{{Role: RoleUser, Content: "hi"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `[{"role":"user","content":"hi"}]`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	var m Message
	if err := json.Unmarshal([]byte(`{"role":"assistant","content":"ok","name":"x"}`), &m); err != nil ||
		!reflect.DeepEqual(m, Message{Role: RoleAssistant, Content: "ok"}) {
		t.Fatalf("got %+v, %v", m, err)
	}
}

// Tool calls travel in OpenAI's shape: a null content, the call's id, and
// arguments as a JSON string.
func TestToolCallJSON(t *testing.T) {
	in := `{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\": 1}"}}]}`
	var m Message
	if err := json.Unmarshal([]byte(in), &m); err != nil {
		t.Fatal(err)
	}
	want := Message{Role: RoleAssistant, ToolCalls: []ToolCall{{ID: "call_1", Type: "function", Function: FunctionCall{Name: "f", Arguments: `{"a": 1}`}}}}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("got %+v, want %+v", m, want)
	}
	b, _ := json.Marshal(Message{Role: RoleTool, Content: "22C", ToolCallID: "call_1"})
	if got, want := string(b), `{"role":"tool","content":"22C","tool_call_id":"call_1"}`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}
