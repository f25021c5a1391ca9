package main

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
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
		Use:   "serve --model DIR [--addr 127.0.0.1:8080] [--api-key-file FILE]",
		Short: "OpenAI-compatible HTTP server (chat, completions, models) with continuous batching",
		Long: `Serve a model over an OpenAI-compatible API:
  POST /v1/chat/completions   (the tokenizer's chat template is applied)
  POST /v1/completions
  GET  /v1/models
  GET  /health, GET /metrics  (Prometheus text format; no key needed)
  POST /v1/load_lora_adapter, /v1/unload_lora_adapter  (--enable-lora-loading)
Plain JSON or SSE streaming ("stream": true), logprobs / top_logprobs, usage
counts, stop, max_tokens, temperature, top_p, seed, n, logit_bias,
presence_penalty, frequency_penalty; vLLM's top_k and ignore_eos too.
Defaults follow OpenAI (temperature 1, top_p 1; chat max_tokens up to the
context, completions 16). Unknown fields, wrongly cased keys and parameters
this server does not implement (tools, response_format, ...) get 400 naming
them.

LoRA adapters on the one base (--lora NAME=DIR, or vLLM's load_lora_adapter
API): a request picks one by "model", /v1/models lists them. Rows of
different adapters share one forward pass per decode step. An unloaded
adapter's running streams finish with its weights.

Requests from all clients share one continuous batch: a request joins the
running batch at the next decode step when a row is free (--max-batch rows),
otherwise it waits in a queue of --queue-size sequences. A request that
leaves (its client disconnects) leaves the queue at once.

Memory. Weights and the KV cache (--max-batch rows × --max-seq-len tokens)
are allocated at start, and their sizes printed. Each request is costed
before anything is allocated for it: prompts × n sequences and, per
sequence, prompt + max_tokens tokens. What can never fit (more sequences
than --queue-size, more tokens than --max-pending-tokens, a sequence or a
list of messages past the context) gets 400; what must wait for others gets
429 with Retry-After. Beyond weights and cache, requests hold at most about
  --max-conns × --max-body-bytes          bodies being received
  + CPUs × 32 × --max-body-bytes          bodies being checked and decoded
                                          (one per CPU at a time)
  + --max-pending-tokens × 250 B          queued and generated tokens
  + --max-pending-tokens × 3 KB           only if every request asks for
                                          logprobs with top_logprobs 20
A body refused while it is checked costs about twice its size. With the
defaults (64 connections, 4 MiB bodies, 2 CPUs, (64 + 8) × 2048 = 147,456
pending tokens) that is at most about 256 + 256 + 37 MiB (+ 430 MiB with
top_logprobs 20 throughout).

Security. It listens on loopback unless --addr says otherwise. An API key
(--api-key-file FILE, or ALIGN_API_KEY, or --api-key, which other users can
see in ps) is checked before a body is read: "Authorization: Bearer KEY".
Bodies must be Content-Type: application/json (415 otherwise). The Host
header must be an IP address, localhost, the --addr host or one of
--allowed-hosts (DNS rebinding). Browsers' cross-origin requests are refused
unless --cors-origin names the origin. Timeouts: --read-header-timeout for
the headers, --read-timeout for the whole request, --write-timeout for each
reply and each streamed chunk, --idle-timeout for keep-alive connections;
at most --max-conns connections are open. SIGINT/SIGTERM stop it
gracefully: no new connections, running requests finish (up to 30 s).`,
		RunE: func(cmd *cobra.Command, args []string) error { return runServe(cmd, &o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.dir, "model", "", "HF model directory (config.json, safetensors, tokenizer)")
	f.StringVar(&o.adapter, "adapter", "", "PEFT LoRA adapter directory applied on top of --model")
	f.StringVar(&o.dtype, "dtype", "f32", "weights decoding reads: f32, or bf16 (faster, log-probs within ~1e-3)")
	f.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen address (host:port; port 0 picks a free one)")
	f.StringVar(&o.apiKey, "api-key", "", "require this bearer token on every /v1 request (visible in ps: prefer --api-key-file or ALIGN_API_KEY)")
	f.StringVar(&o.apiKeyFile, "api-key-file", "", "read the bearer token from this file (first line)")
	f.StringVar(&o.name, "served-model-name", "", "model id clients send (default: the model directory's name)")
	f.IntVar(&o.batch, "max-batch", 8, "most sequences decoded together")
	f.IntVar(&o.queue, "queue-size", 64, "most sequences waiting for a free row (a request for more gets 400)")
	f.IntVar(&o.maxLen, "max-seq-len", 0, "most tokens per sequence, prompt + completion (default: the model's context, at most 2048)")
	f.Int64Var(&o.maxBody, "max-body-bytes", 4<<20, "largest request body accepted (413 beyond)")
	o.load = addLoadFlags(f)
	f.Int64Var(&o.maxPending, "max-pending-tokens", 0, "most tokens (prompt + max_tokens per sequence) of all requests in flight (default (queue-size + max-batch) × max-seq-len)")
	f.StringSliceVar(&o.allowedHosts, "allowed-hosts", nil, "host names the Host header may carry besides IP addresses, localhost and the --addr host (.example.com: its subdomains too; *: any)")
	f.StringSliceVar(&o.corsOrigins, "cors-origin", nil, "browser origins allowed to call the API, e.g. https://app.example (*: any); default none")
	f.StringArrayVar(&o.loras, "lora", nil, "NAME=DIR: serve the PEFT LoRA adapter in DIR as model NAME beside the base (repeatable; vLLM's --lora-modules)")
	f.IntVar(&o.maxLoras, "max-loras", 8, "most LoRA adapters loaded at once")
	f.BoolVar(&o.loraLoading, "enable-lora-loading", false, "add POST /v1/load_lora_adapter and /v1/unload_lora_adapter (vLLM's API; clients then make the server read directories they name)")
	f.IntVar(&o.maxConns, "max-conns", 64, "most connections open at once (more wait in the listen backlog)")
	f.DurationVar(&o.readHeaderTimeout, "read-header-timeout", 10*time.Second, "time to receive a request's headers")
	f.DurationVar(&o.readTimeout, "read-timeout", 60*time.Second, "time to receive a whole request, body included")
	f.DurationVar(&o.writeTimeout, "write-timeout", 60*time.Second, "time for each write of a reply (each chunk of a stream)")
	f.DurationVar(&o.idleTimeout, "idle-timeout", 120*time.Second, "how long an idle keep-alive connection is kept")
	cmd.MarkFlagRequired("model")
	rootCmd.AddCommand(cmd)
}

