package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/align-go/align/data"
	"github.com/align-go/align/generate"
	"github.com/align-go/align/loss"
	"github.com/align-go/align/model"
	"github.com/align-go/align/pref"
	"github.com/align-go/align/quickstart"
	"github.com/align-go/align/tokenizer"
	"github.com/align-go/align/train"
	"github.com/spf13/cobra"
)

// preset sizes one quickstart run.
type preset struct {
	corpus, pairs                    int
	vocab                            int
	dim, layers, heads, kvHeads, ffn int
	pretrainSteps, sftSteps          int
	rmSteps, dpoSteps                int
	batch, seqLen                    int
	pretrainLR, sftLR, rmLR, dpoLR   float64
	samples                          int // per held-out prompt
}

var presets = map[string]preset{
	// tiny finishes in about a minute on 2 cores; a test runs it.
	"tiny": {corpus: 6000, pairs: 400, vocab: 400, dim: 96, layers: 3, heads: 4, kvHeads: 2, ffn: 256,
		pretrainSteps: 1200, sftSteps: 300, rmSteps: 300, dpoSteps: 80, batch: 16, seqLen: 64,
		pretrainLR: 3e-3, sftLR: 1e-3, rmLR: 1e-3, dpoLR: 5e-5, samples: 8},
	"small": {corpus: 20000, pairs: 2000, vocab: 1000, dim: 128, layers: 4, heads: 4, kvHeads: 2, ffn: 384,
		pretrainSteps: 1000, sftSteps: 500, rmSteps: 400, dpoSteps: 300, batch: 16, seqLen: 128,
		pretrainLR: 2e-3, sftLR: 5e-4, rmLR: 5e-4, dpoLR: 2e-4, samples: 8},
}

