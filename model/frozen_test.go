package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/align-go/align/nn"
)

// savedModel writes a random model of family mt as dtype (BF16, F16, F32)
// and returns the directory.
func savedModel(t *testing.T, cfg *Config, dtype string, std float64) string {
	t.Helper()
	m := New(cfg)
	m.InitRandom(5)
	if std > 0 { // peakier logits than the 0.02 init, so log-prob gaps mean something
		for i := range m.Data {
			m.Data[i] *= float32(std / 0.02)
		}
		for _, p := range m.Params {
			if hasSuffix(p.Name, "norm1.weight", "norm2.weight", "norm_f.weight", "q_norm.weight", "k_norm.weight") {
				fill(m.Data[p.Offset:p.Offset+p.Size], 1)
			}
		}
	}
	dir := t.TempDir()
	if err := m.SaveDir(dir, dtype); err != nil {
		t.Fatal(err)
	}
	return dir
}

// dequantisedTwin is an f32 model whose block Linears hold cm's dequantised
// weights: what every compact kernel must compute.
func dequantisedTwin(t *testing.T, dir string, cm *Model) *Model {
	t.Helper()
	ref, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range cm.Params {
		if p.Compact {
			copy(ref.Tensor(p.Name), cm.Tensor(p.Name))
			n++
		}
	}
	if n == 0 {
		t.Fatal("no compact parameter")
	}
	return ref
}

func relDiff(a, b []float32) float64 {
	var d, s float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
		s = math.Max(s, math.Abs(float64(b[i])))
	}
	return d / math.Max(s, 1e-30)
}

// A compact base computes what the f32 model with its dequantised weights
// computes: training forward (tiles below 33 rows, panels and GEMM above),
// LoRA backward (adapter and bias-free input gradients flow through the
// compact weights), and cached decoding.
func TestCompactMatchesDequantisedF32(t *testing.T) {
	for _, mt := range []string{"gpt2", "llama", "qwen2", "qwen3"} {
		dir := savedModel(t, cacheConfig(mt, true), "BF16", 0)
		for _, dt := range []string{"auto", "f16", "int8", "nf4", "fp4"} {
			t.Run(mt+"/"+dt, func(t *testing.T) {
				cm, _, err := LoadDirOpts(dir, LoadOptions{WeightDType: dt, DoubleQuant: dt == "nf4"})
				if err != nil {
					t.Fatal(err)
				}
				ref := dequantisedTwin(t, dir, cm)
				want := map[string]string{"auto": "bf16"}[dt]
				if want == "" {
					want = dt
				}
				if got := cm.WeightDType(); got != want {
					t.Fatalf("WeightDType %q, want %q", got, want)
				}
				for _, m := range []*Model{cm, ref} {
					if err := m.AttachLoRA(LoRAConfig{R: 4, Alpha: 8, Targets: []string{"all-linear"}}, 3); err != nil {
						t.Fatal(err)
					}
					randomizeB(m, 4)
					m.EnableGrad()
				}
				r := rand.New(rand.NewPCG(1, 1))
				for _, bt := range [][2]int{{2, 5}, {3, 20}} { // 10 rows: tiles; 60: GEMM panels
					B, T, V := bt[0], bt[1], cm.Cfg.Vocab
					ids := make([]int32, B*T)
					for i := range ids {
						ids[i] = int32(r.IntN(V))
					}
					b := Batch{B: B, T: T, IDs: ids}
					lc, lr := logitsOf(t, cm, b), logitsOf(t, ref, b)
					if d := relDiff(lc, lr); d > 1e-5 {
						t.Fatalf("%d rows: logits differ by %.3g (relative to the largest)", B*T, d)
					}
					dl := make([]float32, len(lc))
					for i := range dl {
						dl[i] = float32(r.NormFloat64())
					}
					var grads [2][]float32
					for i, m := range []*Model{cm, ref} {
						if _, _, err := m.Forward(b, true); err != nil {
							t.Fatal(err)
						}
						clear(m.LoRA().Grad)
						if err := m.Backward(dl, nil); err != nil {
							t.Fatal(err)
						}
						grads[i] = append([]float32(nil), m.LoRA().Grad...)
					}
					if d := relDiff(grads[0], grads[1]); d > 1e-4 {
						t.Fatalf("%d rows: LoRA gradients differ by %.3g (relative)", B*T, d)
					}
				}
				if dt == "auto" {
					// bf16 weights decode through the bf16 tiles, whose
					// VDPBF16PS kernel also rounds the input: the twin's
					// bf16 decode copy holds the same bits.
					for _, m := range []*Model{cm, ref} { // the f32 LM head too
						if err := m.SetDecodeDType("bf16"); err != nil {
							t.Fatal(err)
						}
					}
				}
				if dt == "int8" || dt == "nf4" || dt == "fp4" {
					// The embedding and head stay bf16 under 8/4-bit
					// loading, and a bf16 head decodes through the bf16
					// tiles (input rounded, as above): the twin reads the
					// same table, so the blocks are what is compared.
					ref.embedQ, ref.headQ = cm.embedQ, cm.headQ
				}
				if d := relDiff(decodeRun(t, cm), decodeRun(t, ref)); d > 1e-4 {
					t.Fatalf("cached decoding differs by %.3g (relative)", d)
				}
			})
		}
	}
}

