package serve

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/align-go/align/chat"
	"github.com/align-go/align/engine"
	"github.com/align-go/align/engine/enginetest"
	"github.com/align-go/align/generate"
	"github.com/align-go/align/model"
)

// The official Go SDK picks adapters by model name while requests for the
// base and two adapters run at once (sharing the engine's steps), streamed
// and not, chat and legacy completions: each answer is generate.Generate's
// on a model holding only that adapter. Then an adapter unloaded while one
// of its streams is open: the unload succeeds, a new request for it gets
// 404, and the open stream still ends with the adapter's full answer.
func TestMixedAdaptersSDK(t *testing.T) {
	dir := modelDir(t)
	e, err := loadEngine(t, dir, engine.Options{MaxBatch: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ts, client := startServer(t, e, Options{AllowAdapterLoading: true})
	dirs := map[string]string{"a": enginetest.RandomAdapter(t, dir, 1), "b": enginetest.RandomAdapter(t, dir, 2)}
	for name, d := range dirs {
		if err := e.LoadAdapter(name, d); err != nil {
			t.Fatal(err)
		}
	}
	const question = "Tell me about whales"
	ids, err := e.ChatPrompt([]chat.Message{{Role: "user", Content: question}})
	if err != nil {
		t.Fatal(err)
	}
	// want[model][n] is the greedy answer of n tokens on a model holding only
	// that adapter.
	want := func(name string, prompt []int32, n int) string {
		t.Helper()
		m, err := model.LoadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if name != modelName {
			if err := m.LoadPEFT(dirs[name]); err != nil {
				t.Fatal(err)
			}
		}
		cs, err := generate.Generate(m, [][]int32{prompt}, generate.Options{MaxNewTokens: n, EOS: e.EOS, Decode: e.Decode})
		if err != nil {
			t.Fatal(err)
		}
		return cs[0].Text
	}
	const n = 10
	models := []string{modelName, "a", "b"}
	texts := map[string]string{}
	for _, name := range models {
		texts[name] = want(name, ids, n)
	}
	if texts[modelName] == texts["a"] || texts["a"] == texts["b"] {
		t.Fatalf("the adapters change nothing: %q", texts)
	}
	legacyPrompt := "The whale"
	legacyWant := map[string]string{}
	for _, name := range models {
		legacyWant[name] = want(name, e.TextPrompt(legacyPrompt), n)
	}

	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		t.Errorf(format, args...)
	}
	for _, name := range models {
		wg.Add(3)
		go func() {
			defer wg.Done()
			p := chatParams(question, n)
			p.Model = name
			resp, err := client.Chat.Completions.New(ctx, p)
			if err != nil {
				fail("%s: %v", name, err)
				return
			}
			if resp.Model != name || resp.Choices[0].Message.Content != texts[name] {
				fail("model %s: %q from %s, want %q", name, resp.Choices[0].Message.Content, resp.Model, texts[name])
			}
		}()
		go func() {
			defer wg.Done()
			p := chatParams(question, n)
			p.Model = name
			stream := client.Chat.Completions.NewStreaming(ctx, p)
			var sb strings.Builder
			for stream.Next() {
				ch := stream.Current()
				if ch.Model != name {
					fail("model %s: a chunk from %s", name, ch.Model)
				}
				if len(ch.Choices) > 0 {
					sb.WriteString(ch.Choices[0].Delta.Content)
				}
			}
			if err := stream.Err(); err != nil {
				fail("%s streamed: %v", name, err)
				return
			}
			if sb.String() != texts[name] {
				fail("model %s streamed: %q, want %q", name, sb.String(), texts[name])
			}
		}()
		go func() {
			defer wg.Done()
			resp, err := client.Completions.New(ctx, openai.CompletionNewParams{Model: openai.CompletionNewParamsModel(name),
				Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String(legacyPrompt)}, MaxTokens: openai.Int(n),
				Temperature: openai.Float(0)})
			if err != nil {
				fail("%s completions: %v", name, err)
				return
			}
			if resp.Model != name || resp.Choices[0].Text != legacyWant[name] {
				fail("model %s completions: %q from %s, want %q", name, resp.Choices[0].Text, resp.Model, legacyWant[name])
			}
		}()
	}
	wg.Wait()

	// Unload b while one of its streams is open.
	const long = 200
	longWant := want("b", ids, long)
	p := chatParams(question, long)
	p.Model = "b"
	stream := client.Chat.Completions.NewStreaming(ctx, p, option.WithJSONSet("ignore_eos", true))
	var sb strings.Builder
	if !stream.Next() {
		t.Fatalf("no first chunk: %v", stream.Err())
	}
	resp, err := http.Post(ts.URL+"/v1/unload_lora_adapter", "application/json", strings.NewReader(`{"lora_name":"b"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("unload while a stream is open: %d", resp.StatusCode)
	}
	p2 := chatParams(question, 2)
	p2.Model = "b"
	_, err = client.Chat.Completions.New(ctx, p2)
	apiErr(t, err, 404, "model")
	finish := ""
	for {
		ch := stream.Current()
		if len(ch.Choices) > 0 {
			sb.WriteString(ch.Choices[0].Delta.Content)
			if ch.Choices[0].FinishReason != "" {
				finish = ch.Choices[0].FinishReason
			}
		}
		if !stream.Next() {
			break
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if sb.String() != longWant || finish != "length" {
		t.Errorf("the stream of the unloaded adapter: %q (%s), want %q (length)", sb.String(), finish, longWant)
	}
}
