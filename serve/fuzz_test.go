package serve

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/align-go/align/engine"
)

// fuzzRoutes are every endpoint, by method and path.
var fuzzRoutes = [][2]string{
	{"POST", "/v1/chat/completions"}, {"POST", "/v1/completions"}, {"GET", "/v1/models"},
	{"GET", "/v1/models/tiny"}, {"GET", "/health"}, {"GET", "/metrics"}, {"PUT", "/v1/completions"},
}

// FuzzRequests sends arbitrary bodies to every endpoint: no panic, no 5xx,
// and every reply is well-formed (an OpenAI error object for 4xx, JSON or
// SSE of JSON for 200). The engine has a 16-token context so that what
// passes the checks generates quickly. Seeds are requests the official SDKs
// and the project's own client send.
//
//	go test ./serve -run '^$' -fuzz FuzzRequests -fuzztime 2m
func FuzzRequests(f *testing.F) {
	e, err := loadEngine(f, modelDir(f), engine.Options{MaxBatch: 2, QueueSize: 8, MaxSeqLen: 16})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(e.Close)
	h := New(e, Options{ModelName: modelName, MaxBodyBytes: 64 << 10}).Handler()
	for _, seed := range []string{
		`{"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":3,"temperature":0}`,
		`{"model":"tiny","messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"hi"}]}],"max_completion_tokens":2,"logprobs":true,"top_logprobs":2,"stream":true,"stream_options":{"include_usage":true}}`,
		`{"model":"tiny","messages":[{"role":"user","content":"hi"}],"n":2,"seed":7,"stop":["\n","."],"logit_bias":{"11":5,"13":-100},"presence_penalty":0.5,"frequency_penalty":0.5}`,
		`{"model":"tiny","prompt":"The whale","max_tokens":4,"logprobs":2,"echo":false,"stream":true}`,
		`{"model":"tiny","prompt":[[1,2,3],[4,5]],"max_tokens":2,"n":2,"ignore_eos":true,"top_k":3,"top_p":0.9}`,
		`{"model":"tiny","prompt":["a","b"],"stop":"x","user":"u"}`,
		`{"model":"tiny","prompt":[5,6,7],"max_tokens":9223372036854775807}`,
		`{"model":"tiny","messages":[{"role":"tool","content":"42","tool_call_id":"c1"}],"tools":null,"response_format":null}`,
		`{"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":8,"temperature":1,"response_format":{"type":"json_schema","json_schema":{"name":"p","strict":true,"schema":{"type":"object","properties":{"a":{"type":"integer"},"b":{"enum":["x",null]}},"required":["a"],"additionalProperties":false}}}}`,
		`{"model":"tiny","prompt":"x","max_tokens":5,"stream":true,"response_format":{"type":"json_object"}}`,
		`{"model":"tiny","messages":[{"role":"user","content":"weather?"}],"max_tokens":4,"tools":[{"type":"function","function":{"name":"get_weather","description":"d","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},"strict":true}}],"tool_choice":"auto","parallel_tool_calls":false}`,
		`{"model":"tiny","messages":[{"role":"user","content":"w"}],"max_tokens":6,"stream":true,"tools":[{"type":"function","function":{"name":"f","parameters":{"$defs":{"a":{"type":"string"}},"properties":{"x":{"$ref":"#/$defs/a"}}}}},{"type":"function","function":{"name":"g"}}],"tool_choice":{"type":"function","function":{"name":"f"}}}`,
		`{"model":"tiny","messages":[{"role":"user","content":"w"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"x\": 1}"}}]},{"role":"tool","content":"42","tool_call_id":"c1"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"required","max_tokens":3}`,
		`{"MODEL":"tiny","prompt":"a"}`, `[]`, `{"model":"tiny","prompt":[[5],[5],[5],[5],[5],[5],[5],[5],[5]],"n":16}`, ``,
	} {
		for r := range fuzzRoutes {
			f.Add(uint8(r), seed)
		}
	}
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		w := call(h, rt[0], rt[1], body)
		out := w.Body.String()
		switch {
		case w.Code >= 500:
			t.Fatalf("%s %s %q: %d %s", rt[0], rt[1], body, w.Code, out)
		case w.Code >= 400:
			var eb errorBody
			if err := json.Unmarshal(w.Body.Bytes(), &eb); err != nil || eb.Error.Message == "" || eb.Error.Type == "" {
				t.Fatalf("%q: %d with a malformed error %q", body, w.Code, out)
			}
		case strings.HasPrefix(w.Header().Get("Content-Type"), "text/event-stream"):
			for line := range strings.Lines(out) {
				data, ok := strings.CutPrefix(strings.TrimSpace(line), "data: ")
				if ok && data != "[DONE]" && !json.Valid([]byte(data)) {
					t.Fatalf("%q: chunk %q", body, data)
				}
			}
		case strings.HasPrefix(w.Header().Get("Content-Type"), "application/json"):
			if !json.Valid(w.Body.Bytes()) {
				t.Fatalf("%q: reply %q", body, out)
			}
		}
	})
}
