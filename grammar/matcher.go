package grammar

import (
	"bytes"
	"fmt"
	"slices"
	"sync"

	"github.com/align-go/align/tokenizer"
)

// Vocab is a tokenizer's vocabulary as byte strings, arranged as a trie for
// mask computation. It is read-only once built and shared by all Matchers
// over the same tokenizer.
type Vocab struct {
	size   int      // mask width: the model's vocabulary (>= the tokenizer's)
	tokens [][]byte // per id; nil: never allowed (special tokens, padding ids)
	eos    []int32
	// The trie in preorder, root left out: node i has byte tb[i] at depth
	// depth[i] (1 for the first byte), its subtree ends before skip[i], and
	// the tokens that end at it are ids[lo[i]:lo[i+1]].
	tb       []byte
	depth    []uint16
	skip     []int32
	lo       []int32
	ids      []int32
	maxDepth int
}

// NewVocab builds a Vocab from per-id byte strings (nil or empty: the id is
// never allowed), the end-of-sequence ids (allowed where the grammar
// accepts), and the mask width size (the model's vocabulary; 0: len(tokens)).
func NewVocab(tokens [][]byte, eos []int32, size int) *Vocab {
	size = max(size, len(tokens))
	v := &Vocab{size: size, tokens: tokens, eos: slices.Clone(eos)}
	order := make([]int32, 0, len(tokens))
	for id, t := range tokens {
		if len(t) > 0 && !slices.Contains(eos, int32(id)) {
			order = append(order, int32(id))
		}
	}
	slices.SortFunc(order, func(a, b int32) int {
		if c := bytes.Compare(tokens[a], tokens[b]); c != 0 {
			return c
		}
		return int(a - b)
	})
	var path []int32 // node per depth-1 of the current token
	var prev []byte
	for _, id := range order {
		t := tokens[id]
		lcp := 0
		for lcp < len(t) && lcp < len(prev) && t[lcp] == prev[lcp] {
			lcp++
		}
		for len(path) > lcp {
			v.skip[path[len(path)-1]] = int32(len(v.tb))
			path = path[:len(path)-1]
		}
		for d := lcp; d < len(t); d++ {
			path = append(path, int32(len(v.tb)))
			v.tb = append(v.tb, t[d])
			v.depth = append(v.depth, uint16(d+1))
			v.skip = append(v.skip, 0)
			v.lo = append(v.lo, int32(len(v.ids)))
		}
		v.ids = append(v.ids, id) // ends at the last node of path
		v.maxDepth = max(v.maxDepth, len(t))
		prev = t
	}
	for _, p := range path {
		v.skip[p] = int32(len(v.tb))
	}
	v.lo = append(v.lo, int32(len(v.ids)))
	return v
}

// TokenizerVocab is the vocabulary of tok for a model with size logits:
// every token's raw bytes, special added tokens left out (they are never
// part of constrained text; EOS is allowed through eos).
func TokenizerVocab(tok *tokenizer.Tokenizer, eos []int32, size int) *Vocab {
	n := min(tok.VocabSize(), max(size, 0))
	if size <= 0 {
		n = tok.VocabSize()
	}
	tokens := make([][]byte, n)
	for id := range n {
		if tok.IsSpecial(id) {
			continue
		}
		if b, ok := tok.TokenBytes(id); ok {
			tokens[id] = b
		}
	}
	return NewVocab(tokens, eos, size)
}

// Size is the mask width in tokens.
func (v *Vocab) Size() int { return v.size }

// TrieNodes is the number of nodes of the token trie.
func (v *Vocab) TrieNodes() int { return len(v.tb) }

// maxMasks bounds the masks a Matcher caches (a 151,936-token mask is 19 KB,
// so 1.2 MB in all at most).
const maxMasks = 64

// Matcher evaluates a Grammar over a Vocab. It caches what it computes
// (states, transitions, masks) and is safe for concurrent use: one Matcher
// serves all sequences constrained by the same grammar.
type Matcher struct {
	v     *Vocab
	mu    sync.Mutex
	m     *machine
	masks map[int32][]uint64
	stAt  []int32
}

// NewMatcher returns a Matcher of g over v.
func NewMatcher(g *Grammar, v *Vocab) *Matcher {
	return &Matcher{v: v, m: newMachine(g), masks: map[int32][]uint64{}}
}

// Vocab is the vocabulary m matches over.
func (m *Matcher) Vocab() *Vocab { return m.v }

// Start returns the state of a new sequence.
func (m *Matcher) Start() *State { return &State{m: m} }

// mask returns the tokens allowed in state st (shared: read-only).
func (m *Matcher) mask(st int32) []uint64 {
	if mk, ok := m.masks[st]; ok {
		return mk
	}
	mk := m.computeMask(st)
	if len(m.masks) >= maxMasks {
		clear(m.masks)
	}
	m.masks[st] = mk
	return mk
}

