package cai

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/align-go/align/chat"
	"github.com/align-go/align/llm"
)

// echoClient answers each request with a text naming the request's last
// turn and its position in the call, and records every call.
type echoClient struct{ calls [][]llm.Request }

func (e *echoClient) Chat(_ context.Context, reqs []llm.Request) ([]llm.Response, error) {
	e.calls = append(e.calls, reqs)
	out := make([]llm.Response, len(reqs))
	for i, r := range reqs {
		out[i].Text = fmt.Sprintf("re[%s]", r.Messages[len(r.Messages)-1].Content)
	}
	return out, nil
}

func testConstitution() *Constitution {
	return &Constitution{Principles: []Principle{
		{Name: "p0", CritiqueRequest: "C0", RevisionRequest: "R0"},
		{Name: "p1", CritiqueRequest: "C1", RevisionRequest: "R1"},
		{Name: "p2", CritiqueRequest: "C2", RevisionRequest: "R2"},
	}}
}

func msg(role, content string) chat.Message { return chat.Message{Role: role, Content: content} }

func user(s string) []chat.Message { return []chat.Message{{Role: "user", Content: s}} }

func TestReviseTurns(t *testing.T) {
	c := testConstitution()
	c.Examples = []Example{{Prompt: "EP", Response: "ER", Critique: "EC", Revision: "EV"}}
	cl := &echoClient{}
	prompts := []Prompt{{Index: 0, Messages: user("q0")}, {Index: 7, Messages: user("q7")}}
	o := ReviseOptions{Rounds: 2, Seed: 3, Sampling: Sampling{MaxTokens: 9, Temperature: 0.5}}
	got, err := Revise(context.Background(), cl, c, prompts, o)
	if err != nil {
		t.Fatal(err)
	}
	// One initial call plus a critique and a revision call per round, each
	// holding both prompts.
	if len(cl.calls) != 5 {
		t.Fatalf("%d calls", len(cl.calls))
	}
	for _, call := range cl.calls {
		if len(call) != 2 || call[0].MaxTokens != 9 || call[0].Temperature != 0.5 {
			t.Fatalf("call %+v", call)
		}
	}
	shots := []chat.Message{msg("user", "EP"), msg("assistant", "ER"), msg("user", "C0"), msg("assistant", "EC"), msg("user", "R0"), msg("assistant", "EV")}
	for i, r := range got {
		q := prompts[i].Messages[0].Content
		if r.Index != prompts[i].Index || r.Initial != "re["+q+"]" || len(r.Rounds) != 2 {
			t.Fatalf("%+v", r)
		}
		answer := r.Initial
		for k, rd := range r.Rounds {
			p, ok := c.Principle(rd.Principle)
			if !ok {
				t.Fatalf("principle %q", rd.Principle)
			}
			if rd.Critique != "re["+p.CritiqueRequest+"]" || rd.Revision != "re["+p.RevisionRequest+"]" {
				t.Fatalf("round %d: %+v", k, rd)
			}
			crit := cl.calls[1+2*k][i].Messages
			want := append(append(append([]chat.Message{}, shots...), prompts[i].Messages...),
				msg("assistant", answer), msg("user", p.CritiqueRequest))
			if !reflect.DeepEqual(crit, want) {
				t.Fatalf("critique turns\n got %v\nwant %v", crit, want)
			}
			rev := cl.calls[2+2*k][i].Messages
			want = append(want, msg("assistant", rd.Critique), msg("user", p.RevisionRequest))
			if !reflect.DeepEqual(rev, want) {
				t.Fatalf("revision turns\n got %v\nwant %v", rev, want)
			}
			answer = rd.Revision
		}
		if r.Final() != answer {
			t.Fatal(r.Final())
		}
	}
	// A prompt's draws and request seeds depend on its index only.
	again, err := Revise(context.Background(), &echoClient{}, c, prompts[1:], o)
	if err != nil || !reflect.DeepEqual(again[0], got[1]) {
		t.Fatalf("subset run differs: %+v vs %+v (%v)", again, got[1], err)
	}
	seeds := map[uint64]bool{}
	for _, call := range cl.calls {
		for _, r := range call {
			seeds[r.Seed] = true
		}
	}
	if len(seeds) != 10 {
		t.Errorf("%d distinct request seeds over 10 requests", len(seeds))
	}
}

