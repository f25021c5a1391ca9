package pref

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/align-go/align/data"
	"github.com/align-go/align/model"
	"github.com/align-go/align/tokenizer"
)

// Ids of the test tokenizer's special tokens (after the 256 bytes).
const (
	testEOS = 256
	testPAD = 257
)

// byteTokenizer is a byte-level BPE without merges: one token per byte,
// plus <eos> and <pad>. Small vocabularies keep the tiny models fast.
func byteTokenizer(t testing.TB) *tokenizer.Tokenizer {
	t.Helper()
	tok, err := tokenizer.NewByteLevel(tokenizer.Config{EOSToken: "<eos>", PADToken: "<pad>"}, "<eos>", "<pad>") // testEOS, testPAD
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// tinyModel is a randomly initialised model over the byte tokenizer.
func tinyModel(t testing.TB, modelType string, seed uint64) *model.Model {
	t.Helper()
	raw := map[string]any{"model_type": modelType, "vocab_size": 258.0, "eos_token_id": float64(testEOS)}
	switch modelType {
	case "gpt2":
		raw["n_embd"], raw["n_layer"], raw["n_head"], raw["n_positions"] = 32.0, 2.0, 2.0, 128.0
	default:
		raw["hidden_size"], raw["num_hidden_layers"], raw["num_attention_heads"] = 32.0, 2.0, 4.0
		raw["num_key_value_heads"], raw["intermediate_size"], raw["max_position_embeddings"] = 2.0, 64.0, 128.0
	}
	cfg, err := model.ParseConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	m := model.New(cfg)
	m.InitRandom(seed)
	return m
}

var fillers = []string{"red", "blue", "cat", "dog", "sun", "tree", "rock", "fish", "bird", "cup", "map", "pen"}

// politeSet generates preference rows whose chosen response carries "thanks"
// at a random place among filler words and whose rejected response carries
// "whatever" instead: a reward model has to find the word, and a policy has
// to learn to produce it.
func politeSet(n int, seed uint64) []data.PreferenceExample {
	r := rand.New(rand.NewPCG(seed, 7))
	words := func(k int) []string {
		w := make([]string, k)
		for i := range w {
			w[i] = fillers[r.IntN(len(fillers))]
		}
		return w
	}
	insert := func(ws []string, word string) string {
		at := r.IntN(len(ws) + 1)
		out := append(append(append([]string(nil), ws[:at]...), word), ws[at:]...)
		return strings.Join(out, " ")
	}
	var out []data.PreferenceExample
	for i := 0; i < n; i++ {
		ws := words(1 + r.IntN(3))
		out = append(out, data.PreferenceExample{
			PromptText:   "say " + strings.Join(words(2), " ") + ":",
			ChosenText:   " " + insert(ws, "thanks"),
			RejectedText: " " + insert(ws, "whatever"),
			Loc:          fmt.Sprintf("gen:%d", i+1),
		})
	}
	return out
}

func cat(parts ...[]int32) []int32 {
	var out []int32
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func bytesOf(s string) []int32 {
	out := make([]int32, len(s))
	for i := range len(s) {
		out[i] = int32(s[i])
	}
	return out
}
