// Command realsize writes randomly initialised checkpoints of real model
// shapes in the layout and dtype the HuggingFace Hub ships them: config.json
// exactly as the Hub's, bf16 safetensors, split into 5 GB shards with
// model.safetensors.index.json above that size (save_pretrained's default
// max_shard_size), a tokenizer, and benchmark data (SFT conversations,
// preference pairs, prompts) of a fixed token length. bench/realsize/run.sh
// then measures training and decoding on them.
//
// Weights are generated while they are written, a chunk at a time, so writing
// the 8B shape needs a few MB of memory, not 16 GB.
//
//	go run ./bench/realsize -model qwen2.5-0.5b -out /tmp/realsize
package main

import (
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/align-go/align/checkpoint"
	"github.com/align-go/align/model"
	"github.com/align-go/align/tokenizer"
)

// hubShardBytes is transformers' save_pretrained default max_shard_size
// ("5GB"): the Hub's Llama-3.2-3B has 2 shards and Llama-3.1-8B 4.
const hubShardBytes = 5_000_000_000

func main() {
	name := flag.String("model", "qwen2.5-0.5b", "shape to write: "+strings.Join(shapeNames(), ", "))
	out := flag.String("out", "", "directory to write (created); the checkpoint goes into OUT/NAME")
	tokDir := flag.String("tokenizer", "testdata/tokenizers/qwen3", "directory holding the Qwen3 tokenizer.json and tokenizer_config.json")
	seed := flag.Uint64("seed", 1, "weight seed")
	rows := flag.Int("rows", 64, "rows of each benchmark data file")
	tokens := flag.Int("row-tokens", 500, "approximate tokens per SFT row (preference pairs and prompts scale from it)")
	layers := flag.Int("layers", 0, "keep only the first N layers (num_hidden_layers = N; the directory is NAME-LN): "+
		"measures the fixed part (embedding, head, load) and the per-layer part of a shape too large to run whole")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "realsize: -out is required")
		os.Exit(2)
	}
	sh, ok := shapes[*name]
	if !ok {
		fmt.Fprintf(os.Stderr, "realsize: unknown -model %q (have %s)\n", *name, strings.Join(shapeNames(), ", "))
		os.Exit(2)
	}
	dir := filepath.Join(*out, *name)
	if *layers > 0 {
		var err error
		if sh, err = withLayers(sh, *layers); err != nil {
			fmt.Fprintln(os.Stderr, "realsize:", err)
			os.Exit(1)
		}
		dir = fmt.Sprintf("%s-L%d", dir, *layers)
	}
	if err := write(dir, sh, *tokDir, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "realsize:", err)
		os.Exit(1)
	}
	if err := writeData(*out, *rows, *tokens, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "realsize:", err)
		os.Exit(1)
	}
}

// withLayers is sh with num_hidden_layers set to n (config.json re-encoded:
// no longer the Hub's bytes).
func withLayers(sh shape, n int) (shape, error) {
	var raw map[string]any
	if err := json.Unmarshal([]byte(sh.config), &raw); err != nil {
		return sh, fmt.Errorf("%s config: %w", sh.hub, err)
	}
	raw["num_hidden_layers"] = n
	b, err := json.MarshalIndent(raw, "", "  ")
	if err != nil {
		return sh, err
	}
	return shape{hub: fmt.Sprintf("%s (first %d layers)", sh.hub, n), config: string(b) + "\n"}, nil
}

func shapeNames() []string {
	var n []string
	for k := range shapes {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// write puts config.json, the safetensors and the tokenizer into dir.
func write(dir string, sh shape, tokDir string, seed uint64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(sh.config), &raw); err != nil {
		return fmt.Errorf("%s config: %w", sh.hub, err)
	}
	cfg, err := model.ParseConfig(raw)
	if err != nil {
		return fmt.Errorf("%s config: %w", sh.hub, err)
	}
	// The Hub's bytes, not a re-encoding: key order and number spelling as shipped.
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(sh.config), 0o644); err != nil {
		return err
	}
	resid := 0.02 / math.Sqrt(2*float64(cfg.Layers))
	var ts []checkpoint.Tensor
	var bytes int64
	for i, nt := range cfg.HFTensors("") {
		std := 0.02
		switch {
		case strings.HasSuffix(nt.Name, "norm.weight"):
			std = -1 // ones
		case strings.HasSuffix(nt.Name, ".bias"):
			std = 0.02
		case strings.HasSuffix(nt.Name, "o_proj.weight"), strings.HasSuffix(nt.Name, "down_proj.weight"):
			std = resid
		}
		ts = append(ts, checkpoint.Tensor{Name: nt.Name, Shape: nt.Shape, DType: "BF16", Fill: filler(seed, uint64(i), std)})
		n := int64(2)
		for _, d := range nt.Shape {
			n *= int64(d)
		}
		bytes += n
	}
	fmt.Printf("%s: %s, %d parameters, %.2f GB bf16 -> %s\n", sh.hub, cfg.Describe(), cfg.NumParams(), float64(bytes)/1e9, dir)
	if err := checkpoint.WriteSharded(dir, ts, map[string]string{"format": "pt"}, hubShardBytes); err != nil {
		return err
	}
	return writeTokenizer(dir, tokDir, cfg.Vocab)
}

