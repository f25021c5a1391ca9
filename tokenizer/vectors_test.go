package tokenizer

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/align-go/align/chat"
	"github.com/align-go/align/internal/refdata"
)

var (
	loadOnce sync.Map // name -> *loaded
)

type loaded struct {
	once sync.Once
	tok  *Tokenizer
	err  error
}

// loadRef loads a tokenizer from the repository's testdata once per test
// binary: qwen3 takes a moment.
func loadRef(t testing.TB, name string, load func() (*Tokenizer, error)) *Tokenizer {
	t.Helper()
	v, _ := loadOnce.LoadOrStore(name, &loaded{})
	l := v.(*loaded)
	l.once.Do(func() { l.tok, l.err = load() })
	if l.err != nil {
		t.Fatalf("load %s: %v", name, l.err)
	}
	return l.tok
}

func gpt2JSON(t testing.TB) *Tokenizer {
	return loadRef(t, "gpt2-json", func() (*Tokenizer, error) {
		return Load(refdata.Dir(t, "tokenizers/gpt2"))
	})
}

// gpt2Files loads the vocab.json + merges.txt layout through Load, from a
// directory holding only those two files.
func gpt2Files(t testing.TB) *Tokenizer {
	return loadRef(t, "gpt2-files", func() (*Tokenizer, error) {
		dir := t.TempDir()
		refdata.CopyTo(t, "tokenizers/gpt2", dir, "vocab.json", "merges.txt")
		return Load(dir)
	})
}

func qwen3(t testing.TB) *Tokenizer {
	return loadRef(t, "qwen3", func() (*Tokenizer, error) {
		return Load(refdata.Dir(t, "tokenizers/qwen3"))
	})
}

func readJSONL[T any](t testing.TB, path string) []T {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []T
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<26)
	for n := 1; sc.Scan(); n++ {
		var r T
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s:%d: %v", path, n, err)
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatalf("%s: no rows", path)
	}
	return rows
}

type encodeRow struct {
	Tokenizer string `json:"tokenizer"`
	Text      string `json:"text"`
	IDs       []int  `json:"ids"`
}

func TestEncodeVectors(t *testing.T) {
	cases := []struct {
		name string
		file string
		tok  func(testing.TB) *Tokenizer
	}{
		{"gpt2/tokenizer.json", "gpt2_encode.jsonl", gpt2JSON},
		{"gpt2/vocab+merges", "gpt2_encode.jsonl", gpt2Files},
		{"qwen3", "qwen3_encode.jsonl", qwen3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok := c.tok(t)
			rows := readJSONL[encodeRow](t, refdata.Path(t, "tokenizer-vectors/"+c.file))
			for i, r := range rows {
				got := tok.Encode(r.Text)
				if !slices.Equal(got, r.IDs) {
					t.Errorf("row %d %q:\n got %v\nwant %v", i+1, r.Text, got, r.IDs)
				}
				if back := tok.Decode(got); back != r.Text {
					t.Errorf("row %d: decode(encode(x)) = %q, want %q", i+1, back, r.Text)
				}
			}
		})
	}
}

// TestEncodeHFExtra compares against HuggingFace tokenizers (Rust) on random
// strings of regex-stressing characters; see testdata/gen_hf_extra.js.
func TestEncodeHFExtra(t *testing.T) {
	toks := map[string]*Tokenizer{"gpt2": gpt2JSON(t), "qwen3": qwen3(t)}
	rows := readJSONL[encodeRow](t, filepath.Join("testdata", "hf_extra.jsonl"))
	for i, r := range rows {
		got := toks[r.Tokenizer].Encode(r.Text)
		if !slices.Equal(got, r.IDs) {
			t.Errorf("row %d %s %q:\n got %v\nwant %v", i+1, r.Tokenizer, r.Text, got, r.IDs)
		}
	}
}

type chatRow struct {
	Messages            []chat.Message `json:"messages"`
	AddGenerationPrompt bool           `json:"add_generation_prompt"`
	Rendered            string         `json:"rendered"`
	IDs                 []int          `json:"ids"`
}

func TestChatTemplateVectors(t *testing.T) {
	tok := qwen3(t)
	rows := readJSONL[chatRow](t, refdata.Path(t, "tokenizer-vectors/qwen3_chat_template.jsonl"))
	for i, r := range rows {
		got, err := tok.RenderChat(r.Messages, r.AddGenerationPrompt)
		if err != nil {
			t.Fatalf("row %d: %v", i+1, err)
		}
		if got != r.Rendered {
			t.Errorf("row %d rendered:\n got %q\nwant %q", i+1, got, r.Rendered)
			continue
		}
		ids := tok.Encode(got)
		if !slices.Equal(ids, r.IDs) {
			t.Errorf("row %d ids:\n got %v\nwant %v", i+1, ids, r.IDs)
		}
		if back := tok.Decode(ids); back != got {
			t.Errorf("row %d: decode(encode(rendered)) differs", i+1)
		}
	}
}
