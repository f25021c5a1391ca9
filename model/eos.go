package model

// EOSIDs gathers every end-of-sequence id a model declares, each once and
// only those inside the vocabulary: the tokenizer's eos_token first (tokEOS,
// −1 when it has none; the id training rows end with, as TRL appends
// tokenizer.eos_token_id), then config.json's eos_token_id and
// generation_config.json's (genEOS, as decoded from JSON: an id or a list —
// Llama 3 and Qwen chat models end turns with several). Generation stops on
// any of them; encoders append the first.
func EOSIDs(cfg *Config, genEOS any, tokEOS int) []int32 {
	seen := map[int32]bool{}
	var out []int32
	var add func(v any)
	add = func(v any) {
		switch x := v.(type) {
		case float64:
			if id := int32(x); x >= 0 && float64(id) == x && int(id) < cfg.Vocab && !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		case []any:
			for _, e := range x {
				if f, ok := e.(float64); ok {
					add(f)
				}
			}
		}
	}
	if tokEOS >= 0 {
		add(float64(tokEOS))
	}
	add(cfg.Raw["eos_token_id"])
	add(genEOS)
	return out
}
