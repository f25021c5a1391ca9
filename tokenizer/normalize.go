package tokenizer

import (
	"fmt"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// normStep is one normalizer from tokenizer.json.
type normStep struct {
	kind string    // "NFC", "NFD", "NFKC", "NFKD", "Lowercase"
	form norm.Form // for the Unicode forms
}

func newNormStep(kind string) (normStep, error) {
	switch kind {
	case "NFC":
		return normStep{kind, norm.NFC}, nil
	case "NFD":
		return normStep{kind, norm.NFD}, nil
	case "NFKC":
		return normStep{kind, norm.NFKC}, nil
	case "NFKD":
		return normStep{kind, norm.NFKD}, nil
	case "Lowercase":
		return normStep{kind: kind}, nil
	}
	return normStep{}, fmt.Errorf("unsupported normalizer type %q", kind)
}

// normalize applies the steps. align, when not nil, maps each byte offset of
// the result (and its length) to an offset in s, so token offsets can be
// reported against the caller's text; nil means the text did not change.
func normalize(steps []normStep, s string) (string, []int32) {
	var align []int32
	for _, st := range steps {
		out, a := st.apply(s)
		if a == nil {
			continue
		}
		if align != nil {
			for i := range a {
				a[i] = align[a[i]]
			}
		}
		s, align = out, a
	}
	return s, align
}

func (st normStep) apply(s string) (string, []int32) {
	if st.kind == "Lowercase" {
		if strings.ToLower(s) == s {
			return s, nil
		}
		var b strings.Builder
		align := make([]int32, 0, len(s)+1)
		for i, r := range s {
			n := b.Len()
			b.WriteString(strings.ToLower(string(r)))
			for k := n; k < b.Len(); k++ {
				align = append(align, int32(i))
			}
		}
		return b.String(), append(align, int32(len(s)))
	}
	if st.form.IsNormalString(s) {
		return s, nil
	}
	// norm.Iter yields normalization segments; every output byte of a
	// segment maps to the segment's input start.
	var it norm.Iter
	it.InitString(st.form, s)
	out := make([]byte, 0, len(s)+8)
	align := make([]int32, 0, len(s)+9)
	for !it.Done() {
		start := it.Pos()
		seg := it.Next()
		out = append(out, seg...)
		for range seg {
			align = append(align, int32(start))
		}
	}
	return string(out), append(align, int32(len(s)))
}
