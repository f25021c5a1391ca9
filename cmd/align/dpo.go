package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/align-go/align/loss"
	"github.com/align-go/align/model"
	"github.com/align-go/align/policy"
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
	if err := o.check(); err != nil {
		return nil, err
	}
	pl, err := loss.LookupPreferenceLoss(o.cfg.LossType)
	if err != nil {
		return nil, fmt.Errorf("--loss: %w", err)
	}
	if pl.ReferenceFree && o.ref != "" {
		return nil, fmt.Errorf("--ref: the %s loss uses no reference model", o.cfg.LossType)
	}
	m, enc, pad, err := o.loadPolicy(o.lora, s)
	if err != nil {
		return nil, err
	}
	var ref *model.Model
	switch {
	case pl.ReferenceFree:
	case o.ref != "":
		if ref, err = o.lora.load.load(o.ref, true); err != nil {
			return nil, fmt.Errorf("--ref: %w", err)
		}
		if ref.Cfg.Vocab != m.Cfg.Vocab {
			return nil, fmt.Errorf("--ref: %s has vocab_size %d but --model has %d", o.ref, ref.Cfg.Vocab, m.Cfg.Vocab)
		}
		// The reference pass always completes before the policy's forward and
		// backward, so it can work in the policy's activation buffer.
		ref.BorrowActivations(m)
	default:
		ref = policy.Reference(m, o.lora.enabled())
	}
	params, err := o.lora.params(m, s.Seed)
	if err != nil {
		return nil, err
	}
	maxLen := o.maxLen(m.Cfg, log)
	if ref != nil && ref.Cfg.MaxPos < maxLen {
		maxLen = ref.Cfg.MaxPos
	}
	trainPairs, evalPairs, err := o.pairs(enc, s.Seed, log)
	if err != nil {
		return nil, err
	}
	live := ref
	if o.precomputeRef {
		live = nil
	}
	obj, err := pref.NewDPOObjective(m, live, o.cfg, trainPairs, maxLen, pad)
	if err != nil {
		return nil, err
	}
	var ev *pref.DPOObjective
	if len(evalPairs) > 0 {
		if ev, err = pref.NewDPOObjective(m, live, o.cfg, evalPairs, maxLen, pad); err != nil {
			return nil, err
		}
	}
	if o.precomputeRef && ref != nil {
		fmt.Fprintf(log, "dpo: computing reference log-probs of %d pairs\n", obj.Len()+len(evalPairs))
		for _, x := range []*pref.DPOObjective{obj, ev} {
			if x == nil {
				continue
			}
			if err := x.PrecomputeRef(ref, s.BatchSize); err != nil {
				return nil, fmt.Errorf("reference log-probs: %w", err)
			}
		}
		// Nothing the job holds refers to ref any more, so its memory is
		// freed once training allocates.
	}
	if obj.Len() == 0 {
		return nil, errors.New("--data: no training pairs")
	}
	fmt.Fprintf(log, "dpo: %s; %d training pairs; loss %s, beta %g\n", m.Cfg.Describe(), obj.Len(), o.cfg.LossType, o.cfg.Beta)
	job := o.lora.job(s, log, m, obj, params, o.model, o.dtype, o.tokDir())
	if ev != nil {
		job.Eval = ev
	}
	return job, nil
}
