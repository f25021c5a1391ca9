package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/align-go/align/chat"
	"github.com/align-go/align/pref"
	"github.com/spf13/cobra"
)

type scoreOpts struct {
	model, tokenizer, data, out string
	batchSize, maxLength        int
}

func init() {
	var o scoreOpts
	cmd := &cobra.Command{
		Use:   "score --model RM_DIR --data FILE.jsonl",
		Short: "Score responses with a reward model; writes each row back with its reward",
		Long: `Reads JSONL rows of one of these forms and writes each row back, its fields in order,
with the reward added:
  {"prompt", "completion"} or {"prompt", "response"}  -> "reward"
  {"messages": [..., assistant turn(s)]}              -> "reward" (the trailing assistant turns are the response)
  {"prompt"?, "chosen", "rejected"}                   -> "reward_chosen", "reward_rejected"
Prompts and responses may be strings or message lists (rendered with the chat template).
Sequences are encoded exactly as align rm trains on them: prompt, response, EOS.`,
		Args: cobra.NoArgs,
	}
	fs := cmd.Flags()
	fs.StringVar(&o.model, "model", "", "reward model directory (align rm's output or an HF sequence classifier with one label)")
	fs.StringVar(&o.tokenizer, "tokenizer", "", "tokenizer directory (default: --model)")
	fs.StringVar(&o.data, "data", "", "JSONL file of rows to score")
	fs.StringVar(&o.out, "out", "", "output JSONL file (default: stdout)")
	fs.IntVar(&o.batchSize, "batch-size", 8, "sequences per forward pass")
	fs.IntVar(&o.maxLength, "max-length", 0, "longer sequences keep their last N tokens (0: the model's context)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return o.run(cmd.OutOrStdout(), cmd.ErrOrStderr())
	}
	rootCmd.AddCommand(cmd)
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

func (o *scoreOpts) run(stdout, log io.Writer) error {
	switch {
	case o.model == "":
		return errors.New("--model: a reward model directory is required")
	case o.data == "":
		return errors.New("--data: a JSONL file is required")
	case o.batchSize <= 0:
		return fmt.Errorf("--batch-size: %d must be positive", o.batchSize)
	case o.maxLength < 0:
		return fmt.Errorf("--max-length: %d must be >= 0", o.maxLength)
	}
	sc, err := pref.LoadScorer(o.model, o.tokenizer)
	if err != nil {
		return err
	}
	sc.BatchSize, sc.MaxLength = o.batchSize, o.maxLength
	f, err := os.Open(o.data)
	if err != nil {
		return err
	}
	defer f.Close()
	var rows []scoreRow
	var all [][]int32
	rd := bufio.NewReader(f)
	for line := 1; ; line++ {
		b, err := rd.ReadBytes('\n')
		if err != nil && err != io.EOF {
			return fmt.Errorf("%s: %w", o.data, err)
		}
		if t := bytes.TrimSpace(b); len(t) > 0 {
			r, perr := parseScoreRow(sc.Enc, t)
			if perr != nil {
				return fmt.Errorf("%s:%d: %w", o.data, line, perr)
			}
			rows = append(rows, r)
			all = append(all, r.seqs...)
		}
		if err == io.EOF {
			break
		}
	}
	if len(rows) == 0 {
		return fmt.Errorf("%s: no rows", o.data)
	}
	rewards, err := sc.ScoreIDs(all)
	if err != nil {
		return err
	}
	w := stdout
	var outFile *os.File
	if o.out != "" {
		if outFile, err = os.Create(o.out); err != nil {
			return err
		}
		w = outFile
	}
	bw := bufio.NewWriter(w)
	k := 0
	var sum float64
	for _, r := range rows {
		add := map[string]float64{}
		for _, key := range r.keys {
			add[key] = rewards[k]
			sum += rewards[k]
			k++
		}
		writeRow(bw, r.fields, r.keys, add)
	}
	err = bw.Flush()
	if outFile != nil {
		if cerr := outFile.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "scored %d sequences in %d rows (mean reward %.4f)\n", len(all), len(rows), sum/float64(len(all)))
	return nil
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
func parseScoreRow(enc *pref.Encoder, line []byte) (scoreRow, error) {
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
func encodeScored(enc *pref.Encoder, prompt, response any, pk, rk string) ([]int32, error) {
	ps, pIsStr := prompt.(string)
	rs, rIsStr := response.(string)
	if rIsStr && (pIsStr || prompt == nil) {
		if prompt == nil {
			return nil, fmt.Errorf("field %q: missing (a plain-text %q needs one)", pk, rk)
		}
		p, r, err := enc.Plain(ps, rs)
		return pref.Join(p, r).IDs, err
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
	return pref.Join(p, r).IDs, nil
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
