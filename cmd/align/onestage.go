package main

import (
	"io"
	"strings"

	"github.com/align-go/align/loss"
	"github.com/align-go/align/pref"
	"github.com/align-go/align/train"
	"github.com/spf13/cobra"
)

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
	d, err := o.lib(o.lora)
	if err != nil {
		return nil, err
	}
	return pref.NewORPOJob(d, o.beta, s, log)
}

func (c *cpoOpts) job(s train.Settings, log io.Writer) (*train.Job, error) {
	d, err := c.lib(c.lora)
	if err != nil {
		return nil, err
	}
	return pref.NewCPOJob(d, c.cfg, s, log)
}
