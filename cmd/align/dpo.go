package main

import (
	"io"
	"strings"

	"github.com/align-go/align/loss"
	"github.com/align-go/align/pref"
	"github.com/align-go/align/train"
	"github.com/spf13/cobra"
)

type dpoOpts struct {
	prefData
	ref           string
	cfg           loss.DPOConfig
	precomputeRef bool
	lora          *loraFlags
}

func init() {
	var o dpoOpts
	cmd := &cobra.Command{
		Use:   "dpo --model DIR --data FILE --out DIR",
		Short: "Direct preference optimisation (DPO, cDPO, robust, hinge, IPO, SimPO)",
		Long: `Trains the policy on preference pairs with a DPO-family loss over the summed log-probs of
each response's tokens (EOS included), against a frozen reference: --ref DIR, or by default
a copy of the starting policy. --precompute-ref computes the reference log-probs of the whole
dataset once and frees the reference model before training. simpo needs no reference.
ipo and simpo use per-token mean log-probs, as TRL does. --sft-weight adds TRL's rpo_alpha
NLL term on the chosen responses. Metrics carry TRL's names: loss, rewards/chosen,
rewards/rejected, rewards/accuracies, rewards/margins, logps/chosen, logps/rejected.
Rows with a "p_chosen" column (a soft label in [0,1], the probability that chosen is better,
as align cai label writes it; rows without it are p = 1) train on it: sigmoid becomes cDPO
with per-pair smoothing 1-p, composed with --label-smoothing e as e*p + (1-e)*(1-p); robust
takes the expectation of its loss over the label; ipo regresses toward (2p-1)/(2*beta).
hinge and simpo have no soft-label form and refuse rows with p_chosen < 1. With soft labels
rewards/accuracies counts agreement with p > 0.5 or p < 0.5, a p = 0.5 pair counting half.
Sequences longer than --max-length keep their end (the prompt is cut from the left).
With --lora-r only adapters train, and without --ref the reference is the same base with
the adapters switched off (no second copy of the weights); OUT then holds PEFT adapters.`,
	}
	def := train.DefaultSettings()
	def.LR, def.Epochs = 1e-6, 1
	flags := addTrainFlags(cmd, def)
	fs := cmd.Flags()
	o.addFlags(fs)
	fs.StringVar(&o.ref, "ref", "", "reference model directory (default: a frozen copy of --model)")
	fs.Float64Var(&o.cfg.Beta, "beta", 0.1, "KL strength β (SimPO papers use ~2)")
	fs.StringVar(&o.cfg.LossType, "loss", "sigmoid", "loss: "+strings.Join(loss.PreferenceLossNames(), ", "))
	fs.Float64Var(&o.cfg.LabelSmoothing, "label-smoothing", 0, "assumed label-flip probability (cDPO with sigmoid, robust)")
	fs.Float64Var(&o.cfg.SimPOGamma, "simpo-gamma", 0.5, "SimPO target reward margin γ")
	fs.Float64Var(&o.cfg.RPOAlpha, "sft-weight", 0, "weight of the NLL term on chosen responses (TRL rpo_alpha)")
	fs.BoolVar(&o.precomputeRef, "precompute-ref", false, "compute reference log-probs once before training and free the reference model")
	o.lora = addLoRAFlags(fs)
	withAliases(fs, map[string]string{"loss-type": "loss", "rpo-alpha": "sft-weight", "ref-model": "ref",
		"precompute-ref-log-probs": "precompute-ref", "model-name-or-path": "model"})
	cmd.RunE = runTrainer(flags, o.job, "model")
	rootCmd.AddCommand(cmd)
}

func (o *dpoOpts) job(s train.Settings, log io.Writer) (*train.Job, error) {
	d, err := o.lib(o.lora)
	if err != nil {
		return nil, err
	}
	return pref.NewDPOJob(pref.DPOOptions{JobData: d, Ref: o.ref, Config: o.cfg, PrecomputeRef: o.precomputeRef}, s, log)
}
