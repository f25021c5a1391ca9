package data

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
)

const (
	pcRow   = `{"prompt":"p","completion":"c"}`
	pcRow2  = `{"prompt":"p2","completion":"c2"}`
	msgRow  = `{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"r"}]}`
	textRow = `{"text":"t"}`
)

func TestLineNumbersCountBlankLines(t *testing.T) {
	p := writeFile(t, "data.jsonl", "\n"+pcRow+"\n  \n\n"+pcRow2+"\r\n"+`{"prompt":"p3"}`+"\n")
	r, err := OpenSFT(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, want := range []string{":2", ":5"} {
		ex, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ex.Loc != p+want {
			t.Fatalf("loc %s, want %s", ex.Loc, p+want)
		}
	}
	_, err = r.Next()
	checkErr(t, err, p, `data.jsonl:6: missing field "completion"`)
	var re *RowError
	if !errors.As(err, &re) || re.Reason != `missing field "completion"` {
		t.Fatalf("not a RowError with the right reason: %#v", err)
	}
	// The reader stays failed: a trainer must not quietly go on.
	if _, err2 := r.Next(); err2 != err {
		t.Fatalf("second Next: %v", err2)
	}
	if rep := r.Report(); rep.Rows != 2 || rep.Skipped != 0 || rep.Format != FormatPromptCompletion {
		t.Fatalf("report %+v", rep)
	}
}

func TestSkipBadRows(t *testing.T) {
	p := writeFile(t, "data.jsonl", lines(
		`not json`, // 1: before detection
		msgRow,     // 2: fixes the format to messages
		`{"messages":[{"role":"user","content":"q"},{"role":"bot","content":"r"}]}`, // 3
		msgRow,  // 4
		textRow, // 5: another format: missing messages
		`[1,2]`, // 6
		`{"messages":[{"role":"user","content":"q"},{"role":"user","content":"r"},{"role":"assistant","content":"r"}]}`, // 7
		`{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"r"},{"role":"bot","content":"r"}]}`,  // 8
		msgRow,   // 9
		`{"mess`, // 10
	))
	got, rep, err := ReadSFT(p, Options{SkipBadRows: true, MaxFirstErrors: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Loc != p+":2" || got[1].Loc != p+":4" || got[2].Loc != p+":9" {
		t.Fatalf("rows %+v", got)
	}
	wantReasons := map[string]int{
		"invalid JSON": 2,
		`field "messages[*].role": unknown role "bot" (want system, user or assistant)`: 2,
		`missing field "messages"`: 1,
		"row is not an object":     1,
		`field "messages[*].role": two user turns in a row; turns must alternate user/assistant`: 1,
	}
	want := Report{Format: FormatMessages, Rows: 3, Skipped: 7, Reasons: wantReasons, FirstErrors: []string{
		p + `:1: invalid JSON: invalid character 'o' in literal null (expecting 'u')`,
		p + `:3: field "messages[1].role": unknown role "bot" (want system, user or assistant)`,
		p + `:5: missing field "messages"`,
	}}
	if !reflect.DeepEqual(rep, want) {
		t.Fatalf("report\n got %+v\nwant %+v", rep, want)
	}
}

func TestAllRowsBad(t *testing.T) {
	p := writeFile(t, "data.jsonl", lines(`{}`, `{"text":""}`))
	_, rep, err := ReadSFT(p, Options{SkipBadRows: true})
	checkErr(t, err, p, `data.jsonl: no valid rows (2 skipped; first: data.jsonl:1: cannot tell the format from keys []; want messages, conversations, prompt+completion, instruction+output or text)`)
	if rep.Skipped != 2 || rep.Reasons["unknown format"] != 1 || rep.Reasons[`field "text": empty`] != 1 {
		t.Fatalf("report %+v", rep)
	}
	p = writeFile(t, "empty.jsonl", "\n\n")
	_, _, err = ReadSFT(p, Options{})
	checkErr(t, err, p, `empty.jsonl: no rows`)
}

func TestFileKinds(t *testing.T) {
	want := []string{"p", "p2"}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(lines(pcRow, pcRow2)))
	zw.Close()
	cases := []struct {
		name, content string
		locs          []string
	}{
		{"a.jsonl", lines(pcRow, pcRow2), []string{":1", ":2"}},
		{"a.ndjson", pcRow + "\n" + pcRow2, []string{":1", ":2"}},                // no final newline
		{"a.jsonl", "\xef\xbb\xbf" + lines(pcRow, pcRow2), []string{":1", ":2"}}, // BOM
		{"lines.json", lines(pcRow, pcRow2), []string{":1", ":2"}},
		{"array.json", "\n [" + pcRow + ",\n" + pcRow2 + "]\n", []string{": row 0", ": row 1"}},
		{"a.jsonl.gz", gz.String(), []string{":1", ":2"}},
		{"A.JSONL", lines(pcRow, pcRow2), []string{":1", ":2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, c.name, c.content)
			got, _, err := ReadSFT(p, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 {
				t.Fatalf("got %d rows", len(got))
			}
			for i, ex := range got {
				if ex.PromptText != want[i] || ex.Loc != p+c.locs[i] {
					t.Errorf("row %d: %+v", i, ex)
				}
			}
		})
	}
}

func TestFileErrors(t *testing.T) {
	cases := []struct {
		name, content string
		opts          Options
		want          string
	}{
		{"data.csv", "a,b\n", Options{}, `data.csv: unknown file type ".csv" (want .jsonl, .ndjson, .json or .parquet, optionally .gz for JSON)`},
		{"data.parquet.gz", "x", Options{}, `data.parquet.gz: gzipped Parquet is not supported (Parquet compresses its own pages)`},
		{"long.jsonl", pcRow + "\n" + `{"text":"` + strings.Repeat("x", 200) + `"}` + "\n", Options{MaxLineBytes: 100},
			`long.jsonl:2: line longer than 100 bytes (raise Options.MaxLineBytes)`},
		{"array.json", "[" + pcRow + ",{\"prompt\":}]", Options{SkipBadRows: true},
			`array.json: row 1: invalid JSON: invalid character '}' looking for beginning of value`},
		{"array2.json", "[" + pcRow + ",[1]]", Options{},
			`array2.json: row 1: row is not a JSON object (got list)`},
		{"bad.jsonl.gz", "not gzip at all", Options{}, `bad.jsonl.gz: gzip: invalid header`},
		{"bad.parquet", "PAR1 not really", Options{}, ``}, // any error, checked below
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, c.name, c.content)
			_, _, err := ReadSFT(p, c.opts)
			if c.want == "" {
				if err == nil || !strings.HasPrefix(err.Error(), p+": ") {
					t.Fatalf("want an error naming the file, got %v", err)
				}
				return
			}
			checkErr(t, err, p, c.want)
		})
	}
	_, _, err := ReadSFT("/nonexistent/x.jsonl", Options{})
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestStreamingEOF(t *testing.T) {
	p := writeFile(t, "data.jsonl", lines(textRow))
	r, err := OpenSFT(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if ex, err := r.Next(); err != nil || ex.Text != "t" {
		t.Fatalf("%+v %v", ex, err)
	}
	for range 2 {
		if _, err := r.Next(); err != io.EOF {
			t.Fatalf("want io.EOF, got %v", err)
		}
	}
	if r.Format() != FormatText {
		t.Fatalf("format %q", r.Format())
	}
}
