package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/align-go/align/data"
	"github.com/align-go/align/model"
	"github.com/align-go/align/pref"
	"github.com/align-go/align/rewardmodel"
	"github.com/align-go/align/tokenizer"
	"github.com/align-go/align/train"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// prefData are the data flags the preference trainers (rm, dpo) share.
type prefData struct {
	model, tokenizer string
	data, evalData   string
	evalFraction     float64
	maxLength        int
	skipBadRows      bool
	dtype            string
}

func (d *prefData) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&d.model, "model", "", "HF model directory to start from")
	fs.StringVar(&d.tokenizer, "tokenizer", "", "tokenizer directory (default: --model)")
	fs.StringVar(&d.data, "data", "", "preference data: JSONL/Parquet rows with chosen and rejected (and prompt), plain or conversational; optional margin and p_chosen (soft label in [0,1])")
	fs.StringVar(&d.evalData, "eval-data", "", "held-out preference data, evaluated every --eval-steps")
	fs.Float64Var(&d.evalFraction, "eval-fraction", 0, "hold out this fraction of --data for evaluation")
	fs.IntVar(&d.maxLength, "max-length", 1024, "longest prompt+response in tokens (capped at the model's context)")
	fs.BoolVar(&d.skipBadRows, "skip-bad-rows", false, "skip rows that fail to parse, counting them, instead of stopping")
	fs.StringVar(&d.dtype, "dtype", "F32", "dtype of the saved weights: F32, BF16 or F16")
}

func (d *prefData) check() error {
	switch {
	case d.model == "":
		return errors.New("--model: a model directory is required")
	case d.data == "":
		return errors.New("--data: a preference file is required")
	case d.maxLength <= 1:
		return fmt.Errorf("--max-length: %d must be at least 2", d.maxLength)
	case !(d.evalFraction >= 0 && d.evalFraction < 1):
		return fmt.Errorf("--eval-fraction: %v outside [0,1)", d.evalFraction)
	case d.evalFraction > 0 && d.evalData != "":
		return errors.New("give --eval-data or --eval-fraction, not both")
	}
	return checkDType(d.dtype)
}

func (d *prefData) tokDir() string {
	if d.tokenizer != "" {
		return d.tokenizer
	}
	return d.model
}

// maxLen is --max-length capped at the model's context.
func (d *prefData) maxLen(cfg *model.Config, log io.Writer) int {
	if d.maxLength > cfg.MaxPos {
		fmt.Fprintf(log, "--max-length %d exceeds the model's context; using %d\n", d.maxLength, cfg.MaxPos)
		return cfg.MaxPos
	}
	return d.maxLength
}

// pairs reads and encodes the training and evaluation pairs (pref.LoadPairs).
func (d *prefData) pairs(enc *pref.Encoder, seed uint64, log io.Writer) (trainPairs, evalPairs []pref.Pair, err error) {
	return pref.LoadPairs(enc, pref.PairFiles{Train: d.data, Eval: d.evalData,
		EvalFraction: d.evalFraction, Seed: seed, Options: data.Options{SkipBadRows: d.skipBadRows}}, log)
}

func (d *prefData) loadTokenizer(cfg *model.Config) (*tokenizer.Tokenizer, *pref.Encoder, error) {
	tok, err := tokenizer.Load(d.tokDir())
	if err != nil {
		return nil, nil, err
	}
	enc, err := pref.NewEncoder(tok, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", d.tokDir(), err)
	}
	return tok, enc, nil
}

// loadPolicy loads the model a preference trainer trains (the --model base,
// compact under --lora-r with the load flags), sets gradient checkpointing,
// and loads the pair encoder and the padding id.
func (d *prefData) loadPolicy(lo *loraFlags, s train.Settings) (*model.Model, *pref.Encoder, int32, error) {
	m, err := lo.loadBase(d.model)
	if err != nil {
		return nil, nil, 0, err
	}
	s.ConfigureModel(m)
	tok, enc, err := d.loadTokenizer(m.Cfg)
	if err != nil {
		return nil, nil, 0, err
	}
	return m, enc, int32(pref.ResolvePad(tok, m.Cfg, int(enc.EOS))), nil
}

// withAliases maps TRL's argument names for a trainer's own flags onto
// ours, on the command line and in --config files alike.
func withAliases(fs *pflag.FlagSet, aliases map[string]string) {
	prev := fs.GetNormalizeFunc()
	fs.SetNormalizeFunc(func(f *pflag.FlagSet, name string) pflag.NormalizedName {
		n := prev(f, name)
		if a, ok := aliases[string(n)]; ok {
			return pflag.NormalizedName(a)
		}
		return n
	})
}

type rmOpts struct {
	prefData
	centerRewards float64
	lora          *loraFlags
}

