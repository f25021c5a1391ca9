package rl

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

// TestMonitorsHand: completions (1 2 3) and (1 2 2 2): mean length 3.5;
// unigrams {1,2,3} of 7; bigrams {12, 23, 22} of 5 (12, 23, 12, 22, 22).
func TestMonitorsHand(t *testing.T) {
	m := Monitors([][]int32{{1, 2, 3}, {1, 2, 2, 2}})
	for k, w := range map[string]float64{"completions/mean_length": 3.5, "completions/distinct_1": 3.0 / 7, "completions/distinct_2": 3.0 / 5} {
		if m[k] != w {
			t.Errorf("%s = %v, want %v", k, m[k], w)
		}
	}
}

// TestAlarmThresholds: each alarm fires exactly past its documented
// threshold, checked at threshold − ε, threshold and threshold + ε:
// length when it is > ratio × baseline or < baseline / ratio, distinct-2
// when it is < Distinct, kl when it is > KL. The baseline is the mean
// length of the first BaselineSteps steps (here 4, 6, 8: 6, so with ratio
// 1.5 the band is [4, 9], both ends exact in binary), during which the
// length alarm does not look.
func TestAlarmThresholds(t *testing.T) {
	const eps = 1e-9
	fresh := func() *Alarms {
		a := &Alarms{LengthRatio: 1.5, Distinct: 0.25, KL: 0.1, BaselineSteps: 3}
		for i, l := range []float64{4, 6, 8} {
			met := map[string]float64{"completions/mean_length": l}
			a.Check(i+1, met, math.NaN(), nil)
			if met["alarm/length"] != 0 {
				t.Fatalf("length alarm during baseline step %d", i+1)
			}
		}
		return a
	}
	for _, c := range []struct {
		name   string
		met    map[string]float64
		kl     float64
		firing string // the alarm that must fire, "" for none
	}{
		{"length 9−ε", map[string]float64{"completions/mean_length": 9 - eps}, 0, ""},
		{"length 9", map[string]float64{"completions/mean_length": 9}, 0, ""},
		{"length 9+ε", map[string]float64{"completions/mean_length": 9 + eps}, 0, "length"},
		{"length 4+ε", map[string]float64{"completions/mean_length": 4 + eps}, 0, ""},
		{"length 4", map[string]float64{"completions/mean_length": 4}, 0, ""},
		{"length 4−ε", map[string]float64{"completions/mean_length": 4 - eps}, 0, "length"},
		{"distinct 0.25+ε", map[string]float64{"completions/mean_length": 6, "completions/distinct_2": 0.25 + eps}, 0, ""},
		{"distinct 0.25", map[string]float64{"completions/mean_length": 6, "completions/distinct_2": 0.25}, 0, ""},
		{"distinct 0.25−ε", map[string]float64{"completions/mean_length": 6, "completions/distinct_2": 0.25 - eps}, 0, "distinct"},
		{"kl 0.1−ε", map[string]float64{"completions/mean_length": 6}, 0.1 - eps, ""},
		{"kl 0.1", map[string]float64{"completions/mean_length": 6}, 0.1, ""},
		{"kl 0.1+ε", map[string]float64{"completions/mean_length": 6}, 0.1 + eps, "kl"},
		{"kl NaN", map[string]float64{"completions/mean_length": 6}, math.NaN(), ""},
	} {
		a := fresh()
		var log bytes.Buffer
		a.Check(4, c.met, c.kl, &log)
		for _, name := range []string{"length", "distinct", "kl"} {
			want := 0.0
			if name == c.firing {
				want = 1
			}
			if c.met["alarm/"+name] != want {
				t.Errorf("%s: alarm/%s = %v, want %v", c.name, name, c.met["alarm/"+name], want)
			}
		}
		if n := strings.Count(log.String(), "possible reward hacking"); n != map[bool]int{true: 1, false: 0}[c.firing != ""] {
			t.Errorf("%s: %d warnings: %q", c.name, n, log.String())
		}
		if a.Seen != 3 || a.LengthSum != 18 {
			t.Errorf("%s: the baseline moved after its steps: %+v", c.name, a)
		}
	}
	// Zero thresholds are off, however far the values go.
	a := &Alarms{BaselineSteps: 1}
	a.Check(1, map[string]float64{"completions/mean_length": 1}, 0, nil)
	met := map[string]float64{"completions/mean_length": 1000, "completions/distinct_2": 0}
	a.Check(2, met, 1e9, nil)
	if len(met) != 2 {
		t.Errorf("alarms off, yet %v", met)
	}
}
