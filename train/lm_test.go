package train

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/align-go/align/model"
)

func tinyModel(t *testing.T, mt string) *model.Model {
	t.Helper()
	raw := map[string]any{"model_type": mt, "vocab_size": 64.0, "n_embd": 16.0, "n_layer": 2.0, "n_head": 2.0,
		"n_positions": 32.0, "hidden_size": 16.0, "num_hidden_layers": 2.0, "num_attention_heads": 2.0,
		"intermediate_size": 24.0, "max_position_embeddings": 32.0}
	c, err := model.ParseConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	m := model.New(c)
	m.InitRandom(7)
	m.EnableGrad()
	return m
}

func rowsOf(lengths ...int) [][]int32 {
	var rows [][]int32
	s := uint32(12345)
	for _, L := range lengths {
		r := make([]int32, L)
		for i := range r {
			s = s*1664525 + 1013904223
			r[i] = int32(s>>16) % 64
		}
		rows = append(rows, r)
	}
	return rows
}

// logSoftmax64 is an independent float64 log-softmax of one logit row.
func logSoftmax64(row []float32, j int) float64 {
	mx := math.Inf(-1)
	for _, v := range row {
		mx = math.Max(mx, float64(v))
	}
	s := 0.0
	for _, v := range row {
		s += math.Exp(float64(v) - mx)
	}
	return float64(row[j]) - mx - math.Log(s)
}

func maxAbsDiff(a, b []float32) (diff, scale float64) {
	for i := range a {
		diff = math.Max(diff, math.Abs(float64(a[i])-float64(b[i])))
		scale = math.Max(scale, math.Abs(float64(a[i])))
	}
	return diff, scale
}

// TestCausalLMShiftMaskPad checks the label shift and ignore rule against a
// float64 computation on the raw logits, and that a right-padded ragged
// batch gives the losses and gradients of its rows run one at a time.
func TestCausalLMShiftMaskPad(t *testing.T) {
	for _, mt := range []string{"gpt2", "llama"} {
		t.Run(mt, func(t *testing.T) {
			m := tinyModel(t, mt)
			rows := rowsOf(3, 9, 6)
			labels := make([][]int32, len(rows))
			for i, r := range rows {
				labels[i] = append([]int32(nil), r...)
				labels[i][1] = -100 // a masked prompt token
			}
			lm := &CausalLM{Model: m}
			// Reference: each row alone, loss from raw logits in float64.
			var want float64
			wantN := 0
			for i, r := range rows {
				logits, _, err := m.Forward(model.Batch{B: 1, T: len(r), IDs: r}, true)
				if err != nil {
					t.Fatal(err)
				}
				V := m.Cfg.Vocab
				for p := 0; p+1 < len(r); p++ {
					if labels[i][p+1] < 0 {
						continue
					}
					want -= logSoftmax64(logits[p*V:(p+1)*V], int(r[p+1]))
					wantN++
				}
			}
			m.ZeroGrad()
			for i := range rows {
				if _, _, err := lm.Run(rows[i:i+1], labels[i:i+1], 0.25, true); err != nil {
					t.Fatal(err)
				}
			}
			sep := append([]float32(nil), m.Grad...)

			m.ZeroGrad()
			sum, n, err := lm.Run(rows, labels, 0.25, true)
			if err != nil {
				t.Fatal(err)
			}
			if n != wantN || math.Abs(sum-want) > 1e-5*want {
				t.Fatalf("batch loss %v over %d tokens, want %v over %d", sum, n, want, wantN)
			}
			if d, s := maxAbsDiff(sep, m.Grad); d > 1e-5*s || s == 0 {
				t.Fatalf("padded-batch gradient differs from per-row sum: %g (scale %g)", d, s)
			}
			o := &LMObjective{LM: lm, Rows: rows, Labels: labels}
			if u := o.Units([]int{0, 1, 2}); u != wantN {
				t.Fatalf("Units %d, want %d", u, wantN)
			}
			if u := (&LMObjective{Rows: rows}).Units([]int{0, 2}); u != 2+5 {
				t.Fatalf("unlabelled Units %d, want 7", u)
			}
		})
	}
}

// TestGradAccumEquivalence: batch 2 × accumulation 2 must give the gradient
// of batch 4 even though the two micro-batches hold very different token
// counts — the loss is a mean over the tokens of the whole accumulated batch,
// not a mean of per-micro-batch means.
func TestGradAccumEquivalence(t *testing.T) {
	rows := rowsOf(3, 16, 4, 12)
	grads := map[int][]float32{}
	loss := map[int]float64{}
	for _, accum := range []int{1, 2} {
		m := tinyModel(t, "gpt2")
		obj := &LMObjective{LM: &CausalLM{Model: m}, Rows: rows}
		out := t.TempDir()
		s := DefaultSettings()
		s.Out, s.MaxSteps, s.BatchSize, s.GradAccum, s.MaxGradNorm, s.LoggingSteps = out, 1, 4/accum, accum, 0, 1
		j := &Job{Settings: s, Objective: obj, Params: []ParamSet{ModelParams("model", m)}, Log: discard{},
			Saver: SaverFunc(func(dir string) error { return m.SaveDir(dir, "F32") })}
		if _, err := run(t, j); err != nil {
			t.Fatal(err)
		}
		grads[accum] = append([]float32(nil), m.Grad...)
		loss[accum] = readRows(t, filepath.Join(out, metricsFile))[0]["loss"]
	}

	// Independent reference: one pass over all four rows, weight 1/tokens.
	m := tinyModel(t, "gpt2")
	lm := &CausalLM{Model: m}
	total := 2 + 15 + 3 + 11
	m.ZeroGrad()
	sum, n, err := lm.Run(rows, nil, float32(1/float64(total)), true)
	if err != nil || n != total {
		t.Fatal(n, err)
	}
	ref := append([]float32(nil), m.Grad...)
	// The per-micro-batch-mean gradient a wrong normaliser would produce
	// (length bucketing pairs the 16- and 12-token rows, and the 4 and 3).
	naive := make([]float32, len(ref))
	for _, mb := range [][]int{{1, 3}, {0, 2}} {
		k := 0
		for _, i := range mb {
			k += len(rows[i]) - 1
		}
		m.ZeroGrad()
		if _, _, err := lm.Run([][]int32{rows[mb[0]], rows[mb[1]]}, nil, float32(0.5/float64(k)), true); err != nil {
			t.Fatal(err)
		}
		for i, g := range m.Grad {
			naive[i] += g
		}
	}
	dNaive, scale := maxAbsDiff(ref, naive)
	for _, accum := range []int{1, 2} {
		d, _ := maxAbsDiff(ref, grads[accum])
		if d > 1e-5*scale {
			t.Errorf("accum %d: gradient differs from the batch-4 reference by %g (scale %g)", accum, d, scale)
		}
		if math.Abs(loss[accum]-sum/float64(total)) > 1e-6 {
			t.Errorf("accum %d: logged loss %v, want %v", accum, loss[accum], sum/float64(total))
		}
	}
	if dNaive < 100*1e-5*scale {
		t.Fatalf("test cannot tell normalisations apart: naive differs by only %g", dNaive)
	}
}
