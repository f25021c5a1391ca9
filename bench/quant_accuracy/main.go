// Command quant_accuracy measures what compact frozen weights cost in
// accuracy: it scores conversations with a model loaded in f32 and with each
// load dtype (--torch-dtype bfloat16/float16, --load-in-8bit, --load-in-4bit
// nf4/fp4, with and without double quantisation, and 8/4-bit with the LM
// head quantised too: --quantize-lm-head) and prints, per dtype, the
// mean and largest |Δ log p| of every scored token against f32, the mean
// change of the per-token NLL, how often the greedy next token agrees, and
// the memory of the block Linear weights. The last rows are scored by
// batch-1 decoding, one token at a time through the KV cache, against f32
// decoded the same way: --int8-activations acts only there.
//
//	go run ./bench/quant_accuracy -model runs/quickstart/sft -data runs/quickstart/data/eval_prompts.jsonl
//
// Rows are {"messages": [...]} or {"prompt": [...messages], "answer": STR}
// (the quickstart's eval prompts: the answer becomes the assistant turn).
// Every token of the rendered conversation after the first is scored.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"

	"github.com/align-go/align/chat"
	"github.com/align-go/align/model"
	"github.com/align-go/align/tokenizer"
)

func main() {
	dir := flag.String("model", "", "HF model directory (with its tokenizer)")
	data := flag.String("data", "", "JSONL of conversations")
	rows := flag.Int("rows", 64, "rows scored")
	flag.Parse()
	if err := run(*dir, *data, *rows); err != nil {
		fmt.Fprintln(os.Stderr, "quant_accuracy:", err)
		os.Exit(1)
	}
}

