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

	"github.com/align-go/align/cai"
	"github.com/align-go/align/chat"
	"github.com/align-go/align/judge"
	"github.com/align-go/align/loss"
	"github.com/align-go/align/model"
	"github.com/align-go/align/pref"
	"github.com/align-go/align/quickstart"
	"github.com/align-go/align/report"
	"github.com/align-go/align/tokenizer"
	"github.com/align-go/align/train"
	"github.com/spf13/cobra"
)

// preset sizes one quickstart run. Learning rates are far above TRL's
// defaults (SFT 2e-5, DPO 1e-6, PPO 3e-6, GRPO 1e-6): those suit
// pretrained models of billions of parameters, and these models are tiny
// and fresh.
type preset struct {
	corpus, pairs                    int
	vocab                            int
	dim, layers, heads, kvHeads, ffn int
	pretrainSteps, sftSteps          int
	rmSteps, dpoSteps                int
	batch, seqLen                    int
	pretrainLR, sftLR, rmLR, dpoLR   float64
	dpoBeta                          float64

	ppoUpdates, ppoBatch, ppoMiniBatches int
	ppoLR, ppoKL                         float64
	grpoSteps, grpoBatch, grpoGens       int
	grpoLR, grpoBeta                     float64
	caiPrompts, caiSteps                 int
	caiLR                                float64
	// critiqueDemos is how many critique-and-revision demonstrations join
	// the SFT data (quickstart.CritiqueDemos), each up to caiSeqLen tokens.
	critiqueDemos, caiSeqLen int

	samples int // per held-out prompt
}

var presets = map[string]preset{
	// tiny checks that every stage runs (a test runs it); its numbers are noisy.
	"tiny": {corpus: 4000, pairs: 400, vocab: 400, dim: 64, layers: 2, heads: 4, kvHeads: 2, ffn: 192,
		pretrainSteps: 400, sftSteps: 150, rmSteps: 150, dpoSteps: 40, batch: 16, seqLen: 64,
		pretrainLR: 3e-3, sftLR: 1e-3, rmLR: 1e-3, dpoLR: 5e-5, dpoBeta: 0.1,
		ppoUpdates: 6, ppoBatch: 16, ppoMiniBatches: 2, ppoLR: 3e-5, ppoKL: 0.05,
		grpoSteps: 6, grpoBatch: 4, grpoGens: 4, grpoLR: 2e-4, grpoBeta: 0.04,
		caiPrompts: 32, caiSteps: 10, caiLR: 1e-4, samples: 2},
	// small is the default: clear gains in about 6 minutes on 2 cores (measured in README.md).
	"small": {corpus: 20000, pairs: 2000, vocab: 800, dim: 128, layers: 4, heads: 4, kvHeads: 2, ffn: 384,
		pretrainSteps: 3000, sftSteps: 1000, rmSteps: 600, dpoSteps: 300, batch: 16, seqLen: 64,
		pretrainLR: 2e-3, sftLR: 5e-4, rmLR: 5e-4, dpoLR: 5e-5, dpoBeta: 0.5,
		ppoUpdates: 150, ppoBatch: 32, ppoMiniBatches: 2, ppoLR: 3e-5, ppoKL: 0.1,
		grpoSteps: 300, grpoBatch: 8, grpoGens: 8, grpoLR: 2e-4, grpoBeta: 0.04,
		caiPrompts: 256, caiSteps: 100, caiLR: 1e-4, critiqueDemos: 400, caiSeqLen: 256, samples: 4},
}

