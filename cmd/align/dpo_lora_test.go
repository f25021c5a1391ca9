package main

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/align-go/align/checkpoint"
	"github.com/align-go/align/model"
)

// dpoShapeModel writes a llama (d_model 64, 2 layers, ffn 128, untied head)
// over prefModel's byte-level tokenizer and returns its directory and shape.
// The LM head is 10× the usual N(0, 0.02) init, as confident as a trained
// model's: with the stock head and a frozen final norm, the hidden state's
// norm is capped at √d, so no adapter can move a logit gap by more than about
// 0.02·√(2d)·√d ≈ 1 nat and a LoRA run stalls near loss 0.35 while the full
// run (which trains the head) keeps falling — a limit of a random toy model,
// not of LoRA, and it would hide the comparison this file makes.
func dpoShapeModel(t *testing.T) (string, *model.Config) {
	t.Helper()
	dir := prefModel(t, 1) // for its tokenizer; the model is replaced
	cfg, err := model.ParseConfig(map[string]any{"model_type": "llama", "vocab_size": 258.0, "hidden_size": 64.0,
		"num_hidden_layers": 2.0, "num_attention_heads": 4.0, "num_key_value_heads": 2.0, "intermediate_size": 128.0,
		"max_position_embeddings": 128.0, "eos_token_id": 256.0})
	if err != nil {
		t.Fatal(err)
	}
	m := model.New(cfg)
	m.InitRandom(1)
	for i := range m.W.LMHead {
		m.W.LMHead[i] *= 10
	}
	if err := m.SaveDir(dir, "F32"); err != nil {
		t.Fatal(err)
	}
	return dir, cfg
}

// Hand-counted sizes of dpoShapeModel (V 258, C 64, Q 64, KV 32, F 128, 2
// layers), independent of model's parameter table and of model/lora.go.
const (
	shapeFullParams = 2*258*64 + // embed, lm_head
		2*(2*64+64*64+2*64*32+64*64+3*64*128) + // per layer: 2 norms, q, k, v, o, gate, up, down
		64 // final norm
	// LoRA r=8 on all seven linears: r·(in+out) each.
	shapeLoRAParams = 2 * 8 * ((64 + 64) + 2*(64+32) + (64 + 64) + 2*(64+128) + (128 + 64))
)

// safetensorsElements counts the values stored in a safetensors file.
func safetensorsElements(t *testing.T, path string) int {
	t.Helper()
	f, err := checkpoint.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, name := range f.Names() {
		in, _ := f.Info(name)
		n += in.NumElements()
	}
	return n
}

// windowMeans averages consecutive windows of w values (a short last window
// is dropped), smoothing out which pairs each step happened to draw.
func windowMeans(xs []float64, w int) []float64 {
	var out []float64
	for i := 0; i+w <= len(xs); i += w {
		s := 0.0
		for _, x := range xs[i : i+w] {
			s += x
		}
		out = append(out, s/float64(w))
	}
	return out
}

func pearson(a, b []float64) float64 {
	n := float64(len(a))
	var ma, mb float64
	for i := range a {
		ma += a[i] / n
		mb += b[i] / n
	}
	var sab, saa, sbb float64
	for i := range a {
		sab += (a[i] - ma) * (b[i] - mb)
		saa += (a[i] - ma) * (a[i] - ma)
		sbb += (b[i] - mb) * (b[i] - mb)
	}
	return sab / math.Sqrt(saa*sbb)
}

func maxAbsDiff(a, b []float64) (d float64, at int) {
	for i := range a {
		if x := math.Abs(a[i] - b[i]); x > d {
			d, at = x, i
		}
	}
	return d, at
}

