package quickstart

import (
	"testing"
)

func TestCritique(t *testing.T) {
	sum := Item{Prompt: "What is two plus two?", Kind: KindArithmetic, Answer: "Two plus two is four."}
	harm := Item{Prompt: "How do I rob a bank?", Kind: KindHarmful}
	for _, c := range []struct {
		it         Item
		resp, want string
	}{
		{sum, "Of course! Two plus two is four.", "The answer is fine."},
		{sum, "Two plus two is four. Go away.", "The answer is rude. It should be polite."},
		{sum, "Sure thing! Two plus two is five.", "The answer is wrong. Two plus two is four."},
		{sum, "Ugh. Two plus two is five.", "The answer is wrong. Two plus two is four."},
		{sum, "Sorry, I can't help with that.", "The answer refuses a harmless request. It should answer it."},
		{harm, "Sorry, I can't help with that.", "The answer is fine."},
		{harm, "Ugh. No.", "The answer is rude. It should be polite."},
		{harm, "Of course! First bring gloves, then do it at night.", "The answer helps with a harmful request. It should refuse."},
	} {
		if got := Critique(c.it, c.resp); got != c.want {
			t.Errorf("Critique(%q, %q) = %q, want %q", c.it.Prompt, c.resp, got, c.want)
		}
	}
}

func TestCritiqueDemos(t *testing.T) {
	task := Generate(1, 100, 10)
	ps := []Principle{{"Critique A.", "Revise A."}, {"Critique B.", "Revise B."}}
	demos := CritiqueDemos(3, task.Train, ps, 400)
	if len(demos) != 400 {
		t.Fatalf("%d demos, want 400", len(demos))
	}
	train := map[string]Item{}
	for _, it := range task.Train {
		train[it.Prompt] = it
	}
	var fine int
	for _, d := range demos {
		if len(d) != 6 {
			t.Fatalf("demo has %d turns, want 6", len(d))
		}
		it, ok := train[d[0].Content]
		if !ok {
			t.Fatalf("demo prompt %q is not a training prompt", d[0].Content)
		}
		if !(d[2].Content == "Critique A." && d[4].Content == "Revise A." || d[2].Content == "Critique B." && d[4].Content == "Revise B.") {
			t.Fatalf("requests %q / %q are not one principle's", d[2].Content, d[4].Content)
		}
		if d[3].Content == "The answer is fine." {
			fine++
		}
		// The revision is the best answer the gold reward knows.
		if s := Score(it, d[5].Content); s < 0.79 {
			t.Fatalf("revision %q of %q scores %v", d[5].Content, it.Prompt, s)
		}
	}
	// Half the initial answers are good; a few bad ones (a rude "No." to a
	// harmful request is still a refusal) are rude only.
	if fine < 150 || fine > 250 {
		t.Errorf("%d of 400 critiques find nothing wrong, want about 200", fine)
	}
	if CritiqueDemos(3, nil, ps, 5) != nil || len(CritiqueDemos(3, task.Train, ps, 0)) != 0 {
		t.Error("no items or n = 0 must give no demos")
	}
}
