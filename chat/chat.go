// Package chat holds the one chat message type every part of Align shares:
// datasets parse conversations into it, the tokenizer renders it through chat
// templates, LLM clients send it, rewards and judges read it, and the server
// speaks it on the wire. Tool definitions and the tool calls an assistant
// message carries are here too, in OpenAI's shape. It imports nothing of
// Align, so any package can use it.
package chat

// Roles a normalised Message can carry. Source formats with other speaker
// names (ShareGPT's "human"/"gpt") are mapped onto these when they are read;
// anything else is an error there, because a chat template would otherwise
// render it unpredictably.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
	// RoleTool is a tool's result, answering the assistant's tool call
	// named by Message.ToolCallID.
	RoleTool = "tool"
)

// Message is one chat turn. Its JSON form is OpenAI's and HuggingFace's
// {"role": ..., "content": ...}, with "tool_calls" on an assistant turn
// that calls tools and "tool_call_id" on a tool turn.
type Message struct {
	Role       string     `json:"role"`
	Content    string     `json:"content"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
}

// Equal reports whether two messages are the same turn (Message holds a
// slice, so == does not compile).
func (m Message) Equal(o Message) bool {
	if m.Role != o.Role || m.Content != o.Content || m.ToolCallID != o.ToolCallID || len(m.ToolCalls) != len(o.ToolCalls) {
		return false
	}
	for i := range m.ToolCalls {
		if m.ToolCalls[i] != o.ToolCalls[i] {
			return false
		}
	}
	return true
}