// computeMask walks the trie from st, pruning every subtree whose prefix
// the grammar rejects.
func (m *Matcher) computeMask(st int32) []uint64 {
	v, mc := m.v, m.m
	mk := make([]uint64, (v.size+63)/64)
	if mc.states[st].accept {
		for _, e := range v.eos {
			if e >= 0 && int(e) < v.size {
				mk[e>>6] |= 1 << (e & 63)
			}
		}
	}
	if len(mc.states[st].stacks) == 0 {
		return mk
	}
	if len(m.stAt) < v.maxDepth+1 {
		m.stAt = make([]int32, v.maxDepth+1)
	}
	stAt := m.stAt
	stAt[0] = st
	tb, depth, skip, lo, ids := v.tb, v.depth, v.skip, v.lo, v.ids
	trans := mc.trans // reloaded when step grows it
	for i := 0; i < len(tb); {
		d := depth[i]
		prev := stAt[d-1]
		s := trans[int(prev)<<8|int(tb[i])]
		if s == unknown {
			s = mc.step(prev, tb[i])
			trans = mc.trans
		}
		if s < 0 {
			i = int(skip[i])
			continue
		}
		stAt[d] = s
		for _, id := range ids[lo[i]:lo[i+1]] {
			mk[id>>6] |= 1 << (id & 63)
		}
		i++
	}
	return mk
}

// Match reports whether b is a whole sentence of the grammar.
func (m *Matcher) Match(b []byte) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.m.walk(0, b)
	return st >= 0 && m.m.states[st].accept
}

// Prefix reports whether b can be continued into a sentence of the grammar.
func (m *Matcher) Prefix(b []byte) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.m.walk(0, b) >= 0
}

// State is where one sequence stands in the grammar. It is not safe for
// concurrent use (its Matcher is).
type State struct {
	m    *Matcher
	st   int32
	done bool // EOS accepted
}

// Allowed returns the tokens that may come next as a bitset over the
// vocabulary (bit id%64 of word id/64): those whose bytes keep the text a
// prefix of a sentence, and EOS where the text is a whole sentence. The
// slice is shared and must not be changed. After EOS nothing is allowed.
func (s *State) Allowed() []uint64 {
	m := s.m
	if s.done {
		return make([]uint64, (m.v.size+63)/64)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mask(s.st)
}

// Allows reports whether tok may come next (without computing the mask).
func (s *State) Allows(tok int32) bool {
	m := s.m
	if s.done || tok < 0 || int(tok) >= m.v.size {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if slices.Contains(m.v.eos, tok) {
		return m.m.states[s.st].accept
	}
	if int(tok) >= len(m.v.tokens) || len(m.v.tokens[tok]) == 0 {
		return false
	}
	return m.m.walk(s.st, m.v.tokens[tok]) >= 0
}

// Accept advances past tok, or reports why it is not allowed (the state is
// then unchanged).
func (s *State) Accept(tok int32) error {
	m := s.m
	if s.done {
		return fmt.Errorf("grammar: token %d after the end of the sequence", tok)
	}
	if tok < 0 || int(tok) >= m.v.size {
		return fmt.Errorf("grammar: token %d is outside the vocabulary [0,%d)", tok, m.v.size)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if slices.Contains(m.v.eos, tok) {
		if !m.m.states[s.st].accept {
			return fmt.Errorf("grammar: end of sequence (token %d) before the text is complete", tok)
		}
		s.done = true
		return nil
	}
	var b []byte
	if int(tok) < len(m.v.tokens) {
		b = m.v.tokens[tok]
	}
	if len(b) == 0 {
		return fmt.Errorf("grammar: token %d has no text the grammar can match", tok)
	}
	st := m.m.walk(s.st, b)
	if st < 0 {
		return fmt.Errorf("grammar: token %d (%q) is not allowed here", tok, b)
	}
	s.st = st
	return nil
}

// Accepting reports whether the text so far is a whole sentence.
func (s *State) Accepting() bool {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	return s.m.m.states[s.st].accept
}

// Finished reports that nothing more can follow: EOS was accepted, or the
// text is a sentence that no byte extends (the closing brace of a JSON
// object), so a caller ends the sequence without waiting for EOS.
func (s *State) Finished() bool {
	if s.done {
		return true
	}
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	return s.m.m.finished(s.st)
}

// Clone returns an independent copy of s.
func (s *State) Clone() *State { c := *s; return &c }

// States is the number of grammar states computed so far: the Matcher's
// memory grows with it (about 1 KB each for the transition table).
func (m *Matcher) States() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.m.states)
}
