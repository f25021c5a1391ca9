// Command dpo_memory writes the inputs of the DPO memory benchmark
// (bench/dpo_memory/run.sh): a randomly initialised Llama-shaped model large
// enough that its weights dominate a training process's memory, a byte-level
// tokenizer for it, and preference pairs whose sequences all fit one fixed
// length, so every run holds activations of the same shape.
//
// It also prints the model's parameter count and the LoRA adapter count for
// the rank run.sh uses, counted from the model's own parameter table and
// from the shapes by hand, so the memory arithmetic has exact inputs.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/align-go/align/model"
	"github.com/align-go/align/tokenizer"
)

func main() {
	out := flag.String("out", "", "directory to write model/ and pairs.jsonl into")
	dim := flag.Int("dim", 512, "hidden size")
	layers := flag.Int("layers", 8, "transformer blocks")
	ffn := flag.Int("ffn", 1376, "MLP intermediate size")
	vocab := flag.Int("vocab", 8192, "vocabulary size (ids above the tokenizer's 258 exist but are never used)")
	pairs := flag.Int("pairs", 64, "preference pairs")
	rank := flag.Int("lora-r", 16, "LoRA rank to count adapter parameters for")
	batch := flag.Int("batch-size", 2, "pairs per micro-batch (as passed to align dpo), for the activation count")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "dpo_memory: -out is required")
		os.Exit(2)
	}
	if err := run(*out, *dim, *layers, *ffn, *vocab, *pairs, *rank, *batch); err != nil {
		fmt.Fprintln(os.Stderr, "dpo_memory:", err)
		os.Exit(1)
	}
}

func run(out string, dim, layers, ffn, vocab, pairs, rank, batch int) error {
	dir := filepath.Join(out, "model")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tok, err := tokenizer.NewByteLevel(tokenizer.Config{EOSToken: "<eos>", PADToken: "<pad>"}, "<eos>", "<pad>")
	if err != nil {
		return err
	}
	if err := tok.Save(dir); err != nil {
		return err
	}
	heads := dim / 64
	cfg, err := model.ParseConfig(map[string]any{"model_type": "llama", "vocab_size": float64(vocab),
		"hidden_size": float64(dim), "num_hidden_layers": float64(layers), "num_attention_heads": float64(heads),
		"num_key_value_heads": float64(heads), "intermediate_size": float64(ffn), "max_position_embeddings": 256.0,
		"eos_token_id": 256.0, "pad_token_id": 257.0, "tie_word_embeddings": false})
	if err != nil {
		return err
	}
	m := model.New(cfg)
	m.InitRandom(1)
	if err := m.SaveDir(dir, "F32"); err != nil {
		return err
	}

	// Every sequence is exactly seqLen tokens (byte-level: prompt, response,
	// EOS), so all micro-batches have the same shape.
	r := rand.New(rand.NewPCG(1, 2))
	text := func(n int) string {
		var b strings.Builder
		for b.Len() < n {
			b.WriteByte(byte('a' + r.IntN(26)))
			if r.IntN(5) == 0 {
				b.WriteByte(' ')
			}
		}
		return b.String()[:n]
	}
	var rows strings.Builder
	for i := 0; i < pairs; i++ {
		row, _ := json.Marshal(map[string]string{"prompt": text(promptBytes),
			"chosen": " thanks" + text(respBytes-7), "rejected": " whatever" + text(respBytes-9)})
		rows.Write(row)
		rows.WriteByte('\n')
	}
	if err := os.WriteFile(filepath.Join(out, "pairs.jsonl"), []byte(rows.String()), 0o644); err != nil {
		return err
	}

	printBudget(cfg, rank, 2*batch, seqLen)
	return nil
}

// Generated lengths in bytes (= tokens); seqLen adds the EOS.
const (
	promptBytes = 40
	respBytes   = 23
	seqLen      = promptBytes + respBytes + 1
)

// printBudget prints, in MiB, what a DPO run on this model holds, counted from
// the shapes the way model/acts.go lays activations out (Llama, no q/k norm):
// the inputs of the benchmark's "where the memory goes" table.
func printBudget(cfg *model.Config, rank, B, T int) {
	P := cfg.NumParams()
	C, Q, KV, F, V, L, H := cfg.Dim, cfg.Heads*cfg.HeadDim, cfg.KVHeads*cfg.HeadDim, cfg.FFN, cfg.Vocab, cfg.Layers, cfg.Heads
	N := B * T
	att := B * H * T * T
	// Adapters on all seven linears of each block: r·(in+out) each.
	lora := L * rank * ((C + Q) + 2*(C+KV) + (Q + C) + 2*(C+F) + (F + C))
	// Saved activations of one forward (model.layoutActs): per block x, ln1,
	// q, k, v, y, res2, ln2, gate, up, h, 4 per-row norm stats and the
	// attention matrix; then the last residual, final norm and the logits.
	acts := L*(N*(4*C+2*Q+2*KV+3*F+4)+att) + N*(2*C+2) + N*V
	// Backward scratch (acts.ensureGradScratch) and the log-prob gradient
	// [N,V] (pref.LogProbs.Backward).
	scratch := N*(3*C+2*Q+2*KV+4*F) + att
	dlogits := N * V
	adapterActs := (7*L + 1) * N * rank // per-adapter t [N,r] and the shared dt
	// With --lora-dropout > 0 every adapter also keeps its dropped input and
	// its float mask, [N,in] each (model/lora.go ensure).
	dropout := 2 * N * L * (C + C + C + Q + C + C + F)
	mib := func(floats int) float64 { return float64(floats) * 4 / (1 << 20) }
	fmt.Printf("params %d\nlora_params %d\nrows_per_micro_batch %d\n", P, lora, N)
	row := func(what string, full, lo int) {
		fmt.Printf("budget\t%s\t%.1f\t%.1f\n", what, mib(full), mib(lo))
	}
	row("weights", P, P)
	row("gradients", P, lora)
	row("AdamW m+v", 2*P, 2*lora)
	row("reference copy", P, 0)
	row("adapters", 0, lora)
	row("activations (policy)", acts, acts+adapterActs)
	row("activations (reference pass, own buffer)", acts, 0)
	row("backward scratch + dlogits", scratch+dlogits, scratch+dlogits)
	row("final save: export copy of the weights", P, lora)
	row("total", 6*P+2*acts+scratch+dlogits, P+5*lora+acts+adapterActs+scratch+dlogits)
	row("(--lora-dropout > 0 adds: dropped inputs + masks)", 0, dropout)
}
