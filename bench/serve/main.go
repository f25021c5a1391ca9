// Command serve is a bounded load test of `align serve` on loopback: it
// starts the server on a model, measures requests/s and p50/p99 latency of
// chat completions at each concurrency, then sends a fixed number of mixed
// good and bad requests (malformed JSON, unknown fields, wrong content type,
// foreign Host, a request for 64,000 sequences, max_tokens past int64,
// streams) and reports the server's RSS before and after, and any reply of
// the wrong status class.
//
//	go build -o /tmp/align ./cmd/align
//	go run ./bench/serve -align /tmp/align -tiny -adapters 2
//
// -tiny writes a small random Qwen3-shaped model (hidden 64, 2 layers,
// context 512) with the repository's Qwen3 tokenizer; -model serves an
// existing directory instead. -adapters K also serves K random LoRA adapters
// (rank 8 on every Linear, --lora) and measures each concurrency twice: all
// requests for the base, then requests cycling over the base and the K
// adapters, which share the server's batch; the mixed requests cycle too.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/align-go/align/internal/refdata"
	"github.com/align-go/align/model"
)

func main() {
	alignBin := flag.String("align", "align", "the align binary")
	dir := flag.String("model", "", "model directory to serve")
	tiny := flag.Bool("tiny", false, "write a small random model with the repository's Qwen3 tokenizer and serve it")
	conc := flag.String("concurrency", "1,8,32", "client concurrency levels")
	perLevel := flag.Int("requests", 200, "requests per concurrency level")
	adapters := flag.Int("adapters", 0, "random LoRA adapters to serve beside the base (each concurrency is then also measured over base and adapters)")
	mixed := flag.Int("mixed", 1000, "mixed good and bad requests for the RSS check")
	maxTokens := flag.Int("max-tokens", 16, "tokens generated per good request (ignore_eos)")
	flag.Parse()
	if *tiny {
		d, err := tinyModel()
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	if *dir == "" {
		log.Fatal("give -model DIR or -tiny")
	}
	args := []string{"serve", "--model", *dir, "--addr", "127.0.0.1:0", "--served-model-name", "bench"}
	models := []string{"bench"}
	for k := range *adapters {
		d, err := randomAdapter(*dir, uint64(k+1))
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(d)
		name := fmt.Sprintf("lora-%d", k+1)
		args = append(args, "--lora", name+"="+d)
		models = append(models, name)
	}
	cmd := exec.Command(*alignBin, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		log.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		log.Fatal(err)
	}
	_, base, ok := strings.Cut(strings.TrimSpace(line), " on ")
	if !ok {
		log.Fatalf("address line %q", line)
	}
	host := strings.TrimSuffix(strings.TrimPrefix(base, "http://"), "/v1")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 5 * time.Minute}
	good := func(model string) req {
		return req{"POST", "/v1/chat/completions", fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"Tell me about whales"}],"max_tokens":%d,"temperature":0,"ignore_eos":true}`,
			model, *maxTokens), "application/json", "", 200}
	}
	for _, m := range models { // warm up
		if st, _ := send(client, host, good(m)); st != 200 {
			log.Fatalf("warm-up request for %s: status %d", m, st)
		}
	}
	fmt.Printf("model %s, %d tokens per request, %d requests per level\n", *dir, *maxTokens, *perLevel)
	fmt.Printf("%-12s %-22s %10s %10s %10s\n", "concurrency", "models", "req/s", "p50 ms", "p99 ms")
	for _, f := range strings.Split(*conc, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || c < 1 {
			log.Fatalf("-concurrency %q", f)
		}
		for _, ms := range [][]string{models[:1], models}[:min(2, len(models))] {
			lat, wall, bad := load(client, host, c, *perLevel, func(i int) req { return good(ms[i%len(ms)]) })
			if bad > 0 {
				log.Fatalf("%d requests failed at concurrency %d", bad, c)
			}
			label := "base"
			if len(ms) > 1 {
				label = fmt.Sprintf("base + %d adapters", len(ms)-1)
			}
			fmt.Printf("%-12d %-22s %10.2f %10.1f %10.1f\n", c, label, float64(*perLevel)/wall.Seconds(), pct(lat, 50), pct(lat, 99))
		}
	}

	before := rss(cmd.Process.Pid)
	mix := mixedRequests(*maxTokens)
	_, wall, wrong := load(client, host, 8, *mixed, func(i int) req {
		r := mix[i%len(mix)]
		// Good requests cycle over the models; the rest stay as they are.
		if m := models[(i/len(mix))%len(models)]; m != "bench" && r.status == 200 {
			r.body = strings.Replace(r.body, `"model":"bench"`, fmt.Sprintf(`"model":%q`, m), 1)
		}
		return r
	})
	after := rss(cmd.Process.Pid)
	fmt.Printf("%d mixed requests (%d kinds, concurrency 8) in %.1f s, %d of the wrong status; RSS %d MiB before, %d MiB after\n",
		*mixed, len(mix), wall.Seconds(), wrong, before>>20, after>>20)
	if wrong > 0 {
		os.Exit(1)
	}
}

type req struct {
	method, path, body, ctype, host string
	status                          int // expected; 0: 200
}

func send(c *http.Client, host string, r req) (int, error) {
	hr, err := http.NewRequestWithContext(context.Background(), r.method, "http://"+host+r.path, strings.NewReader(r.body))
	if err != nil {
		return 0, err
	}
	if r.ctype != "" {
		hr.Header.Set("Content-Type", r.ctype)
	}
	if r.host != "" {
		hr.Host = r.host
	}
	resp, err := c.Do(hr)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// load sends n requests from c goroutines and returns the sorted latencies,
// the wall time and how many answered another status than expected.
func load(client *http.Client, host string, c, n int, mk func(int) req) ([]time.Duration, time.Duration, int) {
	lat := make([]time.Duration, n)
	var mu sync.Mutex
	wrong := 0
	next := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r := mk(i)
				t0 := time.Now()
				st, err := send(client, host, r)
				lat[i] = time.Since(t0)
				want := r.status
				if want == 0 {
					want = 200
				}
				if err != nil || st != want {
					mu.Lock()
					wrong++
					if wrong <= 5 {
						log.Printf("%s %s %.60q: status %d (want %d) %v", r.method, r.path, r.body, st, want, err)
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	wall := time.Since(start)
	slices.Sort(lat)
	return lat, wall, wrong
}

func pct(sorted []time.Duration, p int) float64 {
	i := min(len(sorted)-1, (len(sorted)*p+99)/100-1)
	return float64(sorted[max(i, 0)].Microseconds()) / 1000
}

func mixedRequests(maxTokens int) []req {
	chat := func(extra string) string {
		return fmt.Sprintf(`{"model":"bench","messages":[{"role":"user","content":"hi"}],"max_tokens":%d%s}`, maxTokens, extra)
	}
	const j = "application/json"
	return []req{
		{"POST", "/v1/chat/completions", chat(""), j, "", 200},
		{"POST", "/v1/chat/completions", chat(`,"stream":true,"stream_options":{"include_usage":true}`), j, "", 200},
		{"POST", "/v1/completions", fmt.Sprintf(`{"model":"bench","prompt":["The whale","Ships"],"n":2,"max_tokens":%d,"logprobs":2}`, maxTokens), j, "", 200},
		{"GET", "/v1/models", "", "", "", 200},
		{"GET", "/metrics", "", "", "", 200},
		{"POST", "/v1/chat/completions", chat(`,"logit_bias":{"11":5},"presence_penalty":1`), j, "", 200},
		{"POST", "/v1/chat/completions", `{"model":"bench","messages":[`, j, "", 400},
		{"POST", "/v1/chat/completions", chat(`,"MAX_TOKENS":5`), j, "", 400},
		{"POST", "/v1/chat/completions", chat(`,"tools":[]`), j, "", 400},
		{"POST", "/v1/chat/completions", chat(""), "text/plain", "", 415},
		{"POST", "/v1/chat/completions", chat(""), j, "attacker.example", 400},
		{"POST", "/v1/completions", `{"model":"bench","prompt":[` + strings.Repeat(`[5],`, 3999) + `[5]],"n":16,"max_tokens":200}`, j, "", 400},
		{"POST", "/v1/completions", `{"model":"bench","prompt":"hi","max_tokens":9223372036854775807}`, j, "", 400},
		{"POST", "/v1/completions", `{"model":"bench","prompt":["a","b","c","d","e"],"n":16}`, j, "", 400},
		{"GET", "/v1/chat/completions", "", "", "", 405},
	}
}

// rss is a process's resident set in bytes (Linux).
func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for l := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return -1
}

// randomAdapter writes a PEFT LoRA adapter for the model in dir (rank 8,
// alpha 16, every Linear) with random A and B, so that it changes the model.
func randomAdapter(dir string, seed uint64) (string, error) {
	m, err := model.LoadDir(dir)
	if err != nil {
		return "", err
	}
	if err := m.AttachLoRA(model.LoRAConfig{R: 8, Alpha: 16, Targets: []string{"all-linear"}}, seed); err != nil {
		return "", err
	}
	r := rand.New(rand.NewPCG(seed, 1))
	lo := m.LoRA()
	for i := range lo.Data {
		lo.Data[i] = float32(r.NormFloat64() * 0.1)
	}
	out, err := os.MkdirTemp("", "bench-serve-lora")
	if err != nil {
		return "", err
	}
	return out, m.SavePEFT(out, dir)
}

// tinyModel writes a small random Qwen3-shaped model with the repository's
// Qwen3 tokenizer (testdata/tokenizers/qwen3).
func tinyModel() (string, error) {
	dir, err := os.MkdirTemp("", "bench-serve")
	if err != nil {
		return "", err
	}
	for _, f := range []string{"tokenizer.json", "tokenizer_config.json"} {
		b, err := refdata.Load("tokenizers/qwen3/" + f)
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			return "", err
		}
	}
	cfg, err := model.ParseConfig(map[string]any{"model_type": "qwen3", "vocab_size": 151936.0, "hidden_size": 64.0,
		"num_hidden_layers": 2.0, "num_attention_heads": 4.0, "num_key_value_heads": 2.0, "head_dim": 16.0,
		"intermediate_size": 128.0, "max_position_embeddings": 512.0, "tie_word_embeddings": true})
	if err != nil {
		return "", err
	}
	m := model.New(cfg)
	m.InitRandom(5)
	return dir, m.SaveDir(dir, "F32")
}
