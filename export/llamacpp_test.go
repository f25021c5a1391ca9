package export

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/align-go/align/gguf"
	"github.com/align-go/align/internal/refdata"
	"github.com/align-go/align/model"
	"github.com/align-go/align/tokenizer"
)

// These tests hold exported files to llama.cpp itself: the prebuilt CPU build
// the npm package node-llama-cpp ships, installed in testdata/llamacpp by
// `.ci/run` (npm ci there). A missing install skips locally and fails when
// ALIGN_REQUIRE_LLAMACPP=1, as CI sets it.

// llamaRequest and llamaResult mirror testdata/llamacpp/llamacpp.mjs.
type llamaRequest struct {
	Model     string    `json:"model"`
	Sequences [][]int32 `json:"sequences,omitempty"`
	IDs       []int32   `json:"ids,omitempty"`
	Texts     []string  `json:"texts,omitempty"`
}

type llamaResult struct {
	LogProbs []byte    `json:"logprobs_f64"` // little-endian float64s: per sequence, position, reported id
	Top      [][]int32 `json:"top"`
	Tokens   [][]int32 `json:"tokens"`
}

// runLlama runs the requests in one node process (models load one at a time).
func runLlama(t *testing.T, reqs []llamaRequest) []llamaResult {
	t.Helper()
	root, err := refdata.Root()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "testdata", "llamacpp")
	node, err := exec.LookPath("node")

	missing := ""
	switch {
	case err != nil:
		missing = "node is not on PATH"
	default:
		if _, err := os.Stat(filepath.Join(dir, "node_modules", "node-llama-cpp", "package.json")); err != nil {
			missing = "node-llama-cpp is not installed (cd testdata/llamacpp && npm ci)"
		}
	}
	if missing != "" {
		if os.Getenv("ALIGN_REQUIRE_LLAMACPP") == "1" {
			t.Fatalf("llama.cpp reference unavailable: %s", missing)
		}
		t.Skipf("llama.cpp reference unavailable (set ALIGN_REQUIRE_LLAMACPP=1 to fail instead): %s", missing)
	}
	in, _ := json.Marshal(map[string]any{"requests": reqs})
	cmd := exec.Command(node, filepath.Join(dir, "llamacpp.mjs"))
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("llama.cpp runner: %v\n%s", err, stderr.String())
	}
	var res struct{ Results []llamaResult }
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("llama.cpp runner output: %v\n%s", err, stderr.String())
	}
	if len(res.Results) != len(reqs) {
		t.Fatalf("llama.cpp runner: %d results for %d requests", len(res.Results), len(reqs))
	}
	return res.Results
}

// testModel is one model type's tiny random model with a real tokenizer:
// GPT-2's, cut to its first 2,048 ids (cutTokenizer). llama.cpp runs any
// architecture with any BPE vocabulary, and a small one keeps llama.cpp's
// per-position softmax and Align's quantisation of the embeddings cheap
// enough to compare the whole distribution at every position;
// TestLlamaCpp/Tokenizer holds the full GPT-2 and Qwen3 vocabularies.
type testModel struct {
	name string
	cfg  map[string]any
}

// Dimensions are multiples of 256 so the k-quants apply without llama-quantize's
// fallbacks; two layers give Q4_K_M both its Q4_K and its Q6_K layers.
func testModels() []testModel {
	llama := func(mt string, extra map[string]any) map[string]any {
		c := map[string]any{"model_type": mt, "hidden_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4,
			"num_key_value_heads": 2, "intermediate_size": 512, "max_position_embeddings": 128, "rms_norm_eps": 1e-6,
			"rope_theta": 10000.0, "vocab_size": 2049, "tie_word_embeddings": false}
		for k, v := range extra {
			c[k] = v
		}
		return c
	}
	return []testModel{
		{"gpt2", map[string]any{"model_type": "gpt2", "n_embd": 256, "n_layer": 2, "n_head": 4, "n_positions": 128,
			"vocab_size": 2049, "layer_norm_epsilon": 1e-5}},
		// llama with Llama-3 rope scaling (a rope_freqs tensor) and attention biases (permuted with q/k).
		{"llama", llama("llama", map[string]any{"attention_bias": true, "rope_theta": 500000.0,
			"rope_scaling": map[string]any{"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
				"high_freq_factor": 4.0, "original_max_position_embeddings": 64}})},
		{"mistral", llama("mistral", nil)},
		// qwen2 tied like Qwen2.5-0.5B, with vocab_size rounded up past the
		// tokenizer's ids as Qwen's is (unused "[PADn]" tokens fill the gap).
		{"qwen2", llama("qwen2", map[string]any{"vocab_size": 2112, "tie_word_embeddings": true})},
		// qwen3 with head_dim 128 ≠ hidden/heads, as Qwen3 has.
		{"qwen3", llama("qwen3", map[string]any{"head_dim": 128})},
	}
}

