// Command decode measures batch-1 greedy decoding of a checkpoint against
// the memory-bandwidth bound, in one process: the machine's read bandwidth
// (internal/membw: a streaming read of a buffer far larger than L3 by as
// many goroutines as decoding uses), and for each load dtype the bytes of
// weights one decode step reads, the steady tokens/s, the bound (bandwidth
// ÷ bytes per token) and the fraction of it reached.
//
//	go run ./bench/decode -model /tmp/realsize/qwen2.5-0.5b [-dtypes bf16,int8,nf4]
//	go run ./bench/decode -model /tmp/realsize/qwen2.5-0.5b -dtypes bf16,int8,int8-head,nf4-head
//
// A -head dtype quantises the LM head as well (align's --quantize-lm-head;
// at 0.5B the head is the tied embedding, 151,936 × 896): issue 16's 8-bit
// ≥ 1.7× bf16 target is int8-head's "vs bf16" column, for with the head in
// bf16 the bytes alone cap int8 at 989/632 = 1.56×. int8-act8 and
// int8-act8-head add --int8-activations (the input row quantised to int8,
// integer dot products): the same bytes, less work per byte.
//
// (bench/realsize/run.sh writes that checkpoint: a random Qwen2.5-0.5B in
// the Hub's bf16 layout, and runs this after its decode rows.)
//
// Steady tokens/s excludes loading and the prefill: after the prompt, each
// of TOKENS greedy decode steps (a one-token cached forward, the LM head
// included) is timed, and a round's time per token is its median step.
// Each round also prints the median step's CPU time (user+system, every
// thread) and where its wall time went across the cores (tensor.ShareStats):
// serial (the caller outside parallel regions, helpers idle), the caller's
// wait for helpers at the end of regions, and the helpers' idle time.
//
// With -regions it also times every parallel region of the steps (the
// Linears of one input: q/k/v, o, gate/up, down, the LM head; nn's decode
// hook) and prints each kind's time per call and GB/s: on the 0.5B shape a
// one-MB region runs at 50-70% of the LM head's GB/s, the fixed cost of
// starting and finishing a region on two cores.
//
// The machine's bandwidth is not a constant on a VM (readings minutes apart
// have differed by half), so the bench pairs what it compares in time: every
// dtype is loaded at once, and each of ROUNDS rounds decodes with every
// dtype in turn, each right after its own bandwidth reading. Reported per
// dtype: the best round's tokens/s; its fraction of the bound from the
// highest reading of the whole run (the least favourable to the fraction);
// the median over rounds of the fraction of the bound from the reading
// taken just before that round; and, against bf16, the median over rounds
// of the ratio of tokens/s within a round (each pair seconds apart).
package main

import (
	"cmp"
	"flag"
	"fmt"
	"maps"
	"os"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/align-go/align/internal/membw"
	"github.com/align-go/align/model"
	"github.com/align-go/align/nn"
	"github.com/align-go/align/tensor"
)

