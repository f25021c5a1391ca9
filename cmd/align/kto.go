package main

import (
	"io"
	"strings"

	"github.com/align-go/align/loss"
	"github.com/align-go/align/pref"
	"github.com/align-go/align/train"
	"github.com/spf13/cobra"
)

type ktoOpts struct {
	prefData
	ref           string
	cfg           loss.KTOConfig
	precomputeRef bool
	lora          *loraFlags
}

func init() {
	var o ktoOpts
	cmd := &cobra.Command{
		Use:   "kto --model DIR --data FILE --out DIR",
		Short: "Kahneman-Tversky optimisation (KTO) on thumbs-up / thumbs-down feedback",
		Long: `Trains the policy with KTO (Ethayarajh et al. 2024) as TRL's KTOTrainer does, on unpaired rows
{"prompt", "completion", "label": true|false} (plain strings or message lists), or on a
preference file whose pairs are split into a desirable (chosen) and an undesirable (rejected)
row. Log-probs are summed over each completion's tokens (EOS included). A desirable row costs
--desirable-weight * (1 - sigmoid(beta * (r - z0))) and an undesirable one
--undesirable-weight * (1 - sigmoid(beta * (z0 - r))), r the policy's log-prob minus the
reference's; the reference point z0 is the mean of the same difference over mismatched
prompt/completion pairs in the batch, clamped at 0 and not back-propagated.
--loss apo_zero_unpaired drops z0 and pushes undesirable completions below the reference.
The reference is --ref DIR or a frozen copy of --model; with --lora-r only adapters train and
the reference is the same base with the adapters switched off (OUT then holds PEFT adapters).
--precompute-ref computes the reference log-probs of every row (and its mismatched pair) once
and frees the reference model before training.
On imbalanced data keep desirable_weight*n_desirable / (undesirable_weight*n_undesirable)
between 1 and 4/3 (the paper's advice; the command prints the ratio).
Metrics carry TRL's names: loss, kl, rewards/chosen, rewards/rejected, rewards/margins,
logps/chosen, logps/rejected.`,
	}
	def := train.DefaultSettings()
	def.LR, def.Epochs = 1e-6, 1
	flags := addTrainFlags(cmd, def)
	fs := cmd.Flags()
	o.addFlags(fs)
	fs.Lookup("data").Usage = `unpaired feedback: JSONL/Parquet rows {"prompt","completion","label": bool}, or preference pairs (chosen/rejected), split into one desirable and one undesirable row`
	d := loss.DefaultKTOConfig()
	fs.StringVar(&o.ref, "ref", "", "reference model directory (default: a frozen copy of --model)")
	fs.Float64Var(&o.cfg.Beta, "beta", d.Beta, "β")
	fs.StringVar(&o.cfg.LossType, "loss", d.LossType, "loss: "+strings.Join(loss.KTOLossTypes(), ", "))
	fs.Float64Var(&o.cfg.DesirableWeight, "desirable-weight", d.DesirableWeight, "weight of the desirable rows' losses")
	fs.Float64Var(&o.cfg.UndesirableWeight, "undesirable-weight", d.UndesirableWeight, "weight of the undesirable rows' losses")
	fs.BoolVar(&o.precomputeRef, "precompute-ref", false, "compute reference log-probs once before training and free the reference model")
	o.lora = addLoRAFlags(fs)
	withAliases(fs, map[string]string{"loss-type": "loss", "ref-model": "ref", "model-name-or-path": "model",
		"precompute-ref-log-probs": "precompute-ref"})
	cmd.RunE = runTrainer(flags, o.job, "model")
	rootCmd.AddCommand(cmd)
}

func (o *ktoOpts) job(s train.Settings, log io.Writer) (*train.Job, error) {
	d, err := o.lib(o.lora)
	if err != nil {
		return nil, err
	}
	return pref.NewKTOJob(pref.KTOOptions{JobData: d, Ref: o.ref, Config: o.cfg, PrecomputeRef: o.precomputeRef}, s, log)
}
