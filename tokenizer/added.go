package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// AddedToken is a token matched verbatim in the input before
// pre-tokenization, with HuggingFace's flags.
type AddedToken struct {
	ID         int
	Content    string
	Special    bool // skipped by DecodeOptions.SkipSpecial; not matched under SplitSpecialTokens
	Normalized bool // matched against the normalized text rather than the raw input
	LStrip     bool // absorbs whitespace on its left
	RStrip     bool // absorbs whitespace on its right
	SingleWord bool // matches only when not adjacent to word characters
}

// matcher finds added tokens leftmost-longest, as HuggingFace's Aho-Corasick
// (MatchKind::LeftmostLongest) does, using a byte trie: the set is small and
// nearly every input position is rejected by the root's first-byte table.
type matcher struct {
	root  [256]int32 // first byte -> node, 0 = none
	nodes []trieNode // nodes[0] unused
}

type trieNode struct {
	tok   int32 // index into the token list, -1 if no token ends here
	edges []trieEdge
}

type trieEdge struct {
	b    byte
	node int32
}

func newMatcher(contents []string) *matcher {
	m := &matcher{nodes: []trieNode{{tok: -1}}}
	for idx, c := range contents {
		if c == "" {
			continue
		}
		n := m.root[c[0]]
		if n == 0 {
			n = int32(len(m.nodes))
			m.nodes = append(m.nodes, trieNode{tok: -1})
			m.root[c[0]] = n
		}
		for i := 1; i < len(c); i++ {
			next := int32(0)
			for _, e := range m.nodes[n].edges {
				if e.b == c[i] {
					next = e.node
					break
				}
			}
			if next == 0 {
				next = int32(len(m.nodes))
				m.nodes = append(m.nodes, trieNode{tok: -1})
				m.nodes[n].edges = append(m.nodes[n].edges, trieEdge{c[i], next})
			}
			n = next
		}
		if m.nodes[n].tok < 0 {
			m.nodes[n].tok = int32(idx)
		}
	}
	return m
}

func (m *matcher) empty() bool { return len(m.nodes) == 1 }

// longestAt returns the token index and end of the longest token starting
// at s[i], or -1.
func (m *matcher) longestAt(s string, i int) (tok, end int) {
	tok = -1
	n := m.root[s[i]]
	for j := i + 1; n != 0; j++ {
		if t := m.nodes[n].tok; t >= 0 {
			tok, end = int(t), j
		}
		if j == len(s) {
			break
		}
		next := int32(0)
		for _, e := range m.nodes[n].edges {
			if e.b == s[j] {
				next = e.node
				break
			}
		}
		n = next
	}
	return tok, end
}

// segment is a piece of text: either an added token (tok >= 0, index into
// the matcher's token list) or text still to be tokenized.
type segment struct {
	a, b int
	tok  int
}

// isWordRune approximates Rust regex's Unicode \w (Alphabetic, marks,
// decimal digits, connector punctuation, join controls).
func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.M, r) ||
		unicode.Is(unicode.Pc, r) || unicode.Is(unicode.Nl, r) ||
		unicode.Is(unicode.Other_Alphabetic, r) || r == 0x200C || r == 0x200D
}

// findAdded splits s into text and added-token segments following
// HuggingFace's AddedVocabulary::find_matches, including the single_word,
// lstrip and rstrip adjustments. skip reports tokens not to match.
func (m *matcher) findAdded(dst []segment, s string, toks []*AddedToken, skip func(*AddedToken) bool) []segment {
	if m.empty() || s == "" {
		return append(dst, segment{0, len(s), -1})
	}
	startOffset := 0
	for i := 0; i < len(s); {
		if m.root[s[i]] == 0 {
			i++
			continue
		}
		ti, stop := m.longestAt(s, i)
		if ti < 0 {
			i++
			continue
		}
		t := toks[ti]
		start := i
		i = stop // matches never overlap, even discarded ones
		if skip != nil && skip(t) {
			continue
		}
		if t.SingleWord {
			if start > 0 {
				if r, _ := utf8.DecodeLastRuneInString(s[:start]); isWordRune(r) {
					continue
				}
			}
			if stop < len(s) {
				if r, _ := utf8.DecodeRuneInString(s[stop:]); isWordRune(r) {
					continue
				}
			}
		}
		if t.LStrip {
			ns := start
			for ns > startOffset {
				r, n := utf8.DecodeLastRuneInString(s[:ns])
				if !unicode.IsSpace(r) {
					break
				}
				ns -= n
			}
			start = ns
		}
		if t.RStrip {
			for stop < len(s) {
				r, n := utf8.DecodeRuneInString(s[stop:])
				if !unicode.IsSpace(r) {
					break
				}
				stop += n
			}
			i = stop
		}
		if startOffset < start {
			dst = append(dst, segment{startOffset, start, -1})
		}
		dst = append(dst, segment{start, stop, ti})
		startOffset = stop
	}
	if startOffset < len(s) {
		dst = append(dst, segment{startOffset, len(s), -1})
	}
	return dst
}
