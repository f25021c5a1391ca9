package llm

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/align-go/align/endpoint"
	"github.com/align-go/align/engine"
)

// Open opens a model spec, as the CLI's --policy and judges name them
// (endpoint.Parse's syntax):
//
//	http:URL[#MODEL]   an OpenAI-compatible endpoint (Remote); URL is the
//	                   base, e.g. http://127.0.0.1:8080/v1; without #MODEL
//	                   the first model the endpoint lists is used
//	local:DIR, DIR     a model directory run in this process (Local)
//
// close releases a local model's engine; it is a no-op for endpoints.
func Open(spec string, o engine.Options) (c Client, close func(), err error) {
	s, err := endpoint.Parse(spec)
	if err != nil {
		return nil, nil, err
	}
	if s.Kind == endpoint.KindHTTP {
		r, err := NewRemote(s.URL, s.Model)
		if err != nil {
			return nil, nil, err
		}
		return r, func() {}, nil
	}
	dir := s.Raw // a bare directory, even one with a colon in its name
	if s.Kind == "local" {
		dir = s.Arg
	}
	if dir == "" {
		return nil, nil, fmt.Errorf("%q: want http:URL[#MODEL] or a model directory", spec)
	}
	l, err := NewLocal(dir, o)
	if err != nil {
		return nil, nil, err
	}
	return l, l.Close, nil
}

// discoverModel asks the endpoint's /models for the model to name when the
// spec named none: OpenAI-compatible servers (align serve, vLLM) reject a
// request without one, and a single-model server's list says which it is.
func (r *Remote) discoverModel(ctx context.Context) error {
	r.modelOnce.Do(func() {
		if r.Model != "" {
			return
		}
		b, err := r.Do(ctx, http.MethodGet, r.BaseURL+"/models", nil)
		if err != nil {
			r.modelErr = fmt.Errorf("no model named (URL#MODEL) and listing %s/models failed: %w", r.BaseURL, err)
			return
		}
		var list struct {
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		if json.Unmarshal(b, &list) != nil || len(list.Data) == 0 || list.Data[0].ID == "" {
			r.modelErr = fmt.Errorf("no model named (URL#MODEL) and %s/models lists none", r.BaseURL)
			return
		}
		r.Model = list.Data[0].ID
	})
	return r.modelErr
}