// filler generates tensor i's values from its own stream, so any chunk is
// produced once and in order. Uniform values of the given standard deviation
// (a normal's tails do not matter for timing or memory); std < 0 means ones.
func filler(seed, i uint64, std float64) func([]float32, int) {
	r := rand.New(rand.NewPCG(seed, i))
	a := float32(std * math.Sqrt(3))
	return func(dst []float32, _ int) {
		if std < 0 {
			for j := range dst {
				dst[j] = 1
			}
			return
		}
		for j := range dst {
			dst[j] = a * (2*r.Float32() - 1)
		}
	}
}

// writeTokenizer copies the Qwen3 tokenizer into dir. Its ids reach 151,668,
// beyond the Llama shapes' 128,256 rows, so for those the BPE vocabulary is
// cut at the first id of Llama-3's reserved special range (128,000), merges
// that need a dropped token go, and the special tokens are renumbered from
// 128,000 up. Text then still tokenizes (into a few more, shorter tokens),
// with the chat template's special tokens intact.
func writeTokenizer(dir, tokDir string, vocab int) error {
	src := filepath.Join(tokDir, "tokenizer.json")
	b, err := readMaybeGzip(src)
	if err != nil {
		return fmt.Errorf("tokenizer: %w (pass -tokenizer DIR holding the Qwen3 tokenizer.json[.gz] and tokenizer_config.json)", err)
	}
	cb, err := os.ReadFile(filepath.Join(tokDir, "tokenizer_config.json"))
	if err != nil {
		return fmt.Errorf("tokenizer: %w", err)
	}
	var tok map[string]any
	if err := json.Unmarshal(b, &tok); err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	added, _ := tok["added_tokens"].([]any)
	maxID := 0
	for _, a := range added {
		maxID = max(maxID, int(a.(map[string]any)["id"].(float64)))
	}
	if maxID < vocab {
		if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), b, 0o644); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), cb, 0o644)
	}
	const cut = 128000
	if cut+len(added) > vocab {
		return fmt.Errorf("%s: %d special tokens do not fit above id %d in vocab %d", src, len(added), cut, vocab)
	}
	mdl, _ := tok["model"].(map[string]any)
	if err := tokenizer.CutBPEVocab(mdl, cut); err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	renum := map[string]int{} // old id -> new
	for i, a := range added {
		t := a.(map[string]any)
		renum[fmt.Sprint(int(t["id"].(float64)))] = cut + i
		t["id"] = cut + i
	}
	var cfg map[string]any
	if err := json.Unmarshal(cb, &cfg); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(tokDir, "tokenizer_config.json"), err)
	}
	if dec, ok := cfg["added_tokens_decoder"].(map[string]any); ok {
		nd := map[string]any{}
		for k, v := range dec {
			if n, ok := renum[k]; ok {
				k = fmt.Sprint(n)
			}
			nd[k] = v
		}
		cfg["added_tokens_decoder"] = nd
	}
	if err := checkpoint.WriteJSON(filepath.Join(dir, "tokenizer.json"), tok); err != nil {
		return err
	}
	return checkpoint.WriteJSON(filepath.Join(dir, "tokenizer_config.json"), cfg)
}

// writeData writes the benchmark's inputs into out: sft.jsonl (one user turn
// and an assistant reply of about rowTokens tokens together), pairs.jsonl
// (prompt of rowTokens/4, chosen and rejected of 3·rowTokens/4 each: every
// sequence of a pair about rowTokens long) and prompts.jsonl (rowTokens/4).
// English-like words, nearly all one token each.
func writeData(out string, rows, rowTokens int, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, 0xda7a))
	words := strings.Fields(`the of and to in is that it was for on as with he be at by this had not are but from
		or have an they which one you were her all she there would their we him been has when who will more no if out so
		said what up its about into than them can only other new some could time these two may then do first any my now
		such like our over man me even most made after also did many before must through back years where much your way
		well down should because each just those people how too little state good very make world still own see men work
		long get here between both life being under never day same another know while last might us great old year off
		come since against go came right used take three whale ship sea captain harpoon deck voyage ocean wind sail`)
	text := func(tokens int) string {
		var sb strings.Builder
		for i := 0; i < tokens*24/25; i++ {
			if i > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteString(words[r.IntN(len(words))])
		}
		return sb.String() + "."
	}
	type msg struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	files := map[string]func() any{
		"sft.jsonl": func() any {
			return map[string]any{"messages": []msg{{"user", text(rowTokens / 4)}, {"assistant", text(rowTokens * 3 / 4)}}}
		},
		"pairs.jsonl": func() any {
			return map[string]any{"prompt": text(rowTokens / 4), "chosen": text(rowTokens * 3 / 4), "rejected": text(rowTokens * 3 / 4)}
		},
		"prompts.jsonl": func() any { return map[string]any{"prompt": text(rowTokens / 4)} },
	}
	for _, name := range []string{"sft.jsonl", "pairs.jsonl", "prompts.jsonl"} {
		var sb strings.Builder
		for i := 0; i < rows; i++ {
			line, err := json.Marshal(files[name]())
			if err != nil {
				return err
			}
			sb.Write(line)
			sb.WriteByte('\n')
		}
		if err := os.WriteFile(filepath.Join(out, name), []byte(sb.String()), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// readMaybeGzip reads path, or path.gz decompressed (the repository keeps
// its tokenizer copies gzipped; the Hub ships them plain).
func readMaybeGzip(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil || !os.IsNotExist(err) {
		return b, err
	}
	f, err := os.Open(path + ".gz")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s.gz: %w", path, err)
	}
	return io.ReadAll(zr)
}
