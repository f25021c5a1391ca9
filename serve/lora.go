package serve

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/align-go/align/engine"
)

// vLLM's runtime LoRA API: POST /v1/load_lora_adapter {"lora_name",
// "lora_path"} and POST /v1/unload_lora_adapter {"lora_name"}; a request
// picks an adapter by "model", and /v1/models lists the adapters with the
// served model as their parent. The two routes exist only with
// Options.AllowAdapterLoading: they make the server read directories a
// client names.

type loadAdapterRequest struct {
	LoraName string `json:"lora_name"`
	LoraPath string `json:"lora_path"`
}

type unloadAdapterRequest struct {
	LoraName  string `json:"lora_name"`
	LoraIntID any    `json:"lora_int_id"` // vLLM's; names nothing here
}

func (s *Server) loadAdapter(w http.ResponseWriter, r *http.Request) {
	var req loadAdapterRequest
	if ae := s.decodeBody(w, r, &req); ae != nil {
		writeAPIError(w, ae)
		return
	}
	switch {
	case req.LoraName == "":
		writeAPIError(w, badRequest("lora_name", "missing_required_parameter", "lora_name is required"))
		return
	case req.LoraPath == "":
		writeAPIError(w, badRequest("lora_path", "missing_required_parameter", "lora_path is required"))
		return
	case req.LoraName == s.o.ModelName:
		writeAPIError(w, badRequest("lora_name", "invalid_value", "lora_name %q is the served model's name", req.LoraName))
		return
	}
	if err := s.e.LoadAdapter(req.LoraName, req.LoraPath); err != nil {
		writeAPIError(w, badRequest("lora_path", "invalid_value", "loading LoRA adapter %q: %v", req.LoraName, err))
		return
	}
	s.adapterPaths.Store(req.LoraName, req.LoraPath)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "Success: LoRA adapter '%s' added successfully.", req.LoraName)
}

func (s *Server) unloadAdapter(w http.ResponseWriter, r *http.Request) {
	var req unloadAdapterRequest
	if ae := s.decodeBody(w, r, &req); ae != nil {
		writeAPIError(w, ae)
		return
	}
	if req.LoraName == "" {
		writeAPIError(w, badRequest("lora_name", "missing_required_parameter", "lora_name is required"))
		return
	}
	if err := s.e.UnloadAdapter(req.LoraName); err != nil {
		ae := badRequest("lora_name", "invalid_value", "%v", err)
		if errors.Is(err, engine.ErrNoAdapter) {
			ae.status, ae.Code = http.StatusNotFound, "model_not_found"
		}
		writeAPIError(w, ae)
		return
	}
	s.adapterPaths.Delete(req.LoraName)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "Success: LoRA adapter '%s' removed successfully.", req.LoraName)
}

// AdapterLoaded records the directory of an adapter loaded on the engine
// directly (align serve --lora), for /v1/models' root.
func (s *Server) AdapterLoaded(name, dir string) { s.adapterPaths.Store(name, dir) }

// adapterOf is the adapter a request's "model" names ("" for the served
// model itself).
func (s *Server) adapterOf(name string) (string, *apiError) {
	if name == s.o.ModelName {
		return "", nil
	}
	for _, a := range s.e.Adapters() {
		if a == name {
			return a, nil
		}
	}
	return "", s.unknownModel(name)
}
