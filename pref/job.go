package pref

import (
	"fmt"
	"io"
	"strings"

	"github.com/align-go/align/data"
	"github.com/align-go/align/loss"
	"github.com/align-go/align/model"
	"github.com/align-go/align/option"
	"github.com/align-go/align/pairenc"
	"github.com/align-go/align/policy"
	"github.com/align-go/align/rewardmodel"
	"github.com/align-go/align/tokenizer"
	"github.com/align-go/align/train"
)

// The preference trainers' jobs (`align rm`, `dpo`, `kto`, `orpo`, `cpo`):
// load the policy (full or LoRA), the tokenizer and pair encoder, the pairs,
// and build the objective. Errors name the commands' flags.

// JobData are the model and data every preference trainer takes.
type JobData struct {
	Model, Tokenizer string // Tokenizer defaults to Model
	Data, EvalData   string // preference (or, for KTO, unpaired) rows
	EvalFraction     float64
	MaxLength        int // longest prompt+response, capped at the model's context
	SkipBadRows      bool
	DType            string // saved weights: F32, BF16 or F16
	LoRA             train.LoRA
}

// RMOptions are a reward model's run.
type RMOptions struct {
	JobData
	CenterRewards float64 // TRL's center_rewards_coefficient
}

// DPOOptions are a DPO-family run.
type DPOOptions struct {
	JobData
	Ref           string // reference model directory ("": a copy of Model, or adapters off under LoRA)
	Config        loss.DPOConfig
	PrecomputeRef bool // reference log-probs computed once, the reference freed
}

// KTOOptions are a KTO run.
type KTOOptions struct {
	JobData
	Ref    string
	Config loss.KTOConfig
	// PrecomputeRef computes every row's reference log-probs once and
	// frees the reference before training (TRL's precompute_ref_log_probs).
	PrecomputeRef bool
}

func (d *JobData) check() error {
	switch {
	case d.Model == "":
		return option.Bad("pref.JobData.Model", "a model directory is required")
	case d.Data == "":
		return option.Bad("pref.JobData.Data", "a preference file is required")
	case d.MaxLength <= 1:
		return option.Bad("pref.JobData.MaxLength", "%d must be at least 2", d.MaxLength)
	case !(d.EvalFraction >= 0 && d.EvalFraction < 1):
		return option.Bad("pref.JobData.EvalFraction", "%v outside [0,1)", d.EvalFraction)
	case d.EvalFraction > 0 && d.EvalData != "":
		return option.Bad("pref.JobData.EvalData", "give it or pref.JobData.EvalFraction, not both")
	}
	if err := train.CheckDType(d.DType); err != nil {
		return &option.Error{Option: "pref.JobData.DType", Err: err}
	}
	return nil
}

func (d *JobData) tokDir() string {
	if d.Tokenizer != "" {
		return d.Tokenizer
	}
	return d.Model
}

// maxLen is MaxLength capped at the model's context.
func (d *JobData) maxLen(cfg *model.Config, log io.Writer) int {
	if d.MaxLength > cfg.MaxPos {
		fmt.Fprintf(log, "pref.JobData.MaxLength %d exceeds the model's context of %d tokens; using %d\n", d.MaxLength, cfg.MaxPos, cfg.MaxPos)
		return cfg.MaxPos
	}
	return d.MaxLength
}

// pairs reads and encodes the training and evaluation pairs (LoadPairs).
func (d *JobData) pairs(enc *pairenc.Encoder, seed uint64, log io.Writer) (trainPairs, evalPairs []pairenc.Pair, err error) {
	return LoadPairs(enc, PairFiles{Train: d.Data, Eval: d.EvalData,
		EvalFraction: d.EvalFraction, Seed: seed, Options: data.Options{SkipBadRows: d.SkipBadRows}}, log)
}

func (d *JobData) loadTokenizer(cfg *model.Config) (*tokenizer.Tokenizer, *pairenc.Encoder, error) {
	tok, err := tokenizer.Load(d.tokDir())
	if err != nil {
		return nil, nil, err
	}
	enc, err := pairenc.NewEncoder(tok, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", d.tokDir(), err)
	}
	return tok, enc, nil
}