func main() {
	dir := flag.String("model", "", "HF checkpoint directory (e.g. bench/realsize's qwen2.5-0.5b)")
	dtypes := flag.String("dtypes", "bf16,int8,nf4", "load dtypes to decode with: f32, bf16 (the checkpoint's own bf16: --torch-dtype auto), f16, int8 (--load-in-8bit), nf4, nf4-dq (double quantisation), fp4; "+
		"an 8/4-bit one with -head (int8-head, nf4-head, nf4-dq-head) quantises the LM head too (--quantize-lm-head); int8-act8 is int8 with int8 activations (--int8-activations)")
	promptLen := flag.Int("prompt", 32, "prompt tokens")
	tokens := flag.Int("tokens", 64, "decode steps timed")
	rounds := flag.Int("rounds", 3, "rounds: each decodes with every dtype in turn, each after a bandwidth reading")
	bwMiB := flag.Int("bw-mib", membw.DefaultBytes>>20, "bandwidth buffer, MiB")
	threads := flag.Int("threads", 0, "threads (0: the default, every core)")
	prof := flag.String("cpuprofile", "", "write a CPU profile of the rounds (bandwidth reads included) to this file")
	regions := flag.Bool("regions", false, "time every parallel region of the decode steps (the Linears of one input: q/k/v, o, gate/up, down, the LM head) and print, per dtype, each one's time and GB/s")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "decode: -model is required")
		os.Exit(2)
	}
	if *threads > 0 {
		tensor.SetThreads(*threads)
	}
	th := tensor.Threads()
	cpu := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	fmt.Printf("decode bench: %s, %d threads, cpu %s, prompt %d, %d timed steps, best of %d\n", *dir, th, cpu, *promptLen, *tokens, *rounds)

	names := strings.Split(*dtypes, ",")
	models := make([]*model.Model, len(names))
	bytes := make([]float64, len(names))
	for i, name := range names {
		m, err := load(*dir, name)
		if err != nil {
			fmt.Fprintln(os.Stderr, "decode:", err)
			os.Exit(1)
		}
		models[i] = m
		bytes[i] = float64(m.DecodeReadBytes(*promptLen + 1 + *tokens/2))
	}
	if *prof != "" {
		f, err := os.Create(*prof)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "decode:", err)
			os.Exit(1)
		}
	}
	// tps[i][r] is dtype i's tokens/s in round r, bw[i][r] the reading
	// taken just before it.
	tps := make([][]float64, len(names))
	bw := make([][]float64, len(names))
	bestBW := 0.0
	regs := make([]map[regionKey]*regionTime, len(names))
	for r := 0; r < *rounds; r++ {
		for i, name := range names {
			b := membw.Measure(int64(*bwMiB)<<20, th, 3)
			bestBW = max(bestBW, b.BytesPerSec)
			if *regions {
				if regs[i] == nil {
					regs[i] = map[regionKey]*regionTime{}
				}
				nn.SetDecodeHook(regionHook(regs[i]))
			}
			step, toks, err := round(models[i], *promptLen, *tokens)
			nn.SetDecodeHook(nil)
			if err != nil {
				fmt.Fprintln(os.Stderr, "decode:", err)
				os.Exit(1)
			}
			t := 1 / step
			tps[i] = append(tps[i], t)
			bw[i] = append(bw[i], b.BytesPerSec)
			fmt.Printf("    %-14s round %d: %6.2f tokens/s, %.1f GB/s read just before (fraction %.3f); first tokens %v\n",
				name, r, t, b.BytesPerSec/1e9, t*bytes[i]/b.BytesPerSec, toks)
		}
	}
	pprof.StopCPUProfile()
	fmt.Printf("\nbound = bandwidth ÷ bytes read per token; best reading of this run %.1f GB/s\n", bestBW/1e9)
	fmt.Printf("%-14s %9s %9s %9s %12s %14s %9s\n", "dtype", "MB/token", "tokens/s", "bound", "fraction", "fraction adj.", "vs bf16")
	base := slices.Index(names, "bf16")
	for i, name := range names {
		best := slices.Max(tps[i])
		bound := bestBW / bytes[i]
		adj := make([]float64, len(tps[i]))
		for r := range adj {
			adj[r] = tps[i][r] * bytes[i] / bw[i][r]
		}
		rel := "-"
		if base >= 0 {
			ratio := make([]float64, len(tps[i]))
			for r := range ratio {
				ratio[r] = tps[i][r] / tps[base][r]
			}
			rel = fmt.Sprintf("%.2fx", median(ratio))
		}
		fmt.Printf("%-14s %9.1f %9.2f %9.2f %12.3f %14.3f %9s\n", name, bytes[i]/1e6, best, bound, best/bound, median(adj), rel)
	}
	for i, name := range names {
		if regs[i] != nil {
			printRegions(name, regs[i])
		}
	}
}

// regionKey is a kind of decode region: its weights' dtype and shape.
type regionKey struct {
	dtype  string
	oc, ic int
}

// regionTime sums one kind of decode region's calls.
type regionTime struct {
	calls int
	dur   time.Duration
	bytes int64
}

// regionHook records batch-1 regions (the prompt's prefill is left out) by
// shape and dtype. It runs inside the timed step, so it allocates nothing
// once a kind has been seen.
func regionHook(into map[regionKey]*regionTime) func(nn.DecodeRegion, time.Time) {
	return func(r nn.DecodeRegion, t0 time.Time) {
		if r.N != 1 {
			return
		}
		d := time.Since(t0)
		k := regionKey{r.DType, r.OC, r.IC}
		e := into[k]
		if e == nil {
			e = &regionTime{}
			into[k] = e
		}
		e.calls++
		e.dur += d
		e.bytes += r.Bytes
	}
}

