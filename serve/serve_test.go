package serve

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/align-go/align/chat"
	"github.com/align-go/align/engine"
	"github.com/align-go/align/engine/enginetest"
	"github.com/align-go/align/generate"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

const modelName = "tiny"

// The engine is loaded once: tests only read it.
var (
	engOnce sync.Once
	eng     *engine.Engine
	engErr  error
)

func sharedEngine(t *testing.T) *engine.Engine {
	engOnce.Do(func() {
		eng, engErr = loadEngine(t, modelDir(t), engine.Options{MaxBatch: 4})
	})
	if engErr != nil {
		t.Fatal(engErr)
	}
	return eng
}

// loadEngine is engine.Load for an enginetest.ModelDir, with the
// tokenizer parsed once per test process (enginetest.Tokenizer) instead of
// once per engine: about a third of a CPU-second each.
func loadEngine(t testing.TB, dir string, o engine.Options) (*engine.Engine, error) {
	t.Helper()
	return engine.LoadWith(dir, enginetest.Tokenizer(t), o)
}

// The tests only read the model directory: it is written once per test
// process and outlives the test that asked first.
var (
	dirOnce sync.Once
	dir5    string
)

// modelDir is modelDir(t), written once per test process.
func modelDir(t testing.TB) string {
	t.Helper()
	dirOnce.Do(func() { dir5 = enginetest.ModelDir(&keepTB{t}, 5) })
	if dir5 == "" { // the first call failed
		t.Fatal("the shared model directory was not written")
	}
	return dir5
}

// keepTB gives a TempDir that is not removed when the first test ends
// (TestMain removes it).
type keepTB struct{ testing.TB }

var keptDirs []string

func (k *keepTB) TempDir() string {
	d, err := os.MkdirTemp("", "serve-test")
	if err != nil {
		k.Fatal(err)
	}
	keptDirs = append(keptDirs, d)
	return d
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range keptDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

func startServer(t *testing.T, e *engine.Engine, o Options) (*httptest.Server, openai.Client) {
	t.Helper()
	if o.ModelName == "" {
		o.ModelName = modelName
	}
	ts := httptest.NewServer(New(e, o).Handler())
	t.Cleanup(ts.Close)
	opts := []option.RequestOption{option.WithBaseURL(ts.URL + "/v1/"), option.WithMaxRetries(0)}
	if o.APIKey != "" {
		opts = append(opts, option.WithAPIKey(o.APIKey))
	} else {
		opts = append(opts, option.WithAPIKey("unused"))
	}
	return ts, openai.NewClient(opts...)
}

func chatParams(content string, maxTokens int) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model:       modelName,
		Messages:    []openai.ChatCompletionMessageParamUnion{openai.UserMessage(content)},
		MaxTokens:   openai.Int(int64(maxTokens)),
		Temperature: openai.Float(0),
	}
}

// reference is generate.Generate's greedy answer to a chat prompt.
func reference(t *testing.T, e *engine.Engine, content string, maxTokens int) ([]int32, generate.Completion) {
	t.Helper()
	ids, err := e.ChatPrompt([]chat.Message{{Role: "user", Content: content}})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := generate.Generate(e.Model, [][]int32{ids}, generate.Options{MaxNewTokens: maxTokens, EOS: e.EOS,
		Logprobs: true, Decode: e.Decode})
	if err != nil {
		t.Fatal(err)
	}
	return ids, cs[0]
}

