package serve

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/align-go/align/generate"
	"github.com/align-go/align/tokenizer"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// goType matches what only a Go type name looks like.
var goType = regexp.MustCompile(`\[\]|map\[|\bu?int(8|16|32|64)?\b|float(32|64)|\bstruct\b|serve\.|params\.|\*[a-z]`)

// Point 6: errors are OpenAI's, param is the JSON path, messages name JSON
// kinds and never Go types; keys match exactly; unknown and unsupported
// parameters are refused by name.
func TestErrorShapes(t *testing.T) {
	e := sharedEngine(t)
	h := New(e, Options{ModelName: modelName}).Handler()
	const msgs = `"messages":[{"role":"user","content":"hi"}]`
	for _, c := range []struct{ path, body, param, code string }{
		{"/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":5}]}`, "messages[0].content", "invalid_type"},
		{"/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":"a"},{"role":"user","content":{"x":1}}]}`, "messages[1].content", "invalid_type"},
		{"/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"http://x"}}]}]}`, "messages[0].content[1].type", "unsupported_value"},
		{"/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":[{"type":"text","txt":"a"}]}]}`, "messages[0].content[0].txt", "unknown_parameter"},
		{"/v1/chat/completions", `{"model":"tiny",` + msgs + `,"stop":5}`, "stop", "invalid_type"},
		{"/v1/chat/completions", `{"model":"tiny",` + msgs + `,"stop":["a",5]}`, "stop[1]", "invalid_type"},
		{"/v1/completions", `{"model":"tiny","prompt":"a","stop":{"a":1}}`, "stop", "invalid_type"},
		{"/v1/chat/completions", `{"model":"tiny",` + msgs + `,"max_tokens":"5"}`, "max_tokens", "invalid_type"},
		{"/v1/chat/completions", `{"model":"tiny",` + msgs + `,"max_tokens":2.5}`, "max_tokens", "invalid_type"},
		{"/v1/chat/completions", `{"model":"tiny",` + msgs + `,"temperature":"hot"}`, "temperature", "invalid_type"},
		{"/v1/chat/completions", `{"model":"tiny",` + msgs + `,"stream":"yes"}`, "stream", "invalid_type"},
		{"/v1/chat/completions", `{"model":5,` + msgs + `}`, "model", "invalid_type"},
		{"/v1/completions", `{"model":"tiny","prompt":5}`, "prompt", "invalid_type"},
		{"/v1/completions", `{"model":"tiny","prompt":["a",[1]]}`, "prompt[1]", "invalid_type"},
		{"/v1/completions", `{"model":"tiny","prompt":[[1,2],[3,"x"]]}`, "prompt[1][1]", "invalid_type"},
		{"/v1/completions", `{"model":"tiny","prompt":[1,99999999999]}`, "prompt[1]", "invalid_value"},
		{"/v1/completions", `{"model":"tiny","prompt":[[1],[2,999999]]}`, "prompt[1][1]", "invalid_value"},
		// Exact keys: OpenAI does not take MAX_TOKENS for max_tokens.
		{"/v1/chat/completions", `{"model":"tiny",` + msgs + `,"MAX_TOKENS":5}`, "MAX_TOKENS", "unknown_parameter"},
		{"/v1/chat/completions", `{"Model":"tiny",` + msgs + `}`, "Model", "unknown_parameter"},
		{"/v1/chat/completions", `{"model":"tiny",` + msgs + `,"frobnicate":true}`, "frobnicate", "unknown_parameter"},
		{"/v1/chat/completions", `{"model":"tiny",` + msgs + `,"stream":true,"stream_options":{"include_usage":true,"extra":1}}`, "stream_options.extra", "unknown_parameter"},
		{"/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","Content":"hi"}]}`, "messages[0].Content", "unknown_parameter"},
		// Implemented later, refused now rather than ignored.
		{"/v1/chat/completions", `{"model":"tiny",` + msgs + `,"response_format":{"type":"json_schema","json_schema":{"name":"n","schema":{"type":"string","pattern":"a"}}}}`, "response_format.json_schema.schema", "invalid_value"},
		{"/v1/chat/completions", `{"model":"tiny",` + msgs + `,"functions":[{"name":"f"}]}`, "functions", "unsupported_parameter"},
		// Tools are checked.
		{"/v1/chat/completions", `{"model":"tiny",` + msgs + `,"tools":[{"type":"retrieval"}]}`, "tools[0].type", "invalid_value"},
		{"/v1/chat/completions", `{"model":"tiny",` + msgs + `,"tools":[{"type":"function","function":{"name":"get weather"}}]}`, "tools[0].function.name", "invalid_value"},
		{"/v1/chat/completions", `{"model":"tiny",` + msgs + `,"tools":[{"type":"function","function":{"name":"f","parameters":[1]}}]}`, "tools[0].function.parameters", "invalid_type"},
		{"/v1/chat/completions", `{"model":"tiny",` + msgs + `,"tools":[]}`, "tools", "invalid_value"},
		{"/v1/chat/completions", `{"model":"tiny",` + msgs + `,"tool_choice":"auto"}`, "tool_choice", "invalid_value"},
		{"/v1/chat/completions", `{"model":"tiny",` + msgs + `,"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"always"}`, "tool_choice", "invalid_value"},
		{"/v1/chat/completions", `{"model":"tiny",` + msgs + `,"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"g"}}}`, "tool_choice.function.name", "invalid_value"},
		{"/v1/chat/completions", `{"model":"tiny","messages":[{"role":"tool","content":"42"}]}`, "messages[0].tool_call_id", "missing_required_parameter"},
		{"/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":"x","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]}]}`, "messages[0].tool_calls", "invalid_value"},
		{"/v1/chat/completions", `{"model":"tiny","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"arguments":"{}"}}]}]}`, "messages[0].tool_calls[0].function.name", "missing_required_parameter"},
		{"/v1/completions", `{"model":"tiny","prompt":"a","tools":[{"type":"function","function":{"name":"f"}}]}`, "tools", "unknown_parameter"},
		{"/v1/completions", `{"model":"tiny","prompt":"a","best_of":3}`, "best_of", "unsupported_parameter"},
		// Penalties and logit_bias are checked.
		{"/v1/chat/completions", `{"model":"tiny",` + msgs + `,"presence_penalty":2.5}`, "presence_penalty", "invalid_value"},
		{"/v1/chat/completions", `{"model":"tiny",` + msgs + `,"frequency_penalty":-3}`, "frequency_penalty", "invalid_value"},
		{"/v1/chat/completions", `{"model":"tiny",` + msgs + `,"logit_bias":{"abc":1}}`, "logit_bias", "invalid_value"},
		{"/v1/chat/completions", `{"model":"tiny",` + msgs + `,"logit_bias":{"5":101}}`, "logit_bias", "invalid_value"},
		{"/v1/chat/completions", `{"model":"tiny",` + msgs + `,"logit_bias":{"999999999":1}}`, "logit_bias", "invalid_value"},
		{"/v1/chat/completions", `{"model":"tiny",` + msgs + `,"logit_bias":{"5":"x"}}`, "logit_bias.5", "invalid_type"},
		{"/v1/chat/completions", `[1,2]`, "", "invalid_json"},
		{"/v1/chat/completions", `{"model":"tiny"} {}`, "", "invalid_json"},
		{"/v1/chat/completions", `{"model":"tiny",`, "", "invalid_json"},
	} {
		t.Run(c.param, func(t *testing.T) {
			eb := wantError(t, call(h, "POST", c.path, c.body), 400, c.param, c.code)
			if eb.Error.Type != "invalid_request_error" || goType.MatchString(eb.Error.Message) {
				t.Errorf("%s: type %q, message %q", c.body, eb.Error.Type, eb.Error.Message)
			}
		})
	}
	// Null is an absent value, as OpenAI takes it; store: false asks for nothing.
	if w := call(h, "POST", "/v1/chat/completions", `{"model":"tiny",`+msgs+`,"max_tokens":1,"stop":null,"tools":null,"store":false,"user":"u1","seed":null}`); w.Code != 200 {
		t.Fatalf("nulls: %d %s", w.Code, w.Body)
	}
}

