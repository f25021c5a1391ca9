// Package chat holds the one chat message type every part of Align shares:
// datasets parse conversations into it, the tokenizer renders it through chat
// templates, LLM clients send it, rewards and judges read it, and the server
// speaks it on the wire. It imports nothing, so any package can use it.
package chat

// Roles a normalised Message can carry. Source formats with other speaker
// names (ShareGPT's "human"/"gpt") are mapped onto these when they are read;
// anything else is an error there, because a chat template would otherwise
// render it unpredictably.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

// Message is one chat turn. Its JSON form is OpenAI's and HuggingFace's
// {"role": ..., "content": ...}.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}
