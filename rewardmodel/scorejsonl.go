package rewardmodel

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/align-go/align/chat"
	"github.com/align-go/align/pairenc"
)

// ScoredRows are JSONL rows with their rewards (Scorer.ScoreJSONL).
type ScoredRows struct {
	rows    []scoreRow
	rewards []float64
	// Sequences is how many sequences were scored (two per preference row);
	// MeanReward is their mean reward.
	Sequences  int
	MeanReward float64
}

// Rows is the number of rows read.
func (s *ScoredRows) Rows() int { return len(s.rows) }

// ScoreJSONL reads JSONL rows of one of these forms from in (name is the
// file name errors give, with the line) and scores them:
//
//	{"prompt", "completion"} or {"prompt", "response"}  -> "reward"
//	{"messages": [..., assistant turn(s)]}              -> "reward" (the trailing assistant turns are the response)
//	{"prompt"?, "chosen", "rejected"}                   -> "reward_chosen", "reward_rejected"
//
// Prompts and responses may be strings or message lists (rendered with the
// chat template). Sequences are encoded exactly as reward models are trained
// on them: prompt, response, EOS. WriteJSONL writes the rows back.
func (s *Scorer) ScoreJSONL(in io.Reader, name string) (*ScoredRows, error) {
	var out ScoredRows
	var all [][]int32
	rd := bufio.NewReader(in)
	for line := 1; ; line++ {
		b, err := rd.ReadBytes('\n')
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if t := bytes.TrimSpace(b); len(t) > 0 {
			r, perr := parseScoreRow(s.Enc, t)
			if perr != nil {
				return nil, fmt.Errorf("%s:%d: %w", name, line, perr)
			}
			out.rows = append(out.rows, r)
			all = append(all, r.seqs...)
		}
		if err == io.EOF {
			break
		}
	}
	if len(out.rows) == 0 {
		return nil, fmt.Errorf("%s: no rows", name)
	}
	rewards, err := s.ScoreIDs(all)
	if err != nil {
		return nil, err
	}
	var sum float64
	for _, r := range rewards {
		sum += r
	}
	out.rewards, out.Sequences, out.MeanReward = rewards, len(all), sum/float64(len(all))
	return &out, nil
}

// WriteJSONL writes each row back, its fields in their order, a reward
// field's value replaced where the row already had one and appended
// otherwise.
func (s *ScoredRows) WriteJSONL(w io.Writer) error {
	bw := bufio.NewWriter(w)
	k := 0
	for _, r := range s.rows {
		add := map[string]float64{}
		for _, key := range r.keys {
			add[key] = s.rewards[k]
			k++
		}
		writeRow(bw, r.fields, r.keys, add)
	}
	return bw.Flush()
}

// jsonField is one key of a JSON object with its value as written.
type jsonField struct {
	key string
	val json.RawMessage
}

// scoreRow is one input row: its fields in order and the sequences to score.
type scoreRow struct {
	fields []jsonField
	keys   []string // the reward fields to add, one per sequence
	seqs   [][]int32
}

// writeRow writes the row's fields in their order, a reward field's value
// replaced where the row already had one and appended otherwise.
func writeRow(w *bufio.Writer, fields []jsonField, keys []string, add map[string]float64) {
	num := func(v float64) []byte { b, _ := json.Marshal(v); return b }
	w.WriteByte('{')
	done := map[string]bool{}
	for i, f := range fields {
		if i > 0 {
			w.WriteByte(',')
		}
		k, _ := json.Marshal(f.key)
		w.Write(k)
		w.WriteByte(':')
		if v, ok := add[f.key]; ok {
			w.Write(num(v))
			done[f.key] = true
		} else {
			w.Write(f.val)
		}
	}
	for _, key := range keys {
		if done[key] {
			continue
		}
		if len(fields) > 0 {
			w.WriteByte(',')
		}
		k, _ := json.Marshal(key)
		w.Write(k)
		w.WriteByte(':')
		w.Write(num(add[key]))
	}
	w.WriteString("}\n")
}

// orderedObject splits a JSON object into its fields, in order, values compacted.
func orderedObject(line []byte) ([]jsonField, map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		return nil, nil, fmt.Errorf("invalid JSON: %v", err)
	}
	if m == nil {
		return nil, nil, errors.New("want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	if _, err := dec.Token(); err != nil { // '{'
		return nil, nil, err
	}
	var out []jsonField
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, err
		}
		var c bytes.Buffer
		if err := json.Compact(&c, raw); err != nil {
			return nil, nil, err
		}
		key := kt.(string)
		for i := range out { // a repeated key: the last value wins, as in the map
			if out[i].key == key {
				out = append(out[:i], out[i+1:]...)
				break
			}
		}
		out = append(out, jsonField{key: key, val: c.Bytes()})
	}
	return out, m, nil
}