func TestChatCompletion(t *testing.T) {
	e := sharedEngine(t)
	_, client := startServer(t, e, Options{})
	ctx := context.Background()
	ids, want := reference(t, e, "Tell me about whales", 8)

	p := chatParams("Tell me about whales", 8)
	p.Logprobs = openai.Bool(true)
	p.TopLogprobs = openai.Int(3)
	resp, err := client.Chat.Completions.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Choices) != 1 || resp.Choices[0].Message.Content != want.Text ||
		resp.Choices[0].FinishReason != want.FinishReason || resp.Model != modelName || resp.Object != "chat.completion" {
		t.Fatalf("got %+v, want text %q (%s)", resp.Choices, want.Text, want.FinishReason)
	}
	if resp.Usage.PromptTokens != int64(len(ids)) || resp.Usage.CompletionTokens != int64(len(want.Tokens)) ||
		resp.Usage.TotalTokens != int64(len(ids)+len(want.Tokens)) {
		t.Fatalf("usage %+v, want %d prompt + %d completion tokens", resp.Usage, len(ids), len(want.Tokens))
	}
	lps := resp.Choices[0].Logprobs.Content
	nText := len(want.Tokens)
	if want.FinishReason == generate.FinishStop {
		nText-- // the EOS token is not part of the text
	}
	if len(lps) != nText {
		t.Fatalf("%d logprob entries, want %d", len(lps), nText)
	}
	for i, lp := range lps {
		if math.Abs(lp.Logprob-float64(want.Logprobs[i])) > 1e-4 {
			t.Errorf("token %d logprob %v, want %v", i, lp.Logprob, want.Logprobs[i])
		}
		if tok, _ := e.TokenText(want.Tokens[i]); lp.Token != tok {
			t.Errorf("token %d is %q, want %q", i, lp.Token, tok)
		}
		// Greedy: the chosen token is the most likely one.
		if len(lp.TopLogprobs) != 3 || lp.TopLogprobs[0].Token != lp.Token ||
			math.Abs(lp.TopLogprobs[0].Logprob-lp.Logprob) > 1e-6 || lp.TopLogprobs[1].Logprob > lp.TopLogprobs[0].Logprob {
			t.Errorf("token %d: top logprobs %+v", i, lp.TopLogprobs)
		}
	}

	// Streaming gives the same text, usage last when asked.
	p = chatParams("Tell me about whales", 8)
	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := client.Chat.Completions.NewStreaming(ctx, p)
	var text, finish string
	var chunks int
	var u openai.CompletionUsage
	for stream.Next() {
		c := stream.Current()
		chunks++
		if len(c.Choices) > 0 {
			text += c.Choices[0].Delta.Content
			if c.Choices[0].FinishReason != "" {
				finish = c.Choices[0].FinishReason
			}
		}
		if c.Usage.TotalTokens > 0 {
			u = c.Usage
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if text != want.Text || finish != want.FinishReason || chunks < 2 || u.CompletionTokens != int64(len(want.Tokens)) {
		t.Fatalf("streamed %q (%s) in %d chunks, usage %+v; want %q (%s)", text, finish, chunks, u, want.Text, want.FinishReason)
	}
}

func TestCompletionsBatchedClients(t *testing.T) {
	e := sharedEngine(t)
	_, client := startServer(t, e, Options{})
	ctx := context.Background()
	prompts := []string{"The whale", "Once upon a time", "Ships sail", "Hello there, friend"}
	// Sequential answers first, then the same requests from concurrent
	// clients (sharing decode steps) must give the same answers.
	seq := make([]*openai.Completion, len(prompts))
	params := func(p string) openai.CompletionNewParams {
		return openai.CompletionNewParams{Model: modelName, Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String(p)},
			MaxTokens: openai.Int(10), Temperature: openai.Float(0.8), Seed: openai.Int(3), N: openai.Int(2), Logprobs: openai.Int(2)}
	}
	for i, p := range prompts {
		r, err := client.Completions.New(ctx, params(p))
		if err != nil {
			t.Fatal(err)
		}
		seq[i] = r
	}
	var wg sync.WaitGroup
	par := make([]*openai.Completion, len(prompts))
	errs := make([]error, len(prompts))
	for i, p := range prompts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			par[i], errs[i] = client.Completions.New(ctx, params(p))
		}()
	}
	wg.Wait()
	for i := range prompts {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if len(par[i].Choices) != 2 {
			t.Fatalf("prompt %d: %d choices", i, len(par[i].Choices))
		}
		for c := range 2 {
			a, b := seq[i].Choices[c], par[i].Choices[c]
			if a.Text != b.Text || a.FinishReason != b.FinishReason || len(b.Logprobs.Tokens) != len(b.Logprobs.TokenLogprobs) ||
				strings.Join(b.Logprobs.Tokens, "") != b.Text {
				t.Fatalf("prompt %d choice %d: alone %q, batched %q (tokens %q)", i, c, a.Text, b.Text, b.Logprobs.Tokens)
			}
		}
	}
	// Two choices on their own streams of one seed differ (10 sampled tokens).
	if seq[0].Choices[0].Text == seq[0].Choices[1].Text {
		t.Errorf("both choices are %q", seq[0].Choices[0].Text)
	}

	stream := client.Completions.NewStreaming(ctx, params(prompts[1]))
	texts := map[int64]string{}
	for stream.Next() {
		for _, c := range stream.Current().Choices {
			texts[c.Index] += c.Text
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if texts[0] != seq[1].Choices[0].Text || texts[1] != seq[1].Choices[1].Text {
		t.Fatalf("streamed %v, want %q and %q", texts, seq[1].Choices[0].Text, seq[1].Choices[1].Text)
	}

	models, err := client.Models.List(ctx)
	if err != nil || len(models.Data) != 1 || models.Data[0].ID != modelName {
		t.Fatalf("models: %+v, %v", models, err)
	}
}

func apiErr(t *testing.T, err error, status int, param string) {
	t.Helper()
	var ae *openai.Error
	if !errors.As(err, &ae) {
		t.Fatalf("want an API error %d, got %v", status, err)
	}
	if ae.StatusCode != status || ae.Param != param || ae.Message == "" {
		t.Fatalf("got %d param %q (%s), want %d param %q", ae.StatusCode, ae.Param, ae.Message, status, param)
	}
}

func TestBadRequests(t *testing.T) {
	e := sharedEngine(t)
	ts, client := startServer(t, e, Options{MaxBodyBytes: 2048})
	ctx := context.Background()

	p := chatParams("hi", 4)
	p.Model = "gpt-4"
	_, err := client.Chat.Completions.New(ctx, p)
	apiErr(t, err, 404, "model")

	p = chatParams("hi", 1000)
	_, err = client.Chat.Completions.New(ctx, p)
	apiErr(t, err, 400, "max_tokens")
	var ae *openai.Error
	if errors.As(err, &ae); ae.Code != "context_length_exceeded" {
		t.Errorf("code %q", ae.Code)
	}
	p = chatParams(strings.Repeat("whale ", 40), 500)
	_, err = client.Chat.Completions.New(ctx, p)
	apiErr(t, err, 400, "messages")
	if errors.As(err, &ae); ae.Code != "context_length_exceeded" {
		t.Errorf("code %q", ae.Code)
	}

	p = chatParams("hi", 4)
	p.Temperature = openai.Float(3)
	_, err = client.Chat.Completions.New(ctx, p)
	apiErr(t, err, 400, "temperature")

	p = chatParams("hi", 4)
	p.TopP = openai.Float(0)
	_, err = client.Chat.Completions.New(ctx, p)
	apiErr(t, err, 400, "top_p")

	p = chatParams("hi", 4)
	p.N = openai.Int(0)
	_, err = client.Chat.Completions.New(ctx, p, option.WithJSONSet("n", 0))
	apiErr(t, err, 400, "n")

	p = chatParams("hi", 4)
	p.Messages = nil
	_, err = client.Chat.Completions.New(ctx, p)
	apiErr(t, err, 400, "messages")

	_, err = client.Completions.New(ctx, openai.CompletionNewParams{Model: modelName,
		Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("x")}, Logprobs: openai.Int(9)})
	apiErr(t, err, 400, "logprobs")

	// Raw requests: bad JSON, a wrong field type, a body over the limit.
	for _, c := range []struct {
		body   string
		status int
		want   string
	}{
		{`{"model": "tiny", "messages": [`, 400, "not valid JSON"},
		{`{"model": "tiny", "messages": "hi"}`, 400, `"param":"messages"`},
		{`{"model": "tiny", "messages": [{"role": "wizard", "content": "hi"}]}`, 400, "role"},
		{`{"model": "tiny", "messages": [{"role": "user", "content": "` + strings.Repeat("a", 3000) + `"}]}`, 413, "exceeds"},
	} {
		resp, err := http.Post(ts.URL+"/v1/chat/completions", "application/json", strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || !strings.Contains(string(b), `"error"`) || !strings.Contains(string(b), c.want) {
			t.Errorf("%.40s: %d %s", c.body, resp.StatusCode, b)
		}
	}
}

func TestAPIKey(t *testing.T) {
	e := sharedEngine(t)
	ts, client := startServer(t, e, Options{APIKey: "sekrit"})
	ctx := context.Background()
	if _, err := client.Chat.Completions.New(ctx, chatParams("hi", 2)); err != nil {
		t.Fatal(err)
	}
	bad := openai.NewClient(option.WithBaseURL(ts.URL+"/v1/"), option.WithAPIKey("wrong"), option.WithMaxRetries(0))
	_, err := bad.Chat.Completions.New(ctx, chatParams("hi", 2))
	apiErr(t, err, 401, "")
	_, err = bad.Models.List(ctx)
	apiErr(t, err, 401, "")
}

func TestQueueFull(t *testing.T) {
	dir := modelDir(t)
	e, err := loadEngine(t, dir, engine.Options{MaxBatch: 1, QueueSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	_, client := startServer(t, e, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	long := chatParams("hi", 480)
	// The one row: a long stream, read until it is running.
	stream := client.Chat.Completions.NewStreaming(ctx, long, option.WithJSONSet("ignore_eos", true))
	if !stream.Next() {
		t.Fatalf("stream: %v", stream.Err())
	}
	// The one queue place.
	queued := make(chan error, 1)
	go func() {
		_, err := client.Chat.Completions.New(ctx, chatParams("hi", 2))
		queued <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); e.Queued() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("second request never queued")
		}
	}
	_, err = client.Chat.Completions.New(ctx, chatParams("hi", 2))
	apiErr(t, err, 429, "")
	// Closing the stream frees the row: the queued request is answered.
	stream.Close()
	if err := <-queued; err != nil {
		t.Fatal(err)
	}
}