type serveFlags struct {
	dir, adapter, addr, apiKey, apiKeyFile, name, dtype       string
	batch, queue, maxLen, maxConns                            int
	maxBody, maxPending                                       int64
	allowedHosts, corsOrigins, loras                          []string
	maxLoras                                                  int
	loraLoading                                               bool
	readHeaderTimeout, readTimeout, writeTimeout, idleTimeout time.Duration
	load                                                      *loadFlags
}

// serveAPIKey is the key from --api-key-file, --api-key or ALIGN_API_KEY
// (at most one of the flags).
func serveAPIKey(o *serveFlags) (string, error) {
	switch {
	case o.apiKeyFile != "" && o.apiKey != "":
		return "", fmt.Errorf("--api-key and --api-key-file: give one")
	case o.apiKeyFile != "":
		b, err := os.ReadFile(o.apiKeyFile)
		if err != nil {
			return "", fmt.Errorf("--api-key-file: %w", err)
		}
		key, _, _ := strings.Cut(string(b), "\n")
		if key = strings.TrimSpace(key); key == "" {
			return "", fmt.Errorf("--api-key-file %s: the first line is empty", o.apiKeyFile)
		}
		return key, nil
	case o.apiKey != "":
		return o.apiKey, nil
	}
	return strings.TrimSpace(os.Getenv("ALIGN_API_KEY")), nil
}

func runServe(cmd *cobra.Command, o *serveFlags) error {
	if o.batch <= 0 || o.queue <= 0 {
		return fmt.Errorf("--max-batch %d, --queue-size %d: want > 0", o.batch, o.queue)
	}
	if o.maxConns <= 0 || o.maxBody <= 0 || o.maxPending < 0 {
		return fmt.Errorf("--max-conns %d, --max-body-bytes %d, --max-pending-tokens %d: want > 0", o.maxConns, o.maxBody, o.maxPending)
	}
	if _, err := model.ParseDecodeDType(o.dtype); err != nil {
		return fmt.Errorf("--dtype: %w", err)
	}
	lopt, err := o.load.options()
	if err != nil {
		return err
	}
	key, err := serveAPIKey(o)
	if err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(o.addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %w", o.addr, err)
	}
	e, err := engine.Load(o.dir, engine.Options{Adapter: o.adapter, DType: o.dtype, Load: lopt, MaxBatch: o.batch, QueueSize: o.queue, MaxSeqLen: o.maxLen, MaxAdapters: o.maxLoras})
	if err != nil {
		return err
	}
	defer e.Close()
	var loaded [][2]string
	for _, l := range o.loras {
		name, dir, ok := strings.Cut(l, "=")
		if !ok || name == "" || dir == "" {
			return fmt.Errorf("--lora %q: want NAME=DIR", l)
		}
		if err := e.LoadAdapter(name, dir); err != nil {
			return fmt.Errorf("--lora %s: %w", l, err)
		}
		loaded = append(loaded, [2]string{name, dir})
	}
	name := o.name
	if name == "" {
		name = filepath.Base(filepath.Clean(o.dir))
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	hosts := o.allowedHosts
	if host != "" {
		hosts = append(hosts, host)
	}
	s := serve.New(e, serve.Options{ModelName: name, APIKey: key, MaxBodyBytes: o.maxBody, MaxPendingTokens: o.maxPending,
		AllowedHosts: hosts, CORSOrigins: o.corsOrigins, AllowAdapterLoading: o.loraLoading, MaxConns: o.maxConns, ReadHeaderTimeout: o.readHeaderTimeout,
		ReadTimeout: o.readTimeout, WriteTimeout: o.writeTimeout, IdleTimeout: o.idleTimeout})
	for _, l := range loaded {
		s.AdapterLoaded(l[0], l[1])
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// The address line is what scripts wait for (with port 0 it is the only
	// way to learn the port).
	fmt.Fprintf(cmd.OutOrStdout(), "align serve: model %q on http://%s/v1\n", name, ln.Addr())
	fmt.Fprintf(cmd.ErrOrStderr(), "align serve: KV cache %.1f MiB (%d rows × %d tokens); at most %d tokens in flight; key %s\n",
		float64(e.KVCacheBytes())/(1<<20), o.batch, e.ContextLen(), s.PendingTokenLimit(), map[bool]string{true: "required", false: "off"}[key != ""])
	return s.Serve(ctx, ln)
}