func init() {
	var out, presetName string
	var seed uint64
	cmd := &cobra.Command{
		Use:   "quickstart [--out DIR] [--preset tiny|small]",
		Short: "Run the whole pipeline on a small generated task: tokenizer, pretrain, SFT, reward model, DPO",
		Long: `Generates a small task in code (questions about sums; helpful answers are full sentences,
unhelpful ones curt and rude; SFT demonstrations mix both), then trains a tokenizer, pretrains
a small base model, fine-tunes it (SFT), trains a reward model on preference pairs and runs
DPO. It ends with a table, one row per stage: the reward model's mean score of the stage's
samples on held-out prompts, the share of helpful answers, the reward model's held-out
accuracy, the mean response length, and where the stage's outputs are.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, ok := presets[presetName]
			if !ok {
				return fmt.Errorf("--preset: %q (want tiny or small)", presetName)
			}
			return runQuickstart(cmd.Context(), out, p, seed, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&out, "out", "quickstart-out", "directory for every stage's data, models and logs (its stage subdirectories are replaced on each run)")
	cmd.Flags().StringVar(&presetName, "preset", "tiny", "size: tiny (about a minute on 2 cores) or small (about two minutes; larger model, clearer gains)")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed for the task, initialisation and sampling")
	rootCmd.AddCommand(cmd)
}

// stageRow is one line of the final table.
type stageRow struct {
	stage, where string
	reward       float64 // mean reward-model score of held-out samples (NaN: not applicable)
	helpful      float64 // share of samples in the helpful form
	correct      float64 // share of samples that are exactly the right answer
	accuracy     float64 // reward model's held-out pairwise accuracy
	length       float64 // mean response length in tokens
	hasSamples   bool
	hasAccuracy  bool
	took         time.Duration
}

func runQuickstart(ctx context.Context, out string, p preset, seed uint64, stdout, stderr io.Writer) error {
	start := time.Now()
	dirs := map[string]string{}
	for _, d := range []string{"data", "tokenizer", "base", "sft", "rm", "dpo", "logs"} {
		dirs[d] = filepath.Join(out, d)
		// Each run starts afresh: an earlier (possibly interrupted) run's stage
		// directories, and only those, are replaced.
		if err := os.RemoveAll(dirs[d]); err != nil {
			return err
		}
		if err := os.MkdirAll(dirs[d], 0o755); err != nil {
			return err
		}
	}
	task := quickstart.Generate(seed, p.corpus, p.pairs)
	files, err := writeTask(dirs["data"], task)
	if err != nil {
		return err
	}
	step := func(name string, f func(log io.Writer) error) (time.Duration, error) {
		t0 := time.Now()
		fmt.Fprintf(stderr, "quickstart: %-9s ", name)
		logf, err := os.Create(filepath.Join(dirs["logs"], name+".log"))
		if err != nil {
			return 0, err
		}
		defer logf.Close()
		if err := f(logf); err != nil {
			fmt.Fprintln(stderr, "failed")
			return 0, fmt.Errorf("%s stage: %w (log: %s)", name, err, logf.Name())
		}
		d := time.Since(t0)
		fmt.Fprintf(stderr, "done in %s\n", d.Round(100*time.Millisecond))
		return d, nil
	}
	settings := func(dir string, steps int, lr float64) train.Settings {
		s := train.DefaultSettings()
		s.Out, s.MaxSteps, s.LR, s.Seed = dir, steps, lr, seed
		s.BatchSize, s.LoggingSteps, s.SaveSteps = p.batch, max(steps/10, 1), 0
		s.LRScheduler, s.WarmupSteps, s.WarmupRatio = "cosine", max(steps/20, 1), 0
		return s
	}
	run := func(ctx context.Context, job *train.Job, err error) error {
		if err != nil {
			return err
		}
		_, err = train.Run(ctx, job)
		return err
	}
	var took [5]time.Duration

	if took[0], err = step("tokenizer", func(log io.Writer) error {
		tr, err := tokenizer.NewTrainer(tokenizer.TrainOptions{VocabSize: p.vocab,
			SpecialTokens: []string{"<|endoftext|>", "<|im_start|>", "<|im_end|>"}})
		if err != nil {
			return err
		}
		if err := tr.AddFile(files["corpus"]); err != nil {
			return err
		}
		tok, err := tr.Train()
		if err != nil {
			return err
		}
		return tok.SaveAll(dirs["tokenizer"])
	}); err != nil {
		return err
	}
	tok, err := tokenizer.Load(dirs["tokenizer"])
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(dirs["data"], "base_config.json")
	cfgJSON, _ := json.MarshalIndent(map[string]any{"model_type": "llama", "vocab_size": tok.VocabSize(),
		"hidden_size": p.dim, "num_hidden_layers": p.layers, "num_attention_heads": p.heads,
		"num_key_value_heads": p.kvHeads, "intermediate_size": p.ffn, "max_position_embeddings": 2 * p.seqLen,
		"tie_word_embeddings": true, "eos_token_id": tok.EOS(), "pad_token_id": tok.PAD()}, "", "  ")
	if err := os.WriteFile(cfgPath, cfgJSON, 0o644); err != nil {
		return err
	}
	if took[1], err = step("pretrain", func(log io.Writer) error {
		o := pretrainOpts{modelConfig: cfgPath, tokenizer: dirs["tokenizer"], text: []string{files["corpus"]},
			seqLen: p.seqLen, dtype: "F32"}
		job, err := o.job(settings(dirs["base"], p.pretrainSteps, p.pretrainLR), log)
		return run(ctx, job, err)
	}); err != nil {
		return err
	}
	if took[2], err = step("sft", func(log io.Writer) error {
		o := sftOpts{model: dirs["base"], data: []string{files["sft"]}, lossOn: "completion", truncation: "right",
			maxLength: p.seqLen, dtype: "F32", lora: &loraFlags{}}
		job, err := o.job(settings(dirs["sft"], p.sftSteps, p.sftLR), log)
		return run(ctx, job, err)
	}); err != nil {
		return err
	}
	if took[3], err = step("rm", func(log io.Writer) error {
		o := rmOpts{prefData: prefData{model: dirs["sft"], data: files["prefs"], evalData: files["eval_prefs"],
			maxLength: p.seqLen, dtype: "F32"}, lora: &loraFlags{}}
		job, err := o.job(settings(dirs["rm"], p.rmSteps, p.rmLR), log)
		return run(ctx, job, err)
	}); err != nil {
		return err
	}
	if took[4], err = step("dpo", func(log io.Writer) error {
		o := dpoOpts{prefData: prefData{model: dirs["sft"], data: files["prefs"], evalData: files["eval_prefs"],
			maxLength: p.seqLen, dtype: "F32"}, cfg: loss.DPOConfig{LossType: "sigmoid", Beta: 0.1, RPOAlpha: 1}, lora: &loraFlags{}}
		job, err := o.job(settings(dirs["dpo"], p.dpoSteps, p.dpoLR), log)
		return run(ctx, job, err)
	}); err != nil {
		return err
	}

	fmt.Fprintf(stderr, "quickstart: %-9s ", "eval")
	scorer, err := pref.LoadScorer(dirs["rm"], "")
	if err != nil {
		return err
	}
	rows := []stageRow{}
	for i, st := range []string{"base", "sft"} {
		r, err := evalStage(st, dirs[st], task, tok, scorer, p, seed)
		if err != nil {
			return err
		}
		r.took = took[i+1]
		rows = append(rows, r)
	}
	acc, err := heldOutAccuracy(scorer, task)
	if err != nil {
		return err
	}
	rows = append(rows, stageRow{stage: "rm", where: dirs["rm"], accuracy: acc, hasAccuracy: true, took: took[3]})
	r, err := evalStage("dpo", dirs["dpo"], task, tok, scorer, p, seed)
	if err != nil {
		return err
	}
	r.took = took[4]
	rows = append(rows, r)
	fmt.Fprintln(stderr, "done")
	if err := writeSummary(filepath.Join(out, "summary.json"), rows); err != nil {
		return err
	}
	printTable(stdout, rows)
	fmt.Fprintf(stdout, "\ntask data in %s, tokenizer in %s, logs in %s, table in %s;\n%d held-out prompts x %d samples at temperature 1; total %s\n",
		dirs["data"], dirs["tokenizer"], dirs["logs"], filepath.Join(out, "summary.json"), len(task.EvalPrompts), p.samples,
		time.Since(start).Round(time.Second))
	return nil
}

func writeTask(dir string, t quickstart.Task) (map[string]string, error) {
	files := map[string]string{}
	files["corpus"] = filepath.Join(dir, "corpus.txt")
	if err := os.WriteFile(files["corpus"], []byte(t.Corpus), 0o644); err != nil {
		return nil, err
	}
	user := func(s string) []data.Message { return []data.Message{{Role: "user", Content: s}} }
	asst := func(s string) []data.Message { return []data.Message{{Role: "assistant", Content: s}} }
	write := func(name string, n int, row func(i int) any) error {
		files[name] = filepath.Join(dir, name+".jsonl")
		var b strings.Builder
		for i := 0; i < n; i++ {
			j, err := json.Marshal(row(i))
			if err != nil {
				return err
			}
			b.Write(j)
			b.WriteByte('\n')
		}
		return os.WriteFile(files[name], []byte(b.String()), 0o644)
	}
	pairRow := func(p quickstart.Pair) any {
		return map[string]any{"prompt": user(p.Prompt), "chosen": asst(p.Chosen), "rejected": asst(p.Rejected)}
	}
	for _, err := range []error{
		write("sft", len(t.SFT), func(i int) any {
			return map[string]any{"messages": append(user(t.SFT[i].Prompt), asst(t.SFT[i].Chosen)...)}
		}),
		write("prefs", len(t.Prefs), func(i int) any { return pairRow(t.Prefs[i]) }),
		write("eval_prefs", len(t.EvalPrefs), func(i int) any { return pairRow(t.EvalPrefs[i]) }),
		write("eval_prompts", len(t.EvalPrompts), func(i int) any { return map[string]any{"prompt": t.EvalPrompts[i]} }),
	} {
		if err != nil {
			return nil, err
		}
	}
	return files, nil
}

// evalStage samples the stage's model on the held-out prompts (chat template,
// temperature 1) and scores the samples with the reward model.
func evalStage(stage, dir string, t quickstart.Task, tok *tokenizer.Tokenizer, sc *pref.Scorer, p preset, seed uint64) (stageRow, error) {
	m, err := model.LoadDir(dir)
	if err != nil {
		return stageRow{}, err
	}
	var prompts [][]int32
	for _, q := range t.EvalPrompts {
		text, err := tok.RenderChat([]tokenizer.Message{{Role: "user", Content: q}}, true)
		if err != nil {
			return stageRow{}, err
		}
		prompts = append(prompts, toInt32s(tok.Encode(text)))
	}
	cs, err := generate.Generate(m, prompts, generate.Options{Sampling: generate.Sampling{Temperature: 1},
		MaxNewTokens: p.seqLen / 2, N: p.samples, Seed: seed, EOS: []int32{int32(tok.EOS())},
		Decode: func(ids []int32) string { return tok.Decode(toInts(ids)) }})
	if err != nil {
		return stageRow{}, err
	}
	var ps, rs [][]data.Message
	r := stageRow{stage: stage, where: dir, hasSamples: true}
	for _, c := range cs {
		q := t.EvalPrompts[c.Prompt]
		ps = append(ps, []data.Message{{Role: "user", Content: q}})
		rs = append(rs, []data.Message{{Role: "assistant", Content: c.Text}})
		if quickstart.IsHelpful(c.Text) {
			r.helpful++
		}
		if quickstart.IsCorrect(q, c.Text) {
			r.correct++
		}
		r.length += float64(len(c.Tokens))
	}
	scores, err := sc.ScoreChats(ps, rs)
	if err != nil {
		return stageRow{}, err
	}
	for _, s := range scores {
		r.reward += s
	}
	n := float64(len(cs))
	r.reward, r.helpful, r.correct, r.length = r.reward/n, r.helpful/n, r.correct/n, r.length/n
	return r, nil
}

func heldOutAccuracy(sc *pref.Scorer, t quickstart.Task) (float64, error) {
	var ps, cs, rs [][]data.Message
	for _, p := range t.EvalPrefs {
		ps = append(ps, []data.Message{{Role: "user", Content: p.Prompt}})
		cs = append(cs, []data.Message{{Role: "assistant", Content: p.Chosen}})
		rs = append(rs, []data.Message{{Role: "assistant", Content: p.Rejected}})
	}
	c, err := sc.ScoreChats(ps, cs)
	if err != nil {
		return 0, err
	}
	r, err := sc.ScoreChats(ps, rs)
	if err != nil {
		return 0, err
	}
	right := 0
	for i := range c {
		if c[i] > r[i] {
			right++
		}
	}
	return float64(right) / float64(len(c)), nil
}

// writeSummary saves the table as JSON (one object per stage) for scripts.
func writeSummary(path string, rows []stageRow) error {
	var out []map[string]any
	for _, r := range rows {
		o := map[string]any{"stage": r.stage, "outputs": r.where, "seconds": r.took.Seconds()}
		if r.hasSamples {
			o["reward"], o["helpful"], o["correct"], o["mean_length"] = r.reward, r.helpful, r.correct, r.length
		}
		if r.hasAccuracy {
			o["reward_accuracy"] = r.accuracy
		}
		out = append(out, o)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func printTable(w io.Writer, rows []stageRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "stage\theld-out reward\thelpful\tcorrect\treward acc\tmean length\ttime\toutputs")
	dash := "-"
	for _, r := range rows {
		reward, helpful, correct, length, acc := dash, dash, dash, dash, dash
		if r.hasSamples {
			reward = fmt.Sprintf("%+.3f", r.reward)
			helpful = fmt.Sprintf("%.0f%%", 100*r.helpful)
			correct = fmt.Sprintf("%.0f%%", 100*r.correct)
			length = fmt.Sprintf("%.1f", r.length)
		}
		if r.hasAccuracy {
			acc = fmt.Sprintf("%.0f%%", 100*r.accuracy)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.stage, reward, helpful, correct, acc, length, r.took.Round(100*time.Millisecond), r.where)
	}
	tw.Flush()
}
