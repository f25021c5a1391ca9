package data

import (
	"reflect"
	"testing"

	"github.com/align-go/align/chat"
)

func TestPreferenceFormats(t *testing.T) {
	pc := func(p, c, r []chat.Message) PreferenceExample {
		return PreferenceExample{Conversational: true, Prompt: p, Chosen: c, Rejected: r}
	}
	cases := []struct {
		name string
		row  string
		want PreferenceExample
	}{
		{"strings", `{"prompt":"2+2=","chosen":" 4","rejected":" 5"}`,
			PreferenceExample{PromptText: "2+2=", ChosenText: " 4", RejectedText: " 5"}},
		{"strings with margin", `{"prompt":"","chosen":"good","rejected":"bad","margin":1.5}`,
			PreferenceExample{ChosenText: "good", RejectedText: "bad", Margin: f64(1.5)}},
		{"null margin", `{"prompt":"p","chosen":"good","rejected":"bad","margin":null}`,
			PreferenceExample{PromptText: "p", ChosenText: "good", RejectedText: "bad"}},
		{"soft label", `{"prompt":"p","chosen":"good","rejected":"bad","p_chosen":0.75}`,
			PreferenceExample{PromptText: "p", ChosenText: "good", RejectedText: "bad", PChosen: f64(0.75)}},
		{"soft label 0 flips the pair", `{"prompt":"p","chosen":"good","rejected":"bad","p_chosen":0}`,
			PreferenceExample{PromptText: "p", ChosenText: "good", RejectedText: "bad", PChosen: f64(0)}},
		{"soft label 1, exponent form", `{"prompt":"p","chosen":"good","rejected":"bad","p_chosen":1e0}`,
			PreferenceExample{PromptText: "p", ChosenText: "good", RejectedText: "bad", PChosen: f64(1)}},
		{"smallest positive soft label", `{"prompt":"p","chosen":"good","rejected":"bad","p_chosen":5e-324}`,
			PreferenceExample{PromptText: "p", ChosenText: "good", RejectedText: "bad", PChosen: f64(5e-324)}},
		{"null soft label", `{"prompt":"p","chosen":"good","rejected":"bad","p_chosen":null}`,
			PreferenceExample{PromptText: "p", ChosenText: "good", RejectedText: "bad"}},
		{"soft label with margin, conversational (cai label rows)", `{"prompt":[{"role":"user","content":"q"}],"chosen":[{"role":"assistant","content":"good"}],"rejected":[{"role":"assistant","content":"bad"}],"p_chosen":0.9,"principle":"be kind","consistent":true,"margin":1}`,
			PreferenceExample{Conversational: true, Prompt: msgs(u("q")), Chosen: msgs(a("good")), Rejected: msgs(a("bad")), Margin: f64(1), PChosen: f64(0.9)}},
		{"explicit prompt messages", `{"prompt":[{"role":"user","content":"q"}],"chosen":[{"role":"assistant","content":"good"}],"rejected":[{"role":"assistant","content":"bad"}]}`,
			pc(msgs(u("q")), msgs(a("good")), msgs(a("bad")))},
		{"explicit prompt, string responses", `{"prompt":[{"role":"system","content":"S"},{"role":"user","content":"q"}],"chosen":"good","rejected":"bad","margin":2}`,
			PreferenceExample{Conversational: true, Prompt: msgs(sys("S"), u("q")), Chosen: msgs(a("good")), Rejected: msgs(a("bad")), Margin: f64(2)}},
		{"string prompt, message responses", `{"prompt":"q","chosen":[{"role":"assistant","content":"good"}],"rejected":[{"role":"assistant","content":"bad"}]}`,
			pc(msgs(u("q")), msgs(a("good")), msgs(a("bad")))},
		{"implicit prompt (HH-RLHF)", `{"chosen":[{"role":"user","content":"q"},{"role":"assistant","content":"good"}],"rejected":[{"role":"user","content":"q"},{"role":"assistant","content":"bad"}]}`,
			pc(msgs(u("q")), msgs(a("good")), msgs(a("bad")))},
		{"implicit prompt, multi-turn, late divergence", `{"chosen":[{"role":"system","content":"S"},{"role":"user","content":"q1"},{"role":"assistant","content":"r1"},{"role":"user","content":"q2"},{"role":"assistant","content":"good"}],` +
			`"rejected":[{"role":"system","content":"S"},{"role":"user","content":"q1"},{"role":"assistant","content":"r1"},{"role":"user","content":"q2"},{"role":"assistant","content":"bad"},{"role":"user","content":"q3"},{"role":"assistant","content":"worse"}]}`,
			pc(msgs(sys("S"), u("q1"), a("r1"), u("q2")), msgs(a("good")), msgs(a("bad"), u("q3"), a("worse")))},
		{"ultrafeedback: string prompt beside whole conversations", `{"prompt":"q","chosen":[{"role":"user","content":"q"},{"role":"assistant","content":"good"}],"rejected":[{"role":"user","content":"q"},{"role":"assistant","content":"bad"}],"score_chosen":8.0}`,
			pc(msgs(u("q")), msgs(a("good")), msgs(a("bad")))},
		{"explicit prompt prefix beats longest shared prefix", `{"prompt":[{"role":"user","content":"q1"}],` +
			`"chosen":[{"role":"user","content":"q1"},{"role":"assistant","content":"r1"},{"role":"user","content":"q2"},{"role":"assistant","content":"good"}],` +
			`"rejected":[{"role":"user","content":"q1"},{"role":"assistant","content":"r1"},{"role":"user","content":"q2"},{"role":"assistant","content":"bad"}]}`,
			pc(msgs(u("q1")), msgs(a("r1"), u("q2"), a("good")), msgs(a("r1"), u("q2"), a("bad")))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, "pref.jsonl", c.row+"\n")
			got, rep, err := ReadPreference(p, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Format != FormatPreference || rep.Rows != 1 {
				t.Fatalf("report %+v", rep)
			}
			want := c.want
			want.Loc = p + ":1"
			if !reflect.DeepEqual(got, []PreferenceExample{want}) {
				t.Fatalf("got  %+v\nwant %+v", got[0], want)
			}
		})
	}
}