// parseScoreRow reads one row and encodes the sequences it asks to score.
func parseScoreRow(enc *pairenc.Encoder, line []byte) (scoreRow, error) {
	fields, m, err := orderedObject(line)
	if err != nil {
		return scoreRow{}, err
	}
	r := scoreRow{fields: fields}
	add := func(key string, prompt, response any, promptKey, responseKey string) error {
		ids, err := encodeScored(enc, prompt, response, promptKey, responseKey)
		if err != nil {
			return err
		}
		r.keys = append(r.keys, key)
		r.seqs = append(r.seqs, ids)
		return nil
	}
	switch {
	case hasField(m, "chosen") && hasField(m, "rejected"):
		for _, side := range []string{"chosen", "rejected"} {
			if err := add("reward_"+side, m["prompt"], m[side], "prompt", side); err != nil {
				return scoreRow{}, err
			}
		}
	case hasField(m, "messages"):
		err = add("reward", nil, m["messages"], "", "messages")
	case hasField(m, "prompt") && hasField(m, "completion"):
		err = add("reward", m["prompt"], m["completion"], "prompt", "completion")
	case hasField(m, "prompt") && hasField(m, "response"):
		err = add("reward", m["prompt"], m["response"], "prompt", "response")
	default:
		return scoreRow{}, errors.New(`want fields "prompt" and "completion" (or "response"), "messages", or "chosen" and "rejected"`)
	}
	return r, err
}

func hasField(m map[string]any, k string) bool {
	v, ok := m[k]
	return ok && v != nil
}

// encodeScored encodes a prompt and a response given as strings or message
// lists. A response that is a whole conversation (its first turn is not the
// assistant's) carries its own prompt: everything before its trailing
// assistant turns.
func encodeScored(enc *pairenc.Encoder, prompt, response any, pk, rk string) ([]int32, error) {
	ps, pIsStr := prompt.(string)
	rs, rIsStr := response.(string)
	if rIsStr && (pIsStr || prompt == nil) {
		if prompt == nil {
			return nil, fmt.Errorf("field %q: missing (a plain-text %q needs one)", pk, rk)
		}
		p, r, err := enc.Plain(ps, rs)
		return pairenc.Join(p, r).IDs, err
	}
	var resp []chat.Message
	if rIsStr {
		resp = []chat.Message{{Role: chat.RoleAssistant, Content: rs}}
	} else {
		var err error
		if resp, err = readMessages(response, rk); err != nil {
			return nil, err
		}
	}
	var pm []chat.Message
	switch {
	case len(resp) > 0 && resp[0].Role != chat.RoleAssistant:
		k := len(resp)
		for k > 0 && resp[k-1].Role == chat.RoleAssistant {
			k--
		}
		if k == len(resp) {
			return nil, fmt.Errorf("field %q: the conversation does not end with an assistant turn", rk)
		}
		pm, resp = resp[:k], resp[k:]
	case prompt == nil:
		return nil, fmt.Errorf("field %q: missing", pk)
	case pIsStr:
		pm = []chat.Message{{Role: chat.RoleUser, Content: ps}}
	default:
		var err error
		if pm, err = readMessages(prompt, pk); err != nil {
			return nil, err
		}
	}
	p, r, err := enc.Chat(pm, resp)
	if err != nil {
		return nil, fmt.Errorf("field %q: %w", rk, err)
	}
	return pairenc.Join(p, r).IDs, nil
}

// readMessages reads a list of {"role","content"} objects.
func readMessages(v any, key string) ([]chat.Message, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("field %q: want a string or a list of messages, got %T", key, v)
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("field %q: no messages", key)
	}
	out := make([]chat.Message, len(list))
	for i, it := range list {
		mm, ok := it.(map[string]any)
		role, ok1 := mm["role"].(string)
		content, ok2 := mm["content"].(string)
		switch {
		case !ok:
			return nil, fmt.Errorf("field \"%s[%d]\": want an object with role and content", key, i)
		case !ok1:
			return nil, fmt.Errorf("field \"%s[%d].role\": want a string", key, i)
		case !ok2:
			return nil, fmt.Errorf("field \"%s[%d].content\": want a string", key, i)
		}
		out[i] = chat.Message{Role: role, Content: content}
	}
	return out, nil
}
