// Package grammar constrains sampling to a context-free grammar over bytes:
// JSON, or a JSON Schema compiled to a grammar, so that a model's output
// always parses (OpenAI's response_format, llama.cpp's grammar sampler).
//
// A Grammar is built from expressions (literals, byte ranges, Unicode
// character classes, sequences, alternatives, repetitions, references to
// named rules). It is matched the way llama.cpp matches GBNF: a set of
// pushdown stacks of grammar positions, advanced one byte at a time. Here the
// stacks are interned (a stack is an integer, and so is each set of stacks),
// so the recognizer becomes a lazily built DFA whose transitions are cached
// table entries. A Matcher evaluates the grammar over a tokenizer's
// vocabulary: the token byte strings form a trie, and the mask of tokens
// allowed in a state is one walk of the trie that prunes a subtree as soon
// as its prefix is rejected; masks are cached per state.
package grammar

import (
	"fmt"
	"unicode/utf8"
)

// Expr is a grammar expression. Build one with Lit, Bytes, Chars, NotChars,
// Seq, Alt, Rep (Opt, Star, Plus) and Ref.
type Expr struct {
	kind     exprKind
	lit      []byte
	lo, hi   byte // byte range
	subs     []Expr
	min, max int // repetition; max < 0: unbounded
	name     string
}

type exprKind uint8

const (
	eSeq exprKind = iota // subs in order (empty: matches the empty string)
	eAlt
	eRange
	eRep
	eRef
	eRule // a compiled rule by index (min), for the rules Rep creates
	eLit  // the bytes of lit
)

// Lit matches the bytes of s.
func Lit(s string) Expr { return Expr{kind: eLit, lit: []byte(s)} }

// Bytes matches one byte in [lo, hi].
func Bytes(lo, hi byte) Expr { return Expr{kind: eRange, lo: lo, hi: hi} }

// Empty matches the empty string.
func Empty() Expr { return Expr{kind: eSeq} }

// Seq matches its parts one after another.
func Seq(parts ...Expr) Expr { return Expr{kind: eSeq, subs: parts} }

// Alt matches any one of its choices.
func Alt(choices ...Expr) Expr { return Expr{kind: eAlt, subs: choices} }

// Rep matches e at least min and at most max times (max < 0: no limit).
func Rep(e Expr, min, max int) Expr { return Expr{kind: eRep, subs: []Expr{e}, min: min, max: max} }

// Opt matches e or nothing.
func Opt(e Expr) Expr { return Rep(e, 0, 1) }

// Star matches e any number of times.
func Star(e Expr) Expr { return Rep(e, 0, -1) }

// Plus matches e one or more times.
func Plus(e Expr) Expr { return Rep(e, 1, -1) }

// Ref matches the rule named name (defined with Builder.Define, before or
// after the reference).
func Ref(name string) Expr { return Expr{kind: eRef, name: name} }

// Chars matches one character (its UTF-8 encoding) in one of the inclusive
// ranges given as pairs lo, hi. Surrogates (U+D800-U+DFFF) are never
// matched: they have no UTF-8 encoding.
func Chars(ranges ...rune) Expr {
	if len(ranges)%2 != 0 {
		panic("grammar.Chars: ranges come in pairs")
	}
	var alts []Expr
	for i := 0; i < len(ranges); i += 2 {
		for _, seq := range utf8Ranges(ranges[i], ranges[i+1]) {
			parts := make([]Expr, len(seq))
			for j, r := range seq {
				parts[j] = Bytes(r[0], r[1])
			}
			alts = append(alts, Seq(parts...))
		}
	}
	return Alt(alts...)
}

// NotChars matches one character outside the inclusive ranges given as
// pairs (any valid UTF-8 character otherwise).
func NotChars(ranges ...rune) Expr {
	if len(ranges)%2 != 0 {
		panic("grammar.NotChars: ranges come in pairs")
	}
	// Complement over [0, MaxRune]: sort the ranges and take the gaps.
	type rr struct{ lo, hi rune }
	var rs []rr
	for i := 0; i < len(ranges); i += 2 {
		rs = append(rs, rr{ranges[i], ranges[i+1]})
	}
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && rs[j].lo < rs[j-1].lo; j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
	var comp []rune
	next := rune(0)
	for _, r := range rs {
		if r.lo > next {
			comp = append(comp, next, r.lo-1)
		}
		next = max(next, r.hi+1)
	}
	if next <= utf8.MaxRune {
		comp = append(comp, next, utf8.MaxRune)
	}
	return Chars(comp...)
}

