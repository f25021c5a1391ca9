package main

import (
	"io"

	"github.com/align-go/align/pref"
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

// lib is the flags as the library's pref.JobData.
func (d *prefData) lib(lo *loraFlags) (pref.JobData, error) {
	l, err := lo.lib()
	return pref.JobData{Model: d.model, Tokenizer: d.tokenizer, Data: d.data, EvalData: d.evalData,
		EvalFraction: d.evalFraction, MaxLength: d.maxLength, SkipBadRows: d.skipBadRows, DType: d.dtype, LoRA: l}, err
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
	d, err := o.lib(o.lora)
	if err != nil {
		return nil, err
	}
	return pref.NewRMJob(pref.RMOptions{JobData: d, CenterRewards: o.centerRewards}, s, log)
}
