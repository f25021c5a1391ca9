package grammar

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// byteVocab is a vocabulary of the 256 single bytes: Match and Prefix need
// no tokens, but a Matcher needs a Vocab.
func byteVocab() *Vocab {
	toks := make([][]byte, 256)
	for i := range toks {
		toks[i] = []byte{byte(i)}
	}
	return NewVocab(toks, nil, 0)
}

func matcher(t *testing.T, b *Builder, root string) *Matcher {
	t.Helper()
	g, err := b.Build(root)
	if err != nil {
		t.Fatal(err)
	}
	return NewMatcher(g, byteVocab())
}

func TestJSONObjectTable(t *testing.T) {
	m := NewMatcher(JSONObject(), byteVocab())
	for _, tc := range []struct {
		in            string
		match, prefix bool
	}{
		{`{}`, true, true},
		{`{ }`, true, true},
		{`{"a":1}`, true, true},
		{`{"a": [1, 2.5, -0.5e+10, true, false, null, "x\n\"\u00e9\ud7ff"], "b": {"c": {}}}`, true, true},
		{"{\n  \"a\": 1\n}", true, true},
		{`{"é✓😀": "日本"}`, true, true},
		{`{"a":1`, false, true},
		{`{"a`, false, true},
		{`{"a":-`, false, true},
		{`{"a":1,}`, false, false},
		{`{,}`, false, false},
		{`{"a" 1}`, false, false},
		{`[]`, false, false},  // the top level is an object
		{` {}`, false, false}, // no leading space
		{`{} `, false, false}, // nothing after the value
		{`{"a":01}`, false, false},
		{`{"a":1.`, false, true}, // "1." may still get its digits
		{`{"a":1.}x`, false, false},
		{`{"a":1e400}`, false, false},             // a three-digit exponent overflows float64
		{`{"a":12345678901234567}`, false, false}, // 17 digits
		{`{"a":"\x"}`, false, false},
		{`{"a":"\ud800"}`, false, false}, // lone surrogate escape
		{"{\"a\":\"\x01\"}", false, false},
		{"{\"a\":\"\xff\"}", false, false},         // not UTF-8
		{"{\"a\":\"\xed\xa0\x80\"}", false, false}, // an encoded surrogate
		{"{\"a\":\"\xc0\xaf\"}", false, false},     // overlong
		{`{"a":tru}`, false, false},
		{`{"a":true}`, true, true},
		{"{\n" + strings.Repeat(" ", 20) + "\"a\":1}", true, true},
		{"{\n" + strings.Repeat(" ", 21) + "\"a\":1}", false, false},
	} {
		if got := m.Match([]byte(tc.in)); got != tc.match {
			t.Errorf("Match(%q) = %v, want %v", tc.in, got, tc.match)
		}
		if got := m.Prefix([]byte(tc.in)); got != tc.prefix {
			t.Errorf("Prefix(%q) = %v, want %v", tc.in, got, tc.prefix)
		}
		if tc.match {
			var v any
			if err := json.Unmarshal([]byte(tc.in), &v); err != nil {
				t.Errorf("%q matched but does not parse: %v", tc.in, err)
			}
		}
	}
}

func TestCharsUTF8(t *testing.T) {
	// Every code point (surrogates excepted) in a class matches its UTF-8
	// encoding, and no other code point does.
	b := NewBuilder()
	b.Define("r", Chars('a', 'z', 0x7F, 0x80, 0x7FF, 0x800, 0xFFF, 0x1000, 0xD7FF, 0xE000, 0xFFFF, 0x10000, 0x10FFFF, 0x10FFFF))
	m := matcher(t, b, "r")
	in := func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 0x7F && r <= 0x80 || r >= 0x7FF && r <= 0x800 || r >= 0xFFF && r <= 0x1000 ||
			r == 0xD7FF || r == 0xE000 || r == 0xFFFF || r == 0x10000 || r == 0x10FFFF
	}
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue
		}
		if got := m.Match(utf8.AppendRune(nil, r)); got != in(r) {
			t.Fatalf("U+%04X: match %v, want %v", r, got, in(r))
		}
	}
	n := NewMatcher(mustBuild(t, func(b *Builder) { b.Define("r", NotChars('"', '"', 0, 0x1F)) }, "r"), byteVocab())
	for r := rune(0); r <= utf8.MaxRune; r += 7 {
		if r >= 0xD800 && r <= 0xDFFF {
			continue
		}
		want := r != '"' && r > 0x1F
		if got := n.Match(utf8.AppendRune(nil, r)); got != want {
			t.Fatalf("NotChars U+%04X: match %v, want %v", r, got, want)
		}
	}
	// Bytes that are no UTF-8 at all.
	for _, bad := range []string{"\x80", "\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xe0\x80\x80"} {
		if n.Match([]byte(bad)) {
			t.Errorf("NotChars matched invalid UTF-8 %q", bad)
		}
	}
}

func mustBuild(t *testing.T, def func(*Builder), root string) *Grammar {
	t.Helper()
	b := NewBuilder()
	def(b)
	g, err := b.Build(root)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestRepetitionAndRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		def  func(*Builder)
		yes  []string
		no   []string
	}{
		{"rep2-4", func(b *Builder) { b.Define("r", Rep(Lit("ab"), 2, 4)) },
			[]string{"abab", "ababab", "abababab"}, []string{"", "ab", "ababababab", "aba"}},
		{"star", func(b *Builder) { b.Define("r", Seq(Lit("x"), Star(Lit("y")), Lit("z"))) },
			[]string{"xz", "xyz", "xyyyyyyz"}, []string{"x", "xy", "yz", "xzz"}},
		{"plus", func(b *Builder) { b.Define("r", Plus(Chars('0', '9'))) },
			[]string{"0", "0123456789"}, []string{"", "a", "1a"}},
		{"nested", func(b *Builder) {
			b.Define("r", Alt(Seq(Lit("("), Ref("r"), Lit(")")), Empty()))
		}, []string{"", "()", "((()))"}, []string{"(", "())", ")("}},
		{"forward-ref", func(b *Builder) {
			b.Define("r", Seq(Ref("a"), Ref("a")))
			b.Define("a", Alt(Lit("x"), Lit("xy")))
		}, []string{"xx", "xyx", "xxy", "xyxy"}, []string{"x", "xyy", "xyxyx"}},
		{"empty-alt", func(b *Builder) { b.Define("r", Alt()) }, nil, []string{"", "a"}},
	} {
		m := NewMatcher(mustBuild(t, tc.def, "r"), byteVocab())
		for _, s := range tc.yes {
			if !m.Match([]byte(s)) {
				t.Errorf("%s: %q rejected", tc.name, s)
			}
		}
		for _, s := range tc.no {
			if m.Match([]byte(s)) {
				t.Errorf("%s: %q accepted", tc.name, s)
			}
		}
	}
}

func TestBuildErrors(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		def        func(*Builder)
	}{
		{"left", "left-recursive", func(b *Builder) { b.Define("r", Alt(Seq(Ref("r"), Lit("a")), Lit("a"))) }},
		{"hidden-left", "left-recursive", func(b *Builder) {
			b.Define("r", Seq(Ref("n"), Ref("r"), Lit("a")))
			b.Define("n", Opt(Lit("x")))
		}},
		{"undefined", "not defined", func(b *Builder) { b.Define("r", Ref("nope")) }},
	} {
		b := NewBuilder()
		tc.def(b)
		if _, err := b.Build("r"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := NewBuilder().Build("r"); err == nil {
		t.Error("missing root accepted")
	}
}
