package judge

import (
	"context"
	"math"
	"strings"
	"testing"

	"net/http/httptest"

	"github.com/align-go/align/engine"
	"github.com/align-go/align/engine/enginetest"
	"github.com/align-go/align/llm"
	"github.com/align-go/align/serve"
)

type fakeClient struct{ resps []llm.Response }

func (f *fakeClient) Chat(_ context.Context, reqs []llm.Request) ([]llm.Response, error) {
	for _, r := range reqs {
		if r.MaxTokens != 1 || r.TopLogprobs != 20 || !strings.Contains(r.Messages[0].Content, "Response B:\nbye") {
			panic("unexpected request")
		}
	}
	return f.resps[:len(reqs)], nil
}

func TestLLMOptionProbabilities(t *testing.T) {
	f := &fakeClient{[]llm.Response{
		{Text: "B", TopLogprobs: [][]llm.TokenLogprob{{{Token: "B", Logprob: -0.1}, {Token: " A", Logprob: -2.4}, {Token: "A", Logprob: -3}, {Token: "x", Logprob: -4}}}},
		{Text: " A because"}, // no logprobs: the text decides
		{Text: "maybe"},      // neither: no decision
	}}
	p, err := LLM{C: f}.Compare(context.Background(), []Comparison{{A: "hi", B: "bye"}, {A: "hi", B: "bye"}, {A: "hi", B: "bye"}})
	if err != nil {
		t.Fatal(err)
	}
	a := math.Exp(-2.4) + math.Exp(-3)
	want := []float64{a / (a + math.Exp(-0.1)), 1, 0.5}
	for i, w := range want {
		if math.Abs(p[i].PA-w) > 1e-12 {
			t.Errorf("%d: PA %v, want %v", i, p[i].PA, w)
		}
	}
}

// local:DIR reads the options' probabilities over the whole vocabulary: the
// two orders give probabilities, not hard picks, and asking twice is exact.
func TestLocalJudge(t *testing.T) {
	j, err := Parse("local:" + enginetest.ModelDir(t, 3))
	if err != nil {
		t.Fatal(err)
	}
	c := []Comparison{{Prompt: "Say hi", A: "hi", B: "go away"}}
	r1, err := CompareBoth(context.Background(), j, c)
	if err != nil {
		t.Fatal(err)
	}
	r2, _ := CompareBoth(context.Background(), j, c)
	if r1[0].PA != r2[0].PA || !(r1[0].AB.PA > 0 && r1[0].AB.PA < 1) {
		t.Fatalf("%+v then %+v", r1[0], r2[0])
	}
}

// The judging job graded by a real OpenAI-compatible server on loopback
// (serve.Server over the engine), killed with SIGKILL mid-way and resumed.
func TestHTTPJudgeKillResume(t *testing.T) {
	e, err := engine.Load(enginetest.ModelDir(t, 3), engine.Options{MaxBatch: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ts := httptest.NewServer(serve.New(e, serve.Options{ModelName: "tiny"}).Handler())
	defer ts.Close()
	testKillResume(t, "http:"+ts.URL+"/v1#tiny")
}