// build makes the model with weights large enough that the next-token
// distributions are far from uniform (N(0, 0.1) matrices, norms 1±0.1), so
// log-prob differences mean something.
func (tm testModel) build(t *testing.T) (*model.Model, *tokenizer.Tokenizer) {
	t.Helper()
	m := model.New(parseConfig(t, tm.cfg))
	fillRandom(m, uint64(len(tm.name)), 0.05)
	return m, cutTokenizer(t, 2048)
}

// fillRandom sets every weight to N(0, std²), norm weights to 1 + N(0, std²).
func fillRandom(m *model.Model, seed uint64, std float64) {
	r := rand.New(rand.NewPCG(7, seed))
	for _, p := range m.Params {
		d := m.Data[p.Offset : p.Offset+p.Size]
		for i := range d {
			v := float32(std * r.NormFloat64())
			if len(p.Shape) == 1 && strings.Contains(p.Name, "norm") {
				v += 1
			}
			d[i] = v
		}
	}
}

// cutTokenizer is GPT-2's tokenizer keeping the ids below n (the 256 byte
// symbols and the first merges), the merges among them, and <|endoftext|>
// renumbered to n: text still tokenizes, into shorter pieces.
func cutTokenizer(t *testing.T, n int) *tokenizer.Tokenizer {
	t.Helper()
	var f map[string]any
	if err := json.Unmarshal(refdata.ReadFile(t, "tokenizers/gpt2/tokenizer.json"), &f); err != nil {
		t.Fatal(err)
	}
	if err := tokenizer.CutBPEVocab(f["model"].(map[string]any), n); err != nil {
		t.Fatal(err)
	}
	for i, a := range f["added_tokens"].([]any) {
		a.(map[string]any)["id"] = n + i
	}
	dir := t.TempDir()
	b, _ := json.Marshal(f)
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != n+1 {
		t.Fatalf("cut tokenizer has %d ids, want %d", tok.VocabSize(), n+1)
	}
	return tok
}