// loadPolicy loads the model a preference trainer trains (the Model base,
// compact under LoRA with its load options), sets gradient checkpointing,
// and loads the pair encoder and the padding id.
func (d *JobData) loadPolicy(s train.Settings) (*model.Model, *pairenc.Encoder, int32, error) {
	m, err := d.LoRA.LoadBase(d.Model)
	if err != nil {
		return nil, nil, 0, err
	}
	s.ConfigureModel(m)
	tok, enc, err := d.loadTokenizer(m.Cfg)
	if err != nil {
		return nil, nil, 0, err
	}
	return m, enc, int32(pairenc.ResolvePad(tok, m.Cfg, int(enc.EOS))), nil
}

// NewRMJob builds a reward model's training job (Bradley-Terry on the pairs,
// a new score head unless Model has one).
func NewRMJob(o RMOptions, s train.Settings, log io.Writer) (*train.Job, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	opt, err := o.LoRA.BaseOptions()
	if err != nil {
		return nil, err
	}
	rm, hasHead, err := rewardmodel.LoadRewardModelOpts(o.Model, opt)
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
		rm.Pad = int32(pairenc.ResolvePad(tok, m.Cfg, int(enc.EOS)))
	}
	if hasHead {
		fmt.Fprintf(log, "rm: continuing the reward model in %s\n", o.Model)
	} else {
		rm.InitHead(s.Seed)
		fmt.Fprintf(log, "rm: new score head on %s (normal, std 1/sqrt(%d))\n", o.Model, m.Cfg.Dim+1)
	}
	if !m.Cfg.Tied {
		// The LM head plays no part in a reward; freezing it keeps AdamW
		// (and weight decay) off it.
		if err := m.Freeze("lm_head.weight"); err != nil {
			return nil, err
		}
	}
	params, err := o.LoRA.Params(m, s.Seed)
	if err != nil {
		return nil, err
	}
	params = append(params, HeadParams(rm))
	maxLen := o.maxLen(m.Cfg, log)
	trainPairs, evalPairs, err := o.pairs(enc, s.Seed, log)
	if err != nil {
		return nil, err
	}
	obj, dropped := NewRMObjective(rm, trainPairs, maxLen, o.CenterRewards)
	if dropped > 0 {
		fmt.Fprintf(log, "rm: dropped %d of %d training pairs longer than %d tokens\n", dropped, len(trainPairs), maxLen)
	}
	if obj.Len() == 0 {
		return nil, fmt.Errorf("%s: no pair fits in --max-length %d", o.Data, maxLen)
	}
	fmt.Fprintf(log, "rm: %s; %d training pairs\n", m.Cfg.Describe(), obj.Len())
	job := &train.Job{
		Settings:  s,
		Objective: train.WithLoRADropout(obj, m),
		Params:    params,
		Log:       log,
		Saver: train.SaverFunc(func(dir string) error {
			if err := rm.Save(dir, o.DType); err != nil {
				return err
			}
			return train.CopyTokenizerFiles(o.tokDir(), o.Model, dir)
		}),
	}
	if len(evalPairs) > 0 {
		ev, dropped := NewRMObjective(rm, evalPairs, maxLen, o.CenterRewards)
		if dropped > 0 {
			fmt.Fprintf(log, "rm: dropped %d of %d evaluation pairs longer than %d tokens\n", dropped, len(evalPairs), maxLen)
		}
		if ev.Len() > 0 {
			job.Eval = ev
		}
	}
	return job, nil
}

