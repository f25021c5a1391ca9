package tokenizer

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Known pre-tokenizer regexes. HuggingFace runs them with Oniguruma, whose
// \s, \p{L} and \p{N} are Unicode-aware and which supports the lookahead in
// `\s+(?!\S)`; Go's regexp has neither, so each is implemented as a scanner
// that returns the end of the leftmost-first match starting at a position.
const (
	// PatternGPT2 is GPT-2's ByteLevel regex (use_regex: true).
	PatternGPT2 = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
	// PatternQwen2 is the Split regex of Qwen2/Qwen2.5/Qwen3.
	PatternQwen2 = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// PatternCL100K is the cl100k_base / Llama-3 Split regex: Qwen2's with
	// numbers grouped in runs of up to three digits.
	PatternCL100K = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// Character classes the scanners distinguish. Every rune is in exactly one;
// invalid UTF-8 bytes count as clsOther, one byte each.
const (
	clsOther   uint8 = iota // not \s, \p{L} or \p{N}
	clsLetter               // \p{L}
	clsNumber               // \p{N}
	clsSpace                // \s other than \r and \n
	clsNewline              // \r or \n
)

var asciiClass [utf8.RuneSelf]uint8

func init() {
	for c := 0; c < utf8.RuneSelf; c++ {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			asciiClass[c] = clsLetter
		case c >= '0' && c <= '9':
			asciiClass[c] = clsNumber
		case c == '\r' || c == '\n':
			asciiClass[c] = clsNewline
		case c == ' ' || c == '\t' || c == '\v' || c == '\f':
			asciiClass[c] = clsSpace
		default:
			asciiClass[c] = clsOther
		}
	}
}

// classAt returns the class and byte width of the rune at s[i].
func classAt(s string, i int) (uint8, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return asciiClass[c], 1
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && n <= 1 {
		return clsOther, 1
	}
	switch {
	case unicode.IsLetter(r):
		return clsLetter, n
	case unicode.IsNumber(r):
		return clsNumber, n
	case unicode.IsSpace(r): // exactly Unicode White_Space, like Oniguruma's \s
		return clsSpace, n
	}
	return clsOther, n
}

// runOf returns the end of the run of runes of class cls starting at i.
func runOf(s string, i int, cls uint8) int {
	for i < len(s) {
		c, n := classAt(s, i)
		if c != cls {
			break
		}
		i += n
	}
	return i
}

// spaceRun returns the end of the \s+ run at i and the index of its last \r
// or \n (-1 if none).
func spaceRun(s string, i int) (end, lastNL int) {
	lastNL = -1
	for i < len(s) {
		c, n := classAt(s, i)
		if c == clsNewline {
			lastNL = i
		} else if c != clsSpace {
			break
		}
		i += n
	}
	return i, lastNL
}

// contraction returns the length of 's|'t|'re|'ve|'m|'ll|'d at s[i] (which
// is '\”), or 0. fold makes the letters case-insensitive (ASCII only:
// Oniguruma does not fold U+017F to 's' here, as HuggingFace output shows).
func contraction(s string, i int, fold bool) int {
	lower := func(c byte) byte {
		if fold && c >= 'A' && c <= 'Z' {
			return c + 'a' - 'A'
		}
		return c
	}
	if i+1 >= len(s) {
		return 0
	}
	switch lower(s[i+1]) {
	case 's', 't', 'm', 'd':
		return 2
	case 'r', 'v':
		if i+2 < len(s) && lower(s[i+2]) == 'e' {
			return 3
		}
	case 'l':
		if i+2 < len(s) && lower(s[i+2]) == 'l' {
			return 3
		}
	}
	return 0
}

// trailingSpace resolves `\s+(?!\S)|\s+` for a whitespace run [i,end):
// the lookahead gives back the last whitespace rune when a non-space
// follows, unless that would leave the match empty.
func trailingSpace(s string, i, end int) int {
	if end == len(s) {
		return end
	}
	_, last := utf8.DecodeLastRuneInString(s[i:end])
	if end-last > i {
		return end - last
	}
	return end
}

