package grammar

import (
	"math/bits"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/align-go/align/internal/refdata"
	"github.com/align-go/align/tokenizer"
)

// Qwen3's vocabulary: 151,643 byte-level BPE tokens and its added tokens;
// <|endoftext|> and <|im_end|> end a sequence.
var (
	qwenOnce  sync.Once
	qwenVocab *Vocab
	qwenTok   *tokenizer.Tokenizer
)

const qwenSize = 151936

func qwen(t testing.TB) (*Vocab, *tokenizer.Tokenizer) {
	t.Helper()
	qwenOnce.Do(func() {
		tok, err := tokenizer.Load(refdata.Dir(t, "tokenizers/qwen3"))
		if err != nil {
			t.Fatal(err)
		}
		qwenTok = tok
		qwenVocab = TokenizerVocab(tok, []int32{151643, 151645}, qwenSize)
	})
	if qwenVocab == nil {
		t.Fatal("Qwen3 vocabulary did not load")
	}
	return qwenVocab, qwenTok
}

func TestNewVocabTrie(t *testing.T) {
	toks := [][]byte{[]byte("ab"), []byte("a"), nil, []byte("abc"), []byte("b"), []byte("ab"), []byte("x"), {}}
	v := NewVocab(toks, []int32{6}, 10)
	// Nodes a, ab, abc, b; "x" is EOS and left out; ids 2 and 7 are empty.
	if got := string(v.tb); got != "abcb" {
		t.Fatalf("trie bytes %q, want %q", got, "abcb")
	}
	wantDepth := []uint16{1, 2, 3, 1}
	wantSkip := []int32{3, 3, 3, 4}
	wantIDs := [][]int32{{1}, {0, 5}, {3}, {4}}
	for i := range 4 {
		if v.depth[i] != wantDepth[i] || v.skip[i] != wantSkip[i] {
			t.Errorf("node %d: depth %d skip %d, want %d %d", i, v.depth[i], v.skip[i], wantDepth[i], wantSkip[i])
		}
		got := v.ids[v.lo[i]:v.lo[i+1]]
		if len(got) != len(wantIDs[i]) || (len(got) > 0 && (got[0] != wantIDs[i][0] || got[len(got)-1] != wantIDs[i][len(got)-1])) {
			t.Errorf("node %d: ids %v, want %v", i, got, wantIDs[i])
		}
	}
	if v.Size() != 10 {
		t.Errorf("size %d", v.Size())
	}
}

func maskHas(mk []uint64, id int) bool { return mk[id>>6]&(1<<(id&63)) != 0 }

// TestQwenRandomWalks: on the real Qwen3 vocabulary, random walks through
// the allowed tokens of several grammars. At each step the mask equals a
// token-by-token check by a separate Matcher (no trie, no cached masks), the
// text so far completes (by the shortest way) into a document that parses
// and validates with an independent JSON Schema validator, and EOS is
// allowed exactly when the text is whole.
func TestQwenRandomWalks(t *testing.T) {
	v, _ := qwen(t)
	schemas := []string{
		`{"type":"object"}`, // json_object
		schemaCases[0].schema,
		schemaCases[3].schema,
		schemaCases[10].schema,
		schemaCases[11].schema,
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for si, schema := range schemas {
		var g *Grammar
		if si == 0 {
			g = JSONObject()
		} else {
			var err error
			if g, err = Schema([]byte(schema)); err != nil {
				t.Fatal(err)
			}
		}
		val := validator(t, schema)
		for walk := range 2 {
			m := NewMatcher(g, v)
			ref := NewMatcher(g, byteVocab())
			s := m.Start()
			var text []byte
			for step := 0; step < 30 && !s.Finished(); step++ {
				mk := s.Allowed()
				refSt := ref.m.walk(0, text)
				// Every token at the first steps, a random sample later.
				check := func(id int) {
					var want bool
					switch {
					case id == 151643 || id == 151645:
						want = ref.m.states[refSt].accept
					case id < len(v.tokens) && len(v.tokens[id]) > 0:
						want = ref.m.walk(refSt, v.tokens[id]) >= 0
					}
					if got := maskHas(mk, id); got != want {
						t.Fatalf("schema %d walk %d: after %q, token %d (%q) allowed=%v, want %v",
							si, walk, text, id, v.tokens[min(id, len(v.tokens)-1)], got, want)
					}
				}
				if step < 2 {
					for id := range qwenSize {
						check(id)
					}
				} else {
					for range 3000 {
						check(rng.IntN(qwenSize))
					}
					check(151645)
				}
				var allowed []int32
				for w, word := range mk {
					for word != 0 {
						allowed = append(allowed, int32(w*64+bits.TrailingZeros64(word)))
						word &= word - 1
					}
				}
				if len(allowed) == 0 {
					t.Fatalf("schema %d: nothing allowed after %q", si, text)
				}
				tok := allowed[rng.IntN(len(allowed))]
				if err := s.Accept(tok); err != nil {
					t.Fatal(err)
				}
				if tok == 151643 || tok == 151645 {
					break
				}
				text = append(text, v.tokens[tok]...)
				st := ref.m.walk(0, text)
				rest, ok := ref.m.complete(st)
				if !ok {
					t.Fatalf("no completion of %q", text)
				}
				if err := validates(val, append(text[:len(text):len(text)], rest...)); err != nil {
					t.Fatalf("schema %d: %q + %q does not validate: %v", si, text, rest, err)
				}
			}
		}
	}
}

// BenchmarkMaskQwen3 measures the mask computation on Qwen3's 151,936-token
// vocabulary: cold (a fresh Matcher, the whole trie walked in the state
// inside a JSON string, where almost every token is allowed, and after an
// object's opening brace, where few are) and warm (a sequence of JSON
// tokens, masks cached per state, as a server decoding many requests with
// one schema sees).
func BenchmarkMaskQwen3(b *testing.B) {
	v, tok := qwen(b)
	g, err := Schema([]byte(schemaCases[10].schema))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, prefix string }{{"cold-string", `{"items":[{"id":1,"tags":["`}, {"cold-object", `{`}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				m := NewMatcher(g, v)
				s := m.Start()
				b.StopTimer()
				for _, id := range tok.Encode(c.prefix) {
					if err := s.Accept(int32(id)); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				s.Allowed()
			}
		})
	}
	doc := `{"items": [{"id": 12, "tags": ["red", "green"]}, {"id": 7, "tags": ["blue"]}, {"id": 3, "tags": []}]}`
	ids := tok.Encode(doc)
	m := NewMatcher(g, v)
	b.Run("warm-per-token", func(b *testing.B) {
		s := m.Start() // one pass untimed: every state's mask is cached
		for _, id := range ids {
			s.Allowed()
			s.Accept(int32(id))
		}
		for b.Loop() {
			s := m.Start()
			for _, id := range ids {
				s.Allowed()
				if err := s.Accept(int32(id)); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ids)), "ns/token")
	})
}