// NewDPOJob builds a DPO-family training job (the loss Config.LossType names)
// against Ref, a copy of the starting policy, or no reference for a
// reference-free loss.
func NewDPOJob(o DPOOptions, s train.Settings, log io.Writer) (*train.Job, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	pl, err := loss.LookupPreferenceLoss(o.Config.LossType)
	if err != nil {
		return nil, option.Bad("pref.DPOOptions.Config.LossType", "%w", err)
	}
	if pl.ReferenceFree && o.Ref != "" {
		return nil, option.Bad("pref.DPOOptions.Ref", "the %s loss uses no reference model", o.Config.LossType)
	}
	m, enc, pad, err := o.loadPolicy(s)
	if err != nil {
		return nil, err
	}
	var ref *model.Model
	switch {
	case pl.ReferenceFree:
	case o.Ref != "":
		if ref, err = o.LoRA.LoadFrozen(o.Ref); err != nil {
			return nil, option.Bad("pref.DPOOptions.Ref", "%w", err)
		}
		if ref.Cfg.Vocab != m.Cfg.Vocab {
			return nil, option.Bad("pref.DPOOptions.Ref", "%s has vocab_size %d but the model has %d", o.Ref, ref.Cfg.Vocab, m.Cfg.Vocab)
		}
		// The reference pass always completes before the policy's forward and
		// backward, so it can work in the policy's activation buffer.
		ref.BorrowActivations(m)
	default:
		ref = policy.Reference(m, o.LoRA.Enabled())
	}
	params, err := o.LoRA.Params(m, s.Seed)
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
	if o.PrecomputeRef {
		live = nil
	}
	obj, err := NewDPOObjective(m, live, o.Config, trainPairs, maxLen, pad)
	if err != nil {
		return nil, err
	}
	var ev *DPOObjective
	if len(evalPairs) > 0 {
		if ev, err = NewDPOObjective(m, live, o.Config, evalPairs, maxLen, pad); err != nil {
			return nil, err
		}
	}
	if o.PrecomputeRef && ref != nil {
		fmt.Fprintf(log, "dpo: computing reference log-probs of %d pairs\n", obj.Len()+len(evalPairs))
		for _, x := range []*DPOObjective{obj, ev} {
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
		return nil, option.Bad("pref.JobData.Data", "no training pairs")
	}
	fmt.Fprintf(log, "dpo: %s; %d training pairs; loss %s, beta %g\n", m.Cfg.Describe(), obj.Len(), o.Config.LossType, o.Config.Beta)
	job := o.LoRA.Job(s, log, m, obj, params, o.Model, o.DType, o.tokDir())
	if ev != nil {
		job.Eval = ev
	}
	return job, nil
}

// rows reads and encodes the training and evaluation rows.
func (o *KTOOptions) rows(enc *pairenc.Encoder, seed uint64, log io.Writer) (trainRows, evalRows []Unpaired, err error) {
	read := func(path string) ([]Unpaired, error) {
		exs, rep, err := data.ReadUnpaired(path, data.Options{SkipBadRows: o.SkipBadRows})
		if err != nil {
			return nil, err
		}
		if rep.Skipped > 0 {
			fmt.Fprintf(log, "%s: skipped %d bad rows (first: %s)\n", path, rep.Skipped, rep.FirstErrors[0])
		}
		if rep.Format == data.FormatPreference {
			fmt.Fprintf(log, "%s: %d preference pairs split into %d unpaired rows\n", path, rep.Rows, len(exs))
		}
		return EncodeUnpaired(enc, exs)
	}
	if trainRows, err = read(o.Data); err != nil {
		return nil, nil, err
	}
	switch {
	case o.EvalData != "":
		evalRows, err = read(o.EvalData)
	case o.EvalFraction > 0:
		trainRows, evalRows, err = data.Split(trainRows, o.EvalFraction, seed)
		if err != nil {
			err = option.Bad("pref.JobData.EvalFraction", "%w", err)
		}
	}
	return trainRows, evalRows, err
}

// NewKTOJob builds a KTO training job on unpaired (desirable / undesirable) rows.
func NewKTOJob(o KTOOptions, s train.Settings, log io.Writer) (*train.Job, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	if err := (loss.KTOConfig{LossType: o.Config.LossType, Beta: 1, DesirableWeight: 1, UndesirableWeight: 1}).Check(); err != nil {
		return nil, option.Bad("pref.KTOOptions.Config.LossType", "%w", err)
	}
	m, enc, pad, err := o.loadPolicy(s)
	if err != nil {
		return nil, err
	}
	var ref *model.Model
	if o.Ref != "" {
		if ref, err = o.LoRA.LoadFrozen(o.Ref); err != nil {
			return nil, option.Bad("pref.KTOOptions.Ref", "%w", err)
		}
		if ref.Cfg.Vocab != m.Cfg.Vocab {
			return nil, option.Bad("pref.KTOOptions.Ref", "%s has vocab_size %d but the model has %d", o.Ref, ref.Cfg.Vocab, m.Cfg.Vocab)
		}
		// The reference passes complete before the policy's, so they can
		// work in the policy's activation buffer.
		ref.BorrowActivations(m)
	} else {
		ref = policy.Reference(m, o.LoRA.Enabled())
	}
	params, err := o.LoRA.Params(m, s.Seed)
	if err != nil {
		return nil, err
	}
	maxLen := min(o.maxLen(m.Cfg, log), ref.Cfg.MaxPos)
	trainRows, evalRows, err := o.rows(enc, s.Seed, log)
	if err != nil {
		return nil, err
	}
	obj, err := NewKTOObjective(m, ref, o.Config, trainRows, maxLen, pad)
	if err != nil {
		return nil, err
	}
	if obj.Len() == 0 {
		return nil, option.Bad("pref.JobData.Data", "no training rows")
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
		m.Cfg.Describe(), nD, nU, o.Config.LossType, o.Config.Beta, o.Config.DesirableWeight, o.Config.UndesirableWeight)
	if nD > 0 && nU > 0 {
		if r := o.Config.DesirableWeight * float64(nD) / (o.Config.UndesirableWeight * float64(nU)); r < 1 || r > 4.0/3 {
			fmt.Fprintf(log, "kto: desirable_weight*n_desirable / (undesirable_weight*n_undesirable) = %.3g, outside the paper's [1, 4/3]\n", r)
		}
	}
	job := o.LoRA.Job(s, log, m, obj, params, o.Model, o.DType, o.tokDir())
	objs := []*KTOObjective{obj}
	if len(evalRows) > 0 {
		ev, err := NewKTOObjective(m, ref, o.Config, evalRows, maxLen, pad)
		if err != nil {
			return nil, err
		}
		job.Eval = ev
		objs = append(objs, ev)
	}
	if o.PrecomputeRef {
		fmt.Fprintf(log, "kto: computing reference log-probs of %d rows\n", len(trainRows)+len(evalRows))
		for _, x := range objs {
			if err := x.PrecomputeRef(s.BatchSize); err != nil {
				return nil, err
			}
		}
		// Nothing the job holds refers to ref any more, so its memory is
		// freed once training allocates.
	}
	return job, nil
}

// pairJob builds a reference-free preference trainer's job (orpo, cpo):
// the policy, optionally with LoRA, trained on preference pairs by the
// objective newObj makes. Nothing is loaded twice: these losses need no
// reference model.
func pairJob(name string, d *JobData, s train.Settings, log io.Writer, describe string,
	newObj func(m *model.Model, pairs []pairenc.Pair, maxLen int, pad int32) (*DPOObjective, error)) (*train.Job, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	m, enc, pad, err := d.loadPolicy(s)
	if err != nil {
		return nil, err
	}
	params, err := d.LoRA.Params(m, s.Seed)
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
		return nil, option.Bad("pref.JobData.Data", "no training pairs")
	}
	fmt.Fprintf(log, "%s: %s; %d training pairs; %s\n", name, m.Cfg.Describe(), obj.Len(), describe)
	job := d.LoRA.Job(s, log, m, obj, params, d.Model, d.DType, d.tokDir())
	if len(evalPairs) > 0 {
		ev, err := newObj(m, evalPairs, maxLen, pad)
		if err != nil {
			return nil, err
		}
		job.Eval = ev
	}
	return job, nil
}