// Loading a bf16 checkpoint with a frozen base keeps its block Linears, its
// token embedding and its untied LM head as bf16 (2 bytes each) and makes no
// f32 copy of any of them: the heap grows by the f32 norms plus the bf16
// weights, not by 4 bytes per weight. The vocabulary is large, as a real
// model's is, so the tables (2×4096×256) weigh as much as the blocks
// (4 layers × 4 × 256²): an f32 copy of either would add 8 MB.
func TestCompactLoadKeepsNoF32Copy(t *testing.T) {
	raw := map[string]any{"model_type": "llama", "vocab_size": 4096.0, "hidden_size": 256.0, "num_hidden_layers": 4.0,
		"num_attention_heads": 4.0, "num_key_value_heads": 4.0, "intermediate_size": 512.0, "max_position_embeddings": 64.0,
		"tie_word_embeddings": false}
	cfg, err := ParseConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	dir := savedModel(t, cfg, "BF16", 0)
	var linear, tables int64
	for _, p := range paramTable(cfg) {
		if _, _, ok := isBlockLinear(p.Name); ok {
			linear += int64(p.Size)
		}
		if isTable(p.Name) {
			tables += int64(p.Size)
		}
	}
	rest := int64(cfg.NumParams()) - linear - tables
	for _, dt := range []string{"auto", "nf4"} {
		t.Run(dt, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			m, _, err := LoadDirOpts(dir, LoadOptions{WeightDType: dt})
			if err != nil {
				t.Fatal(err)
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
			if got := int64(len(m.Data)); got != rest {
				t.Errorf("Data holds %d floats, want %d (the norms: everything but the block Linears, embedding and head)", got, rest)
			}
			for _, name := range []string{"embed", "lm_head.weight"} {
				if !m.Param(name).Compact {
					t.Errorf("%s is not compact", name)
				}
			}
			if m.W.Wte != nil || m.W.LMHead != nil {
				t.Errorf("f32 views of the embedding (%d) or head (%d) exist", len(m.W.Wte), len(m.W.LMHead))
			}
			// bitsandbytes quantises Linear layers only: the tables stay bf16.
			for _, q := range []*nn.QWeight{m.embedTable(), m.headTable()} {
				if q == nil {
					t.Fatal("embedding/head table not compact")
				}
				if q.DType != nn.WeightBF16 {
					t.Fatalf("embedding/head table in %s, want bf16", q.DType)
				}
			}
			blocks := 2 * linear
			if dt == "nf4" {
				blocks = linear/2 + 4*linear/nn.QBlock
			}
			if got := m.CompactBytes(); got != blocks+2*tables {
				t.Errorf("compact weights take %d bytes, want %d", got, blocks+2*tables)
			}
			limit := 4*rest + blocks + 2*tables + 1<<20
			t.Logf("heap grew %.2f MB: f32 norms %.3f MB + blocks %.2f MB + bf16 tables %.2f MB (f32 tables would add %.2f MB)",
				float64(grew)/1e6, float64(4*rest)/1e6, float64(blocks)/1e6, float64(2*tables)/1e6, float64(2*tables)/1e6)
			if grew > limit {
				t.Fatalf("heap grew %d bytes, more than %d", grew, limit)
			}
			// Quantising converts one tensor at a time through one reused
			// f32 scratch: what the load allocates in all is what it keeps
			// plus the largest tensor, not an f32 copy of every weight
			// (garbage the collector lets pile up to the live heap's size).
			alloc := int64(after.TotalAlloc - before.TotalAlloc)
			largest := int64(4 * cfg.FFN * cfg.Dim)
			t.Logf("load allocated %.2f MB in all (an f32 temporary per tensor: +%.2f MB)", float64(alloc)/1e6, float64(4*linear)/1e6)
			// 4 MB for the reader: headers, the index, a 1 MB staging buffer.
			if kept := 4*rest + blocks + 2*tables; alloc > kept+largest+4<<20 {
				t.Fatalf("load allocated %d bytes, more than %d kept + %d scratch + 4 MB", alloc, kept, largest)
			}
			runtime.KeepAlive(m)
		})
	}
}