// scanGPT2 returns the end of PatternGPT2's match at i.
func scanGPT2(s string, i int) int {
	if s[i] == '\'' {
		if n := contraction(s, i, false); n > 0 {
			return i + n
		}
	}
	c, n := classAt(s, i)
	if s[i] == ' ' && i+1 < len(s) {
		if nc, nn := classAt(s, i+1); nc == clsLetter || nc == clsNumber || nc == clsOther {
			return runOf(s, i+1+nn, nc)
		}
	}
	if c == clsLetter || c == clsNumber || c == clsOther {
		return runOf(s, i+n, c)
	}
	end, _ := spaceRun(s, i)
	return trailingSpace(s, i, end)
}

// scanQwen2 returns the end of PatternQwen2's match at i (maxDigits 1) or
// PatternCL100K's (maxDigits 3).
func scanQwen2(s string, i int, maxDigits int) int {
	if s[i] == '\'' {
		if n := contraction(s, i, true); n > 0 {
			return i + n
		}
	}
	c, n := classAt(s, i)
	// [^\r\n\p{L}\p{N}]?\p{L}+
	if c == clsLetter {
		return runOf(s, i+n, clsLetter)
	}
	if (c == clsOther || c == clsSpace) && i+n < len(s) {
		if nc, nn := classAt(s, i+n); nc == clsLetter {
			return runOf(s, i+n+nn, clsLetter)
		}
	}
	// \p{N}{1,maxDigits}
	if c == clsNumber {
		j := i + n
		for k := 1; k < maxDigits && j < len(s); k++ {
			nc, nn := classAt(s, j)
			if nc != clsNumber {
				break
			}
			j += nn
		}
		return j
	}
	// ' ?[^\s\p{L}\p{N}]+[\r\n]*'
	k := -1
	if c == clsOther {
		k = i + n
	} else if s[i] == ' ' && i+1 < len(s) {
		if nc, nn := classAt(s, i+1); nc == clsOther {
			k = i + 1 + nn
		}
	}
	if k >= 0 {
		k = runOf(s, k, clsOther)
		for k < len(s) && (s[k] == '\r' || s[k] == '\n') {
			k++
		}
		return k
	}
	// \s*[\r\n]+ then \s+(?!\S) then \s+
	end, lastNL := spaceRun(s, i)
	if lastNL >= 0 {
		return lastNL + 1
	}
	return trailingSpace(s, i, end)
}

// Split behaviours, as HuggingFace's SplitDelimiterBehavior.
const (
	behaviorRemoved            = "Removed"
	behaviorIsolated           = "Isolated"
	behaviorMergedWithPrevious = "MergedWithPrevious"
	behaviorMergedWithNext     = "MergedWithNext"
	behaviorContiguous         = "Contiguous"
)

// splitStage is one pre-tokenizer step: it finds matches of a pattern and
// turns matches and the gaps between them into pieces per behavior.
type splitStage struct {
	pattern  string // as written in tokenizer.json, for Save
	literal  bool   // pattern is {"String": ...}
	behavior string
	invert   bool

	scan func(s string, i int) int // known regexes: match end at i
	re   *regexp.Regexp            // other lookahead-free regexes
}

func newSplitStage(pattern string, literal bool, behavior string, invert bool) (*splitStage, error) {
	st := &splitStage{pattern: pattern, literal: literal, behavior: behavior, invert: invert}
	switch behavior {
	case behaviorRemoved, behaviorIsolated, behaviorMergedWithPrevious, behaviorMergedWithNext, behaviorContiguous:
	default:
		return nil, fmt.Errorf("unsupported split behavior %q", behavior)
	}
	switch {
	case literal:
		st.re = regexp.MustCompile(regexp.QuoteMeta(pattern))
	case pattern == PatternGPT2:
		st.scan = scanGPT2
	case pattern == PatternQwen2:
		st.scan = func(s string, i int) int { return scanQwen2(s, i, 1) }
	case pattern == PatternCL100K:
		st.scan = func(s string, i int) int { return scanQwen2(s, i, 3) }
	default:
		re, err := compileOnigLike(pattern)
		if err != nil {
			return nil, err
		}
		st.re = re
	}
	return st, nil
}

