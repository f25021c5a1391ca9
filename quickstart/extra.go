package quickstart

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/align-go/align/cai"
	"github.com/align-go/align/loss"
	"github.com/align-go/align/onlinedpo"
	"github.com/align-go/align/pref"
	"github.com/align-go/align/train"
)

// ExtraStages are the stages Run adds when Options.Stages names them (they
// are not in the default run, which keeps to its time budget):
//
//	kto              KTO from the SFT model on the preference pairs split
//	                 into desirable and undesirable rows
//	orpo             ORPO from the base model: one stage, no SFT
//	online-dpo-gold  online DPO from the SFT model, each pair ranked by the
//	                 gold reward
//	online-dpo-cai   online DPO from the SFT model, each pair judged in both
//	                 orders under a principle of the shipped constitution
//	                 (PrincipleJudge): online RLAIF
var ExtraStages = []string{"kto", "orpo", "online-dpo-gold", "online-dpo-cai"}

// startOf is the stage each extra stage starts from, which its verdict
// compares it with.
var startOf = map[string]string{"kto": "sft", "orpo": "base", "online-dpo-gold": "sft", "online-dpo-cai": "sft"}

// PreferenceTrainers build the extra stages' jobs (Jobs does, with the
// kto, orpo and online-dpo commands' builders); Options.Trainers must
// implement it when Options.Stages names any.
type PreferenceTrainers interface {
	KTO(KTOSpec, train.Settings, io.Writer) (*train.Job, error)
	ORPO(ORPOSpec, train.Settings, io.Writer) (*train.Job, error)
	OnlineDPO(OnlineDPOSpec, train.Settings, io.Writer) (*train.Job, error)
}

// KTOSpec is a KTO stage on a preference file (split into unpaired rows).
type KTOSpec struct {
	PrefSpec
	Config loss.KTOConfig
}

// ORPOSpec is an ORPO stage: preference pairs and λ.
type ORPOSpec struct {
	PrefSpec
	Lambda float64
}

// OnlineDPOSpec is an online DPO stage with an in-process ranker.
type OnlineDPOSpec struct {
	Policy, Prompts string
	Ranker          onlinedpo.Ranker
	Config          onlinedpo.Config
	DType           string
}

// checkStages validates Options.Stages.
func checkStages(stages []string, tr Trainers) error {
	for i, s := range stages {
		if !slices.Contains(ExtraStages, s) {
			return fmt.Errorf("quickstart: unknown stage %q (extra stages: %v)", s, ExtraStages)
		}
		if slices.Contains(stages[:i], s) {
			return fmt.Errorf("quickstart: stage %q named twice", s)
		}
	}
	if _, ok := tr.(PreferenceTrainers); len(stages) > 0 && !ok {
		return fmt.Errorf("quickstart: stages %v need Trainers that implement PreferenceTrainers", stages)
	}
	return nil
}

// runExtra trains extra stage name into dirs[name].
func runExtra(ctx context.Context, name string, tr PreferenceTrainers, p Preset, seed uint64, dirs, files map[string]string,
	log io.Writer, settings func(dir string, steps int, lr float64) train.Settings) error {
	pairs := PrefSpec{Model: dirs["sft"], Data: files["prefs"], EvalData: files["eval_prefs"], MaxLength: p.SeqLen, DType: "F32"}
	switch name {
	case "kto":
		c := loss.DefaultKTOConfig()
		c.Beta = p.KTOBeta
		job, err := tr.KTO(KTOSpec{PrefSpec: pairs, Config: c}, settings(dirs[name], p.KTOSteps, p.KTOLR), log)
		return runJob(ctx, job, err)
	case "orpo":
		pairs.Model = dirs["base"]
		job, err := tr.ORPO(ORPOSpec{PrefSpec: pairs, Lambda: p.ORPOLambda}, settings(dirs[name], p.ORPOSteps, p.ORPOLR), log)
		return runJob(ctx, job, err)
	}
	sp := OnlineDPOSpec{Policy: dirs["sft"], Prompts: files["train_prompts"], Config: onlinedpo.DefaultConfig(), DType: "F32"}
	c := &sp.Config
	c.Loss.Beta, c.MaxNewTokens, c.MaxLength = p.ODPOBeta, p.SeqLen/2, 0
	// Temperature 1, where the evaluation samples (as the PPO stage), and
	// completions that never stop lose a whole point, as in PPO.
	c.Sampling.Temperature, c.MissingEOSPenalty = 1, 1
	c.SamplesEvery = max(p.ODPOSteps/5, 1)
	if name == "online-dpo-gold" {
		sp.Ranker = onlinedpo.Rewards{F: NewGold()}
	} else {
		con := cai.Default()
		sp.Ranker = onlinedpo.Judge{J: NewPrincipleJudge(NewGold()), Constitution: con, Seed: seed}
	}
	s := settings(dirs[name], p.ODPOSteps, p.ODPOLR)
	s.BatchSize, s.GroupByLength = p.ODPOBatch, false
	s.LRScheduler, s.WarmupSteps = "constant", 0
	job, err := tr.OnlineDPO(sp, s, log)
	return runJob(ctx, job, err)
}

var _ PreferenceTrainers = Jobs{}

// KTO builds the job `align kto` would.
func (Jobs) KTO(sp KTOSpec, s train.Settings, log io.Writer) (*train.Job, error) {
	return pref.NewKTOJob(pref.KTOOptions{JobData: jobData(sp.PrefSpec), Config: sp.Config}, s, log)
}

// ORPO builds the job `align orpo` would.
func (Jobs) ORPO(sp ORPOSpec, s train.Settings, log io.Writer) (*train.Job, error) {
	return pref.NewORPOJob(jobData(sp.PrefSpec), sp.Lambda, s, log)
}

// OnlineDPO builds the job `align online-dpo` would.
func (Jobs) OnlineDPO(sp OnlineDPOSpec, s train.Settings, log io.Writer) (*train.Job, error) {
	return onlinedpo.NewJob(onlinedpo.JobOptions{Policy: sp.Policy, Prompts: sp.Prompts, Ranker: sp.Ranker,
		Config: sp.Config, DType: sp.DType}, s, log)
}
