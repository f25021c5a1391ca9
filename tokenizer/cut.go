package tokenizer

import (
	"fmt"
	"strings"
)

// CutBPEVocab keeps the first n ids of a tokenizer.json "model" object (its
// "vocab" and "merges", decoded as JSON into map[string]any) and drops every
// merge whose left part, right part or result is no longer in the
// vocabulary, so the file still loads and every kept merge still applies.
// Merges may be written as "a b" strings or as ["a","b"] pairs (both
// layouts of tokenizer.json). Tests and benchmarks use it to shrink a real
// vocabulary (GPT-2's, Qwen3's) to a model's size; added tokens are the
// caller's to renumber.
func CutBPEVocab(model map[string]any, n int) error {
	vocab, ok := model["vocab"].(map[string]any)
	if !ok {
		return fmt.Errorf("tokenizer: model.vocab is not an object")
	}
	kept := make(map[string]any, min(n, len(vocab)))
	for k, v := range vocab {
		id, ok := v.(float64)
		if !ok {
			return fmt.Errorf("tokenizer: model.vocab[%q] is not a number", k)
		}
		if int(id) < n {
			kept[k] = v
		}
	}
	rawMerges, _ := model["merges"].([]any)
	merges := make([]any, 0, len(rawMerges))
	for i, mg := range rawMerges {
		var a, b string
		switch x := mg.(type) {
		case string:
			var ok bool
			if a, b, ok = strings.Cut(x, " "); !ok {
				return fmt.Errorf("tokenizer: model.merges[%d] %q has no space", i, x)
			}
		case []any:
			if len(x) != 2 {
				return fmt.Errorf("tokenizer: model.merges[%d] is not a pair", i)
			}
			sa, okA := x[0].(string)
			sb, okB := x[1].(string)
			if !okA || !okB {
				return fmt.Errorf("tokenizer: model.merges[%d] is not a pair of strings", i)
			}
			a, b = sa, sb
		default:
			return fmt.Errorf("tokenizer: model.merges[%d] is neither a string nor a pair", i)
		}
		_, okA := kept[a]
		_, okB := kept[b]
		_, okAB := kept[a+b]
		if okA && okB && okAB {
			merges = append(merges, mg)
		}
	}
	model["vocab"], model["merges"] = kept, merges
	return nil
}