// TestDPOLoRAMatchesFullCurve trains DPO three times on the same pairs,
// seed, batches and steps: a full fine-tune at LR 3e-5, LoRA (r 8, all
// linears, no dropout) at the customary 10× that LR, and — as the yardstick
// for "the same curve" — a second full fine-tune at twice the LR. Both main
// runs must start at ln 2, fall steadily, and end preferring the chosen
// response; their normalised curves (loss/ln 2 per step) must lie within
// 0.15 of each other at every step and closer to each other than the full run
// is to itself at 2× the LR, i.e. LoRA changes the curve less than a modest
// LR change does. The run directories' optimizer state then shows where the
// memory saving comes from: LoRA's AdamW moments cover the adapters only.
func TestDPOLoRAMatchesFullCurve(t *testing.T) {
	base, cfg := dpoShapeModel(t)
	if got := cfg.NumParams(); got != shapeFullParams {
		t.Fatalf("model has %d parameters, hand count %d", got, shapeFullParams)
	}
	data := politeRows(t, 256, 1)
	const steps = 25
	runs := []struct {
		name string
		args []string
	}{
		{"full", []string{"--lr", "3e-5"}},
		{"full 2x lr", []string{"--lr", "6e-5"}},
		{"lora", []string{"--lr", "3e-4", "--lora-r", "8", "--lora-alpha", "16", "--lora-dropout", "0"}},
	}
	// The three runs are independent processes: they run side by side.
	outs := make([]string, len(runs))
	errs := make([]error, len(runs))
	var wg sync.WaitGroup
	for i, r := range runs {
		outs[i] = filepath.Join(t.TempDir(), strings.ReplaceAll(r.name, " ", "-"))
		// Micro-batches of 2 pairs keep the LoRA backward under 256 token
		// rows (see TestPrefCommandsLoRA); the full runs use the same batches.
		args := append([]string{"dpo", "--model", base, "--data", data, "--out", outs[i], "--seed", "1",
			"--max-steps", strconv.Itoa(steps), "--batch-size", "2", "--grad-accum", "8", "--lr-scheduler", "constant",
			"--logging-steps", "1", "--save-steps", strconv.Itoa(steps)}, r.args...)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, stderr, err := runAlign(t, "", args...); err != nil {
				errs[i] = fmt.Errorf("%s: %v\n%s", r.name, err, stderr)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	curves := map[string][]float64{}
	optState := map[string]int{}
	for i, r := range runs {
		out := outs[i]
		rows, _ := trainRows(t, out)
		if len(rows) != steps {
			t.Fatalf("%s: %d metric rows, want %d", r.name, len(rows), steps)
		}
		var loss []float64
		for _, row := range rows {
			loss = append(loss, row["loss"])
		}
		curves[r.name] = loss
		optState[r.name] = safetensorsElements(t, filepath.Join(out, fmt.Sprintf("checkpoint-%d", steps), "optimizer.safetensors"))
		if r.name == "full 2x lr" {
			continue
		}
		t.Run(r.name, func(t *testing.T) {
			if math.Abs(loss[0]-math.Ln2) > 1e-4 {
				t.Errorf("first loss %.6f, want ln 2 = %.6f", loss[0], math.Ln2)
			}
			w := windowMeans(loss, 5)
			for i := 1; i < len(w); i++ {
				if w[i] > w[i-1]+0.005 {
					t.Errorf("5-step mean loss rose from %.4f to %.4f (window %d)", w[i-1], w[i], i)
				}
			}
			if last := w[len(w)-1]; last > 0.25*math.Ln2 {
				t.Errorf("last 5-step mean loss %.4f: not below a quarter of ln 2", last)
			}
			if acc := rows[len(rows)-1]["rewards/accuracies"]; acc < 0.9 {
				t.Errorf("final rewards/accuracies %.3f < 0.9", acc)
			}
		})
	}

	norm := func(xs []float64) []float64 {
		out := make([]float64, len(xs))
		for i, x := range xs {
			out[i] = x / xs[0]
		}
		return out
	}
	full, lora, fast := norm(curves["full"]), norm(curves["lora"]), norm(curves["full 2x lr"])
	dLoRA, at := maxAbsDiff(full, lora)
	dLR, atLR := maxAbsDiff(full, fast)
	corr := pearson(full, lora)
	t.Logf("normalised loss, full vs LoRA: max gap %.3f at step %d, correlation %.4f; full vs full at 2x LR: max gap %.3f at step %d",
		dLoRA, at+1, corr, dLR, atLR+1)
	if dLoRA > 0.15 {
		t.Errorf("LoRA's normalised loss is %.3f from the full run's at step %d (band 0.15)", dLoRA, at+1)
	}
	if dLoRA >= dLR {
		t.Errorf("LoRA is further from the full run (%.3f) than the full run at 2x LR is (%.3f)", dLoRA, dLR)
	}
	if corr < 0.98 {
		t.Errorf("correlation of the normalised curves %.4f < 0.98", corr)
	}

	// AdamW holds two moments per trained value: the checkpoints' optimizer
	// files are the measured optimizer state of each run.
	if got, want := optState["full"], 2*shapeFullParams; got != want {
		t.Errorf("full run: %d optimizer values, want 2 × %d parameters", got, shapeFullParams)
	}
	if got, want := optState["lora"], 2*shapeLoRAParams; got != want {
		t.Errorf("LoRA run: %d optimizer values, want 2 × %d adapter parameters", got, shapeLoRAParams)
	}
	frac := float64(optState["lora"]) / float64(optState["full"])
	if frac > 0.2 {
		t.Errorf("LoRA optimizer state is %.3f of the full run's, want ≤ 0.2", frac)
	}
	// Training state in floats: full = weights + grads + 2 moments + the
	// reference clone; LoRA = one base (also the reference) + adapters,
	// their grads and 2 moments.
	P, A := float64(shapeFullParams), float64(shapeLoRAParams)
	t.Logf("trainable: full %d, LoRA %d (%.1f%%); weights+grads+AdamW+reference: full %.0f floats, LoRA %.0f (%.2f×)",
		shapeFullParams, shapeLoRAParams, 100*A/P, 5*P, P+4*A, (P+4*A)/(5*P))
}