// refusal: null and system_fingerprint are in the chat reply and chunks.
func TestChatFields(t *testing.T) {
	e := sharedEngine(t)
	h := New(e, Options{ModelName: modelName}).Handler()
	const req = `{"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":3,"temperature":0`
	var resp struct {
		SystemFingerprint *string `json:"system_fingerprint"`
		Choices           []struct {
			Message map[string]json.RawMessage `json:"message"`
		} `json:"choices"`
	}
	w := call(h, "POST", "/v1/chat/completions", req+"}")
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if resp.SystemFingerprint == nil || !strings.HasPrefix(*resp.SystemFingerprint, "fp_") ||
		string(resp.Choices[0].Message["refusal"]) != "null" {
		t.Fatalf("reply %s", w.Body)
	}
	w = call(h, "POST", "/v1/chat/completions", req+`,"stream":true}`)
	chunks := 0
	for line := range strings.Lines(w.Body.String()) {
		data, ok := strings.CutPrefix(strings.TrimSpace(line), "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		var ch struct {
			SystemFingerprint string `json:"system_fingerprint"`
			Choices           []struct {
				Delta map[string]json.RawMessage `json:"delta"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(data), &ch); err != nil {
			t.Fatal(err)
		}
		_, hasRefusal := ch.Choices[0].Delta["refusal"]
		if ch.SystemFingerprint != *resp.SystemFingerprint || hasRefusal != (chunks == 0) {
			t.Fatalf("chunk %d: %s", chunks, data)
		}
		chunks++
	}
	if chunks == 0 {
		t.Fatalf("no chunks: %s", w.Body)
	}
}

// multiByteToken finds a token that is one character of several bytes.
func multiByteToken(t *testing.T, tok *tokenizer.Tokenizer) (int32, string) {
	for _, s := range []string{"é", "ü", "ñ", "中", "日", "的"} {
		if ids := tok.Encode(s); len(ids) == 1 {
			return int32(ids[0]), s
		}
	}
	t.Fatal("no one-token multi-byte character")
	return 0, ""
}

// Streamed legacy completions continue text_offset across chunks, counting
// characters (code points), not bytes. logit_bias +100 forces a two-byte
// character for every token, so offsets must be 0, 1, 2, ...
func TestTextOffset(t *testing.T) {
	e := sharedEngine(t)
	_, client := startServer(t, e, Options{})
	id, ch := multiByteToken(t, e.Tok)
	params := openai.CompletionNewParams{Model: modelName, Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("The whale")},
		MaxTokens: openai.Int(6), Temperature: openai.Float(0), Logprobs: openai.Int(1),
		LogitBias: map[string]int64{strconv.Itoa(int(id)): 100}}
	check := func(name string, tokens []string, offsets []int64) {
		t.Helper()
		if len(tokens) != 6 || len(offsets) != 6 {
			t.Fatalf("%s: tokens %q offsets %v", name, tokens, offsets)
		}
		for i := range tokens {
			if tokens[i] != ch || offsets[i] != int64(i) {
				t.Fatalf("%s: token %d %q at offset %d, want %q at %d (characters, not bytes)", name, i, tokens[i], offsets[i], ch, i)
			}
		}
	}
	r, err := client.Completions.New(context.Background(), params)
	if err != nil {
		t.Fatal(err)
	}
	check("plain", r.Choices[0].Logprobs.Tokens, r.Choices[0].Logprobs.TextOffset)
	if r.Choices[0].Text != strings.Repeat(ch, 6) || utf8.RuneCountInString(ch) != 1 || len(ch) < 2 {
		t.Fatalf("text %q", r.Choices[0].Text)
	}
	stream := client.Completions.NewStreaming(context.Background(), params)
	var tokens []string
	var offsets []int64
	for stream.Next() {
		for _, c := range stream.Current().Choices {
			tokens = append(tokens, c.Logprobs.Tokens...)
			offsets = append(offsets, c.Logprobs.TextOffset...)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	check("streamed", tokens, offsets)
}

// The official SDK drives logit_bias and the penalties; the answers are
// generate.Generate's under the same sampling, and the errors are typed.
func TestSDKLogitBiasAndPenalties(t *testing.T) {
	e := sharedEngine(t)
	_, client := startServer(t, e, Options{})
	ctx := context.Background()
	const content = "Tell me about whales"
	ids, plain := reference(t, e, content, 40)
	// Ban the greedy first token: the answer must change, and match
	// Generate with the same bias.
	first := plain.Tokens[0]
	bias := map[int32]float32{first: -100}
	for _, smp := range []generate.Sampling{{LogitBias: bias}, {FrequencyPenalty: 2}, {PresencePenalty: 1.5}} {
		want, err := generate.Generate(e.Model, [][]int32{ids}, generate.Options{Sampling: smp, MaxNewTokens: 40, EOS: e.EOS, Decode: e.Decode})
		if err != nil {
			t.Fatal(err)
		}
		p := chatParams(content, 40)
		if len(smp.LogitBias) > 0 {
			p.LogitBias = map[string]int64{}
			for id, b := range smp.LogitBias {
				p.LogitBias[strconv.Itoa(int(id))] = int64(b)
			}
		}
		if smp.FrequencyPenalty != 0 {
			p.FrequencyPenalty = openai.Float(smp.FrequencyPenalty)
		}
		if smp.PresencePenalty != 0 {
			p.PresencePenalty = openai.Float(smp.PresencePenalty)
		}
		resp, err := client.Chat.Completions.New(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Choices[0].Message.Content; got != want[0].Text {
			t.Errorf("%+v: got %q, want %q", smp, got, want[0].Text)
		}
		if want[0].Text == plain.Text {
			t.Errorf("%+v changed nothing (%q): a weak case", smp, plain.Text)
		}
	}

	// Errors reach the SDK typed, with the JSON path as param.
	p := chatParams(content, 2)
	_, err := client.Chat.Completions.New(ctx, p, option.WithJSONSet("messages.0.content", 7))
	apiErr(t, err, 400, "messages[0].content")
	_, err = client.Chat.Completions.New(ctx, p, option.WithJSONSet("logit_bias", map[string]any{"-3": 1}))
	apiErr(t, err, 400, "logit_bias")
	_, err = client.Chat.Completions.New(ctx, p, option.WithJSONSet("presence_penalty", 9))
	apiErr(t, err, 400, "presence_penalty")
	_, err = client.Chat.Completions.New(ctx, p, option.WithJSONSet("store", true))
	apiErr(t, err, 400, "store")
	var ae *openai.Error
	if errors.As(err, &ae); ae.Type != "invalid_request_error" || ae.Code != "unsupported_parameter" {
		t.Errorf("type %q code %q", ae.Type, ae.Code)
	}
}

// /health answers; /metrics is Prometheus text with the counters that
// moved.
func TestHealthAndMetrics(t *testing.T) {
	e := sharedEngine(t)
	h := New(e, Options{ModelName: modelName, APIKey: "k"}).Handler()
	if w := call(h, "GET", "/health", ""); w.Code != 200 || !strings.Contains(w.Body.String(), `"ok"`) {
		t.Fatalf("health: %d %s", w.Code, w.Body)
	}
	for range 2 {
		if w := call(h, "POST", "/v1/completions", `{"model":"tiny","prompt":"a","max_tokens":3,"ignore_eos":true}`, "Authorization: Bearer k"); w.Code != 200 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	}
	call(h, "POST", "/v1/completions", `{"model":"tiny","prompt":"a","max_tokens":-1}`, "Authorization: Bearer k")
	call(h, "GET", "/v1/models", "")
	w := call(h, "GET", "/metrics", "")
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("metrics: %d %v", w.Code, w.Header())
	}
	body := w.Body.String()
	line := regexp.MustCompile(`^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9.e+-]+$`)
	values := map[string]string{}
	for l := range strings.Lines(body) {
		l = strings.TrimSuffix(l, "\n")
		if strings.HasPrefix(l, "# ") {
			continue
		}
		if !line.MatchString(l) {
			t.Errorf("not a sample line: %q", l)
		}
		k, v, _ := strings.Cut(l, " ")
		values[k] = v
	}
	for k, want := range map[string]string{
		`align_requests_total{endpoint="/v1/completions",status="200"}`: "2",
		`align_requests_total{endpoint="/v1/completions",status="400"}`: "1",
		`align_requests_total{endpoint="/v1/models",status="401"}`:      "1",
		`align_requests_total{endpoint="/health",status="200"}`:         "1",
		`align_generation_tokens_total`:                                 "6",
		`align_time_to_first_token_seconds_count`:                       "2",
		`align_time_to_first_token_seconds_bucket{le="+Inf"}`:           "2",
		`align_queue_depth`:      "0",
		`align_requests_running`: "0",
		`align_pending_tokens`:   "0",
	} {
		if values[k] != want {
			t.Errorf("%s = %q, want %s", k, values[k], want)
		}
	}
	if _, ok := values["align_generation_tokens_per_second"]; !ok {
		t.Error("no tokens/s gauge")
	}
	// The histogram's buckets are cumulative.
	var last int
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), " "); ok && strings.HasPrefix(k, "align_time_to_first_token_seconds_bucket") {
			n, _ := strconv.Atoi(v)
			if n < last {
				t.Errorf("bucket %s = %d below the one before (%d)", k, n, last)
			}
			last = n
		}
	}
}
