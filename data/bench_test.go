package data

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/align-go/align/chat"
)

// benchRows makes n UltraChat-sized rows: six turns of a few hundred bytes.
func benchRows(n int) []map[string]any {
	rows := make([]map[string]any, n)
	for i := range rows {
		var ms []any
		for j := range 6 {
			role := chat.RoleUser
			if j%2 == 1 {
				role = chat.RoleAssistant
			}
			ms = append(ms, map[string]any{"role": role, "content": strings.Repeat("word ", 60+i%40)})
		}
		rows[i] = map[string]any{"messages": ms, "prompt_id": "abc"}
	}
	return rows
}

func benchRead(b *testing.B, p string) {
	st, err := os.Stat(p)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	b.ResetTimer()
	for range b.N {
		got, _, err := ReadSFT(p, Options{})
		if err != nil || len(got) == 0 {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadJSONL(b *testing.B) {
	p := filepath.Join(b.TempDir(), "bench.jsonl")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, r := range benchRows(5000) {
		enc.Encode(r)
	}
	w.Flush()
	f.Close()
	benchRead(b, p)
}

func BenchmarkReadParquet(b *testing.B) {
	schema := parquet.NewSchema("hf", parquet.Group{
		"messages":  hfMessages(),
		"prompt_id": parquet.Optional(parquet.String()),
	})
	p := filepath.Join(b.TempDir(), "bench.parquet")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	w := parquet.NewGenericWriter[map[string]any](f, schema)
	if _, err := w.Write(benchRows(5000)); err != nil {
		b.Fatal(err)
	}
	w.Close()
	f.Close()
	benchRead(b, p)
}