func init() {
	var o rmOpts
	cmd := &cobra.Command{
		Use:   "rm --model DIR --data FILE --out DIR",
		Short: "Train a Bradley-Terry reward model on preference pairs",
		Long: `Puts a scalar head on the model (or keeps the score head of a reward model) and trains it
with -log sigmoid(r_chosen - r_rejected - margin), the reward read at each sequence's last
real token: the EOS appended to every prompt+response. Rows with a "margin" column use it;
--center-rewards adds TRL's center_rewards_coefficient term. Rows with a "p_chosen" column
(a soft label in [0,1], the probability that chosen is better, as align cai label writes it;
rows without it are p = 1) train on the cross-entropy against it:
-p*log sigmoid(r_c - r_r - margin) - (1-p)*log sigmoid(r_r - r_c - margin); p = 0 is the pair
the other way round. Metrics: loss, accuracy (with p_chosen: agreement with p > 0.5 or
p < 0.5, a p = 0.5 pair counting half), margin, rewards/chosen, rewards/rejected (eval_
prefixed on the held-out set). Pairs longer
than --max-length are dropped, as TRL does. OUT ends up an HF sequence-classification
directory (score.weight, num_labels 1, pad_token_id) that align score and the RL trainers load.
With --lora-r the transformer trains through adapters while the head trains in full; the
adapters are merged into the saved model, so OUT is a plain reward model either way.`,
	}
	def := train.DefaultSettings()
	def.LR, def.Epochs = 1e-5, 1
	flags := addTrainFlags(cmd, def)
	fs := cmd.Flags()
	o.addFlags(fs)
	fs.Float64Var(&o.centerRewards, "center-rewards", 0, "coefficient of the mean squared (r_chosen + r_rejected) term that centres rewards on 0 (TRL recommends 0.01)")
	o.lora = addLoRAFlags(fs)
	withAliases(fs, map[string]string{"center-rewards-coefficient": "center-rewards", "model-name-or-path": "model"})
	cmd.RunE = runTrainer(flags, o.job, "reward model")
	rootCmd.AddCommand(cmd)
}

func (o *rmOpts) job(s train.Settings, log io.Writer) (*train.Job, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	opt, err := o.lora.baseOptions()
	if err != nil {
		return nil, err
	}
	rm, hasHead, err := rewardmodel.LoadRewardModelOpts(o.model, opt)
	if err != nil {
		return nil, err
	}
	m := rm.Model
	s.ConfigureModel(m)
	tok, enc, err := o.loadTokenizer(m.Cfg)
	if err != nil {
		return nil, err
	}
	if !hasHead || m.Cfg.PAD < 0 || m.Cfg.PAD >= m.Cfg.Vocab {
		rm.Pad = int32(pref.ResolvePad(tok, m.Cfg, int(enc.EOS)))
	}
	if hasHead {
		fmt.Fprintf(log, "rm: continuing the reward model in %s\n", o.model)
	} else {
		rm.InitHead(s.Seed)
		fmt.Fprintf(log, "rm: new score head on %s (normal, std 1/sqrt(%d))\n", o.model, m.Cfg.Dim+1)
	}
	if !m.Cfg.Tied {
		// The LM head plays no part in a reward; freezing it keeps AdamW
		// (and weight decay) off it.
		if err := m.Freeze("lm_head.weight"); err != nil {
			return nil, err
		}
	}
	params, err := o.lora.params(m, s.Seed)
	if err != nil {
		return nil, err
	}
	params = append(params, pref.HeadParams(rm))
	maxLen := o.maxLen(m.Cfg, log)
	trainPairs, evalPairs, err := o.pairs(enc, s.Seed, log)
	if err != nil {
		return nil, err
	}
	obj, dropped := pref.NewRMObjective(rm, trainPairs, maxLen, o.centerRewards)
	if dropped > 0 {
		fmt.Fprintf(log, "rm: dropped %d of %d training pairs longer than %d tokens\n", dropped, len(trainPairs), maxLen)
	}
	if obj.Len() == 0 {
		return nil, fmt.Errorf("%s: no pair fits in --max-length %d", o.data, maxLen)
	}
	fmt.Fprintf(log, "rm: %s; %d training pairs\n", m.Cfg.Describe(), obj.Len())
	job := &train.Job{
		Settings:  s,
		Objective: withLoRADropout(obj, m),
		Params:    params,
		Log:       log,
		Saver: train.SaverFunc(func(dir string) error {
			if err := rm.Save(dir, o.dtype); err != nil {
				return err
			}
			return copyTokenizerFiles(o.tokDir(), o.model, dir)
		}),
	}
	if len(evalPairs) > 0 {
		ev, dropped := pref.NewRMObjective(rm, evalPairs, maxLen, o.centerRewards)
		if dropped > 0 {
			fmt.Fprintf(log, "rm: dropped %d of %d evaluation pairs longer than %d tokens\n", dropped, len(evalPairs), maxLen)
		}
		if ev.Len() > 0 {
			job.Eval = ev
		}
	}
	return job, nil
}
