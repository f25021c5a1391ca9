package serve

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/align-go/align/chat"
	"github.com/align-go/align/engine"
	"github.com/align-go/align/engine/enginetest"
	"github.com/align-go/align/internal/refdata"
	"github.com/align-go/align/model"
	"github.com/align-go/align/tokenizer"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/shared"
)

// scriptedEngine serves a tiny Qwen3 model, with tok as its tokenizer,
// whose greedy continuation of each prompt is its script: the
// LM head is solved so that the final hidden state at every scripted
// position scores the script's next token 10 and the script's other
// tokens -10 (every other token scores 0). rivals[i][k], when set, is a
// token scored 15 at step k of script i: the model's first choice there,
// which only a constraint can turn down to the script's. The model still
// runs through the engine like any other; only its head was chosen. It is
// built in memory: a 29M-parameter round trip through safetensors would
// test nothing the engine's and model's own tests do not.
func scriptedEngine(t *testing.T, tok *tokenizer.Tokenizer, prompts, scripts [][]int32, rivals []map[int]int32) *engine.Engine {
	t.Helper()
	cfg, err := model.ParseConfig(map[string]any{"model_type": "qwen3", "vocab_size": 151936.0, "hidden_size": 96.0,
		"num_hidden_layers": 1.0, "num_attention_heads": 2.0, "num_key_value_heads": 1.0, "head_dim": 32.0,
		"intermediate_size": 64.0, "max_position_embeddings": 1024.0, "tie_word_embeddings": false})
	if err != nil {
		t.Fatal(err)
	}
	m := model.New(cfg)
	// Unscaled weights keep attention soft, so each position's hidden
	// state depends on its whole context (scaled up, attention picks one
	// token and positions collide).
	m.InitRandom(11)
	C := cfg.Dim
	var H [][]float64 // hidden states at the scripted positions
	var next []int32  // the token each must produce
	var rival []int32 // a token scored above it (-1: none)
	for i, p := range prompts {
		ids := append(append([]int32(nil), p...), scripts[i][:len(scripts[i])-1]...)
		_, hid, err := m.Forward(model.Batch{B: 1, T: len(ids), IDs: ids}, false)
		if err != nil {
			t.Fatal(err)
		}
		for k := range scripts[i] {
			row := make([]float64, C)
			for c := range C {
				row[c] = float64(hid[(len(p)-1+k)*C+c])
			}
			H, next = append(H, row), append(next, scripts[i][k])
			r, ok := rivals[i][k]
			if !ok {
				r = -1
			}
			rival = append(rival, r)
		}
	}
	K := len(H)
	// w_v = sum_k a_k h_k with (H H^T) a = L_v: then h_k . w_v = L_v[k].
	G := make([][]float64, K)
	for a := range K {
		G[a] = make([]float64, K)
		for b := range K {
			for c := range C {
				G[a][b] += H[a][c] * H[b][c]
			}
		}
	}
	head := m.W.LMHead
	for i := range head {
		head[i] = 0
	}
	done := map[int32]bool{}
	for _, v := range append(append([]int32(nil), next...), rival...) {
		if v < 0 {
			continue
		}
		if done[v] {
			continue
		}
		done[v] = true
		L := make([]float64, K)
		for k := range K {
			switch v {
			case rival[k]:
				L[k] = 15
			case next[k]:
				L[k] = 10
			default:
				L[k] = -10
			}
		}
		alpha := solve(t, G, L)
		for c := range C {
			var w float64
			for k := range K {
				w += alpha[k] * H[k][c]
			}
			head[int(v)*C+c] = float32(w)
		}
	}
	gc := &engine.GenerationConfig{} // what a directory without generation_config.json gives
	e, err := engine.New(m, tok, engine.EOSIDs(m.Cfg, gc, tok), gc.Sampling(), engine.Options{MaxBatch: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// solve solves A x = b by Gaussian elimination with partial pivoting.
func solve(t *testing.T, A [][]float64, b []float64) []float64 {
	n := len(b)
	M := make([][]float64, n)
	for i := range n {
		M[i] = append(append([]float64(nil), A[i]...), b[i])
	}
	for col := range n {
		p := col
		for r := col + 1; r < n; r++ {
			if math.Abs(M[r][col]) > math.Abs(M[p][col]) {
				p = r
			}
		}
		if math.Abs(M[p][col]) < 1e-12 {
			t.Fatalf("scripted positions are linearly dependent (column %d pivot %g, diag0 %g)", col, M[p][col], A[0][0])
		}
		M[col], M[p] = M[p], M[col]
		for r := range n {
			if r != col {
				f := M[r][col] / M[col][col]
				for c := col; c <= n; c++ {
					M[r][c] -= f * M[col][c]
				}
			}
		}
	}
	x := make([]float64, n)
	for i := range n {
		x[i] = M[i][n] / M[i][i]
	}
	return x
}

var weatherTool = chat.Tool{Type: "function", Function: chat.Function{Name: "get_weather", Description: "Current weather in a city.",
	// Keys sorted, as the SDK writes a map.
	Parameters: json.RawMessage(`{"properties": {"city": {"type": "string"}}, "required": ["city"], "type": "object"}`)}}

func sdkTool() openai.ChatCompletionToolUnionParam {
	return openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{Name: "get_weather",
		Description: openai.String("Current weather in a city."),
		Parameters: shared.FunctionParameters{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}},
			"required": []string{"city"}}})
}

