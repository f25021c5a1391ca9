package policy

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/align-go/align/model"
	"github.com/align-go/align/nn"
)

// direct computes log softmax(x/temp)[id] and the entropy in the plainest
// way, for finite differences and comparison.
func direct(row []float64, id int, temp float64) (float64, float64) {
	z := 0.0
	for _, l := range row {
		z += math.Exp(l / temp)
	}
	ent := 0.0
	for _, l := range row {
		p := math.Exp(l/temp) / z
		ent -= p * math.Log(p)
	}
	return row[id]/temp - math.Log(z), ent
}

// logitsOf is hidden·Wᵀ in float64, the full logits the fused head avoids.
func logitsOf(hidden, w []float32, N, C, V int) []float64 {
	out := make([]float64, N*V)
	for i := 0; i < N; i++ {
		for v := 0; v < V; v++ {
			var s float64
			for c := 0; c < C; c++ {
				s += float64(hidden[i*C+c]) * float64(w[v*C+c])
			}
			out[i*V+v] = s
		}
	}
	return out
}

// TestLogProbsAndBackwardAgainstFiniteDifferences: values at each masked-in
// position come from the hidden state one position earlier (the shift),
// at the temperature, and the hidden-state and head gradients of
// L = Σ a·logp + b·H match central differences of that direct computation.
func TestLogProbsAndBackwardAgainstFiniteDifferences(t *testing.T) {
	const B, T, C, V = 2, 4, 3, 5
	const temp = 0.7
	r := rand.New(rand.NewPCG(1, 2))
	hidden, w := make([]float32, B*T*C), make([]float32, V*C)
	for i := range hidden {
		hidden[i] = float32(r.NormFloat64())
	}
	for i := range w {
		w[i] = float32(r.NormFloat64())
	}
	ids := []int32{0, 1, 3, 2, 4, 0, 2, 1}
	cmask := []int32{0, 0, 1, 1, 0, 1, 1, 0} // row 1: completion after a 1-token prompt, right-padded
	head := &nn.LMHead{W: w, DW: make([]float32, V*C), V: V, C: C, Rows: 3}
	tp := LogProbs(head, hidden, ids, cmask, B, T, temp, All)
	row := func(i int) []float64 { return logitsOf(hidden[(i-1)*C:i*C], w, 1, C, V) }
	for i, m := range cmask {
		if m == 0 {
			if tp.Logp[i] != 0 || tp.Entropy[i] != 0 || tp.Raw[i] != 0 {
				t.Errorf("masked position %d: logp %v entropy %v raw %v, want 0", i, tp.Logp[i], tp.Entropy[i], tp.Raw[i])
			}
			continue
		}
		lp, ent := direct(row(i), int(ids[i]), temp)
		raw, _ := direct(row(i), int(ids[i]), 1)
		if math.Abs(lp-tp.Logp[i]) > 1e-5 || math.Abs(ent-tp.Entropy[i]) > 1e-5 || math.Abs(raw-tp.Raw[i]) > 1e-5 {
			t.Errorf("position %d: got (%v %v %v), want (%v %v %v)", i, tp.Logp[i], tp.Entropy[i], tp.Raw[i], lp, ent, raw)
		}
	}
	a, b := make([]float64, B*T), make([]float64, B*T)
	for i, m := range cmask {
		if m != 0 {
			a[i], b[i] = r.NormFloat64(), r.NormFloat64()
		}
	}
	dh := make([]float32, len(hidden))
	tp.Backward(dh, a, b)
	L := func() float64 {
		s := 0.0
		for i, m := range cmask {
			if m != 0 {
				lp, ent := direct(row(i), int(ids[i]), temp)
				s += a[i]*lp + b[i]*ent
			}
		}
		return s
	}
	check := func(name string, x, g []float32) {
		for k := range x {
			old := x[k]
			const h = 1e-2
			x[k] = old + h
			up := L()
			x[k] = old - h
			dn := L()
			x[k] = old
			fd := (up - dn) / (2 * h)
			if math.Abs(fd-float64(g[k])) > 1e-3*(1+math.Abs(fd)) {
				t.Errorf("d %s[%d] = %v, finite difference %v", name, k, g[k], fd)
			}
		}
	}
	check("hidden", hidden, dh)
	check("head", w, head.DW)
}

// TestSequenceLogprobsMatchesLogits: scoring through the fused head equals
// log-softmax of the model's own full logits at the position before, for
// a tied (gpt2) and an untied (llama) head.
func TestSequenceLogprobsMatchesLogits(t *testing.T) {
	for _, mt := range []string{"gpt2", "llama"} {
		cfg, err := model.ParseConfig(map[string]any{"model_type": mt, "vocab_size": 300.0, "n_embd": 16.0, "n_layer": 1.0,
			"n_head": 2.0, "n_positions": 32.0, "hidden_size": 16.0, "num_hidden_layers": 1.0, "num_attention_heads": 2.0,
			"num_key_value_heads": 1.0, "intermediate_size": 24.0, "max_position_embeddings": 32.0, "tie_word_embeddings": mt == "gpt2"})
		if err != nil {
			t.Fatal(err)
		}
		m := model.New(cfg)
		m.InitRandom(3)
		ids := []int32{5, 17, 299, 0, 42, 42, 7}
		got, err := SequenceLogprobs(m, ids)
		if err != nil {
			t.Fatal(err)
		}
		lg, _, err := m.Forward(model.Batch{B: 1, T: len(ids), IDs: ids}, true)
		if err != nil {
			t.Fatal(err)
		}
		V := cfg.Vocab
		if len(got) != len(ids)-1 {
			t.Fatalf("%s: %d log-probs for %d tokens", mt, len(got), len(ids))
		}
		for i := range got {
			row := make([]float64, V)
			for v := range row {
				row[v] = float64(lg[i*V+v])
			}
			want, _ := direct(row, int(ids[i+1]), 1)
			if math.Abs(got[i]-want) > 1e-5*math.Max(1, math.Abs(want)) {
				t.Errorf("%s: logprob[%d] = %.7f, full logits give %.7f", mt, i, got[i], want)
			}
		}
	}
}
