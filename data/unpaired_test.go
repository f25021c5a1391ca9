package data

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeRows(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadUnpaired(t *testing.T) {
	p := writeRows(t, "kto.jsonl", `{"prompt":"Hi","completion":" hello","label":true}
{"prompt":[{"role":"user","content":"Hi"}],"completion":[{"role":"assistant","content":"go away"}],"label":false}
`)
	rows, rep, err := ReadUnpaired(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rep.Format != FormatUnpaired || rep.Rows != 2 {
		t.Fatalf("rows %+v report %+v", rows, rep)
	}
	if r := rows[0]; r.Conversational || r.PromptText != "Hi" || r.CompletionText != " hello" || !r.Label || !strings.HasSuffix(r.Loc, "kto.jsonl:1") {
		t.Errorf("row 1: %+v", r)
	}
	if r := rows[1]; !r.Conversational || r.Completion[0].Content != "go away" || r.Label || !strings.HasSuffix(r.Loc, "kto.jsonl:2") {
		t.Errorf("row 2: %+v", r)
	}

	// Preference pairs are split into a desirable and an undesirable row.
	p = writeRows(t, "pairs.jsonl", `{"prompt":"Q","chosen":"good","rejected":"bad"}
{"chosen":[{"role":"user","content":"Q2"},{"role":"assistant","content":"yes"}],"rejected":[{"role":"user","content":"Q2"},{"role":"assistant","content":"no"}]}
`)
	rows, rep, err = ReadUnpaired(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || rep.Format != FormatPreference {
		t.Fatalf("%d rows, format %q", len(rows), rep.Format)
	}
	want := []struct {
		text  string
		label bool
		line  string
	}{{"good", true, ":1"}, {"bad", false, ":1"}, {"yes", true, ":2"}, {"no", false, ":2"}}
	for i, w := range want {
		r := rows[i]
		got := r.CompletionText
		if r.Conversational {
			got = r.Completion[0].Content
			if len(r.Prompt) != 1 || r.Prompt[0].Content != "Q2" {
				t.Errorf("row %d prompt %+v", i, r.Prompt)
			}
		} else if r.PromptText != "Q" {
			t.Errorf("row %d prompt %q", i, r.PromptText)
		}
		if got != w.text || r.Label != w.label || !strings.HasSuffix(r.Loc, w.line) {
			t.Errorf("row %d: %+v, want %+v", i, r, w)
		}
	}
}

func TestReadUnpairedErrors(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{`{"prompt":"a","completion":"b","label":true}` + "\n" + `{"prompt":"a","completion":"b","label":"yes"}`, `bad.jsonl:2: field "label": want boolean`},
		{`{"prompt":"a","completion":"","label":true}`, `bad.jsonl:1: field "completion": empty`},
		{`{"prompt":"a","answer":"b","label":true}`, `bad.jsonl:1: cannot tell the format`},
		{`{"prompt":"a","chosen":"b","rejected":"c","p_chosen":0.6}`, `bad.jsonl:1: field "p_chosen": 0.6 is a soft label`},
		{`{"prompt":"a","completion":"b","label":true}` + "\n" + `{"prompt":"a","chosen":"b","rejected":"c"}`, `bad.jsonl:2: missing field "label"`},
	} {
		_, _, err := ReadUnpaired(writeRows(t, "bad.jsonl", c.body+"\n"), Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.body, err, c.want)
		}
	}
	p := writeRows(t, "skip.jsonl", `{"prompt":"a","completion":"b","label":true}`+"\n"+`{"prompt":"a","completion":"b","label":1}`+"\n")
	rows, rep, err := ReadUnpaired(p, Options{SkipBadRows: true})
	if err != nil || len(rows) != 1 || rep.Skipped != 1 {
		t.Errorf("skip: %d rows, %+v, %v", len(rows), rep, err)
	}
}