// toolEngine serves a model scripted to answer "Weather in Paris?" with a
// Qwen tool call, "Broken?" with a malformed one, and, with a call forced
// open, "Weather in Oslo?" with a call it would rather give a second
// argument the schema does not have.
func toolEngine(t *testing.T) *engine.Engine {
	tok := enginetest.Tokenizer(t)
	prompt := func(user, prefix string) []int32 {
		text, err := tok.RenderChatWith([]chat.Message{{Role: "user", Content: user}},
			tokenizer.ChatOptions{AddGenerationPrompt: true, Tools: []chat.Tool{weatherTool}})
		if err != nil {
			t.Fatal(err)
		}
		return ids32(tok.Encode(text + prefix))
	}
	script := func(s string) []int32 { return append(ids32(tok.Encode(s)), int32(tok.EOS())) }
	forced := "<tool_call>\n"
	oslo := script("{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}")
	// The model would rather go on with `",` (another argument) where the
	// call ends: the schema has no other argument, so the grammar refuses.
	rival := ids32(tok.Encode(`",`))
	if len(rival) != 1 {
		t.Fatalf("%q is %d tokens", `",`, len(rival))
	}
	return scriptedEngine(t, tok,
		[][]int32{prompt("Weather in Paris?", ""), prompt("Broken?", ""), prompt("Weather in Oslo?", forced)},
		[][]int32{script("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"),
			script("Sure. <tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": }\n</tool_call>"),
			oslo},
		[]map[int]int32{nil, nil, {len(oslo) - 2: rival[0]}})
}

func ids32(ids []int) []int32 {
	out := make([]int32, len(ids))
	for i, v := range ids {
		out[i] = int32(v)
	}
	return out
}

func toolParams(user string) openai.ChatCompletionNewParams {
	p := chatParams(user, 40)
	p.Tools = []openai.ChatCompletionToolUnionParam{sdkTool()}
	return p
}

