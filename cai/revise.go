package cai

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/align-go/align/chat"
	"github.com/align-go/align/llm"
)

// Sampling is what every request of a revision run asks for.
type Sampling struct {
	MaxTokens   int // 0: the client's default
	Temperature float64
	TopP        float64
	Stop        []string
}

// ReviseOptions control Revise.
type ReviseOptions struct {
	Rounds int // critique → revision rounds per prompt (default 1)
	// Seed draws each prompt's principles and the request seeds; a prompt's
	// draws depend only on Seed and its Index, so a resumed run or a subset
	// gets the same ones.
	Seed     uint64
	Sampling Sampling
}

// Prompt is one conversation to answer. Index identifies it in the source
// file (the seed stream and the resume key).
type Prompt struct {
	Index    int
	Messages []chat.Message // ends with a user turn
}

// Round is one critique and revision.
type Round struct {
	Principle string `json:"principle"`
	Critique  string `json:"critique"`
	Revision  string `json:"revision"`
}

// Revision is the outcome for one prompt.
type Revision struct {
	Index   int            `json:"index"`
	Prompt  []chat.Message `json:"prompt"`
	Initial string         `json:"initial"`
	Rounds  []Round        `json:"rounds"`
}

// Final is the last revision (the initial answer when there were no rounds).
func (r *Revision) Final() string {
	if len(r.Rounds) == 0 {
		return r.Initial
	}
	return r.Rounds[len(r.Rounds)-1].Revision
}

// Principles draws the principle of each round for prompt index: uniform,
// with replacement, from a stream of its own.
func (c *Constitution) draw(seed uint64, index, rounds int) []Principle {
	rng := rand.New(rand.NewPCG(seed, uint64(index)))
	ps := make([]Principle, rounds)
	for i := range ps {
		ps[i] = c.Principles[rng.IntN(len(c.Principles))]
	}
	return ps
}

// requestSeed gives every request its own seed so that sampled answers
// differ between prompts, rounds and stages yet repeat on a re-run.
func requestSeed(seed uint64, index, round, stage int) uint64 {
	x := seed ^ 0x9e3779b97f4a7c15*uint64(index+1) ^ 0xbf58476d1ce4e5b9*uint64(round*3+stage+1)
	x ^= x >> 31
	x *= 0x94d049bb133111eb
	return x ^ x>>29
}

// fewShot renders the constitution's examples as chat turns shown before each
// critique and revision request.
func (c *Constitution) fewShot() []chat.Message {
	var ms []chat.Message
	for _, e := range c.Examples {
		cr, rr := e.CritiqueRequest, e.RevisionRequest
		if cr == "" {
			cr = c.Principles[0].CritiqueRequest
		}
		if rr == "" {
			rr = c.Principles[0].RevisionRequest
		}
		ms = append(ms,
			chat.Message{Role: "user", Content: e.Prompt},
			chat.Message{Role: "assistant", Content: e.Response},
			chat.Message{Role: "user", Content: cr},
			chat.Message{Role: "assistant", Content: e.Critique},
			chat.Message{Role: "user", Content: rr},
			chat.Message{Role: "assistant", Content: e.Revision})
	}
	return ms
}

// Revise answers each prompt, then for each round asks the model, as chat
// turns after the prompt and its current answer, for a critique under a
// randomly drawn principle and then a revision; the revision becomes the
// answer the next round critiques. All prompts of one stage go to the client
// in one Chat call, so batching backends decode them together.
func Revise(ctx context.Context, client llm.Client, c *Constitution, prompts []Prompt, o ReviseOptions) ([]Revision, error) {
	if o.Rounds <= 0 {
		o.Rounds = 1
	}
	for _, p := range prompts {
		if n := len(p.Messages); n == 0 || p.Messages[n-1].Role != "user" {
			return nil, fmt.Errorf("prompt %d: must end with a user turn", p.Index)
		}
	}
	shots := c.fewShot()
	out := make([]Revision, len(prompts))
	drawn := make([][]Principle, len(prompts))
	for i, p := range prompts {
		out[i] = Revision{Index: p.Index, Prompt: p.Messages}
		drawn[i] = c.draw(o.Seed, p.Index, o.Rounds)
	}
	req := func(msgs []chat.Message, index, round, stage int) llm.Request {
		s := o.Sampling
		return llm.Request{Messages: msgs, MaxTokens: s.MaxTokens, Temperature: s.Temperature, TopP: s.TopP,
			Stop: s.Stop, Seed: requestSeed(o.Seed, index, round, stage)}
	}
	ask := func(what string, reqs []llm.Request) ([]llm.Response, error) {
		resp, err := client.Chat(ctx, reqs)
		if err == nil && len(resp) != len(reqs) {
			err = fmt.Errorf("client returned %d responses for %d requests", len(resp), len(reqs))
		}
		if err != nil {
			return nil, fmt.Errorf("cai: %s: %w", what, err)
		}
		return resp, nil
	}

	reqs := make([]llm.Request, len(prompts))
	for i, p := range prompts {
		reqs[i] = req(p.Messages, p.Index, 0, 0)
	}
	resp, err := ask("initial answers", reqs)
	if err != nil {
		return nil, err
	}
	answer := make([]string, len(prompts))
	for i := range resp {
		out[i].Initial, answer[i] = resp[i].Text, resp[i].Text
	}

	for r := range o.Rounds {
		convs := make([][]chat.Message, len(prompts))
		reqs = make([]llm.Request, len(prompts)) // the client may keep the last call's
		for i, p := range prompts {
			conv := append(append([]chat.Message{}, shots...), p.Messages...)
			conv = append(conv, chat.Message{Role: "assistant", Content: answer[i]},
				chat.Message{Role: "user", Content: drawn[i][r].CritiqueRequest})
			convs[i] = conv
			reqs[i] = req(conv, p.Index, r+1, 1)
		}
		if resp, err = ask(fmt.Sprintf("round %d critiques", r+1), reqs); err != nil {
			return nil, err
		}
		crit := make([]string, len(prompts))
		reqs = make([]llm.Request, len(prompts))
		for i, p := range prompts {
			crit[i] = resp[i].Text
			convs[i] = append(convs[i], chat.Message{Role: "assistant", Content: crit[i]},
				chat.Message{Role: "user", Content: drawn[i][r].RevisionRequest})
			reqs[i] = req(convs[i], p.Index, r+1, 2)
		}
		if resp, err = ask(fmt.Sprintf("round %d revisions", r+1), reqs); err != nil {
			return nil, err
		}
		for i := range prompts {
			answer[i] = resp[i].Text
			out[i].Rounds = append(out[i].Rounds, Round{Principle: drawn[i][r].Name, Critique: crit[i], Revision: answer[i]})
		}
	}
	return out, nil
}
