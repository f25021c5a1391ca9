package serve

import (
	"bufio"
	"context"
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

// run submits reqs (param names the field a too-long error blames) and
// answers with their results, plain or streamed. release returns the
// request's token reservation once nothing of it is left in the engine.
func (s *Server) run(w http.ResponseWriter, r *http.Request, prompts [][]int32, reqs []engine.Request,
	release func(), pr *parsed, sh shape, prefix, param string) {
	start := time.Now()
	defer release()
	// The jobs end with the request, or earlier when a stream's reader fails.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	jobs, err := s.e.Submit(ctx, reqs...)
	if err != nil {
		writeAPIError(w, s.engineError(err, param))
		return
	}
	s.metrics.start()
	results := make([]engine.Result, len(jobs))
	defer func() {
		n := 0
		for _, p := range prompts {
			n += len(p)
		}
		s.metrics.end(n)
	}()
	id, created := newID(prefix), time.Now().Unix()

	type tagged struct {
		idx int
		ev  engine.Event
	}
	// Fan the choices' events into one ordered stream. Every job is read to
	// its end, so none is left running for nobody (a gone client's context
	// ends them at the next step).
	evs := make(chan tagged)
	for i, j := range jobs {
		go func() {
			for ev := range j.Events() {
				evs <- tagged{i, ev}
			}
		}()
	}
	var send func(v any) error
	var bw *bufio.Writer
	if pr.stream {
		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		h.Set("Connection", "keep-alive")
		setWriteDeadline(w, s.o.WriteTimeout)
		w.WriteHeader(http.StatusOK)
		bw = bufio.NewWriter(w)
		rc := http.NewResponseController(w)
		send = func(v any) error {
			b, err := json.Marshal(v)
			if err != nil {
				return err
			}
			// A reader that stalls for WriteTimeout loses its stream (and
			// its row) instead of holding it.
			rc.SetWriteDeadline(time.Now().Add(s.o.WriteTimeout))
			if _, err := fmt.Fprintf(bw, "data: %s\n\n", b); err != nil {
				return err
			}
			if err := bw.Flush(); err != nil {
				return err
			}
			return rc.Flush()
		}
	}
	started := make([]bool, len(jobs))
	var firstErr error
	gotFirst := false
	for left := len(jobs); left > 0; {
		t := <-evs
		res := &results[t.idx]
		res.Tokens = append(res.Tokens, t.ev.Tokens...)
		res.Text += t.ev.Text
		if len(t.ev.Tokens) > 0 {
			s.metrics.generated(len(t.ev.Tokens))
			if !gotFirst {
				gotFirst = true
				s.metrics.firstToken(time.Since(start))
			}
		}
		if t.ev.Done {
			left--
			res.FinishReason = t.ev.FinishReason
			if t.ev.Err != nil && firstErr == nil {
				firstErr = t.ev.Err
				if pr.stream && r.Context().Err() == nil {
					send(struct {
						Error *apiError `json:"error"`
					}{engineError(t.ev.Err, "")})
				}
			}
		}
		if !pr.stream || firstErr != nil {
			continue // drain the other choices
		}
		v := sh.chunk(id, created, t.idx, &t.ev, !started[t.idx])
		chunks, ok := v.(chunkList)
		if !ok {
			chunks = chunkList{v}
		}
		for _, c := range chunks {
			if err := send(c); err != nil {
				firstErr = err // the client went away or stalled
				cancel()
				break
			}
		}
		started[t.idx] = true
	}
	if firstErr != nil {
		if !pr.stream && r.Context().Err() == nil {
			writeAPIError(w, engineError(firstErr, ""))
		}
		return
	}
	if !pr.stream {
		setWriteDeadline(w, s.o.WriteTimeout)
		writeJSON(w, sh.response(id, created, results, makeUsage(prompts, results)))
		return
	}
	if pr.includeUsage {
		if send(sh.usageChunk(id, created, makeUsage(prompts, results))) != nil {
			return
		}
	}
	fmt.Fprint(bw, "data: [DONE]\n\n")
	bw.Flush()
	http.NewResponseController(w).Flush()
}