// Decoding from a quantised base stays close to f32: log-probs of every
// position of a cached decode (prefill and 5 steps), on a model whose
// weights are scaled up so its distributions are far from uniform.
// Bounds (max / mean |Δ log p|, measured ~0.06 / 0.011, 1.1 / 0.17 and
// 1.4 / 0.22): int8 0.1 / 0.02, NF4 1.5 / 0.25, FP4 2 / 0.3; and NF4, built
// for normally distributed weights, beats FP4 on average.
func TestQuantDecodeLogprobs(t *testing.T) {
	for _, mt := range []string{"llama", "qwen3"} {
		dir := savedModel(t, cacheConfig(mt, true), "BF16", 0.1)
		ref, err := LoadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		want := decodeRun(t, ref)
		V := ref.Cfg.Vocab
		means := map[string]float64{}
		for _, c := range []struct {
			dt        string
			dq        bool
			max, mean float64
		}{{"int8", false, 0.1, 0.02}, {"nf4", false, 1.5, 0.25}, {"nf4", true, 1.5, 0.25}, {"fp4", false, 2, 0.3}} {
			t.Run(fmt.Sprintf("%s/%s/dq=%v", mt, c.dt, c.dq), func(t *testing.T) {
				m, _, err := LoadDirOpts(dir, LoadOptions{WeightDType: c.dt, DoubleQuant: c.dq})
				if err != nil {
					t.Fatal(err)
				}
				got := decodeRun(t, m)
				worst, sum, n, spread := 0.0, 0.0, 0, 0.0
				for p := 0; p < len(got)/V; p++ {
					g, w := got[p*V:(p+1)*V], want[p*V:(p+1)*V]
					lo, hi := math.Inf(1), math.Inf(-1)
					for j := 0; j < V; j++ {
						lw := logSoftmax64(w, j)
						d := math.Abs(logSoftmax64(g, j) - lw)
						worst, sum, n = math.Max(worst, d), sum+d, n+1
						lo, hi = math.Min(lo, lw), math.Max(hi, lw)
					}
					spread += hi - lo
				}
				t.Logf("|Δ log p| max %.3g mean %.3g (f32 log-probs span %.2f nats on average)", worst, sum/float64(n), spread/float64(len(got)/V))
				if !c.dq {
					means[c.dt] = sum / float64(n)
				}
				if worst > c.max || sum/float64(n) > c.mean {
					t.Fatalf("|Δ log p| max %.3g mean %.3g: above %g / %g", worst, sum/float64(n), c.max, c.mean)
				}
			})
		}
		if !(means["nf4"] < means["fp4"]) {
			t.Errorf("%s: mean |Δ log p| NF4 %.3g, not below FP4's %.3g", mt, means["nf4"], means["fp4"])
		}
	}
}

