package toolcall

import (
	"reflect"
	"testing"
)

// FuzzParse: no panic; output without calls comes back unchanged; a
// stream in any two-or-more-piece split agrees with Parse.
func FuzzParse(f *testing.F) {
	for _, c := range parseCases {
		f.Add(c.text, uint8(c.f), uint16(len(c.text)/2), uint16(len(c.text)/3))
	}
	f.Fuzz(func(t *testing.T, text string, format uint8, cut1, cut2 uint16) {
		p := &Parser{Format: Format(format%2 + 1)}
		if format&4 != 0 {
			p.Names = known
		}
		content, calls := p.Parse(text)
		if len(calls) == 0 && content != text {
			t.Fatalf("no calls but content %q != text %q", content, text)
		}
		a, b := int(cut1)%(len(text)+1), int(cut2)%(len(text)+1)
		if a > b {
			a, b = b, a
		}
		sc, scalls := collect(t, p, []string{text[:a], text[a:b], text[b:]})
		if sc != content || !reflect.DeepEqual(scalls, calls) {
			t.Fatalf("stream %q %+v, parse %q %+v", sc, scalls, content, calls)
		}
	})
}