func readRows(path string, tok *tokenizer.Tokenizer, n int) ([][]int32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	var out [][]int32
	for line := 1; sc.Scan() && len(out) < n; line++ {
		var r struct {
			Messages []chat.Message `json:"messages"`
			Prompt   []chat.Message `json:"prompt"`
			Answer   string         `json:"answer"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		msgs := r.Messages
		if msgs == nil {
			msgs = append(r.Prompt, chat.Message{Role: "assistant", Content: r.Answer})
		}
		ids, _, err := tok.EncodeChat(msgs, tokenizer.ChatOptions{})
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		row := make([]int32, len(ids))
		for i, id := range ids {
			row[i] = int32(id)
		}
		out = append(out, row)
	}
	return out, sc.Err()
}

// score returns every row's log-softmax rows at the scored positions:
// from one forward pass over each row, or, with decode, from batch-1
// decoding one token at a time through the KV cache (the path
// --int8-activations changes).
func score(m *model.Model, rows [][]int32, decode bool) ([][]float64, error) {
	V := m.Cfg.Vocab
	var out [][]float64
	for _, ids := range rows {
		T := min(len(ids), m.Cfg.MaxPos)
		var lg []float32
		if decode {
			c, err := model.NewKVCache(m.Cfg, 1, T)
			if err != nil {
				return nil, err
			}
			for _, id := range ids[:T-1] {
				l, err := m.ForwardCached(c, nil, []int32{id}, nil, 1, false)
				if err != nil {
					return nil, err
				}
				lg = append(lg, l...)
			}
		} else {
			var err error
			if lg, _, err = m.Forward(model.Batch{B: 1, T: T, IDs: ids[:T]}, true); err != nil {
				return nil, err
			}
		}
		for i := 0; i < T-1; i++ {
			row := lg[i*V : (i+1)*V]
			mx := math.Inf(-1)
			for _, v := range row {
				mx = math.Max(mx, float64(v))
			}
			var s float64
			for _, v := range row {
				s += math.Exp(float64(v) - mx)
			}
			ls := make([]float64, V+1)
			for j, v := range row {
				ls[j] = float64(v) - mx - math.Log(s)
			}
			ls[V] = float64(ids[i+1]) // the target, carried along
			out = append(out, ls)
		}
	}
	return out, nil
}

func run(dir, data string, n int) error {
	tok, err := tokenizer.Load(dir)
	if err != nil {
		return err
	}
	rows, err := readRows(data, tok, n)
	if err != nil {
		return err
	}
	ref, err := model.LoadDir(dir)
	if err != nil {
		return err
	}
	want, err := score(ref, rows, false)
	if err != nil {
		return err
	}
	wantDec, err := score(ref, rows, true)
	if err != nil {
		return err
	}
	var linear int64
	for _, p := range ref.Params {
		if _, _, ok := blockLinear(p.Name); ok {
			linear += int64(p.Size) * 4
		}
	}
	fmt.Printf("%s: %s; %d rows, %d scored tokens\n", dir, ref.Cfg.Describe(), len(rows), len(want))
	fmt.Printf("%-34s %12s %12s %14s %10s %12s\n", "load", "mean|Δlogp|", "max|Δlogp|", "ΔNLL/token", "argmax=", "Linear MB")
	fmt.Printf("%-34s %12s %12s %14s %10s %12.2f\n", "f32 (--torch-dtype float32)", "0", "0", "0", "100%", float64(linear)/1e6)
	V := ref.Cfg.Vocab
	for _, c := range []struct {
		name   string
		opt    model.LoadOptions
		decode bool // scored by batch-1 decoding, against f32 decoding
	}{
		{"--torch-dtype bfloat16", model.LoadOptions{WeightDType: "bf16"}, false},
		{"--torch-dtype float16", model.LoadOptions{WeightDType: "f16"}, false},
		{"--load-in-8bit", model.LoadOptions{WeightDType: "int8"}, false},
		{"--load-in-4bit (nf4)", model.LoadOptions{WeightDType: "nf4"}, false},
		{"--load-in-4bit (nf4) double-quant", model.LoadOptions{WeightDType: "nf4", DoubleQuant: true}, false},
		{"--load-in-4bit (fp4)", model.LoadOptions{WeightDType: "fp4"}, false},
		{"--load-in-8bit --quantize-lm-head", model.LoadOptions{WeightDType: "int8", QuantizeLMHead: true}, false},
		{"--load-in-4bit --quantize-lm-head", model.LoadOptions{WeightDType: "nf4", QuantizeLMHead: true}, false},
		// Decoded one token at a time (f32 decoded likewise is the
		// reference): --int8-activations acts only there.
		{"--load-in-8bit, decoded", model.LoadOptions{WeightDType: "int8"}, true},
		{"--load-in-8bit --int8-activations", model.LoadOptions{WeightDType: "int8", Int8Activations: true}, true},
		{"8bit --int8-act. --quantize-lm-head", model.LoadOptions{WeightDType: "int8", Int8Activations: true, QuantizeLMHead: true}, true},
	} {
		m, _, err := model.LoadDirOpts(dir, c.opt)
		if err != nil {
			return err
		}
		got, err := score(m, rows, c.decode)
		if err != nil {
			return err
		}
		want := want
		if c.decode {
			want = wantDec
		}
		var sum, worst, dnll float64
		agree, cnt := 0, 0
		for k := range got {
			g, w := got[k], want[k]
			ga, wa := 0, 0
			for j := 0; j < V; j++ {
				d := math.Abs(g[j] - w[j])
				sum += d
				worst = math.Max(worst, d)
				cnt++
				if g[j] > g[ga] {
					ga = j
				}
				if w[j] > w[wa] {
					wa = j
				}
			}
			if ga == wa {
				agree++
			}
			t := int(w[V])
			dnll += -g[t] + w[t]
		}
		fmt.Printf("%-34s %12.3g %12.3g %+14.3g %9.1f%% %12.2f\n", c.name, sum/float64(cnt), worst, dnll/float64(len(got)),
			100*float64(agree)/float64(len(got)), float64(m.CompactBytes())/1e6)
	}
	return nil
}

// blockLinear reports a transformer block's Linear weight by canonical name.
func blockLinear(name string) (int, string, bool) {
	var l int
	var rest string
	if n, _ := fmt.Sscanf(name, "layers.%d.%s", &l, &rest); n != 2 {
		return 0, "", false
	}
	switch rest {
	case "q.weight", "k.weight", "v.weight", "o.weight", "fc.weight", "gate.weight", "up.weight", "down.weight":
		return l, rest, true
	}
	return 0, "", false
}
