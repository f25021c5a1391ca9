package serve

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/align-go/align/engine"
)

// shape turns engine output into one endpoint's JSON objects.
type shape interface {
	// response is the whole non-streaming answer; results are choice-major.
	response(id string, created int64, results []engine.Result, u *usage) any
	// chunk is one streaming chunk of choice idx; first is true for the
	// choice's first chunk.
	chunk(id string, created int64, idx int, ev *engine.Event, first bool) any
	// usageChunk is the last chunk when stream_options.include_usage is set.
	usageChunk(id string, created int64, u *usage) any
}

// run submits reqs (param names the field a too-long error blames) and answers with their results, plain or streamed.
func (s *Server) run(w http.ResponseWriter, r *http.Request, prompts [][]int32, reqs []engine.Request,
	pr *parsed, sh shape, prefix, param string) {
	jobs, err := s.e.Submit(r.Context(), reqs...)
	if err != nil {
		writeAPIError(w, engineError(err, param))
		return
	}
	id, created := newID(prefix), time.Now().Unix()
	if !pr.stream {
		results := make([]engine.Result, len(jobs))
		var firstErr error
		for i, j := range jobs {
			// Every job is waited for, so none is left running for nobody.
			if results[i], err = j.Wait(); err != nil && firstErr == nil {
				firstErr = err
			}
		}
		if firstErr != nil {
			if r.Context().Err() == nil {
				writeAPIError(w, engineError(firstErr, ""))
			}
			return
		}
		writeJSON(w, sh.response(id, created, results, makeUsage(prompts, results)))
		return
	}

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriter(w)
	flusher, _ := w.(http.Flusher)
	send := func(v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(bw, "data: %s\n\n", b); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		if flusher != nil {
			flusher.Flush()
		}
		return nil
	}

	type tagged struct {
		idx int
		ev  engine.Event
	}
	// Fan the choices' events into one ordered stream of chunks.
	evs := make(chan tagged)
	for i, j := range jobs {
		go func() {
			for ev := range j.Events() {
				evs <- tagged{i, ev}
			}
		}()
	}
	results := make([]engine.Result, len(jobs))
	started := make([]bool, len(jobs))
	failed := false
	for left := len(jobs); left > 0; {
		t := <-evs
		res := &results[t.idx]
		res.Tokens = append(res.Tokens, t.ev.Tokens...)
		if t.ev.Done {
			left--
			if t.ev.Err != nil && !failed {
				failed = true
				ae := engineError(t.ev.Err, "")
				send(struct {
					Error *apiError `json:"error"`
				}{ae})
			}
		}
		if failed {
			continue // drain the other choices; their rows end with the request context
		}
		if err := send(sh.chunk(id, created, t.idx, &t.ev, !started[t.idx])); err != nil {
			failed = true // the client went away; r.Context() ends the jobs
		}
		started[t.idx] = true
	}
	if failed {
		return
	}
	if pr.includeUsage {
		send(sh.usageChunk(id, created, makeUsage(prompts, results)))
	}
	fmt.Fprint(bw, "data: [DONE]\n\n")
	bw.Flush()
	if flusher != nil {
		flusher.Flush()
	}
}