// LoRA on a 4-bit (NF4, double-quantised) base learns as on the f32 base:
// plain SGD on the adapters of a repeated batch, 120 steps at learning rate
// 2 (a tiny model), must cut the cross-entropy by a fifth (4.25 -> ~3.1: the
// frozen embedding and head of a random model limit what rank-8 adapters
// reach), with the final loss within 10% of the f32 base's run (3.32 vs 3.08).
func TestLoRAOn4BitBaseLearns(t *testing.T) {
	dir := savedModel(t, cacheConfig("llama", true), "BF16", 0)
	var final [2]float64
	for k, opt := range []LoadOptions{{WeightDType: "nf4", DoubleQuant: true}, {}} {
		m, _, err := LoadDirOpts(dir, opt)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.AttachLoRA(LoRAConfig{R: 8, Alpha: 16, Targets: []string{"all-linear"}}, 1); err != nil {
			t.Fatal(err)
		}
		m.EnableGrad()
		if m.Grad != nil {
			t.Fatal("a frozen base has a gradient buffer")
		}
		first, last := loraTrain(t, m, 120, 2)
		t.Logf("%s base: loss %.4f -> %.4f", m.WeightDType(), first, last)
		if !(last < 0.8*first) {
			t.Fatalf("%s base: loss %.4f -> %.4f: not 20%% lower", m.WeightDType(), first, last)
		}
		final[k] = last
	}
	if math.Abs(final[0]-final[1]) > 0.1*final[1] {
		t.Fatalf("final loss on the NF4 base %.4f, on the f32 base %.4f: more than 10%% apart", final[0], final[1])
	}
}

// loraTrain runs SGD on m's adapters over one repeated batch and returns the
// first and last cross-entropy.
func loraTrain(t *testing.T, m *Model, steps int, lr float32) (first, last float64) {
	B, T, V := 2, 12, m.Cfg.Vocab
	ids := make([]int32, B*T)
	for i := range ids {
		ids[i] = int32((i*7 + 3) % V)
	}
	lo := m.LoRA()
	for step := 0; step < steps; step++ {
		logits, _, err := m.Forward(Batch{B: B, T: T, IDs: ids}, true)
		if err != nil {
			t.Fatal(err)
		}
		dl := make([]float32, len(logits))
		loss, n := 0.0, 0
		for i := 0; i < B*T; i++ {
			if (i+1)%T == 0 {
				continue
			}
			row := logits[i*V : (i+1)*V]
			tgt := int(ids[i+1])
			loss -= logSoftmax64(row, tgt)
			n++
			for j, p := range softmax64(row) {
				dl[i*V+j] = float32(p)
			}
			dl[i*V+tgt]--
		}
		for i := range dl {
			dl[i] /= float32(n)
		}
		loss /= float64(n)
		if step == 0 {
			first = loss
		}
		last = loss
		clear(lo.Grad)
		if err := m.Backward(dl, nil); err != nil {
			t.Fatal(err)
		}
		for i := range lo.Data {
			lo.Data[i] -= lr * lo.Grad[i]
		}
	}
	return first, last
}

// A clone of a compact model shares its frozen weights, holds only the f32
// rest, and computes the same logits.
func TestCompactClone(t *testing.T) {
	dir := savedModel(t, cacheConfig("llama", true), "BF16", 0)
	m, _, err := LoadDirOpts(dir, LoadOptions{WeightDType: "int8"})
	if err != nil {
		t.Fatal(err)
	}
	c := m.Clone()
	if len(c.Data) != len(m.Data) || c.WeightDType() != "int8" {
		t.Fatalf("clone: %d floats (want %d), dtype %s", len(c.Data), len(m.Data), c.WeightDType())
	}
	b := Batch{B: 1, T: 6, IDs: []int32{1, 5, 9, 3, 7, 2}}
	if d := relDiff(logitsOf(t, c, b), logitsOf(t, m, b)); d != 0 {
		t.Fatalf("clone's logits differ by %g", d)
	}
}