// printRegions prints a dtype's regions, the largest total time first.
func printRegions(name string, m map[regionKey]*regionTime) {
	ks := slices.Collect(maps.Keys(m))
	slices.SortFunc(ks, func(a, b regionKey) int { return cmp.Compare(m[b].dur, m[a].dur) })
	var total time.Duration
	for _, k := range ks {
		total += m[k].dur
	}
	fmt.Printf("\n%s: parallel regions of the timed steps (batch 1), all rounds\n", name)
	fmt.Printf("  %-24s %8s %10s %9s %8s %7s\n", "weights [out,in]", "calls", "us/call", "MB/call", "GB/s", "share")
	for _, k := range ks {
		e := m[k]
		fmt.Printf("  %-24s %8d %10.1f %9.2f %8.1f %6.1f%%\n", fmt.Sprintf("%s [%d,%d]", k.dtype, k.oc, k.ic), e.calls, e.dur.Seconds()/float64(e.calls)*1e6,
			float64(e.bytes)/float64(e.calls)/1e6, float64(e.bytes)/e.dur.Seconds()/1e9, 100*e.dur.Seconds()/total.Seconds())
	}
}

// median returns the median of v (the mean of the middle two for even n).
func median(v []float64) float64 {
	s := slices.Clone(v)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// load reads the checkpoint with the blocks' Linear weights as name says.
func load(dir, name string) (*model.Model, error) {
	switch name {
	case "f32":
		return model.LoadDir(dir)
	case "bf16", "f16", "int8", "nf4", "fp4", "nf4-dq", "fp4-dq",
		"int8-head", "nf4-head", "fp4-head", "nf4-dq-head", "fp4-dq-head", "int8-act8", "int8-act8-head":
		dt, head := strings.CutSuffix(name, "-head")
		dt, dq := strings.CutSuffix(dt, "-dq")
		dt, act8 := strings.CutSuffix(dt, "-act8")
		m, _, err := model.LoadDirOpts(dir, model.LoadOptions{WeightDType: dt, DoubleQuant: dq, QuantizeLMHead: head, Int8Activations: act8})
		return m, err
	}
	return nil, fmt.Errorf("dtype %q: want f32, bf16, f16, int8, int8-act8, nf4, nf4-dq, fp4 or fp4-dq, the 8/4-bit ones optionally with -head (int8-head, int8-act8-head, nf4-dq-head)", name)
}

// round decodes steps tokens greedily after a prompt, each a one-token
// cached forward timed alone, and returns the median step in seconds (a
// median, so a moment of preemption on a shared machine does not count)
// and the first tokens.
func round(m *model.Model, promptLen, steps int) (float64, []int32, error) {
	prompt := make([]int32, promptLen)
	for i := range prompt {
		prompt[i] = int32((i*104729 + 13) % m.Cfg.Vocab)
	}
	c, err := model.NewKVCache(m.Cfg, 1, promptLen+steps+1)
	if err != nil {
		return 0, nil, err
	}
	lg, err := m.ForwardCached(c, nil, prompt, nil, promptLen, false)
	if err != nil {
		return 0, nil, err
	}
	times := make([]float64, steps)
	var per []stepCost
	tensor.CollectShareStats(true)
	var toks []int32
	for s := 0; s < steps; s++ {
		tok := int32(0)
		for j, v := range lg {
			if v > lg[tok] {
				tok = int32(j)
			}
		}
		toks = append(toks, tok)
		c0 := procCPU()
		tensor.ReadShareStats()
		t0 := time.Now()
		if lg, err = m.ForwardCached(c, nil, []int32{tok}, nil, 1, false); err != nil {
			return 0, nil, err
		}
		times[s] = time.Since(t0).Seconds()
		per = append(per, stepCost{times[s], procCPU() - c0, tensor.ReadShareStats()})
	}
	tensor.CollectShareStats(false)
	sort.Float64s(times)
	sort.Slice(per, func(i, j int) bool { return per[i].wall < per[j].wall })
	p := per[len(per)/2]
	th := float64(tensor.Threads())
	fmt.Printf("  median step: %.2f ms wall, %.2f ms CPU; %d regions; serial %.2f ms, caller waits %.2f ms, helpers idle %.2f of %.2f ms\n",
		1e3*p.wall, 1e3*p.cpu, p.share.Regions, 1e3*(p.wall-p.share.CallerWork.Seconds()-p.share.CallerWait.Seconds()),
		1e3*p.share.CallerWait.Seconds(), 1e3*((th-1)*p.wall-p.share.HelperWork.Seconds()), 1e3*(th-1)*p.wall)
	return times[steps/2], toks[:min(8, len(toks))], nil
}

// stepCost is one timed decode step: wall and CPU seconds, and the parallel
// regions' accounting.
type stepCost struct {
	wall, cpu float64
	share     tensor.ShareStats
}