// utf8Ranges splits the code points [lo, hi] into sequences of byte ranges
// whose concatenations are exactly their UTF-8 encodings (the method of
// regex engines: split at encoding-length boundaries, then where the
// continuation bytes stop spanning their full range).
func utf8Ranges(lo, hi rune) [][][2]byte {
	if lo < 0 {
		lo = 0
	}
	if hi > utf8.MaxRune {
		hi = utf8.MaxRune
	}
	if lo > hi {
		return nil
	}
	// Leave out the surrogates.
	if lo <= 0xDFFF && hi >= 0xD800 {
		return append(utf8Ranges(lo, 0xD7FF), utf8Ranges(0xE000, hi)...)
	}
	for _, b := range []rune{0x7F, 0x7FF, 0xFFFF} {
		if lo <= b && hi > b {
			return append(utf8Ranges(lo, b), utf8Ranges(b+1, hi)...)
		}
	}
	n := utf8.RuneLen(lo)
	if n == 1 {
		return [][][2]byte{{{byte(lo), byte(hi)}}}
	}
	// Split where the low continuation bits do not span 0x00-0x3F fully.
	for i := 1; i < n; i++ {
		m := rune(1)<<(6*i) - 1
		if lo&^m != hi&^m {
			if lo&m != 0 {
				return append(utf8Ranges(lo, lo|m), utf8Ranges((lo|m)+1, hi)...)
			}
			if hi&m != m {
				return append(utf8Ranges(lo, (hi&^m)-1), utf8Ranges(hi&^m, hi)...)
			}
		}
	}
	var a, b [4]byte
	utf8.EncodeRune(a[:], lo)
	utf8.EncodeRune(b[:], hi)
	seq := make([][2]byte, n)
	for i := range n {
		seq[i] = [2]byte{a[i], b[i]}
	}
	return [][][2]byte{seq}
}

// Builder collects named rules.
type Builder struct {
	names map[string]int
	defs  []Expr
	set   []bool
}

// NewBuilder returns an empty Builder.
func NewBuilder() *Builder { return &Builder{names: map[string]int{}} }

func (b *Builder) id(name string) int {
	if i, ok := b.names[name]; ok {
		return i
	}
	b.names[name] = len(b.defs)
	b.defs = append(b.defs, Expr{})
	b.set = append(b.set, false)
	return len(b.defs) - 1
}

// Define sets rule name to e (a later Define of the same name replaces it).
func (b *Builder) Define(name string, e Expr) {
	i := b.id(name)
	b.defs[i], b.set[i] = e, true
}

// Has reports whether name is defined.
func (b *Builder) Has(name string) bool {
	i, ok := b.names[name]
	return ok && b.set[i]
}

// Build compiles the rules into a Grammar whose sentences are root's.
func (b *Builder) Build(root string) (*Grammar, error) {
	if !b.Has(root) {
		return nil, fmt.Errorf("grammar: root rule %q is not defined", root)
	}
	// Named rules keep their index; anonymous ones come after.
	c := &compiler{b: b, g: &Grammar{}}
	c.g.rules = make([][]int32, len(b.defs))
	for name, i := range b.names {
		if !b.set[i] {
			return nil, fmt.Errorf("grammar: rule %q is referenced but not defined", name)
		}
	}
	for name, i := range b.names {
		if err := b.checkRefs(b.defs[i]); err != nil {
			return nil, fmt.Errorf("grammar: rule %q: %w", name, err)
		}
	}
	for i := range b.defs {
		c.define(int32(i), b.defs[i])
	}
	c.g.root = int32(b.names[root])
	if err := c.g.checkLeftRecursion(); err != nil {
		return nil, err
	}
	return c.g, nil
}

func (b *Builder) checkRefs(e Expr) error {
	if e.kind == eRef && !b.Has(e.name) {
		return fmt.Errorf("rule %q is referenced but not defined", e.name)
	}
	for _, s := range e.subs {
		if err := b.checkRefs(s); err != nil {
			return err
		}
	}
	return nil
}

// Grammar is a compiled grammar: rules of alternatives of elements.
type Grammar struct {
	// elems holds every alternative as a run of elements ended by an end
	// element; rules[r] lists the start of each of rule r's alternatives.
	elems []elem
	rules [][]int32
	sets  []byteSet
	root  int32
}