// The official SDK drives tool calls against a model that makes them:
// parsed into tool_calls with finish_reason "tool_calls", streamed as
// OpenAI streams them (id and name first, then argument fragments), a
// malformed call kept as content, and a named tool_choice forcing the call.
func TestToolCallsSDK(t *testing.T) {
	e := toolEngine(t)
	_, client := startServer(t, e, Options{})
	ctx := context.Background()

	resp, err := client.Chat.Completions.New(ctx, toolParams("Weather in Paris?"))
	if err != nil {
		t.Fatal(err)
	}
	ch := resp.Choices[0]
	if ch.FinishReason != "tool_calls" || len(ch.Message.ToolCalls) != 1 || ch.Message.Content != "" {
		t.Fatalf("got %s", resp.RawJSON())
	}
	tc := ch.Message.ToolCalls[0]
	if tc.Function.Name != "get_weather" || tc.Function.Arguments != `{"city": "Paris"}` || !strings.HasPrefix(tc.ID, "call_") || tc.Type != "function" {
		t.Fatalf("tool call %+v", tc)
	}
	if !strings.Contains(resp.RawJSON(), `"content":null`) {
		t.Errorf("content beside a call should be null: %s", resp.RawJSON())
	}

	// Streamed: the same call, in pieces.
	stream := client.Chat.Completions.NewStreaming(ctx, toolParams("Weather in Paris?"))
	acc := openai.ChatCompletionAccumulator{}
	var fragments, starts int
	var finished []openai.FinishedChatCompletionToolCall
	for stream.Next() {
		c := stream.Current()
		acc.AddChunk(c)
		for _, d := range c.Choices[0].Delta.ToolCalls {
			if d.ID != "" {
				starts++
				if d.Function.Name != "get_weather" || d.Function.Arguments != "" {
					t.Errorf("first delta %+v", d)
				}
			} else {
				fragments++
			}
		}
		if f, ok := acc.JustFinishedToolCall(); ok {
			finished = append(finished, f)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	got := acc.Choices[0]
	if starts != 1 || fragments < 2 || got.FinishReason != "tool_calls" || len(got.Message.ToolCalls) != 1 ||
		got.Message.ToolCalls[0].Function.Arguments != `{"city": "Paris"}` || got.Message.Content != "" {
		t.Fatalf("stream: %d starts, %d fragments, %+v", starts, fragments, got)
	}
	if len(finished) != 1 || finished[0].Name != "get_weather" {
		t.Errorf("accumulator finished %+v", finished)
	}

	// A malformed call is content, every byte, streamed or not.
	wantText := "Sure. <tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": }\n</tool_call>"
	resp, err = client.Chat.Completions.New(ctx, toolParams("Broken?"))
	if err != nil {
		t.Fatal(err)
	}
	if ch := resp.Choices[0]; ch.Message.Content != wantText || len(ch.Message.ToolCalls) != 0 || ch.FinishReason != "stop" {
		t.Fatalf("malformed: %s", resp.RawJSON())
	}
	stream = client.Chat.Completions.NewStreaming(ctx, toolParams("Broken?"))
	acc = openai.ChatCompletionAccumulator{}
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil || acc.Choices[0].Message.Content != wantText || acc.Choices[0].FinishReason != "stop" {
		t.Fatalf("malformed stream: %v %+v", err, acc.Choices)
	}

	// tool_choice naming the function, or "required" (one tool): the call
	// is opened in the prompt and its object sampled under the tools'
	// grammar, which refuses the argument the model wants to add.
	for _, c := range []struct {
		choice   openai.ChatCompletionToolChoiceOptionUnionParam
		streamed bool
	}{
		{openai.ToolChoiceOptionFunctionToolChoice(openai.ChatCompletionNamedToolChoiceFunctionParam{Name: "get_weather"}), false},
		{openai.ToolChoiceOptionFunctionToolChoice(openai.ChatCompletionNamedToolChoiceFunctionParam{Name: "get_weather"}), true},
		{openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("required")}, false},
	} {
		streamed := c.streamed
		p := toolParams("Weather in Oslo?")
		p.ToolChoice = c.choice
		var msg openai.ChatCompletionMessage
		var fr string
		if streamed {
			stream := client.Chat.Completions.NewStreaming(ctx, p)
			acc := openai.ChatCompletionAccumulator{}
			for stream.Next() {
				acc.AddChunk(stream.Current())
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			msg, fr = acc.Choices[0].Message, acc.Choices[0].FinishReason
		} else {
			resp, err := client.Chat.Completions.New(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			msg, fr = resp.Choices[0].Message, resp.Choices[0].FinishReason
		}
		var args map[string]any
		if fr != "tool_calls" || len(msg.ToolCalls) != 1 || msg.ToolCalls[0].Function.Name != "get_weather" ||
			json.Unmarshal([]byte(msg.ToolCalls[0].Function.Arguments), &args) != nil || len(args) != 1 || args["city"] != "Oslo" {
			t.Fatalf("forced tool_choice (stream %v): %s %+v", streamed, fr, msg)
		}
	}

	// tool_choice "none": the same prompt's call is left as text.
	p := toolParams("Weather in Paris?")
	p.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("none")}
	resp, err = client.Chat.Completions.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if ch := resp.Choices[0]; len(ch.Message.ToolCalls) != 0 || !strings.HasPrefix(ch.Message.Content, "<tool_call>") || ch.FinishReason != "stop" {
		t.Fatalf("tool_choice none: %s", resp.RawJSON())
	}
}

// Llama 3's JSON calls, through a Llama 3.1-style template (the fixture
// the tokenizer tests render): the call is the whole output, with
// "parameters" for arguments; streamed and not.
func TestToolCallsLlama3SDK(t *testing.T) {
	src, err := os.ReadFile("../tokenizer/testdata/llama31_style_tools.jinja")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(refdata.Dir(t, "tokenizers/qwen3"))
	if err != nil {
		t.Fatal(err)
	}
	tok.SetChatTemplate(string(src))
	text, err := tok.RenderChatWith([]chat.Message{{Role: "user", Content: "Weather in Paris?"}},
		tokenizer.ChatOptions{AddGenerationPrompt: true, Tools: []chat.Tool{weatherTool}})
	if err != nil {
		t.Fatal(err)
	}
	call := `{"name": "get_weather", "parameters": {"city": "Paris"}}`
	// Its own tokenizer: the template change must not reach the shared one.
	e := scriptedEngine(t, tok, [][]int32{ids32(tok.Encode(text))},
		[][]int32{append(ids32(tok.Encode(call)), int32(tok.EOS()))}, []map[int]int32{nil})
	_, client := startServer(t, e, Options{})
	ctx := context.Background()
	resp, err := client.Chat.Completions.New(ctx, toolParams("Weather in Paris?"))
	if err != nil {
		t.Fatal(err)
	}
	if ch := resp.Choices[0]; ch.FinishReason != "tool_calls" || len(ch.Message.ToolCalls) != 1 || ch.Message.Content != "" ||
		ch.Message.ToolCalls[0].Function.Name != "get_weather" || ch.Message.ToolCalls[0].Function.Arguments != `{"city": "Paris"}` {
		t.Fatalf("got %s", resp.RawJSON())
	}
	stream := client.Chat.Completions.NewStreaming(ctx, toolParams("Weather in Paris?"))
	acc := openai.ChatCompletionAccumulator{}
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if ch := acc.Choices[0]; ch.FinishReason != "tool_calls" || len(ch.Message.ToolCalls) != 1 ||
		ch.Message.ToolCalls[0].Function.Arguments != `{"city": "Paris"}` || ch.Message.Content != "" {
		t.Fatalf("stream: %+v", ch)
	}
}
