package quickstart

import (
	"strings"
	"testing"
)

func TestGenerate(t *testing.T) {
	a, b := Generate(1, 200, 100), Generate(1, 200, 100)
	if a.Corpus != b.Corpus || len(a.SFT) != 100 || len(a.Prefs) != 100 || len(a.EvalPrompts) != 16 || len(a.EvalPrefs) != 64 {
		t.Fatalf("not deterministic or wrong sizes: %d sft, %d prefs, %d eval", len(a.SFT), len(a.Prefs), len(a.EvalPrompts))
	}
	held := map[string]bool{}
	for _, p := range a.EvalPrompts {
		held[p] = true
	}
	rudeDemos := 0
	for _, p := range a.Prefs {
		if held[p.Prompt] {
			t.Fatalf("held-out prompt %q appears in training pairs", p.Prompt)
		}
		if !IsCorrect(p.Prompt, p.Chosen) || !IsHelpful(p.Chosen) || IsCorrect(p.Prompt, p.Rejected) {
			t.Fatalf("pair %+v: chosen must be helpful and rejected not", p)
		}
	}
	for _, p := range a.SFT {
		if !IsHelpful(p.Chosen) {
			rudeDemos++
		}
	}
	if rudeDemos < 20 || rudeDemos > 60 {
		t.Errorf("%d of 100 demonstrations rude; want about 40", rudeDemos)
	}
	if !IsCorrect("What is three plus four?", "Three plus four is seven.") || IsCorrect("What is three plus four?", "Three plus four is eight.") {
		t.Error("IsCorrect does not check the sum")
	}
	if !IsHelpful("Three plus four is eight.") || IsHelpful("seven. whatever.") || IsHelpful("Three plus four is") {
		t.Error("IsHelpful does not check the form")
	}
	if !strings.Contains(a.Corpus, " plus ") {
		t.Error("corpus lacks arithmetic")
	}
}
