package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/align-go/align/data"
	"github.com/align-go/align/loss"
	"github.com/align-go/align/model"
	"github.com/align-go/align/policy"
	"github.com/align-go/align/pref"
	"github.com/align-go/align/train"
	"github.com/spf13/cobra"
)

type ktoOpts struct {
	prefData
	ref  string
	cfg  loss.KTOConfig
	lora *loraFlags
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
	o.lora = addLoRAFlags(fs)
	withAliases(fs, map[string]string{"loss-type": "loss", "ref-model": "ref", "model-name-or-path": "model"})
	cmd.RunE = runTrainer(flags, o.job, "model")
	rootCmd.AddCommand(cmd)
}

// rows reads and encodes the training and evaluation rows.
func (o *ktoOpts) rows(enc *pref.Encoder, seed uint64, log io.Writer) (trainRows, evalRows []pref.Unpaired, err error) {
	read := func(path string) ([]pref.Unpaired, error) {
		exs, rep, err := data.ReadUnpaired(path, data.Options{SkipBadRows: o.skipBadRows})
		if err != nil {
			return nil, err
		}
		if rep.Skipped > 0 {
			fmt.Fprintf(log, "%s: skipped %d bad rows (first: %s)\n", path, rep.Skipped, rep.FirstErrors[0])
		}
		if rep.Format == data.FormatPreference {
			fmt.Fprintf(log, "%s: %d preference pairs split into %d unpaired rows\n", path, rep.Rows, len(exs))
		}
		return pref.EncodeUnpaired(enc, exs)
	}
	if trainRows, err = read(o.data); err != nil {
		return nil, nil, err
	}
	switch {
	case o.evalData != "":
		evalRows, err = read(o.evalData)
	case o.evalFraction > 0:
		trainRows, evalRows, err = data.Split(trainRows, o.evalFraction, seed)
		if err != nil {
			err = fmt.Errorf("--eval-fraction: %w", err)
		}
	}
	return trainRows, evalRows, err
}

func (o *ktoOpts) job(s train.Settings, log io.Writer) (*train.Job, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	if err := (loss.KTOConfig{LossType: o.cfg.LossType, Beta: 1, DesirableWeight: 1, UndesirableWeight: 1}).Check(); err != nil {
		return nil, fmt.Errorf("--loss: %w", err)
	}
	m, enc, pad, err := o.loadPolicy(o.lora, s)
	if err != nil {
		return nil, err
	}
	var ref *model.Model
	if o.ref != "" {
		if ref, err = o.lora.load.load(o.ref, true); err != nil {
			return nil, fmt.Errorf("--ref: %w", err)
		}
		if ref.Cfg.Vocab != m.Cfg.Vocab {
			return nil, fmt.Errorf("--ref: %s has vocab_size %d but --model has %d", o.ref, ref.Cfg.Vocab, m.Cfg.Vocab)
		}
		// The reference passes complete before the policy's, so they can
		// work in the policy's activation buffer.
		ref.BorrowActivations(m)
	} else {
		ref = policy.Reference(m, o.lora.enabled())
	}
	params, err := o.lora.params(m, s.Seed)
	if err != nil {
		return nil, err
	}
	maxLen := min(o.maxLen(m.Cfg, log), ref.Cfg.MaxPos)
	trainRows, evalRows, err := o.rows(enc, s.Seed, log)
	if err != nil {
		return nil, err
	}
	obj, err := pref.NewKTOObjective(m, ref, o.cfg, trainRows, maxLen, pad)
	if err != nil {
		return nil, err
	}
	if obj.Len() == 0 {
		return nil, errors.New("--data: no training rows")
	}
	var nD, nU int
	for _, r := range trainRows {
		if r.Desirable {
			nD++
		} else {
			nU++
		}
	}
	fmt.Fprintf(log, "kto: %s; %d desirable and %d undesirable rows; loss %s, beta %g, weights %g/%g\n",
		m.Cfg.Describe(), nD, nU, o.cfg.LossType, o.cfg.Beta, o.cfg.DesirableWeight, o.cfg.UndesirableWeight)
	if nD > 0 && nU > 0 {
		if r := o.cfg.DesirableWeight * float64(nD) / (o.cfg.UndesirableWeight * float64(nU)); r < 1 || r > 4.0/3 {
			fmt.Fprintf(log, "kto: desirable_weight*n_desirable / (undesirable_weight*n_undesirable) = %.3g, outside the paper's [1, 4/3]\n", r)
		}
	}
	job := o.lora.job(s, log, m, obj, params, o.model, o.dtype, o.tokDir())
	if len(evalRows) > 0 {
		ev, err := pref.NewKTOObjective(m, ref, o.cfg, evalRows, maxLen, pad)
		if err != nil {
			return nil, err
		}
		job.Eval = ev
	}
	return job, nil
}
