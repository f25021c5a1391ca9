package chat

import "encoding/json"

// Tool is a function the model may call, as OpenAI's "tools" entries give
// it: {"type": "function", "function": {"name", "description", "parameters"}}.
// Parameters is a JSON Schema kept as the client sent it, so a chat template
// renders its keys in the client's order, as transformers does.
type Tool struct {
	Type     string   `json:"type"`
	Function Function `json:"function"`
}

// Function describes one callable function.
type Function struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
}

// ToolCall is one call an assistant message makes.
type ToolCall struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"` // "function"
	Function FunctionCall `json:"function"`
}

// FunctionCall names the function and gives its arguments as JSON text
// (OpenAI sends a string, not an object: the model's text may not parse).
type FunctionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}