// whiteSpaceClass is Unicode White_Space, Oniguruma's \s.
const whiteSpaceClass = `\pZ\t-\r\x{85}`

// compileOnigLike compiles a lookaround-free regex with Go's regexp after
// widening \s and \S to Unicode White_Space, which is what they mean in
// HuggingFace's Oniguruma. Go's leftmost-first matching agrees with a
// backtracking engine on such patterns.
func compileOnigLike(pattern string) (*regexp.Regexp, error) {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch {
		case c == '\\' && i+1 < len(pattern):
			d := pattern[i+1]
			i++
			switch {
			case d == 's' && inClass:
				b.WriteString(whiteSpaceClass)
			case d == 's':
				b.WriteString("[" + whiteSpaceClass + "]")
			case d == 'S' && !inClass:
				b.WriteString("[^" + whiteSpaceClass + "]")
			case d == 'S':
				return nil, fmt.Errorf("unsupported regex %q: \\S inside a class", pattern)
			default:
				b.WriteByte(c)
				b.WriteByte(d)
			}
		case c == '[' && !inClass:
			inClass = true
			b.WriteByte(c)
			if i+1 < len(pattern) && pattern[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(pattern) && pattern[i+1] == ']' {
				b.WriteByte(']')
				i++
			}
		case c == ']' && inClass:
			inClass = false
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("unsupported regex %q (lookaround and backreferences need a hand-coded scanner): %v", pattern, err)
	}
	return re, nil
}

// appendSplits appends the [start,end) pieces of s (offsets plus base) to dst.
func (st *splitStage) appendSplits(dst []int, s string, base int) []int {
	if st.scan != nil && st.behavior == behaviorIsolated && !st.invert {
		// Every position starts a match, so the matches tile s.
		for i := 0; i < len(s); {
			j := st.scan(s, i)
			dst = append(dst, base+i, base+j)
			i = j
		}
		return dst
	}
	type piece struct {
		a, b    int
		isMatch bool
	}
	var pieces []piece
	add := func(a, b int, m bool) {
		if b > a {
			pieces = append(pieces, piece{a, b, m != st.invert})
		}
	}
	prev := 0
	if st.scan != nil {
		for i := 0; i < len(s); {
			j := st.scan(s, i)
			add(i, j, true)
			i = j
		}
		prev = len(s)
	} else {
		for _, m := range st.re.FindAllStringIndex(s, -1) {
			add(prev, m[0], false)
			add(m[0], m[1], true)
			prev = m[1]
		}
	}
	add(prev, len(s), false)
	emit := func(a, b int) { dst = append(dst, base+a, base+b) }
	switch st.behavior {
	case behaviorRemoved:
		for _, p := range pieces {
			if !p.isMatch {
				emit(p.a, p.b)
			}
		}
	case behaviorIsolated:
		for _, p := range pieces {
			emit(p.a, p.b)
		}
	case behaviorMergedWithPrevious, behaviorContiguous:
		// The folds of HuggingFace's SplitDelimiterBehavior.
		var out []piece
		prevMatch := false
		for _, p := range pieces {
			merge := p.isMatch && !prevMatch
			if st.behavior == behaviorContiguous {
				merge = p.isMatch == prevMatch
			}
			if merge && len(out) > 0 {
				out[len(out)-1].b = p.b
			} else {
				out = append(out, p)
			}
			prevMatch = p.isMatch
		}
		for _, p := range out {
			emit(p.a, p.b)
		}
	case behaviorMergedWithNext:
		var out []piece
		prevMatch := false
		for k := len(pieces) - 1; k >= 0; k-- {
			p := pieces[k]
			if p.isMatch && !prevMatch && len(out) > 0 {
				out[len(out)-1].a = p.a
			} else {
				out = append(out, p)
			}
			prevMatch = p.isMatch
		}
		for k := len(out) - 1; k >= 0; k-- {
			emit(out[k].a, out[k].b)
		}
	}
	return dst
}