// parseConfig reads a config written as a Go map through JSON, as config.json is.
func parseConfig(t *testing.T, raw map[string]any) *model.Config {
	t.Helper()
	b, _ := json.Marshal(raw)
	var m map[string]any
	json.Unmarshal(b, &m)
	c, err := model.ParseConfig(m)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// alignLogProbs runs m on seq and returns log-softmax rows [T][V] in float64.
func alignLogProbs(t *testing.T, m *model.Model, seq []int32) [][]float64 {
	t.Helper()
	lg, _, err := m.Forward(model.Batch{B: 1, T: len(seq), IDs: seq}, true)
	if err != nil {
		t.Fatal(err)
	}
	V := m.Cfg.Vocab
	out := make([][]float64, len(seq))
	for i := range out {
		row := lg[i*V : (i+1)*V]
		mx := math.Inf(-1)
		for _, v := range row {
			mx = max(mx, float64(v))
		}
		var s float64
		for _, v := range row {
			s += math.Exp(float64(v) - mx)
		}
		lse := mx + math.Log(s)
		out[i] = make([]float64, V)
		for j, v := range row {
			out[i][j] = float64(v) - lse
		}
	}
	return out
}

// sequences are the fixed inputs: two texts through the model's own
// tokenizer and one run of ids spread over the vocabulary (qwen's unused
// padding ids excluded: nothing trains them).
func sequences(tok *tokenizer.Tokenizer) [][]int32 {
	var seqs [][]int32
	for _, text := range []string{
		"The quick brown fox jumps over the lazy dog, then rests: 12345 times!",
		"def align(model):\n    return model  # 名前 — ünïcödé",
	} {
		ids := tok.Encode(text)
		if len(ids) > 16 {
			ids = ids[:16]
		}
		s := make([]int32, len(ids))
		for i, id := range ids {
			s[i] = int32(id)
		}
		seqs = append(seqs, s)
	}
	r := rand.New(rand.NewPCG(11, 12))
	n := tok.VocabSize()
	s := make([]int32, 12)
	for i := range s {
		s[i] = int32(r.IntN(n))
	}
	return append(seqs, s)
}

// reportIDs is the set of ids whose log-probs are compared: all of them.
func reportIDs(V int) []int32 {
	ids := make([]int32, V)
	for i := range ids {
		ids[i] = int32(i)
	}
	return ids
}

// tolerance is the largest |Δ log-prob| accepted between llama.cpp on the
// exported file and Align on the weights that file stores (dequantised by
// package gguf), over the whole vocabulary at every position.
//
//   - f32: the same arithmetic up to summation order (llama.cpp runs with an
//     f32 K/V cache): 1e-4 for the Llama family, which lands at ~4e-6. GPT-2
//     gets the 1e-3 bar plus 2e-3: ggml's CPU GELU is a lookup table
//     in f16 (input and output rounded to 11 bits), which alone moves these
//     models' log-probs by ~1e-3; with Align's GELU rounded the same way the
//     difference falls to 4e-4.
//   - f16, bf16 and the quantised types: the stored weights are reproduced
//     exactly on Align's side, so what remains is llama.cpp rounding the
//     activations to the weights' dot-product type before every matmul —
//     f16 (11-bit mantissa), bf16 (8-bit), Q8_0 or Q8_K (8-bit blocks). That
//     is noise of the same order as 8-bit weight rounding, so it matches the
//     q8_0 file's own distance from the f32 model (~0.1 nat here). The bounds
//     are ~3.5× the largest difference seen over the five model types:
//     f16 2.7e-3, bf16 1.9e-2, quantised 0.10.
//
// These bounds alone do not show that llama.cpp decodes the blocks as we do
// (4-bit weights move these models by ~1 nat), so for q4_0 and q4_k_m the
// test also asks that llama.cpp's output be far closer to Align on the stored
// weights than to the unquantised model (ratio ≤ 0.35; seen ≤ 0.16).
func tolerance(arch, typ string) float64 {
	switch typ {
	case "f32":
		if arch == "gpt2" {
			return 3e-3
		}
		return 1e-4
	case "f16":
		return 1e-2
	case "bf16":
		return 7e-2
	}
	return 0.35
}

// TestLlamaCpp holds exported files to llama.cpp: both checks' files go to
// one llama.cpp process, whose start-up would otherwise be paid twice.
func TestLlamaCpp(t *testing.T) {
	dir := t.TempDir()
	var reqs []llamaRequest
	type part struct {
		name  string
		from  int // its results are res[from:from+n]
		n     int
		check func(t *testing.T, res []llamaResult)
	}
	var parts []part
	for _, c := range []struct {
		name    string
		prepare func(t *testing.T, dir string) ([]llamaRequest, func(t *testing.T, res []llamaResult))
	}{{"LogProbs", llamaLogProbs}, {"Tokenizer", llamaTokenizer}} {
		if c.name == "LogProbs" && testing.Short() {
			continue // exports 30 files
		}
		r, check := c.prepare(t, dir)
		parts = append(parts, part{c.name, len(reqs), len(r), check})
		reqs = append(reqs, r...)
	}
	res := runLlama(t, reqs)
	for _, p := range parts {
		t.Run(p.name, func(t *testing.T) { p.check(t, res[p.from:p.from+p.n]) })
	}
}

// logProbJob is one exported file and Align's log-probs to hold llama.cpp's to.
type logProbJob struct {
	tm    testModel
	typ   string
	seqs  [][]int32
	ids   []int32
	align [][][]float64 // per sequence, per position, per reported id
	f32   [][][]float64 // the unquantised model's, for the log
}

// llamaLogProbs exports every model type at every --type; its check loads
// each file in llama.cpp and compares its next-token log-probs with Align's.
func llamaLogProbs(t *testing.T, dir string) ([]llamaRequest, func(t *testing.T, res []llamaResult)) {
	var jobs []*logProbJob
	var reqs []llamaRequest
	for _, tm := range testModels() {
		m, tok := tm.build(t)
		seqs := sequences(tok)
		ids := reportIDs(m.Cfg.Vocab)
		pick := func(mm *model.Model) [][][]float64 {
			var out [][][]float64
			for _, s := range seqs {
				full := alignLogProbs(t, mm, s)
				rows := make([][]float64, len(s))
				for i := range rows {
					for _, id := range ids {
						rows[i] = append(rows[i], full[i][id])
					}
				}
				out = append(out, rows)
			}
			return out
		}
		ref := pick(m)
		for _, typ := range GGUFTypes {
			path := filepath.Join(dir, tm.name+"-"+typ+".gguf")
			if err := WriteGGUF(path, m, tok, GGUFOptions{Type: typ, Name: tm.name}); err != nil {
				t.Fatalf("%s %s: %v", tm.name, typ, err)
			}
			dq := storedModel(t, m, path)
			jobs = append(jobs, &logProbJob{tm: tm, typ: typ, seqs: seqs, ids: ids, align: pick(dq), f32: ref})
			reqs = append(reqs, llamaRequest{Model: path, Sequences: seqs, IDs: ids})
		}
	}
	return reqs, func(t *testing.T, res []llamaResult) {
		checkLogProbs(t, res, jobs)
	}
}

func checkLogProbs(t *testing.T, res []llamaResult, jobs []*logProbJob) {
	for k, j := range jobs {
		lp := res[k].LogProbs
		want := 0
		for _, s := range j.seqs {
			want += 8 * len(s) * len(j.ids)
		}
		if len(lp) != want {
			t.Fatalf("%s %s: llama.cpp sent %d bytes of log-probs, want %d", j.tm.name, j.typ, len(lp), want)
		}
		var worst, vsF32 float64
		for s := range j.seqs {
			for i := range j.seqs[s] {
				for n := range j.ids {
					got := math.Float64frombits(binary.LittleEndian.Uint64(lp))
					lp = lp[8:]
					worst = max(worst, math.Abs(got-j.align[s][i][n]))
					vsF32 = max(vsF32, math.Abs(got-j.f32[s][i][n]))
				}
			}
		}
		if j.typ == "f32" {
			// Against the model itself, not a copy read back through the
			// inverse mapping, which would mirror a wrong name or layout.
			worst = vsF32
		}
		tol := tolerance(j.tm.name, j.typ)
		t.Logf("%-8s %-7s max |Δ log-prob| vs Align on the stored weights %.2e (bound %.2g); vs the f32 model %.3f",
			j.tm.name, j.typ, worst, tol, vsF32)
		if worst > tol || math.IsNaN(worst) {
			t.Errorf("%s %s: llama.cpp's log-probs differ from Align's by %.3g (bound %.2g)", j.tm.name, j.typ, worst, tol)
		}
		if (j.typ == "q4_0" || j.typ == "q4_k_m") && !(worst <= 0.35*vsF32) {
			t.Errorf("%s %s: llama.cpp is %.3g from Align on the stored weights but only %.3g from the f32 model: it does not run the weights we stored",
				j.tm.name, j.typ, worst, vsF32)
		}
	}
}

// storedModel returns a copy of m holding the weights the GGUF file at path
// stores, decoded by the gguf reader and mapped back to Align's layout (the
// inverse of addTensors' naming, fusing and permutation).
func storedModel(t *testing.T, m *model.Model, path string) *model.Model {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	q := m.Clone()
	c := q.Cfg
	get := func(name string) []float32 {
		v, _, err := f.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	put := func(dst []float32, name string) {
		if dst != nil {
			copy(dst, get(name))
		}
	}
	unpermute := func(dst []float32, name string, heads, cols int) {
		if dst == nil {
			return
		}
		v := get(name)
		if c.ModelType == "llama" || c.ModelType == "mistral" {
			hd := len(v) / cols / heads
			for h := 0; h < heads; h++ {
				for i := 0; i < hd/2; i++ {
					for j := 0; j < 2; j++ {
						copy(dst[(h*hd+j*hd/2+i)*cols:][:cols], v[(h*hd+2*i+j)*cols:][:cols])
					}
				}
			}
			return
		}
		copy(dst, v)
	}
	W := q.W
	put(W.Wte, "token_embd.weight")
	put(W.Wpe, "position_embd.weight")
	for l := range W.Layers {
		L := &W.Layers[l]
		b := fmt.Sprintf("blk.%d.", l)
		put(L.Norm1W, b+"attn_norm.weight")
		put(L.Norm1B, b+"attn_norm.bias")
		if c.Arch == model.ArchGPT2 {
			qkv := get(b + "attn_qkv.weight")
			copy(L.Wq, qkv)
			copy(L.Wk, qkv[len(L.Wq):])
			copy(L.Wv, qkv[len(L.Wq)+len(L.Wk):])
			bias := get(b + "attn_qkv.bias")
			copy(L.Bq, bias)
			copy(L.Bk, bias[len(L.Bq):])
			copy(L.Bv, bias[len(L.Bq)+len(L.Bk):])
			put(L.Wfc, b+"ffn_up.weight")
			put(L.Bfc, b+"ffn_up.bias")
		} else {
			unpermute(L.Wq, b+"attn_q.weight", c.Heads, c.Dim)
			unpermute(L.Wk, b+"attn_k.weight", c.KVHeads, c.Dim)
			unpermute(L.Bq, b+"attn_q.bias", c.Heads, 1)
			unpermute(L.Bk, b+"attn_k.bias", c.KVHeads, 1)
			put(L.Wv, b+"attn_v.weight")
			put(L.Bv, b+"attn_v.bias")
			put(L.QNorm, b+"attn_q_norm.weight")
			put(L.KNorm, b+"attn_k_norm.weight")
			put(L.Wgate, b+"ffn_gate.weight")
			put(L.Wup, b+"ffn_up.weight")
		}
		put(L.Wo, b+"attn_output.weight")
		put(L.Bo, b+"attn_output.bias")
		put(L.Norm2W, b+"ffn_norm.weight")
		put(L.Norm2B, b+"ffn_norm.bias")
		put(L.Wdown, b+"ffn_down.weight")
		put(L.Bdown, b+"ffn_down.bias")
	}
	put(W.NormFW, "output_norm.weight")
	put(W.NormFB, "output_norm.bias")
	if !c.Tied {
		put(W.LMHead, "output.weight")
	}
	return q
}

// llamaTokenizer exports the full GPT-2 and Qwen3 vocabularies; its check:
// llama.cpp's tokenization of the shared tokenizer vectors' texts, read from
// the exported files, equals the vectors' ids (which Align's tokenizer is
// held to in package tokenizer).
func llamaTokenizer(t *testing.T, dir string) ([]llamaRequest, func(t *testing.T, res []llamaResult)) {
	var reqs []llamaRequest
	var want [][][]int32
	for _, name := range []string{"gpt2", "qwen3"} {
		var texts []string
		var ids [][]int32
		sc := bufio.NewScanner(bytes.NewReader(refdata.ReadFile(t, "tokenizer-vectors/"+name+"_encode.jsonl")))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var v struct {
				Text string
				IDs  []int32
			}
			if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
				t.Fatal(err)
			}
			texts = append(texts, v.Text)
			ids = append(ids, v.IDs)
		}
		tok, err := tokenizer.Load(refdata.Dir(t, "tokenizers/"+name))
		if err != nil {
			t.Fatal(err)
		}
		// The smallest model llama.cpp accepts for this vocabulary.
		m := model.New(parseConfig(t, map[string]any{"model_type": "qwen2", "hidden_size": 32, "num_hidden_layers": 1,
			"num_attention_heads": 1, "intermediate_size": 32, "vocab_size": tok.VocabSize()}))
		m.InitRandom(1)
		path := filepath.Join(dir, name+".gguf")
		if err := WriteGGUF(path, m, tok, GGUFOptions{Type: "f32"}); err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, llamaRequest{Model: path, Texts: texts})
		want = append(want, ids)
	}
	return reqs, func(t *testing.T, res []llamaResult) { checkTokens(t, res, want) }
}

func checkTokens(t *testing.T, res []llamaResult, want [][][]int32) {
	for k, name := range []string{"gpt2", "qwen3"} {
		bad := 0
		for i, w := range want[k] {
			got := res[k].Tokens[i]
			if fmt.Sprint(got) != fmt.Sprint(w) {
				if bad++; bad <= 5 {
					t.Errorf("%s vector %d: llama.cpp ids %v, want %v", name, i, got, w)
				}
			}
		}
		if bad > 0 {
			t.Errorf("%s: %d of %d texts tokenized differently by llama.cpp", name, bad, len(want[k]))
		}
	}
}
