package toolcall

import "strings"

// Delta is one piece of streamed output: content text, or part of call
// number Index. A call's first delta carries its Name (and Arguments "");
// the following ones carry Arguments fragments, which concatenate to the
// call's arguments.
type Delta struct {
	Content string
	Call    *CallDelta
}

// CallDelta is a piece of one call.
type CallDelta struct {
	Index     int
	Name      string // set on the call's first delta only
	Arguments string
}

// Stream parses output as it is generated. A call is held until it is
// whole (its closing tag, or the end of the output) and known to parse,
// so a malformed one can still go out as content; it is then sent as a
// first delta with the name and its arguments in the fragments they were
// generated in. Content goes out at once, except text that may begin a
// call's opening tag and white space that may turn out to border a call.
// The deltas of a whole stream add up to what Parse returns.
type Stream struct {
	p        *Parser
	pend     string // text not yet sent
	inCall   bool   // pend starts with a call's opening (Hermes), or is the whole output (Llama 3 JSON)
	cuts     []int  // offsets in pend where written pieces began, while inCall
	after    bool   // just after a call: leading white space is dropped
	held     string // trailing white space of the content sent so far
	decided  bool   // Llama 3: whether the output is calls (inCall) or content is known
	calls    int
	argsAt   int // Llama 3: where in pend to look for the next call's arguments
	searched int // Hermes: pend[:searched] holds no closing tag (while inCall)
}

// NewStream starts parsing one output.
func (p *Parser) NewStream() *Stream { return &Stream{p: p} }

// Calls is the number of calls sent so far.
func (s *Stream) Calls() int { return s.calls }

// Write takes the next piece of output and returns what can be sent.
func (s *Stream) Write(text string) []Delta {
	if text == "" {
		return nil
	}
	if s.inCall {
		s.cuts = append(s.cuts, len(s.pend))
	}
	s.pend += text
	if s.p.Format == Llama3JSON {
		return s.writeLlama()
	}
	var out []Delta
	for {
		if !s.inCall {
			j := strings.Index(s.pend, hermesOpen)
			if j < 0 {
				h := partialSuffix(s.pend, hermesOpen)
				out = s.content(out, s.pend[:len(s.pend)-h])
				s.pend = s.pend[len(s.pend)-h:]
				return out
			}
			out = s.content(out, s.pend[:j])
			// Pieces written from here on mark fragment boundaries.
			s.pend, s.inCall, s.cuts, s.searched = s.pend[j:], true, nil, 0
			continue
		}
		// Only text not yet searched can hold the closing tag (an output
		// that never closes a call would otherwise cost quadratic time).
		from := max(len(hermesOpen), s.searched-len(hermesClose)+1)
		k := strings.Index(s.pend[from:], hermesClose)
		if k < 0 {
			s.searched = len(s.pend)
			return out
		}
		k += from - len(hermesOpen)
		end := len(hermesOpen) + k + len(hermesClose)
		out = s.finishCall(out, end, len(hermesOpen), len(hermesOpen)+k)
		s.pend, s.inCall = s.pend[end:], false
	}
}

// finishCall sends pend[:end], whose call body is pend[from:to], as a call
// if it parses, else as content.
func (s *Stream) finishCall(out []Delta, end, from, to int) []Delta {
	c, at, ok := s.p.call(s.pend[from:to])
	if !ok {
		s.after = false
		return s.content(out, s.pend[:end])
	}
	s.held, s.after = "", true
	out = append(out, Delta{Call: &CallDelta{Index: s.calls, Name: c.Name}})
	if at < 0 { // arguments were a JSON string: one fragment
		out = append(out, Delta{Call: &CallDelta{Index: s.calls, Arguments: c.Arguments}})
	} else {
		at += from
		stop := at + len(c.Arguments)
		prev := at
		for _, cut := range append(s.cuts, stop) {
			if cut <= prev {
				continue
			}
			if cut > stop {
				cut = stop
			}
			out = append(out, Delta{Call: &CallDelta{Index: s.calls, Arguments: s.pend[prev:cut]}})
			prev = cut
			if cut == stop {
				break
			}
		}
	}
	s.calls++
	s.cuts = nil
	return out
}

// content sends seg as content under the white-space rules of Parse.
func (s *Stream) content(out []Delta, seg string) []Delta {
	if s.after {
		seg = strings.TrimLeft(seg, space)
		if seg == "" {
			return out
		}
		s.after = false
	}
	seg = s.held + seg
	core := strings.TrimRight(seg, space)
	s.held = seg[len(core):]
	if core != "" {
		out = append(out, Delta{Content: core})
	}
	return out
}

func (s *Stream) writeLlama() []Delta {
	if !s.decided {
		t := strings.TrimLeft(s.pend, space)
		switch {
		case t == "" || (len(t) < len(pythonTag) && strings.HasPrefix(pythonTag, t)):
			return nil
		case strings.HasPrefix(t, "{") || strings.HasPrefix(t, pythonTag):
			s.decided, s.inCall = true, true
		default:
			s.decided = true
		}
	}
	if s.inCall {
		return nil
	}
	out := []Delta{{Content: s.pend}}
	s.pend = ""
	return out
}

// Close ends the output and returns what was still held.
func (s *Stream) Close() []Delta {
	var out []Delta
	switch {
	case s.p.Format == Llama3JSON:
		if s.pend == "" {
			return nil
		}
		_, calls := s.p.parseLlama(s.pend)
		if calls == nil {
			out = []Delta{{Content: s.pend}}
			break
		}
		// Fragments follow the pieces within each call's arguments.
		for _, c := range calls {
			out = append(out, Delta{Call: &CallDelta{Index: s.calls, Name: c.Name}})
			out = append(out, s.llamaFragments(c.Arguments)...)
			s.calls++
		}
	case s.inCall:
		out = s.finishCall(out, len(s.pend), len(hermesOpen), len(s.pend))
	default:
		out = s.content(out, s.pend)
	}
	s.pend, s.inCall = "", false
	if !s.after && s.held != "" {
		out = append(out, Delta{Content: s.held})
	}
	s.held = ""
	return out
}

// llamaFragments splits args, found in pend, at the written pieces.
func (s *Stream) llamaFragments(args string) []Delta {
	at := strings.Index(s.pend[s.argsAt:], args)
	if at < 0 {
		return []Delta{{Call: &CallDelta{Index: s.calls, Arguments: args}}}
	}
	at += s.argsAt
	s.argsAt = at + len(args)
	var out []Delta
	prev, stop := at, at+len(args)
	for _, cut := range append(s.cuts, stop) {
		if cut <= prev {
			continue
		}
		cut = min(cut, stop)
		out = append(out, Delta{Call: &CallDelta{Index: s.calls, Arguments: s.pend[prev:cut]}})
		if prev = cut; cut == stop {
			break
		}
	}
	return out
}

// partialSuffix is the length of the longest suffix of s that is a proper
// prefix of tag (text that may still become tag).
func partialSuffix(s, tag string) int {
	for n := min(len(s), len(tag)-1); n > 0; n-- {
		if strings.HasSuffix(s, tag[:n]) {
			return n
		}
	}
	return 0
}
