package checkpoint

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// ReadJSON decodes the JSON file at path (config.json, generation_config.json,
// an index) into v; errors name the file and, for syntax errors, the line.
func ReadJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		if se, ok := err.(*json.SyntaxError); ok {
			line := 1 + bytes.Count(b[:min(int(se.Offset), len(b))], []byte("\n"))
			return fmt.Errorf("checkpoint: %s:%d: %v", path, line, err)
		}
		return fmt.Errorf("checkpoint: %s: %v", path, err)
	}
	return nil
}

// WriteJSON writes v to path atomically, indented with two spaces and with
// a trailing newline like save_pretrained's JSON files.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("checkpoint: %s: %v", path, err)
	}
	b = append(b, '\n')
	return WriteAtomic(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}