type elemKind uint8

const (
	kEnd elemKind = iota
	kTerm
	kRef
)

type elem struct {
	kind elemKind
	arg  int32 // kTerm: index into sets; kRef: rule
}

type byteSet [4]uint64

func (s *byteSet) has(b byte) bool { return s[b>>6]&(1<<(b&63)) != 0 }

type compiler struct {
	b      *Builder
	g      *Grammar
	setIdx map[byteSet]int32
}

func (c *compiler) newRule() int32 {
	c.g.rules = append(c.g.rules, nil)
	return int32(len(c.g.rules) - 1)
}

// define compiles e as rule r's alternatives.
func (c *compiler) define(r int32, e Expr) {
	var alts []Expr
	if e.kind == eAlt {
		alts = flattenAlt(e)
	} else {
		alts = []Expr{e}
	}
	// Alternatives that are single byte ranges merge into one set.
	var merged byteSet
	nMerged := 0
	var rest []Expr
	for _, a := range alts {
		if a.kind == eRange {
			for x := int(a.lo); x <= int(a.hi); x++ {
				merged[x>>6] |= 1 << (x & 63)
			}
			nMerged++
		} else {
			rest = append(rest, a)
		}
	}
	if nMerged > 0 {
		start := int32(len(c.g.elems))
		c.g.elems = append(c.g.elems, elem{kind: kTerm, arg: c.set(merged)}, elem{kind: kEnd})
		c.g.rules[r] = append(c.g.rules[r], start)
	}
	for _, a := range rest {
		// Elements of one alternative must be contiguous: compile the parts
		// (which may create rules, appending nothing to elems) first.
		var seq []elem
		c.seq(a, &seq)
		start := int32(len(c.g.elems))
		c.g.elems = append(c.g.elems, seq...)
		c.g.elems = append(c.g.elems, elem{kind: kEnd})
		c.g.rules[r] = append(c.g.rules[r], start)
	}
}

func flattenAlt(e Expr) []Expr {
	var out []Expr
	for _, s := range e.subs {
		if s.kind == eAlt {
			out = append(out, flattenAlt(s)...)
		} else {
			out = append(out, s)
		}
	}
	return out
}

func (c *compiler) set(s byteSet) int32 {
	if c.setIdx == nil {
		c.setIdx = map[byteSet]int32{}
	}
	if i, ok := c.setIdx[s]; ok {
		return i
	}
	c.g.sets = append(c.g.sets, s)
	c.setIdx[s] = int32(len(c.g.sets) - 1)
	return c.setIdx[s]
}

// seq appends e's elements as part of one alternative.
func (c *compiler) seq(e Expr, out *[]elem) {
	switch e.kind {
	case eSeq:
		for _, s := range e.subs {
			c.seq(s, out)
		}
	case eRange:
		var s byteSet
		for x := int(e.lo); x <= int(e.hi); x++ {
			s[x>>6] |= 1 << (x & 63)
		}
		*out = append(*out, elem{kind: kTerm, arg: c.set(s)})
	case eLit:
		for _, b := range e.lit {
			var s byteSet
			s[b>>6] |= 1 << (b & 63)
			*out = append(*out, elem{kind: kTerm, arg: c.set(s)})
		}
	case eRef:
		*out = append(*out, elem{kind: kRef, arg: int32(c.b.names[e.name])})
	case eRule:
		*out = append(*out, elem{kind: kRef, arg: int32(e.min)})
	case eAlt:
		if len(e.subs) == 1 {
			c.seq(e.subs[0], out)
			return
		}
		r := c.newRule()
		c.define(r, e)
		*out = append(*out, elem{kind: kRef, arg: r})
	case eRep:
		x := e.subs[0]
		for range e.min {
			c.seq(x, out)
		}
		switch {
		case e.max < 0:
			// r ::= x r | ε (right recursion: the matcher's tail calls keep
			// its stacks flat).
			r := c.newRule()
			c.define(r, Alt(Seq(x, Expr{kind: eRule, min: int(r)}), Empty()))
			*out = append(*out, elem{kind: kRef, arg: r})
		case e.max > e.min:
			// x (x (x)?)? : one way to match each count.
			opt := Empty()
			for range e.max - e.min {
				opt = Alt(Seq(x, opt), Empty())
			}
			r := c.newRule()
			c.define(r, opt)
			*out = append(*out, elem{kind: kRef, arg: r})
		}
	}
}