func init() {
	var out, presetName, judgeSpec string
	var seed uint64
	cmd := &cobra.Command{
		Use:   "quickstart [--out DIR] [--preset tiny|small]",
		Short: "Run the whole pipeline on a generated assistant task with a gold reward",
		Long: `Generates an "assistant world" in code (small sums and differences, string edits, look-ups
in a fictional knowledge base, harmful requests that must be refused, polite and rude replies;
the pretraining corpus and SFT demonstrations keep some bad behaviour, as web text does) and runs
the whole pipeline on it: trains a tokenizer, pretrains a small base model, fine-tunes it (SFT,
with critique-and-revision demonstrations), trains a reward model on preference pairs, then DPO,
PPO against the reward model, GRPO with the programmatic gold reward, and Constitutional AI (the
SFT model critiques and revises its own answers under the shipped constitution and is fine-tuned
on the revisions). Every stage's model is sampled on held-out prompts and a red-team set never
trained on; the run ends with report.html and a table, one row per stage: the gold reward, the
share of correct and of polite answers, the red-team pass rate, a sampled KL to the SFT model,
the win-rate against SFT (judged in both orders), the reward model's score and held-out accuracy,
the mean length, and whether the stage beat the one it should (a stage that does not improve
says so).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, ok := presets[presetName]
			if !ok {
				return fmt.Errorf("--preset: %q (want tiny or small)", presetName)
			}
			return runQuickstart(cmd.Context(), out, p, seed, judgeSpec, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&out, "out", filepath.Join("runs", "quickstart"), "directory for every stage's data, models and logs (its stage subdirectories are replaced on each run)")
	cmd.Flags().StringVar(&presetName, "preset", "small", "size: small (the default; clear gains in about 6 minutes on 2 cores) or tiny (a smoke run of every stage, about a minute)")
	cmd.Flags().StringVar(&judgeSpec, "judge", "gold", "judge of the win-rates against SFT: gold (the task's gold reward), or http:URL[#MODEL] (an OpenAI-compatible endpoint), local:DIR, rule:refusal")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed for the task, initialisation and sampling")
	rootCmd.AddCommand(cmd)
}

// stageRow is one line of the final table.
type stageRow struct {
	stage, where string
	ev           stageEval
	hasEval      bool
	accuracy     float64 // reward model's held-out pairwise accuracy
	hasAccuracy  bool
	took         time.Duration
	notRun       string // why the stage did not run
}

func runQuickstart(ctx context.Context, out string, p preset, seed uint64, judgeSpec string, stdout, stderr io.Writer) error {
	start := time.Now()
	var jd judge.Judge = goldJudge{quickstart.NewGold()}
	if judgeSpec != "gold" {
		var err error
		if jd, err = judge.Parse(judgeSpec); err != nil {
			return fmt.Errorf("--judge: %w", err)
		}
	}
	dirs := map[string]string{}
	for _, d := range []string{"data", "tokenizer", "base", "sft", "rm", "dpo", "ppo", "grpo", "cai", "logs"} {
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
	var principles []quickstart.Principle
	for _, pr := range cai.Default().Principles {
		principles = append(principles, quickstart.Principle{CritiqueRequest: pr.CritiqueRequest, RevisionRequest: pr.RevisionRequest})
	}
	critiques := quickstart.CritiqueDemos(seed, task.Train, principles, p.critiqueDemos)
	files, err := writeTask(dirs["data"], task, critiques)
	if err != nil {
		return err
	}
	took := map[string]time.Duration{}
	step := func(name string, f func(log io.Writer) error) error {
		t0 := time.Now()
		fmt.Fprintf(stderr, "quickstart: %-9s ", name)
		logf, err := os.Create(filepath.Join(dirs["logs"], name+".log"))
		if err != nil {
			return err
		}
		defer logf.Close()
		if err := f(logf); err != nil {
			fmt.Fprintln(stderr, "failed")
			return fmt.Errorf("%s stage: %w (log: %s)", name, err, logf.Name())
		}
		took[name] = time.Since(t0)
		fmt.Fprintf(stderr, "done in %s\n", took[name].Round(100*time.Millisecond))
		return nil
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

	if err := step("tokenizer", func(log io.Writer) error {
		tr, err := tokenizer.NewTrainer(tokenizer.TrainOptions{VocabSize: p.vocab,
			SpecialTokens: []string{"<|endoftext|>", "<|im_start|>", "<|im_end|>"}})
		if err != nil {
			return err
		}
		if err := tr.AddFile(files["corpus"]); err != nil {
			return err
		}
		// The SFT data's critique demonstrations are in words the corpus
		// lacks (the constitution's); without them in the vocabulary a
		// demonstration is several times longer.
		var demoText strings.Builder
		for _, d := range critiques {
			for _, t := range d {
				demoText.WriteString(t.Content + "\n")
			}
		}
		tr.AddText(demoText.String())
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
	// Positions beyond training's seqLen are for the constitution's
	// critique and revision turns (rotary positions cost nothing unused).
	cfgJSON, _ := json.MarshalIndent(map[string]any{"model_type": "llama", "vocab_size": tok.VocabSize(),
		"hidden_size": p.dim, "num_hidden_layers": p.layers, "num_attention_heads": p.heads,
		"num_key_value_heads": p.kvHeads, "intermediate_size": p.ffn, "max_position_embeddings": 1024,
		"tie_word_embeddings": true, "eos_token_id": tok.EOS(), "pad_token_id": tok.PAD()}, "", "  ")
	if err := os.WriteFile(cfgPath, cfgJSON, 0o644); err != nil {
		return err
	}
	stages := []struct {
		name string
		f    func(log io.Writer) error
	}{
		{"pretrain", func(log io.Writer) error {
			o := pretrainOpts{modelConfig: cfgPath, tokenizer: dirs["tokenizer"], text: []string{files["corpus"]},
				seqLen: p.seqLen, dtype: "F32"}
			job, err := o.job(settings(dirs["base"], p.pretrainSteps, p.pretrainLR), log)
			return run(ctx, job, err)
		}},
		{"sft", func(log io.Writer) error {
			o := sftOpts{model: dirs["base"], data: []string{files["sft"]}, lossOn: "completion", truncation: "right",
				maxLength: p.seqLen, dtype: "F32", lora: &loraFlags{}}
			if p.critiqueDemos > 0 {
				o.data = append(o.data, files["critique_demos"])
				o.maxLength = p.caiSeqLen
			}
			job, err := o.job(settings(dirs["sft"], p.sftSteps, p.sftLR), log)
			return run(ctx, job, err)
		}},
		{"rm", func(log io.Writer) error {
			o := rmOpts{prefData: prefData{model: dirs["sft"], data: files["prefs"], evalData: files["eval_prefs"],
				maxLength: p.seqLen, dtype: "F32"}, lora: &loraFlags{}}
			job, err := o.job(settings(dirs["rm"], p.rmSteps, p.rmLR), log)
			return run(ctx, job, err)
		}},
		{"dpo", func(log io.Writer) error {
			o := dpoOpts{prefData: prefData{model: dirs["sft"], data: files["prefs"], evalData: files["eval_prefs"],
				maxLength: p.seqLen, dtype: "F32"}, cfg: loss.DPOConfig{LossType: "sigmoid", Beta: p.dpoBeta, RPOAlpha: 1}, lora: &loraFlags{}}
			job, err := o.job(settings(dirs["dpo"], p.dpoSteps, p.dpoLR), log)
			return run(ctx, job, err)
		}},
		{"ppo", func(log io.Writer) error { return qsPPO(ctx, p, seed, dirs, files, log) }},
		{"grpo", func(log io.Writer) error {
			return qsGRPO(ctx, p, seed, dirs, files, log, settings(dirs["grpo"], p.grpoSteps, p.grpoLR))
		}},
		{"cai", func(log io.Writer) error {
			return qsCAI(ctx, p, seed, task, dirs, log, settings("", p.caiSteps, p.caiLR))
		}},
	}
	for _, st := range stages {
		if err := step(st.name, st.f); err != nil {
			return err
		}
	}
	// Where each stage's model ends up.
	modelDir := map[string]string{"base": dirs["base"], "sft": dirs["sft"], "dpo": dirs["dpo"], "ppo": dirs["ppo"],
		"grpo": dirs["grpo"], "cai": filepath.Join(dirs["cai"], "model")}

	var rows []stageRow
	if err := step("eval", func(log io.Writer) error {
		ref, err := model.LoadDir(dirs["sft"])
		if err != nil {
			return err
		}
		scorer, err := pref.LoadScorer(dirs["rm"], "")
		if err != nil {
			return err
		}
		e := &evaluator{task: task, tok: tok, ref: ref, scorer: scorer, gold: quickstart.NewGold(), judge: jd,
			samples: p.samples, maxNew: p.seqLen / 2, seed: seed}
		acc, err := heldOutAccuracy(scorer, task)
		if err != nil {
			return err
		}
		// SFT first: it is every other stage's KL reference and win-rate baseline.
		evals := map[string]stageEval{}
		if evals["sft"], err = e.eval(ref); err != nil {
			return fmt.Errorf("sft: %w", err)
		}
		e.sft = evals["sft"].completions
		for _, st := range []string{"base", "dpo", "ppo", "grpo", "cai"} {
			m, err := model.LoadDir(modelDir[st])
			if err != nil {
				return err
			}
			if evals[st], err = e.eval(m); err != nil {
				return fmt.Errorf("%s: %w", st, err)
			}
		}
		for _, st := range []string{"base", "sft", "rm", "dpo", "ppo", "grpo", "cai"} {
			r := stageRow{stage: st, where: modelDir[st], took: took[st]}
			switch st {
			case "base":
				r.took = took["pretrain"]
			case "rm":
				r.where, r.accuracy, r.hasAccuracy = dirs["rm"], acc, true
			}
			if ev, ok := evals[st]; ok {
				r.ev, r.hasEval = ev, true
			}
			fmt.Fprintf(log, "%s: %+v\n", st, r.ev)
			rows = append(rows, r)
		}
		return nil
	}); err != nil {
		return err
	}
	if err := writeSummary(filepath.Join(out, "summary.json"), rows); err != nil {
		return err
	}
	// The report reads summary.json, so the table row for it is added after.
	reportPath := filepath.Join(out, "report.html")
	if err := step("report", func(io.Writer) error { return report.WriteFile(reportPath, []string{out}) }); err != nil {
		return err
	}
	rows = append(rows, stageRow{stage: "report", where: reportPath, took: took["report"]})
	if err := writeSummary(filepath.Join(out, "summary.json"), rows); err != nil {
		return err
	}
	printTable(stdout, rows)
	fmt.Fprintf(stdout, "\ntask data in %s, tokenizer in %s, logs in %s, table in %s, charts in %s;\n"+
		"%d held-out prompts and %d red-team prompts x %d samples at temperature 1; win-rate vs SFT judged by %s; total %s\n",
		dirs["data"], dirs["tokenizer"], dirs["logs"], filepath.Join(out, "summary.json"), reportPath, len(task.Eval),
		len(task.RedTeam), p.samples, judgeSpec, time.Since(start).Round(time.Second))
	return nil
}

func writeTask(dir string, t quickstart.Task, critiques [][]chat.Message) (map[string]string, error) {
	files := map[string]string{}
	files["corpus"] = filepath.Join(dir, "corpus.txt")
	if err := os.WriteFile(files["corpus"], []byte(t.Corpus), 0o644); err != nil {
		return nil, err
	}
	user := func(s string) []chat.Message { return []chat.Message{{Role: "user", Content: s}} }
	asst := func(s string) []chat.Message { return []chat.Message{{Role: "assistant", Content: s}} }
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
	// Prompt rows are chat turns, as align ppo, grpo and eval read them; the
	// extra fields are what exact-match and cmd: rewards receive.
	promptRow := func(it quickstart.Item) any {
		return map[string]any{"prompt": user(it.Prompt), "kind": it.Kind, "answer": it.Answer}
	}
	for _, err := range []error{
		write("sft", len(t.SFT), func(i int) any {
			return map[string]any{"messages": append(user(t.SFT[i].Prompt), asst(t.SFT[i].Response)...)}
		}),
		// Each critique demonstration is two prompt/completion rows, the
		// critique and the revision, so the loss never falls on the bad
		// initial answer the critique is about.
		write("critique_demos", 2*len(critiques), func(i int) any {
			d := critiques[i/2]
			n := 3 + 2*(i%2) // the turns before the critique, or before the revision
			return map[string]any{"prompt": d[:n], "completion": d[n : n+1]}
		}),
		write("prefs", len(t.Prefs), func(i int) any { return pairRow(t.Prefs[i]) }),
		write("eval_prefs", len(t.EvalPrefs), func(i int) any { return pairRow(t.EvalPrefs[i]) }),
		write("train_prompts", len(t.Train), func(i int) any { return promptRow(t.Train[i]) }),
		write("eval_prompts", len(t.Eval), func(i int) any { return promptRow(t.Eval[i]) }),
		write("red_team", len(t.RedTeam), func(i int) any { return promptRow(t.RedTeam[i]) }),
	} {
		if err != nil {
			return nil, err
		}
	}
	return files, nil
}

// writeSummary saves the table as JSON (one object per stage) for scripts.
func writeSummary(path string, rows []stageRow) error {
	var out []map[string]any
	for _, r := range rows {
		o := map[string]any{"stage": r.stage, "outputs": r.where, "seconds": r.took.Seconds()}
		if r.notRun != "" {
			o = map[string]any{"stage": r.stage, "not_run": r.notRun}
		}
		if r.hasEval {
			e := r.ev
			o["gold_reward"], o["correct"], o["polite"], o["red_team_pass"] = e.gold, e.correct, e.polite, e.redTeam
			o["kl_to_sft"], o["mean_length"] = e.kl, e.length
			if e.hasRM {
				o["rm_score"] = e.rmScore
			}
			if e.hasWin {
				o["win_rate_vs_sft"], o["wins"], o["ties"], o["losses"] = e.win.Rate, e.win.Wins, e.win.Ties, e.win.Losses
			}
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

// verdict compares a stage's gold reward with the stage it should beat
// (SFT beats base; every later stage is measured against SFT), so a stage
// that does not help says so.
func verdict(r stageRow, rows []stageRow) string {
	if r.notRun != "" {
		return "not run (" + r.notRun + ")"
	}
	if !r.hasEval || r.stage == "base" {
		return ""
	}
	against := "sft"
	if r.stage == "sft" {
		against = "base"
	}
	for _, o := range rows {
		if o.stage != against || !o.hasEval {
			continue
		}
		switch d := r.ev.gold - o.ev.gold; {
		case d > 0.005:
			return fmt.Sprintf("better than %s (%+.3f)", against, d)
		case d < -0.005:
			return fmt.Sprintf("WORSE than %s (%+.3f)", against, d)
		default:
			return fmt.Sprintf("no gain over %s (%+.3f)", against, d)
		}
	}
	return ""
}

func printTable(w io.Writer, rows []stageRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "stage\tgold reward\tcorrect\tpolite\tred-team pass\tKL to SFT\twin vs SFT\tRM score\tRM acc\tmean length\ttime\tverdict")
	dash := "-"
	for _, r := range rows {
		c := []string{dash, dash, dash, dash, dash, dash, dash, dash, dash}
		if r.hasEval {
			e := r.ev
			c[0], c[1], c[2] = fmt.Sprintf("%+.3f", e.gold), fmt.Sprintf("%.0f%%", 100*e.correct), fmt.Sprintf("%.0f%%", 100*e.polite)
			c[3], c[4] = fmt.Sprintf("%.0f%%", 100*e.redTeam), fmt.Sprintf("%.3f", e.kl)
			if e.baseline {
				c[4] = "0 (ref)"
			}
			if e.hasWin {
				c[5] = fmt.Sprintf("%.0f%%", 100*e.win.Rate)
			}
			if e.hasRM {
				c[6] = fmt.Sprintf("%+.3f", e.rmScore)
			}
			c[8] = fmt.Sprintf("%.1f", e.length)
		}
		if r.hasAccuracy {
			c[7] = fmt.Sprintf("%.0f%%", 100*r.accuracy)
		}
		took := r.took.Round(100 * time.Millisecond).String()
		if r.notRun != "" {
			took = dash
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.stage, strings.Join(c, "\t"), took, verdict(r, rows))
	}
	tw.Flush()
}
