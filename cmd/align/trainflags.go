package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/align-go/align/train"
)

// aliases map HuggingFace/TRL argument names onto ours, so a TRL YAML config
// (or a habit like --learning-rate) works unchanged. Keys are normalised
// (dashes).
var aliases = map[string]string{
	"learning-rate":               "lr",
	"num-train-epochs":            "epochs",
	"per-device-train-batch-size": "batch-size",
	"gradient-accumulation-steps": "grad-accum",
	"lr-scheduler-type":           "lr-scheduler",
	"output-dir":                  "out",
	"resume-from-checkpoint":      "resume",
}

// normalizeName maps max_steps and max-steps (and the aliases) to one name.
func normalizeName(name string) string {
	n := strings.ReplaceAll(name, "_", "-")
	if a, ok := aliases[n]; ok {
		return a
	}
	return n
}

// configFile is --config FILE.yaml for a command: a YAML mapping of flag
// names (max_steps or max-steps, and the HF names in aliases) to values,
// applied to every flag not given on the command line; and the command's
// resolved flags rendered back as such a file, for OUT/config.yaml. Trainers
// get it through addTrainFlags.
type configFile struct {
	cmd  *cobra.Command
	path string
}

// addConfigFlag registers --config on cmd and makes its flags accept
// underscored spellings and the aliases. Call it before adding aliases of
// the command's own (they chain onto this normalisation).
func addConfigFlag(cmd *cobra.Command) *configFile {
	c := &configFile{cmd: cmd}
	fs := cmd.Flags()
	fs.SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		return pflag.NormalizedName(normalizeName(name))
	})
	fs.StringVar(&c.path, "config", "", "YAML file of settings (keys are flag names, max_steps or max-steps); flags given on the command line win")
	return c
}

// Apply sets, from the --config file if one was given, every flag the
// command line did not set.
func (c *configFile) Apply() error {
	if c.path == "" {
		return nil
	}
	return applyYAML(c.cmd.Flags(), c.path)
}

// trainFlags binds the loop's settings (train.Settings, which a Go program
// fills in directly) to a cobra command and resolves them against a --config
// YAML file. Each trainer adds its own flags to the same command; the YAML
// file may set those too.
type trainFlags struct {
	cmd    *cobra.Command
	s      train.Settings
	config *configFile
}