func TestPreferenceErrors(t *testing.T) {
	const q, good, bad = `{"role":"user","content":"q"}`, `{"role":"assistant","content":"good"}`, `{"role":"assistant","content":"bad"}`
	cases := []struct{ name, row, want string }{
		{"identical strings", `{"prompt":"p","chosen":"same","rejected":"same"}`,
			`pref.jsonl:1: chosen and rejected are identical`},
		{"identical conversations", `{"chosen":[` + q + `,` + good + `],"rejected":[` + q + `,` + good + `]}`,
			`pref.jsonl:1: chosen and rejected are identical`},
		{"no divergence", `{"chosen":[` + q + `,` + good + `],"rejected":[` + q + `,` + good + `,` + q + `,` + bad + `]}`,
			`pref.jsonl:1: chosen and rejected do not diverge: one is a prefix of the other`},
		{"diverge at a user turn", `{"chosen":[` + q + `,` + good + `],"rejected":[{"role":"user","content":"other"},` + good + `]}`,
			`pref.jsonl:1: field "chosen[0].role": chosen and rejected first differ at a user turn; they must differ from an assistant turn on`},
		{"string pair without prompt", `{"chosen":"a","rejected":"b"}`,
			`pref.jsonl:1: missing field "prompt"`},
		{"responses without prompt", `{"chosen":[` + good + `],"rejected":[` + bad + `]}`,
			`pref.jsonl:1: missing field "prompt"`},
		{"empty chosen string", `{"prompt":"p","chosen":" ","rejected":"b"}`,
			`pref.jsonl:1: field "chosen": empty`},
		{"chosen wrong type", `{"prompt":"p","chosen":7,"rejected":"b"}`,
			`pref.jsonl:1: field "chosen": want string or list of messages, got number`},
		{"margin wrong type", `{"prompt":"p","chosen":"a","rejected":"b","margin":"big"}`,
			`pref.jsonl:1: field "margin": want number, got string`},
		{"p_chosen wrong type", `{"prompt":"p","chosen":"a","rejected":"b","p_chosen":"0.7"}`,
			`pref.jsonl:1: field "p_chosen": want number, got string`},
		{"p_chosen bool", `{"prompt":"p","chosen":"a","rejected":"b","p_chosen":true}`,
			`pref.jsonl:1: field "p_chosen": want number, got bool`},
		{"p_chosen list", `{"prompt":"p","chosen":"a","rejected":"b","p_chosen":[0.7]}`,
			`pref.jsonl:1: field "p_chosen": want number, got list`},
		{"p_chosen above 1", `{"prompt":"p","chosen":"a","rejected":"b","p_chosen":1.5}`,
			`pref.jsonl:1: field "p_chosen": 1.5 is outside [0, 1] (the probability that chosen is better)`},
		{"p_chosen just above 1", `{"prompt":"p","chosen":"a","rejected":"b","p_chosen":1.0000000000000002}`,
			`pref.jsonl:1: field "p_chosen": 1.0000000000000002 is outside [0, 1] (the probability that chosen is better)`},
		{"p_chosen negative", `{"prompt":"p","chosen":"a","rejected":"b","p_chosen":-0.25}`,
			`pref.jsonl:1: field "p_chosen": -0.25 is outside [0, 1] (the probability that chosen is better)`},
		{"p_chosen as a percentage", `{"prompt":"p","chosen":"a","rejected":"b","p_chosen":70}`,
			`pref.jsonl:1: field "p_chosen": 70 is outside [0, 1] (the probability that chosen is better)`},
		{"p_chosen checked before the pair", `{"prompt":"p","chosen":"same","rejected":"same","p_chosen":2}`,
			`pref.jsonl:1: field "p_chosen": 2 is outside [0, 1] (the probability that chosen is better)`},
		{"prompt wrong type", `{"prompt":{"text":"p"},"chosen":[` + good + `],"rejected":[` + bad + `]}`,
			`pref.jsonl:1: field "prompt": want string or list of messages, got object`},
		{"prompt ends with assistant", `{"prompt":[` + q + `,` + good + `],"chosen":[` + good + `],"rejected":[` + bad + `]}`,
			`pref.jsonl:1: field "prompt[1].role": conversation must end with a user turn, got assistant`},
		{"empty rejected response list", `{"prompt":[` + q + `],"chosen":[` + good + `],"rejected":[]}`,
			`pref.jsonl:1: field "rejected": no messages`},
		{"empty assistant in rejected", `{"prompt":"p","chosen":[` + good + `],"rejected":[{"role":"assistant","content":""}]}`,
			`pref.jsonl:1: field "rejected[0].content": empty assistant turn`},
		{"bad role in whole conversation", `{"chosen":[` + q + `,{"role":"gpt","content":"x"}],"rejected":[` + q + `,` + bad + `]}`,
			`pref.jsonl:1: field "chosen[1].role": unknown role "gpt" (want system, user or assistant)`},
		{"whole conversation ends with user", `{"chosen":[` + q + `,` + good + `,` + q + `],"rejected":[` + q + `,` + bad + `]}`,
			`pref.jsonl:1: field "chosen[2].role": conversation must end with an assistant turn, got user`},
		{"not preference data", `{"prompt":"p","completion":"c"}`,
			`pref.jsonl:1: cannot tell the format from keys [completion prompt]; want chosen and rejected (and optionally prompt)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, "pref.jsonl", c.row+"\n")
			_, _, err := ReadPreference(p, Options{})
			checkErr(t, err, p, c.want)
		})
	}
}

// TestPreferenceSoftLabelFiles reads p_chosen from a JSON array file and,
// skipping bad rows, groups out-of-range values under one reason whatever
// the value.
func TestPreferenceSoftLabelFiles(t *testing.T) {
	p := writeFile(t, "pref.json", `[{"prompt":"p","chosen":"a","rejected":"b","p_chosen":0.25},`+"\n"+
		`{"prompt":"p","chosen":"a","rejected":"b"}]`)
	got, _, err := ReadPreference(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []PreferenceExample{
		{PromptText: "p", ChosenText: "a", RejectedText: "b", PChosen: f64(0.25), Loc: p + ": row 0"},
		{PromptText: "p", ChosenText: "a", RejectedText: "b", Loc: p + ": row 1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v", got)
	}

	p = writeFile(t, "pref.jsonl", lines(
		`{"prompt":"p","chosen":"a","rejected":"b","p_chosen":1.5}`,
		`{"prompt":"p","chosen":"a","rejected":"b","p_chosen":-1}`,
		`{"prompt":"p","chosen":"a","rejected":"b","p_chosen":"x"}`,
		`{"prompt":"p","chosen":"a","rejected":"b","p_chosen":0.5}`,
	))
	got, rep, err := ReadPreference(p, Options{SkipBadRows: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || *got[0].PChosen != 0.5 || got[0].Loc != p+":4" {
		t.Fatalf("got %+v", got)
	}
	wantReasons := map[string]int{`field "p_chosen": outside [0, 1]`: 2, `field "p_chosen": want number, got string`: 1}
	if rep.Skipped != 3 || !reflect.DeepEqual(rep.Reasons, wantReasons) {
		t.Fatalf("report %+v", rep)
	}
}

func TestPrompts(t *testing.T) {
	p := writeFile(t, "prompts.jsonl", lines(
		`{"prompt":"What is 6*7?","answer":"42","level":3}`,
		`{"prompt":[{"role":"system","content":"S"},{"role":"user","content":"q"}]}`,
		`{"prompt":"p","chosen":"a","rejected":"b"}`,
		`{"messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello"},{"role":"user","content":"Go on"}],"id":7}`,
	))
	got, rep, err := ReadPrompts(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []PromptExample{
		{PromptText: "What is 6*7?", Extra: map[string]any{"answer": "42", "level": 3.0}, Loc: p + ":1"},
		{Conversational: true, Prompt: msgs(sys("S"), u("q")), Loc: p + ":2"},
		{PromptText: "p", Extra: map[string]any{"chosen": "a", "rejected": "b"}, Loc: p + ":3"},
		{Conversational: true, Prompt: msgs(u("Hi"), a("Hello"), u("Go on")), Extra: map[string]any{"id": 7.0}, Loc: p + ":4"},
	}
	if !reflect.DeepEqual(got, want) || rep.Rows != 4 || rep.Format != FormatPrompt {
		t.Fatalf("got %+v %+v", got, rep)
	}

	for _, c := range []struct{ row, want string }{
		{`{"prompt":"  "}`, `prompts.jsonl:1: field "prompt": empty`},
		{`{"prompt":[{"role":"user","content":"q"},{"role":"assistant","content":"r"}]}`,
			`prompts.jsonl:1: field "prompt[1].role": conversation must end with a user turn, got assistant`},
		{`{"question":"q"}`, `prompts.jsonl:1: cannot tell the format from keys [question]; want prompt (or messages)`},
		{`{"prompt":"p","messages":[{"role":"user","content":"q"}]}`, `prompts.jsonl:1: field "messages": give "prompt" or "messages", not both`},
		{`{"messages":"q"}`, `prompts.jsonl:1: field "messages": want list of messages, got string`},
		{`{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"r"}]}`,
			`prompts.jsonl:1: field "messages[1].role": conversation must end with a user turn, got assistant`},
	} {
		p := writeFile(t, "prompts.jsonl", c.row+"\n")
		_, _, err := ReadPrompts(p, Options{})
		checkErr(t, err, p, c.want)
	}
}
