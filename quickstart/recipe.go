package quickstart

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/align-go/align/cai"
	"github.com/align-go/align/chat"
	"github.com/align-go/align/judge"
	"github.com/align-go/align/loss"
	"github.com/align-go/align/model"
	"github.com/align-go/align/report"
	"github.com/align-go/align/rewardmodel"
	"github.com/align-go/align/tokenizer"
	"github.com/align-go/align/train"
)

// The recipe: Run generates the task, trains every stage in order and
// evaluates each stage's model, leaving data, models, logs, summary.json and
// report.html under Options.Out. `align quickstart` is Run plus flags and
// printing.

// Preset sizes one quickstart run. Learning rates are far above TRL's
// defaults (SFT 2e-5, DPO 1e-6, PPO 3e-6, GRPO 1e-6): those suit
// pretrained models of billions of parameters, and these models are tiny
// and fresh.
type Preset struct {
	Corpus, Pairs                    int
	Vocab                            int
	Dim, Layers, Heads, KVHeads, FFN int
	PretrainSteps, SFTSteps          int
	RMSteps, DPOSteps                int
	Batch, SeqLen                    int
	PretrainLR, SFTLR, RMLR, DPOLR   float64
	DPOBeta                          float64

	PPOUpdates, PPOBatch, PPOMiniBatches int
	PPOLR, PPOKL                         float64
	GRPOSteps, GRPOBatch, GRPOGens       int
	GRPOLR, GRPOBeta                     float64
	CAIPrompts, CAISteps                 int
	CAILR                                float64
	// CritiqueDemos is how many critique-and-revision demonstrations join
	// the SFT data (the CritiqueDemos function), each up to CAISeqLen tokens.
	CritiqueDemos, CAISeqLen int

	// The extra stages (ExtraStages, run only when Options.Stages names them).
	KTOSteps, ORPOSteps, ODPOSteps, ODPOBatch int
	KTOLR, KTOBeta, ORPOLR, ORPOLambda        float64
	ODPOLR, ODPOBeta                          float64

	Samples int // per held-out prompt
}

// Presets are the named sizes `align quickstart --preset` takes.
var Presets = map[string]Preset{
	// tiny checks that every stage runs (a test runs it); its numbers are noisy.
	"tiny": {Corpus: 4000, Pairs: 400, Vocab: 400, Dim: 64, Layers: 2, Heads: 4, KVHeads: 2, FFN: 192,
		PretrainSteps: 400, SFTSteps: 150, RMSteps: 150, DPOSteps: 40, Batch: 16, SeqLen: 64,
		PretrainLR: 3e-3, SFTLR: 1e-3, RMLR: 1e-3, DPOLR: 5e-5, DPOBeta: 0.1,
		PPOUpdates: 6, PPOBatch: 16, PPOMiniBatches: 2, PPOLR: 3e-5, PPOKL: 0.05,
		GRPOSteps: 6, GRPOBatch: 4, GRPOGens: 4, GRPOLR: 2e-4, GRPOBeta: 0.04,
		CAIPrompts: 32, CAISteps: 10, CAILR: 1e-4, Samples: 2,
		KTOSteps: 20, KTOLR: 5e-5, KTOBeta: 0.1, ORPOSteps: 40, ORPOLR: 1e-3, ORPOLambda: 0.1,
		ODPOSteps: 6, ODPOBatch: 4, ODPOLR: 5e-5, ODPOBeta: 0.1},
	// micro runs every stage for two steps on a one-layer model of width 32
	// (the SFT data with critique demonstrations, as in small):
	// a check that the pipeline is wired end to end, in a few seconds (the
	// test suite runs it); its numbers mean nothing.
	"micro": {Corpus: 1000, Pairs: 100, Vocab: 300, Dim: 32, Layers: 1, Heads: 2, KVHeads: 1, FFN: 64,
		PretrainSteps: 20, SFTSteps: 4, RMSteps: 2, DPOSteps: 2, Batch: 4, SeqLen: 48,
		PretrainLR: 3e-3, SFTLR: 1e-3, RMLR: 1e-3, DPOLR: 5e-5, DPOBeta: 0.1,
		PPOUpdates: 2, PPOBatch: 4, PPOMiniBatches: 2, PPOLR: 3e-5, PPOKL: 0.05,
		GRPOSteps: 2, GRPOBatch: 2, GRPOGens: 2, GRPOLR: 2e-4, GRPOBeta: 0.04,
		CAIPrompts: 4, CAISteps: 2, CAILR: 1e-4, CritiqueDemos: 8, CAISeqLen: 128, Samples: 1,
		KTOSteps: 2, KTOLR: 5e-5, KTOBeta: 0.1, ORPOSteps: 2, ORPOLR: 1e-3, ORPOLambda: 0.1,
		ODPOSteps: 2, ODPOBatch: 2, ODPOLR: 5e-5, ODPOBeta: 0.1},
	// small is the default: clear gains in about 6 minutes on 2 cores (measured in README.md).
	"small": {Corpus: 20000, Pairs: 2000, Vocab: 800, Dim: 128, Layers: 4, Heads: 4, KVHeads: 2, FFN: 384,
		PretrainSteps: 3000, SFTSteps: 1000, RMSteps: 600, DPOSteps: 300, Batch: 16, SeqLen: 64,
		PretrainLR: 2e-3, SFTLR: 5e-4, RMLR: 5e-4, DPOLR: 5e-5, DPOBeta: 0.5,
		PPOUpdates: 150, PPOBatch: 32, PPOMiniBatches: 2, PPOLR: 3e-5, PPOKL: 0.1,
		GRPOSteps: 300, GRPOBatch: 8, GRPOGens: 8, GRPOLR: 2e-4, GRPOBeta: 0.04,
		CAIPrompts: 256, CAISteps: 100, CAILR: 1e-4, CritiqueDemos: 400, CAISeqLen: 256, Samples: 4,
		KTOSteps: 300, KTOLR: 5e-5, KTOBeta: 0.5, ORPOSteps: 600, ORPOLR: 5e-4, ORPOLambda: 0.1,
		ODPOSteps: 150, ODPOBatch: 8, ODPOLR: 5e-5, ODPOBeta: 0.1},
}