// addTrainFlags registers the common training flags on cmd with def as defaults,
// plus --config FILE.yaml (addConfigFlag).
func addTrainFlags(cmd *cobra.Command, def train.Settings) *trainFlags {
	f := &trainFlags{cmd: cmd, s: def, config: addConfigFlag(cmd)}
	fs := cmd.Flags()
	s := &f.s
	fs.StringVar(&s.Out, "out", def.Out, "run directory: config.yaml, metrics.jsonl, checkpoints, final model")
	fs.IntVar(&s.MaxSteps, "max-steps", def.MaxSteps, "optimizer steps to take; > 0 overrides --epochs")
	fs.Float64Var(&s.Epochs, "epochs", def.Epochs, "passes over the training data (may be fractional)")
	fs.IntVar(&s.BatchSize, "batch-size", def.BatchSize, "examples per micro-batch")
	fs.IntVar(&s.GradAccum, "grad-accum", def.GradAccum, "micro-batches accumulated per optimizer step")
	fs.Float64Var(&s.LR, "lr", def.LR, "peak learning rate")
	fs.StringVar(&s.LRScheduler, "lr-scheduler", def.LRScheduler, "learning-rate schedule: constant, constant_with_warmup, linear, cosine, cosine_with_min_lr")
	fs.IntVar(&s.WarmupSteps, "warmup-steps", def.WarmupSteps, "linear warmup steps")
	fs.Float64Var(&s.WarmupRatio, "warmup-ratio", def.WarmupRatio, "warmup as a fraction of all steps (when --warmup-steps is 0)")
	fs.Float64Var(&s.WeightDecay, "weight-decay", def.WeightDecay, "AdamW decoupled weight decay (on weight matrices; see --weight-decay-all)")
	fs.BoolVar(&s.DecayAll, "weight-decay-all", def.DecayAll, "apply --weight-decay to norms, biases and embeddings too")
	fs.Float64Var(&s.AdamBeta1, "adam-beta1", def.AdamBeta1, "AdamW beta1")
	fs.Float64Var(&s.AdamBeta2, "adam-beta2", def.AdamBeta2, "AdamW beta2")
	fs.Float64Var(&s.AdamEpsilon, "adam-epsilon", def.AdamEpsilon, "AdamW epsilon")
	fs.Float64Var(&s.MaxGradNorm, "max-grad-norm", def.MaxGradNorm, "clip the global gradient norm to this (0: no clipping)")
	fs.Uint64Var(&s.Seed, "seed", def.Seed, "seed for data order and sampling")
	fs.IntVar(&s.LoggingSteps, "logging-steps", def.LoggingSteps, "write a metrics row every N steps")
	fs.IntVar(&s.EvalSteps, "eval-steps", def.EvalSteps, "evaluate every N steps (0: every --logging-steps)")
	fs.IntVar(&s.SaveSteps, "save-steps", def.SaveSteps, "write a checkpoint every N steps (0: never)")
	fs.IntVar(&s.SaveTotalLimit, "save-total-limit", def.SaveTotalLimit, "keep only the newest N checkpoints (0: all)")
	fs.StringVar(&s.Resume, "resume", def.Resume, "resume from a checkpoint directory; bare --resume takes the newest checkpoint in --out")
	fs.Lookup("resume").NoOptDefVal = train.ResumeLatest
	fs.BoolVar(&s.GroupByLength, "group-by-length", def.GroupByLength, "put examples of similar length in the same micro-batch")
	fs.BoolVar(&s.GradientCheckpointing, "gradient-checkpointing", def.GradientCheckpointing, "keep only each layer's input and recompute the layer in backward: activation memory falls to about 1/layers for one more forward pass per step; gradients are unchanged")
	fs.BoolVar(&s.BF16, "bf16", def.BF16, "multiply in bfloat16 with float32 sums (the products of forward and backward: Linears, attention, LM head; AVX512_BF16 where the CPU has it, about twice the f32 speed): each operand keeps ~3 significant digits (rounding ≤ 2^-9 relative) instead of ~7, so losses and gradients differ from f32 by ~0.1-1%; weights, optimizer state, norms, softmax and losses stay float32")
	if cmd.Args == nil {
		// Resolve checks positional arguments (a bare --resume may be followed by its directory).
		cmd.Args = cobra.ArbitraryArgs
	}
	return f
}

// Resolve applies --config (only to flags not given explicitly), accepts
// "--resume DIR" written with a space, and validates. args are the
// command's positional arguments; none other is accepted.
func (f *trainFlags) Resolve(args []string) (train.Settings, error) {
	fs := f.cmd.Flags()
	if len(args) > 0 {
		rf := fs.Lookup("resume")
		if rf.Changed && f.s.Resume == train.ResumeLatest && len(args) == 1 {
			f.s.Resume = args[0]
		} else {
			return train.Settings{}, fmt.Errorf("unexpected argument %q (every option is a --flag)", args[0])
		}
	}
	if err := f.config.Apply(); err != nil {
		return train.Settings{}, err
	}
	if err := f.s.Validate(); err != nil {
		return train.Settings{}, err
	}
	return f.s, nil
}

// applyYAML sets every flag named in the YAML mapping at path that was not
// given on the command line.
func applyYAML(fs *pflag.FlagSet, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	if len(doc.Content) == 0 {
		return nil // empty file
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("%s:%d: want a mapping of setting names to values", path, root.Line)
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		name := normalizeName(k.Value)
		at := fmt.Sprintf("%s:%d: %s", path, k.Line, k.Value)
		fl := fs.Lookup(name)
		if fl == nil || name == "config" || name == "help" {
			return fmt.Errorf("%s: unknown setting", at)
		}
		if line, dup := seen[name]; dup {
			return fmt.Errorf("%s: already set on line %d", at, line)
		}
		seen[name] = k.Line
		if fl.Changed {
			continue // the command line wins
		}
		if err := setFromYAML(fs, fl, v); err != nil {
			return fmt.Errorf("%s: %v", at, err)
		}
	}
	return nil
}