// NewORPOJob builds an ORPO training job (odds-ratio term weighted by beta,
// no reference model).
func NewORPOJob(d JobData, beta float64, s train.Settings, log io.Writer) (*train.Job, error) {
	return pairJob("orpo", &d, s, log, fmt.Sprintf("beta (λ) %g", beta),
		func(m *model.Model, pairs []pairenc.Pair, maxLen int, pad int32) (*DPOObjective, error) {
			return NewORPOObjective(m, beta, pairs, maxLen, pad)
		})
}

// NewCPOJob builds a CPO (or SimPO) training job, no reference model.
func NewCPOJob(d JobData, cfg loss.CPOConfig, s train.Settings, log io.Writer) (*train.Job, error) {
	return pairJob("cpo", &d, s, log, fmt.Sprintf("loss %s, beta %g, cpo_alpha %g", cfg.LossType, cfg.Beta, cfg.Alpha),
		func(m *model.Model, pairs []pairenc.Pair, maxLen int, pad int32) (*DPOObjective, error) {
			obj, err := NewCPOObjective(m, cfg, pairs, maxLen, pad)
			if err != nil && strings.Contains(err.Error(), "unknown CPO loss type") {
				return nil, option.Bad("loss.CPOConfig.LossType", "%w", err)
			}
			return obj, err
		})
}
