package llm

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/align-go/align/engine"
)

// Open opens a model spec, as the CLI's --policy and judges name them:
//
//	http:URL[#MODEL]   an OpenAI-compatible endpoint (Remote); URL is the
//	                   base, e.g. http://127.0.0.1:8080/v1; without #MODEL
//	                   the first model the endpoint lists is used
//	local:DIR, DIR     a model directory run in this process (Local)
//
// close releases a local model's engine; it is a no-op for endpoints.
func Open(spec string, o engine.Options) (c Client, close func(), err error) {
	if url, model, ok, err := ParseEndpoint(spec); ok || err != nil {
		if err != nil {
			return nil, nil, err
		}
		r, err := NewRemote(url, model)
		if err != nil {
			return nil, nil, err
		}
		return r, func() {}, nil
	}
	dir := strings.TrimPrefix(spec, "local:")
	if dir == "" {
		return nil, nil, fmt.Errorf("%q: want http:URL[#MODEL] or a model directory", spec)
	}
	l, err := NewLocal(dir, o)
	if err != nil {
		return nil, nil, err
	}
	return l, l.Close, nil
}

// ParseEndpoint splits "http:URL[#MODEL]" (also written "http://URL" or
// "https://URL"); ok reports whether spec names an endpoint at all.
func ParseEndpoint(spec string) (url, model string, ok bool, err error) {
	kind, arg, _ := strings.Cut(spec, ":")
	if kind != "http" && kind != "https" {
		return "", "", false, nil
	}
	url = spec
	if !strings.HasPrefix(arg, "//") { // http:URL
		url = arg
	}
	url, model, _ = strings.Cut(url, "#")
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return "", "", true, fmt.Errorf("%q: want http:URL[#MODEL], e.g. http:http://127.0.0.1:8080/v1#tiny", spec)
	}
	return url, model, true, nil
}

// discoverModel asks the endpoint's /models for the model to name when the
// spec named none: OpenAI-compatible servers (align serve, vLLM) reject a
// request without one, and a single-model server's list says which it is.
func (r *Remote) discoverModel(ctx context.Context) error {
	r.modelOnce.Do(func() {
		if r.Model != "" {
			return
		}
		resp, err := r.send(ctx, http.MethodGet, "/models", nil)
		if err != nil {
			r.modelErr = fmt.Errorf("no model named (URL#MODEL) and listing %s/models failed: %w", r.BaseURL, err)
			return
		}
		defer resp.Body.Close()
		var list struct {
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&list) != nil || len(list.Data) == 0 || list.Data[0].ID == "" {
			r.modelErr = fmt.Errorf("no model named (URL#MODEL) and %s/models (status %d) lists none", r.BaseURL, resp.StatusCode)
			return
		}
		r.Model = list.Data[0].ID
	})
	return r.modelErr
}