// Options are one run's settings.
type Options struct {
	Out    string // directory for every stage's data, models and logs (its stage subdirectories are replaced)
	Preset Preset
	Seed   uint64 // task, initialisation and sampling
	// Judge judges the win-rates against SFT; nil is the gold reward (GoldJudge).
	Judge judge.Judge
	// Trainers build each training stage's job; nil is Jobs (the trainers' own builders).
	Trainers Trainers
	// Stages names extra stages to run after the others (ExtraStages); Trainers
	// must then implement PreferenceTrainers.
	Stages []string
	// Progress receives one line per stage ("quickstart: sft       done in 3.1s"); nil discards them.
	Progress io.Writer
}

// Result is where a finished run left its outputs, and its table.
type Result struct {
	Rows                                   []Row
	Data, Tokenizer, Logs, Summary, Report string
	EvalPrompts, RedTeamPrompts            int // held-out and red-team prompts, each sampled Preset.Samples times
}

// Run runs the whole pipeline: tokenizer, pretraining, SFT, reward model,
// DPO, PPO, GRPO and Constitutional AI, then evaluates every stage's model
// and writes summary.json and report.html.
func Run(ctx context.Context, o Options) (*Result, error) {
	p, seed, out := o.Preset, o.Seed, o.Out
	stderr := o.Progress
	if stderr == nil {
		stderr = io.Discard
	}
	var tr Trainers = Jobs{}
	if o.Trainers != nil {
		tr = o.Trainers
	}
	if err := checkStages(o.Stages, tr); err != nil {
		return nil, err
	}
	var jd judge.Judge = GoldJudge{NewGold()}
	if o.Judge != nil {
		jd = o.Judge
	}
	dirs := map[string]string{}
	for _, d := range append([]string{"data", "tokenizer", "base", "sft", "rm", "dpo", "ppo", "grpo", "cai", "logs"}, ExtraStages...) {
		dirs[d] = filepath.Join(out, d)
		// Each run starts afresh: an earlier (possibly interrupted) run's stage
		// directories, and only those, are replaced.
		if err := os.RemoveAll(dirs[d]); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dirs[d], 0o755); err != nil {
			return nil, err
		}
	}
	task := Generate(seed, p.Corpus, p.Pairs)
	var principles []Principle
	for _, pr := range cai.Default().Principles {
		principles = append(principles, Principle{CritiqueRequest: pr.CritiqueRequest, RevisionRequest: pr.RevisionRequest})
	}
	critiques := CritiqueDemos(seed, task.Train, principles, p.CritiqueDemos)
	files, err := writeTask(dirs["data"], task, critiques)
	if err != nil {
		return nil, err
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
		s.BatchSize, s.LoggingSteps, s.SaveSteps = p.Batch, max(steps/10, 1), 0
		s.LRScheduler, s.WarmupSteps, s.WarmupRatio = "cosine", max(steps/20, 1), 0
		return s
	}

	if err := step("tokenizer", func(log io.Writer) error {
		tr, err := tokenizer.NewTrainer(tokenizer.TrainOptions{VocabSize: p.Vocab,
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
		return nil, err
	}
	tok, err := tokenizer.Load(dirs["tokenizer"])
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dirs["data"], "base_config.json")
	// Positions beyond training's seqLen are for the constitution's
	// critique and revision turns (rotary positions cost nothing unused).
	cfgJSON, _ := json.MarshalIndent(map[string]any{"model_type": "llama", "vocab_size": tok.VocabSize(),
		"hidden_size": p.Dim, "num_hidden_layers": p.Layers, "num_attention_heads": p.Heads,
		"num_key_value_heads": p.KVHeads, "intermediate_size": p.FFN, "max_position_embeddings": 1024,
		"tie_word_embeddings": true, "eos_token_id": tok.EOS(), "pad_token_id": tok.PAD()}, "", "  ")
	if err := os.WriteFile(cfgPath, cfgJSON, 0o644); err != nil {
		return nil, err
	}
	stages := []struct {
		name string
		f    func(log io.Writer) error
	}{
		{"pretrain", func(log io.Writer) error {
			sp := PretrainSpec{ModelConfig: cfgPath, Tokenizer: dirs["tokenizer"], Text: []string{files["corpus"]},
				SeqLen: p.SeqLen, DType: "F32"}
			job, err := tr.Pretrain(sp, settings(dirs["base"], p.PretrainSteps, p.PretrainLR), log)
			return runJob(ctx, job, err)
		}},
		{"sft", func(log io.Writer) error {
			sp := SFTSpec{Model: dirs["base"], Data: []string{files["sft"]}, LossOn: "completion", Truncation: "right",
				MaxLength: p.SeqLen, DType: "F32"}
			if p.CritiqueDemos > 0 {
				sp.Data = append(sp.Data, files["critique_demos"])
				sp.MaxLength = p.CAISeqLen
			}
			job, err := tr.SFT(sp, settings(dirs["sft"], p.SFTSteps, p.SFTLR), log)
			return runJob(ctx, job, err)
		}},
		{"rm", func(log io.Writer) error {
			sp := PrefSpec{Model: dirs["sft"], Data: files["prefs"], EvalData: files["eval_prefs"],
				MaxLength: p.SeqLen, DType: "F32"}
			job, err := tr.RewardModel(sp, settings(dirs["rm"], p.RMSteps, p.RMLR), log)
			return runJob(ctx, job, err)
		}},
		{"dpo", func(log io.Writer) error {
			sp := DPOSpec{PrefSpec: PrefSpec{Model: dirs["sft"], Data: files["prefs"], EvalData: files["eval_prefs"],
				MaxLength: p.SeqLen, DType: "F32"}, Config: loss.DPOConfig{LossType: "sigmoid", Beta: p.DPOBeta, RPOAlpha: 1}}
			job, err := tr.DPO(sp, settings(dirs["dpo"], p.DPOSteps, p.DPOLR), log)
			return runJob(ctx, job, err)
		}},
		{"ppo", func(log io.Writer) error { return runPPO(ctx, tr, p, seed, dirs, files, log) }},
		{"grpo", func(log io.Writer) error {
			return runGRPO(ctx, tr, p, dirs, files, log, settings(dirs["grpo"], p.GRPOSteps, p.GRPOLR))
		}},
		{"cai", func(log io.Writer) error {
			return runCAI(ctx, tr, p, seed, task, dirs, log, settings("", p.CAISteps, p.CAILR))
		}},
	}
	for _, name := range o.Stages {
		stages = append(stages, struct {
			name string
			f    func(log io.Writer) error
		}{name, func(log io.Writer) error {
			return runExtra(ctx, name, tr.(PreferenceTrainers), p, seed, dirs, files, log, settings)
		}})
	}
	for _, st := range stages {
		if err := step(st.name, st.f); err != nil {
			return nil, err
		}
	}
	// Where each stage's model ends up.
	modelDir := map[string]string{"base": dirs["base"], "sft": dirs["sft"], "dpo": dirs["dpo"], "ppo": dirs["ppo"],
		"grpo": dirs["grpo"], "cai": filepath.Join(dirs["cai"], "model")}
	for _, st := range o.Stages {
		modelDir[st] = dirs[st]
	}

	var rows []Row
	if err := step("eval", func(log io.Writer) error {
		ref, err := model.LoadDir(dirs["sft"])
		if err != nil {
			return err
		}
		scorer, err := rewardmodel.LoadScorer(dirs["rm"], "")
		if err != nil {
			return err
		}
		e := &evaluator{task: task, tok: tok, ref: ref, scorer: scorer, gold: NewGold(), judge: jd,
			samples: p.Samples, maxNew: p.SeqLen / 2, seed: seed}
		acc, err := heldOutAccuracy(scorer, task)
		if err != nil {
			return err
		}
		// SFT first: it is every other stage's KL reference and win-rate baseline.
		evals := map[string]StageEval{}
		if evals["sft"], err = e.eval(ref); err != nil {
			return fmt.Errorf("sft: %w", err)
		}
		e.sft = evals["sft"].Completions
		for _, st := range append([]string{"base", "dpo", "ppo", "grpo", "cai"}, o.Stages...) {
			m, err := model.LoadDir(modelDir[st])
			if err != nil {
				return err
			}
			if evals[st], err = e.eval(m); err != nil {
				return fmt.Errorf("%s: %w", st, err)
			}
		}
		for _, st := range append([]string{"base", "sft", "rm", "dpo", "ppo", "grpo", "cai"}, o.Stages...) {
			r := Row{Stage: st, Where: modelDir[st], Took: took[st]}
			switch st {
			case "base":
				r.Took = took["pretrain"]
			case "rm":
				r.Where, r.Accuracy, r.HasAccuracy = dirs["rm"], acc, true
			}
			if ev, ok := evals[st]; ok {
				r.Eval, r.HasEval = ev, true
			}
			fmt.Fprintf(log, "%s: %+v\n", st, r.Eval)
			rows = append(rows, r)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	summary := filepath.Join(out, "summary.json")
	if err := WriteSummary(summary, rows); err != nil {
		return nil, err
	}
	// The report reads summary.json, so the table row for it is added after.
	reportPath := filepath.Join(out, "report.html")
	if err := step("report", func(io.Writer) error { return report.WriteFile(reportPath, []string{out}) }); err != nil {
		return nil, err
	}
	rows = append(rows, Row{Stage: "report", Where: reportPath, Took: took["report"]})
	if err := WriteSummary(summary, rows); err != nil {
		return nil, err
	}
	return &Result{Rows: rows, Data: dirs["data"], Tokenizer: dirs["tokenizer"], Logs: dirs["logs"], Summary: summary,
		Report: reportPath, EvalPrompts: len(task.Eval), RedTeamPrompts: len(task.RedTeam)}, nil
}

func writeTask(dir string, t Task, critiques [][]chat.Message) (map[string]string, error) {
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
	pairRow := func(p Pair) any {
		return map[string]any{"prompt": user(p.Prompt), "chosen": asst(p.Chosen), "rejected": asst(p.Rejected)}
	}
	// Prompt rows are chat turns, as align ppo, grpo and eval read them; the
	// extra fields are what exact-match and cmd: rewards receive.
	promptRow := func(it Item) any {
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
