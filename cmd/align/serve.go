package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/align-go/align/engine"
	"github.com/align-go/align/model"
	"github.com/align-go/align/serve"
	"github.com/spf13/cobra"
)

func init() {
	var o serveFlags
	cmd := &cobra.Command{
		Use:   "serve --model DIR [--addr 127.0.0.1:8080] [--api-key KEY]",
		Short: "OpenAI-compatible HTTP server (chat, completions, models) with continuous batching",
		Long: `Serve a model over an OpenAI-compatible API:
  POST /v1/chat/completions   (the tokenizer's chat template is applied)
  POST /v1/completions
  GET  /v1/models
Plain JSON or SSE streaming ("stream": true), logprobs / top_logprobs, usage
counts, stop, max_tokens, temperature, top_p, seed, n; vLLM's top_k and
ignore_eos too. Defaults follow OpenAI (temperature 1, top_p 1; chat
max_tokens up to the context, completions 16).

Requests from all clients share one continuous batch: a request joins the
running batch at the next decode step when a row is free (--max-batch rows),
otherwise it waits in a queue of --queue-size; beyond that the server answers
429. It listens on loopback unless --addr says otherwise; with --api-key every
/v1 request needs "Authorization: Bearer KEY". SIGINT/SIGTERM stop it
gracefully: no new connections, running requests finish (up to 30 s).`,
		RunE: func(cmd *cobra.Command, args []string) error { return runServe(cmd, &o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.dir, "model", "", "HF model directory (config.json, safetensors, tokenizer)")
	f.StringVar(&o.adapter, "adapter", "", "PEFT LoRA adapter directory applied on top of --model")
	f.StringVar(&o.dtype, "dtype", "f32", "weights decoding reads: f32, or bf16 (faster, log-probs within ~1e-3)")
	f.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen address (host:port; port 0 picks a free one)")
	f.StringVar(&o.apiKey, "api-key", "", "require this bearer token on every /v1 request")
	f.StringVar(&o.name, "served-model-name", "", "model id clients send (default: the model directory's name)")
	f.IntVar(&o.batch, "max-batch", 8, "most sequences decoded together")
	f.IntVar(&o.queue, "queue-size", 64, "most requests waiting for a free row before 429")
	f.IntVar(&o.maxLen, "max-seq-len", 0, "most tokens per sequence, prompt + completion (default: the model's context, at most 2048)")
	f.Int64Var(&o.maxBody, "max-body-bytes", 4<<20, "largest request body accepted (413 beyond)")
	o.load = addLoadFlags(f)
	cmd.MarkFlagRequired("model")
	rootCmd.AddCommand(cmd)
}

type serveFlags struct {
	dir, adapter, addr, apiKey, name, dtype string
	batch, queue, maxLen                    int
	maxBody                                 int64
	load                                    *loadFlags
}

func runServe(cmd *cobra.Command, o *serveFlags) error {
	if o.batch <= 0 || o.queue <= 0 {
		return fmt.Errorf("--max-batch %d, --queue-size %d: want > 0", o.batch, o.queue)
	}
	if _, err := model.ParseDecodeDType(o.dtype); err != nil {
		return fmt.Errorf("--dtype: %w", err)
	}
	lopt, err := o.load.options()
	if err != nil {
		return err
	}
	e, err := engine.Load(o.dir, engine.Options{Adapter: o.adapter, DType: o.dtype, Load: lopt, MaxBatch: o.batch, QueueSize: o.queue, MaxSeqLen: o.maxLen})
	if err != nil {
		return err
	}
	defer e.Close()
	name := o.name
	if name == "" {
		name = filepath.Base(filepath.Clean(o.dir))
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: serve.New(e, serve.Options{ModelName: name, APIKey: o.apiKey, MaxBodyBytes: o.maxBody}).Handler(),
		ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	// The address line is what scripts wait for (with port 0 it is the only
	// way to learn the port).
	fmt.Fprintf(cmd.OutOrStdout(), "align serve: model %q on http://%s/v1\n", name, ln.Addr())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
