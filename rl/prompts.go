// Package rl holds what the online RL trainers (GRPO, PPO) share: prompt
// rows with the fields rewards see, reward-hacking monitors and alarms over
// each step's completions, and the samples log.
package rl

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/align-go/align/reward"
)

// PromptRow is one row of a prompt file: "prompt" as a string or as chat
// messages (rendered with the chat template by the caller), and every
// other field, which rewards receive as reward.Sample.Fields.
type PromptRow struct {
	Text     string           // "prompt" as a plain string
	Messages []reward.Message // "prompt" (or "messages") as chat turns
	Fields   map[string]any
}

// ReadPrompts reads a JSONL prompt file. Errors name the file and line.
func ReadPrompts(path string) ([]PromptRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParsePrompts(f, path)
}

// ParsePrompts reads JSONL prompt rows from r; name labels errors.
func ParsePrompts(r io.Reader, name string) ([]PromptRow, error) {
	var rows []PromptRow
	br := bufio.NewReaderSize(r, 1<<16)
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(b)) > 0 {
			row, perr := parseRow(b)
			if perr != nil {
				return nil, fmt.Errorf("%s:%d: %v", name, line, perr)
			}
			rows = append(rows, row)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: no prompts", name)
	}
	return rows, nil
}

func parseRow(b []byte) (PromptRow, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return PromptRow{}, err
	}
	p, hasP := raw["prompt"]
	m, hasM := raw["messages"]
	switch {
	case hasP && hasM:
		return PromptRow{}, fmt.Errorf("give \"prompt\" or \"messages\", not both")
	case !hasP && !hasM:
		return PromptRow{}, fmt.Errorf("missing field \"prompt\"")
	case hasM:
		p = m
	}
	delete(raw, "prompt")
	delete(raw, "messages")
	var row PromptRow
	if len(bytes.TrimSpace(p)) > 0 && bytes.TrimSpace(p)[0] == '[' {
		if err := json.Unmarshal(p, &row.Messages); err != nil {
			return PromptRow{}, fmt.Errorf("field \"prompt\": %v", err)
		}
		if len(row.Messages) == 0 {
			return PromptRow{}, fmt.Errorf("field \"prompt\" has no messages")
		}
	} else if err := json.Unmarshal(p, &row.Text); err != nil {
		return PromptRow{}, fmt.Errorf("field \"prompt\": want a string or a list of messages: %v", err)
	} else if row.Text == "" {
		return PromptRow{}, fmt.Errorf("field \"prompt\" is empty")
	}
	row.Fields = map[string]any{}
	for k, v := range raw {
		var x any
		if err := json.Unmarshal(v, &x); err != nil {
			return PromptRow{}, fmt.Errorf("field %q: %v", k, err)
		}
		row.Fields[k] = x
	}
	return row, nil
}
