// Package eval holds the evaluation metrics Align reports for a trained
// model against its baseline: diversity (distinct-n, self-BLEU), judged
// win-rate with ties and order-swap inconsistencies, length drift, a
// sampled KL estimate and red-team pass rate. Each is a pure function over
// completions, judgments or log-probs, so the `align eval` command and the
// quickstart compute them the same way.
package eval

import (
	"fmt"
	"math"
	"strings"
)

// DistinctN is the share of unique n-grams among all n-grams of the
// completions' tokens (Li et al. 2016): 1 when no n-gram repeats, toward 0
// as a policy collapses onto one string. It is 0 when there are no n-grams.
func DistinctN[T comparable](completions [][]T, n int) float64 {
	seen := map[string]bool{}
	total := 0
	for _, c := range completions {
		for i := 0; i+n <= len(c); i++ {
			seen[fmt.Sprint(c[i:i+n])] = true
			total++
		}
	}
	if total == 0 {
		return 0
	}
	return float64(len(seen)) / float64(total)
}

// Words splits a completion into whitespace-separated words, the units
// self-BLEU and word-level distinct-n use.
func Words(s string) []string { return strings.Fields(s) }

// SelfBLEU is the mean over completions of BLEU-4 of each against all the
// others as references (Zhu et al. 2018, Texygen): high when the samples
// repeat each other. BLEU here is corpus-style for one hypothesis: clipped
// n-gram precisions for n = 1..4, add-one smoothing for n ≥ 2 (Lin and Och
// 2004, so one missing 4-gram does not zero a near copy), the geometric
// mean, and the brevity penalty against the closest reference length.
// Fewer than two completions have no references: the result is 0.
func SelfBLEU(completions [][]string) float64 {
	if len(completions) < 2 {
		return 0
	}
	var sum float64
	for i, hyp := range completions {
		refs := make([][]string, 0, len(completions)-1)
		for j, r := range completions {
			if j != i {
				refs = append(refs, r)
			}
		}
		sum += BLEU(hyp, refs, 4)
	}
	return sum / float64(len(completions))
}

// BLEU scores hyp against refs up to maxN-grams with the smoothing SelfBLEU
// describes. An empty hypothesis scores 0.
func BLEU(hyp []string, refs [][]string, maxN int) float64 {
	if len(hyp) == 0 {
		return 0
	}
	logSum := 0.0
	for n := 1; n <= maxN; n++ {
		counts := ngrams(hyp, n)
		maxRef := map[string]int{}
		for _, r := range refs {
			for g, c := range ngrams(r, n) {
				maxRef[g] = max(maxRef[g], c)
			}
		}
		match, total := 0, 0
		for g, c := range counts {
			match += min(c, maxRef[g])
			total += c
		}
		num, den := float64(match), float64(total)
		if n > 1 {
			num, den = num+1, den+1
		}
		if num == 0 || den == 0 {
			return 0
		}
		logSum += math.Log(num / den)
	}
	// Closest reference length, the shorter one on a tie (as sacrebleu).
	best := -1
	for _, r := range refs {
		d, bd := abs(len(r)-len(hyp)), abs(best-len(hyp))
		if best < 0 || d < bd || (d == bd && len(r) < best) {
			best = len(r)
		}
	}
	bp := 1.0
	if c := len(hyp); best > c {
		bp = math.Exp(1 - float64(best)/float64(c))
	}
	return bp * math.Exp(logSum/float64(maxN))
}

func ngrams(s []string, n int) map[string]int {
	m := map[string]int{}
	for i := 0; i+n <= len(s); i++ {
		m[strings.Join(s[i:i+n], "\x00")]++
	}
	return m
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
