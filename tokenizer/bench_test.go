package tokenizer

import (
	"testing"

	"github.com/align-go/align/internal/refdata"
)

// BenchmarkEncodeMobyDick measures encoding throughput (MB/s) on the
// 1.2 MB Moby-Dick text, with the word cache warm (the steady state when
// tokenizing a corpus) and disabled (every word merged from bytes).
func BenchmarkEncodeMobyDick(b *testing.B) {
	data, err := refdata.Load("corpora/moby-dick.txt")
	if err != nil {
		b.Fatal(err)
	}
	text := string(data)
	for _, c := range []struct {
		name string
		tok  func(testing.TB) *Tokenizer
	}{{"gpt2", gpt2JSON}, {"qwen3", qwen3}} {
		tok := c.tok(b)
		for _, mode := range []string{"cached", "uncached"} {
			b.Run(c.name+"/"+mode, func(b *testing.B) {
				if mode == "uncached" {
					tok.model.cache.clear()
					tok.model.cache.limit.Store(-1)
					defer tok.model.cache.limit.Store(0)
				}
				b.SetBytes(int64(len(text)))
				var n int
				for b.Loop() {
					n = len(tok.Encode(text))
				}
				b.ReportMetric(float64(n), "tokens")
			})
		}
	}
}

func BenchmarkDecodeMobyDick(b *testing.B) {
	data, err := refdata.Load("corpora/moby-dick.txt")
	if err != nil {
		b.Fatal(err)
	}
	tok := qwen3(b)
	ids := tok.Encode(string(data))
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		tok.Decode(ids)
	}
}

// BenchmarkParseTokenizerJSON measures parsing a whole tokenizer.json (the
// cost every model load pays): GPT-2's 50k and Qwen3's 151k vocabularies.
func BenchmarkParseTokenizerJSON(b *testing.B) {
	for _, name := range []string{"gpt2", "qwen3"} {
		data, err := refdata.Load("tokenizers/" + name + "/tokenizer.json")
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := ParseTokenizerJSON(data, name); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
