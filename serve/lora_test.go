package serve

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/align-go/align/chat"
	"github.com/align-go/align/engine"
	"github.com/align-go/align/engine/enginetest"
	"github.com/align-go/align/generate"
	"github.com/align-go/align/model"
)

// vLLM's runtime LoRA API driven as a client would: load, pick by model
// name with the official SDK, list, unload.
func TestLoRAAdapters(t *testing.T) {
	dir := modelDir(t)
	e, err := loadEngine(t, dir, engine.Options{MaxBatch: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ts, client := startServer(t, e, Options{AllowAdapterLoading: true})
	adapter := enginetest.RandomAdapter(t, dir, 3)
	post := func(path, body string) (int, string) {
		resp, err := http.Post(ts.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post("/v1/load_lora_adapter", `{"lora_name":"whales","lora_path":"`+adapter+`"}`); code != 200 || !strings.Contains(body, "Success") {
		t.Fatalf("load: %d %s", code, body)
	}
	if code, body := post("/v1/load_lora_adapter", `{"lora_name":"whales","lora_path":"`+adapter+`"}`); code != 400 {
		t.Fatalf("loaded twice: %d %s", code, body)
	}
	if code, body := post("/v1/load_lora_adapter", `{"lora_name":"x","lora_path":"/nonexistent"}`); code != 400 || !strings.Contains(body, `"param":"lora_path"`) {
		t.Fatalf("bad path: %d %s", code, body)
	}

	// The reference: generate on a model holding only the adapter.
	m, err := model.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.LoadPEFT(adapter); err != nil {
		t.Fatal(err)
	}
	ids, err := e.ChatPrompt([]chat.Message{{Role: "user", Content: "Tell me about whales"}})
	if err != nil {
		t.Fatal(err)
	}
	want, err := generate.Generate(m, [][]int32{ids}, generate.Options{MaxNewTokens: 8, EOS: e.EOS, Decode: e.Decode})
	if err != nil {
		t.Fatal(err)
	}
	// e.Model now holds the adapter: the base reference is a model of its own.
	m0, err := model.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	bases, err := generate.Generate(m0, [][]int32{ids}, generate.Options{MaxNewTokens: 8, EOS: e.EOS, Decode: e.Decode})
	if err != nil {
		t.Fatal(err)
	}
	base := bases[0]
	if want[0].Text == base.Text {
		t.Fatalf("the adapter changes nothing: %q", base.Text)
	}
	ctx := context.Background()
	for _, c := range []struct{ model, want string }{{"whales", want[0].Text}, {modelName, base.Text}} {
		p := chatParams("Tell me about whales", 8)
		p.Model = c.model
		resp, err := client.Chat.Completions.New(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Choices[0].Message.Content != c.want || resp.Model != c.model {
			t.Errorf("model %s: %q (%s), want %q", c.model, resp.Choices[0].Message.Content, resp.Model, c.want)
		}
	}
	resp, err := http.Get(ts.URL + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Data []struct {
			ID     string  `json:"id"`
			Root   string  `json:"root"`
			Parent *string `json:"parent"`
		} `json:"data"`
	}
	json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if len(list.Data) != 2 || list.Data[1].ID != "whales" || list.Data[1].Root != adapter || list.Data[1].Parent == nil ||
		*list.Data[1].Parent != modelName || list.Data[0].Parent != nil {
		t.Fatalf("models %+v", list.Data)
	}

	if code, body := post("/v1/unload_lora_adapter", `{"lora_name":"whales"}`); code != 200 || !strings.Contains(body, "Success") {
		t.Fatalf("unload: %d %s", code, body)
	}
	if code, _ := post("/v1/unload_lora_adapter", `{"lora_name":"whales"}`); code != 404 {
		t.Fatalf("unload twice: %d", code)
	}
	p := chatParams("hi", 2)
	p.Model = "whales"
	_, err = client.Chat.Completions.New(ctx, p)
	apiErr(t, err, 404, "model")

	// Without AllowAdapterLoading the routes do not exist.
	ts2, _ := startServer(t, e, Options{})
	r2, err := http.Post(ts2.URL+"/v1/load_lora_adapter", "application/json", strings.NewReader(`{"lora_name":"a","lora_path":"`+adapter+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != 404 {
		t.Fatalf("load without AllowAdapterLoading: %d", r2.StatusCode)
	}
}