// Over many prompts every principle is drawn, about equally often.
func TestReviseDrawsPrinciples(t *testing.T) {
	c := testConstitution()
	counts := map[string]int{}
	for i := range 3000 {
		counts[c.draw(1, i, 1)[0].Name]++
	}
	for _, p := range c.Principles {
		if n := counts[p.Name]; n < 900 || n > 1100 {
			t.Errorf("%s drawn %d of 3000 times", p.Name, n)
		}
	}
}

func TestReviseErrors(t *testing.T) {
	c := testConstitution()
	_, err := Revise(context.Background(), &echoClient{}, c, []Prompt{{Index: 4, Messages: []chat.Message{msg("assistant", "x")}}}, ReviseOptions{})
	if err == nil || !strings.Contains(err.Error(), "prompt 4") {
		t.Fatal(err)
	}
	_, err = Revise(context.Background(), shortClient{}, c, []Prompt{{Messages: user("q")}}, ReviseOptions{})
	if err == nil || !strings.Contains(err.Error(), "0 responses for 1") {
		t.Fatal(err)
	}
}

type shortClient struct{}

func (shortClient) Chat(context.Context, []llm.Request) ([]llm.Response, error) { return nil, nil }

func readJSONL(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, m)
	}
	return rows
}

func TestOutputRowsAndResume(t *testing.T) {
	dir := t.TempDir()
	o, err := OpenOutput(dir)
	if err != nil {
		t.Fatal(err)
	}
	rs := []Revision{
		{Index: 0, Prompt: user("a"), Initial: "bad", Rounds: []Round{{Principle: "p0", Critique: "c", Revision: "good"}}},
		{Index: 1, Prompt: user("b"), Initial: "same", Rounds: []Round{{Principle: "p0", Critique: "c", Revision: "same"}}},
		{Index: 2, Prompt: user("c"), Initial: "x", Rounds: []Round{{Principle: "p0", Critique: "c", Revision: " "}}},
	}
	if err := o.Write(rs); err != nil {
		t.Fatal(err)
	}
	o.Close()
	// A write cut short by a kill.
	f, _ := os.OpenFile(filepath.Join(dir, TraceFile), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"index": 3, "prompt": [{"role": "us`)
	f.Close()

	o, err = OpenOutput(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(o.Done, map[int]bool{0: true, 1: true, 2: true}) || o.SFTRows != 2 || o.PrefRows != 1 {
		t.Fatalf("resumed %v, %d sft, %d pref", o.Done, o.SFTRows, o.PrefRows)
	}
	if err := o.Write([]Revision{rs[0], {Index: 3, Prompt: user("d"), Initial: "i", Rounds: []Round{{Revision: "f"}}}}); err != nil {
		t.Fatal(err)
	}
	o.Close()
	if n := len(readJSONL(t, filepath.Join(dir, TraceFile))); n != 4 {
		t.Fatalf("%d trace rows", n)
	}
	sft := readJSONL(t, filepath.Join(dir, SFTFile))
	want := []map[string]any{
		{"prompt": []any{map[string]any{"role": "user", "content": "a"}}, "completion": []any{map[string]any{"role": "assistant", "content": "good"}}},
		{"prompt": []any{map[string]any{"role": "user", "content": "b"}}, "completion": []any{map[string]any{"role": "assistant", "content": "same"}}},
		{"prompt": []any{map[string]any{"role": "user", "content": "d"}}, "completion": []any{map[string]any{"role": "assistant", "content": "f"}}},
	}
	if !reflect.DeepEqual(sft, want) {
		t.Fatalf("sft rows %v", sft)
	}
	pref := readJSONL(t, filepath.Join(dir, PreferencesFile))
	if len(pref) != 2 || pref[0]["chosen"].([]any)[0].(map[string]any)["content"] != "good" ||
		pref[0]["rejected"].([]any)[0].(map[string]any)["content"] != "bad" {
		t.Fatalf("preference rows %v", pref)
	}

	os.WriteFile(filepath.Join(dir, TraceFile), []byte("{\"index\": 0}\n"), 0o644)
	if _, err := OpenOutput(dir); err == nil || !strings.Contains(err.Error(), TraceFile+":1: not a revision record") {
		t.Fatal(err)
	}
}
