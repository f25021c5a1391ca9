package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/align-go/align/loss"
	"github.com/align-go/align/model"
	"github.com/align-go/align/pref"
	"github.com/align-go/align/train"
	"github.com/spf13/cobra"
)

// pairJob builds a reference-free preference trainer's job (orpo, cpo):
// the policy, optionally with LoRA, trained on preference pairs by the
// objective newObj makes. Nothing is loaded twice: these losses need no
// reference model.
func pairJob(name string, d *prefData, lo *loraFlags, s train.Settings, log io.Writer, describe string,
	newObj func(m *model.Model, pairs []pref.Pair, maxLen int, pad int32) (*pref.DPOObjective, error)) (*train.Job, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	m, enc, pad, err := d.loadPolicy(lo, s)
	if err != nil {
		return nil, err
	}
	params, err := lo.params(m, s.Seed)
	if err != nil {
		return nil, err
	}
	maxLen := d.maxLen(m.Cfg, log)
	trainPairs, evalPairs, err := d.pairs(enc, s.Seed, log)
	if err != nil {
		return nil, err
	}
	obj, err := newObj(m, trainPairs, maxLen, pad)
	if err != nil {
		return nil, err
	}
	if obj.Len() == 0 {
		return nil, errors.New("--data: no training pairs")
	}
	fmt.Fprintf(log, "%s: %s; %d training pairs; %s\n", name, m.Cfg.Describe(), obj.Len(), describe)
	job := lo.job(s, log, m, obj, params, d.model, d.dtype, d.tokDir())
	if len(evalPairs) > 0 {
		ev, err := newObj(m, evalPairs, maxLen, pad)
		if err != nil {
			return nil, err
		}
		job.Eval = ev
	}
	return job, nil
}

type orpoOpts struct {
	prefData
	beta float64
	lora *loraFlags
}

type cpoOpts struct {
	prefData
	cfg  loss.CPOConfig
	lora *loraFlags
}

func init() {
	var o orpoOpts
	cmd := &cobra.Command{
		Use:   "orpo --model DIR --data FILE --out DIR",
		Short: "Odds-ratio preference optimisation (ORPO): SFT and preference in one stage, no reference model",
		Long: `Trains the policy on preference pairs with ORPO (Hong et al. 2024) as TRL's ORPOTrainer does:
the chosen responses' token-mean NLL plus --beta (λ) times −log σ(log-odds ratio), where the
log-odds compare the per-token mean log-probs a of chosen and rejected responses:
(a_c − a_r) − (log(1 − e^a_c) − log(1 − e^a_r)). No reference model is loaded, so a base model
is trained in one stage, without a separate SFT run. Metrics carry TRL's names: loss, nll_loss,
log_odds_ratio, log_odds_chosen, rewards/chosen, rewards/rejected (λ·a), rewards/accuracies,
rewards/margins, logps/chosen, logps/rejected. Rows with p_chosen < 1 are refused.
With --lora-r only adapters train and OUT holds PEFT adapters.`,
	}
	def := train.DefaultSettings()
	def.LR, def.Epochs = 1e-6, 1
	flags := addTrainFlags(cmd, def)
	fs := cmd.Flags()
	o.addFlags(fs)
	fs.Float64Var(&o.beta, "beta", 0.1, "weight λ of the odds-ratio term (TRL's beta)")
	o.lora = addLoRAFlags(fs)
	withAliases(fs, map[string]string{"model-name-or-path": "model"})
	cmd.RunE = runTrainer(flags, o.job, "model")
	rootCmd.AddCommand(cmd)

	var c cpoOpts
	cmd = &cobra.Command{
		Use:   "cpo --model DIR --data FILE --out DIR",
		Short: "Contrastive preference optimisation (CPO; SimPO with --loss simpo): no reference model",
		Long: `Trains the policy on preference pairs with CPO (Xu et al. 2024) as TRL's CPOTrainer does: a DPO-family
loss on the policy's log-probs alone (sigmoid, hinge, ipo, simpo; ipo and simpo on per-token
means, the others on sums; simpo subtracts --simpo-gamma / --beta from the logit) plus
--cpo-alpha times the chosen responses' token-mean NLL. No reference model is loaded.
--loss simpo --cpo-alpha 0 is SimPO. Metrics carry TRL's names: loss, rewards/chosen,
rewards/rejected (β times the log-probs), rewards/accuracies, rewards/margins, logps/chosen,
logps/rejected, nll_loss. Rows with p_chosen < 1 train with sigmoid and ipo (as align dpo).
With --lora-r only adapters train and OUT holds PEFT adapters.`,
	}
	def = train.DefaultSettings()
	def.LR, def.Epochs = 1e-6, 1
	flags = addTrainFlags(cmd, def)
	fs = cmd.Flags()
	c.addFlags(fs)
	dc := loss.DefaultCPOConfig()
	fs.Float64Var(&c.cfg.Beta, "beta", dc.Beta, "β (SimPO papers use ~2)")
	fs.StringVar(&c.cfg.LossType, "loss", dc.LossType, "loss: "+strings.Join(loss.CPOLossTypes(), ", "))
	fs.Float64Var(&c.cfg.LabelSmoothing, "label-smoothing", 0, "assumed label-flip probability (sigmoid, simpo)")
	fs.Float64Var(&c.cfg.SimPOGamma, "simpo-gamma", dc.SimPOGamma, "SimPO target reward margin γ")
	fs.Float64Var(&c.cfg.Alpha, "cpo-alpha", dc.Alpha, "weight of the NLL term on chosen responses")
	c.lora = addLoRAFlags(fs)
	withAliases(fs, map[string]string{"loss-type": "loss", "model-name-or-path": "model"})
	cmd.RunE = runTrainer(flags, c.job, "model")
	rootCmd.AddCommand(cmd)
}

func (o *orpoOpts) job(s train.Settings, log io.Writer) (*train.Job, error) {
	return pairJob("orpo", &o.prefData, o.lora, s, log, fmt.Sprintf("beta (λ) %g", o.beta),
		func(m *model.Model, pairs []pref.Pair, maxLen int, pad int32) (*pref.DPOObjective, error) {
			return pref.NewORPOObjective(m, o.beta, pairs, maxLen, pad)
		})
}

func (c *cpoOpts) job(s train.Settings, log io.Writer) (*train.Job, error) {
	return pairJob("cpo", &c.prefData, c.lora, s, log, fmt.Sprintf("loss %s, beta %g, cpo_alpha %g", c.cfg.LossType, c.cfg.Beta, c.cfg.Alpha),
		func(m *model.Model, pairs []pref.Pair, maxLen int, pad int32) (*pref.DPOObjective, error) {
			obj, err := pref.NewCPOObjective(m, c.cfg, pairs, maxLen, pad)
			if err != nil && strings.Contains(err.Error(), "unknown CPO loss type") {
				return nil, fmt.Errorf("--loss: %w", err)
			}
			return obj, err
		})
}