func setFromYAML(fs *pflag.FlagSet, fl *pflag.Flag, v *yaml.Node) error {
	switch v.Kind {
	case yaml.SequenceNode:
		sv, ok := fl.Value.(pflag.SliceValue)
		if !ok {
			return fmt.Errorf("a list is not valid here (want %s)", fl.Value.Type())
		}
		items := make([]string, len(v.Content))
		for i, it := range v.Content {
			if it.Kind != yaml.ScalarNode {
				return fmt.Errorf("item %d: want a scalar", i+1)
			}
			items[i] = it.Value
		}
		return sv.Replace(items)
	case yaml.ScalarNode:
		if v.Tag == "!!null" {
			return nil
		}
		val := v.Value
		if fl.Name == "resume" {
			// resume: true / false as well as a path.
			if b, err := strconv.ParseBool(val); err == nil && v.Tag == "!!bool" {
				val = ""
				if b {
					val = train.ResumeLatest
				}
			}
		}
		if v.Tag == "!!float" {
			// YAML's spellings of the special values (config.yaml writes a
			// NaN default, e.g. ppo's missing_eos_penalty, as .nan).
			switch strings.ToLower(val) {
			case ".nan":
				val = "NaN"
			case ".inf", "+.inf":
				val = "+Inf"
			case "-.inf":
				val = "-Inf"
			}
		}
		if sv, ok := fl.Value.(pflag.SliceValue); ok {
			return sv.Replace([]string{val})
		}
		if err := fl.Value.Set(val); err != nil {
			return fmt.Errorf("invalid %s %q: %v", fl.Value.Type(), val, err)
		}
		return nil
	}
	return fmt.Errorf("want a value, not a mapping")
}

// ConfigYAML renders every flag of the command (the loop's and the
// trainer's own) as resolved, underscored like a TRL config, for
// OUT/config.yaml. It is a valid --config file for the same command.
func (f *trainFlags) ConfigYAML() ([]byte, error) { return f.config.YAML() }

// YAML renders every flag of the command as resolved (ConfigYAML).
func (c *configFile) YAML() ([]byte, error) {
	var flags []*pflag.Flag
	c.cmd.Flags().VisitAll(func(fl *pflag.Flag) {
		switch fl.Name {
		case "config", "help", "resume":
			return
		}
		flags = append(flags, fl)
	})
	sort.Slice(flags, func(i, j int) bool { return flags[i].Name < flags[j].Name })
	root := &yaml.Node{Kind: yaml.MappingNode}
	for _, fl := range flags {
		var val any = fl.Value.String()
		switch t := fl.Value.Type(); {
		case t == "bool":
			val, _ = strconv.ParseBool(fl.Value.String())
		case strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint"):
			if n, err := strconv.ParseInt(fl.Value.String(), 10, 64); err == nil {
				val = n
			} else if u, err := strconv.ParseUint(fl.Value.String(), 10, 64); err == nil {
				val = u
			}
		case strings.HasPrefix(t, "float"):
			if x, err := strconv.ParseFloat(fl.Value.String(), 64); err == nil {
				val = x
			}
		default:
			if sv, ok := fl.Value.(pflag.SliceValue); ok {
				val = sv.GetSlice()
			}
		}
		var k, v yaml.Node
		k.SetString(strings.ReplaceAll(fl.Name, "-", "_"))
		if err := v.Encode(val); err != nil {
			return nil, err
		}
		root.Content = append(root.Content, &k, &v)
	}
	return yaml.Marshal(root)
}
