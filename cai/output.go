package cai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/align-go/align/chat"
)

// Files a revision run writes into its output directory.
const (
	TraceFile       = "revisions.jsonl"   // every Revision, the resume record
	SFTFile         = "sft.jsonl"         // prompt → final revision, for align sft
	PreferencesFile = "preferences.jsonl" // chosen = final revision, rejected = initial answer, for align dpo / rm
)

// SFTRow is a prompt_completion row in the conversational layout the data
// package reads.
type SFTRow struct {
	Prompt     []chat.Message `json:"prompt"`
	Completion []chat.Message `json:"completion"`
}

// PreferenceRow is a prompt/chosen/rejected row in the conversational
// layout the data package reads. PChosen is the judge's probability that
// chosen is better, a soft label that align rm and align dpo train on
// (data.PreferenceExample.PChosen; see loss.BradleyTerrySoft and the DPO
// losses' SoftLoss). Principle and Consistent are extra columns the
// trainers ignore: the principle the judge used and whether both orders
// agreed.
type PreferenceRow struct {
	Prompt     []chat.Message `json:"prompt"`
	Chosen     []chat.Message `json:"chosen"`
	Rejected   []chat.Message `json:"rejected"`
	PChosen    *float64       `json:"p_chosen,omitempty"`
	Principle  string         `json:"principle,omitempty"`
	Consistent *bool          `json:"consistent,omitempty"`
}

func assistant(s string) []chat.Message { return []chat.Message{{Role: "assistant", Content: s}} }

// Rows turns a revision into its training rows. A blank final revision gives
// neither row, and one equal to the initial answer gives no preference row:
// the trainers reject empty responses and identical pairs.
func (r *Revision) Rows() (*SFTRow, *PreferenceRow) {
	final := r.Final()
	if strings.TrimSpace(final) == "" {
		return nil, nil
	}
	s := &SFTRow{Prompt: r.Prompt, Completion: assistant(final)}
	if strings.TrimSpace(r.Initial) == "" || final == r.Initial {
		return s, nil
	}
	return s, &PreferenceRow{Prompt: r.Prompt, Chosen: assistant(final), Rejected: assistant(r.Initial)}
}

// Output appends revisions to a run directory's three files. Opening an
// existing directory resumes it: the trace's complete lines are kept (a line
// cut short by a kill is dropped) and sft.jsonl and preferences.jsonl are
// rewritten from them, so the three files always agree.
type Output struct {
	Done                map[int]bool // prompt indices already written
	SFTRows, PrefRows   int          // rows in sft.jsonl and preferences.jsonl
	trace, sft, pref    *os.File
	traceW, sftW, prefW *json.Encoder
}

// OpenOutput opens (creating or resuming) the run directory dir.
func OpenOutput(dir string) (*Output, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	tracePath := filepath.Join(dir, TraceFile)
	old, size, err := readTrace(tracePath)
	if err != nil {
		return nil, err
	}
	o := &Output{Done: map[int]bool{}}
	// The trace is kept, less any torn last line; the derived files are
	// rewritten from it.
	if o.trace, err = os.OpenFile(tracePath, os.O_RDWR|os.O_CREATE, 0o644); err == nil {
		if err = o.trace.Truncate(size); err == nil {
			_, err = o.trace.Seek(size, 0)
		}
	}
	if err != nil {
		o.Close()
		return nil, err
	}
	o.traceW = json.NewEncoder(o.trace)
	o.traceW.SetEscapeHTML(false)
	open := func(name string) (*os.File, *json.Encoder, error) {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return nil, nil, err
		}
		e := json.NewEncoder(f)
		e.SetEscapeHTML(false)
		return f, e, nil
	}
	if o.sft, o.sftW, err = open(SFTFile); err == nil {
		o.pref, o.prefW, err = open(PreferencesFile)
	}
	if err != nil {
		o.Close()
		return nil, err
	}
	if err := o.write(old, false); err != nil {
		o.Close()
		return nil, err
	}
	return o, nil
}

// readTrace reads a trace's records and the length of its complete lines;
// a missing file is an empty trace. A last line without its newline is a
// write cut short by a kill and is dropped; any other bad line means the file
// is not a trace, which is an error.
func readTrace(path string) ([]Revision, int64, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	var out []Revision
	var n int64
	for line := 1; ; line++ {
		i := bytes.IndexByte(b[n:], '\n')
		if i < 0 {
			return out, n, nil
		}
		var r Revision
		if err := json.Unmarshal(b[n:n+int64(i)], &r); err != nil || len(r.Prompt) == 0 {
			if err == nil {
				err = fmt.Errorf("no prompt")
			}
			return nil, 0, fmt.Errorf("%s:%d: not a revision record (delete the file to start over): %v", path, line, err)
		}
		out = append(out, r)
		n += int64(i) + 1
	}
}

// Write appends revisions and flushes them to disk.
func (o *Output) Write(rs []Revision) error { return o.write(rs, true) }

func (o *Output) write(rs []Revision, trace bool) error {
	for i := range rs {
		r := &rs[i]
		if o.Done[r.Index] {
			continue
		}
		if trace {
			if err := o.traceW.Encode(r); err != nil {
				return err
			}
		}
		s, p := r.Rows()
		if s != nil {
			if err := o.sftW.Encode(s); err != nil {
				return err
			}
			o.SFTRows++
		}
		if p != nil {
			if err := o.prefW.Encode(p); err != nil {
				return err
			}
			o.PrefRows++
		}
		o.Done[r.Index] = true
	}
	for _, f := range []*os.File{o.sft, o.pref, o.trace} {
		if err := f.Sync(); err != nil {
			return err
		}
	}
	return nil
}

// Close closes the files.
func (o *Output) Close() error {
	var first error
	for _, f := range []*os.File{o.trace, o.sft, o.pref} {
		if f != nil {
			if err := f.Close(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}
