package data

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
)

// FuzzParquetRows reads arbitrary bytes as a Parquet file through every
// reader. Seeds are real files: the arrow-rs fixtures (HF datasets layout)
// and files parquet-go writes with the flat, bare-repeated and map layouts.
// A corrupt file must give an error naming the file, never a panic, and
// whatever is accepted must satisfy the parsers' invariants.
func FuzzParquetRows(f *testing.F) {
	for _, name := range []string{"chat.parquet", "pref.parquet"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	type msg struct {
		Role    string `parquet:"role"`
		Content string `parquet:"content"`
	}
	type flat struct {
		Prompt     string  `parquet:"prompt"`
		Completion string  `parquet:"completion"`
		Chosen     string  `parquet:"chosen,optional"`
		Rejected   string  `parquet:"rejected,optional"`
		Margin     float64 `parquet:"margin"`
	}
	type bare struct {
		Messages []msg            `parquet:"messages"`
		Meta     map[string]int64 `parquet:"meta"`
	}
	var buf bytes.Buffer
	if err := parquet.Write(&buf, []flat{{"The sky is", " blue.", "a", "b", 0.5}, {"Grass is", " green.", "", "", 0}}); err != nil {
		f.Fatal(err)
	}
	f.Add(append([]byte(nil), buf.Bytes()...))
	buf.Reset()
	conv := []msg{{"user", "q"}, {"assistant", "r"}}
	if err := parquet.Write(&buf, []bare{{Messages: conv, Meta: map[string]int64{"k": 1}}, {Messages: conv[:1]}}); err != nil {
		f.Fatal(err)
	}
	f.Add(append([]byte(nil), buf.Bytes()...))
	f.Add([]byte("PAR1"))
	f.Add([]byte("PAR1\x00\x00\x00\x00PAR1"))

	dir := f.TempDir() // one file, rewritten per input: inputs run one at a time per process
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "fuzz.parquet")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		named := func(err error) {
			if err != nil && !strings.Contains(err.Error(), "fuzz.parquet") {
				t.Fatalf("error does not name the file: %v", err)
			}
		}
		// A few-kB file must read in well under a second; a watchdog turns
		// a hang into a failure the fuzzer records instead of a stall.
		done := make(chan struct{})
		go func() {
			defer close(done)
			for _, skip := range []bool{false, true} {
				sft, _, err := ReadSFT(p, Options{SkipBadRows: skip})
				named(err)
				for _, ex := range sft {
					checkSFT(t, ex)
				}
				pref, _, err := ReadPreference(p, Options{SkipBadRows: skip})
				named(err)
				for _, ex := range pref {
					checkPreference(t, ex)
				}
				_, _, err = ReadPrompts(p, Options{SkipBadRows: skip})
				named(err)
			}
		}()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("reading %d bytes took over 20s", len(b))
		}
	})
}
