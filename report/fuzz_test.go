package report

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

// FuzzParseMetrics: any input either parses into well-formed series or
// fails with an error naming the file and a line; it never panics. Parsed
// series are sorted by step with no step repeated, and render without a
// non-finite coordinate.
func FuzzParseMetrics(f *testing.F) {
	for _, s := range []string{sftMetrics, dpoMetrics, ppoMetrics, grpoMetrics,
		`{"step":1,"kl":NaN,"x":-Infinity,"s":"NaN\"Infinity"}`, `{"step":1e999}`, `{"step":2,"lo`,
		"{}\n[]\nnull\n", `{"step":1,"a":{"b":[1,{"c":null}]}}`, "\xff\xfe",
		// domains whose span overflows or underflows
		"{\"step\":1e308,\"loss\":1}\n{\"step\":-1e308,\"loss\":2}\n", "{\"step\":1,\"loss\":1e308}\n{\"step\":2,\"loss\":-1e308}\n",
		"{\"step\":1,\"loss\":5e-324}\n{\"step\":2,\"loss\":0}\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		m, err := ParseMetrics(strings.NewReader(in), "f.jsonl")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.jsonl:") {
				t.Fatalf("error without file:line: %v", err)
			}
			return
		}
		if len(m.Keys) != len(m.Series) {
			t.Fatalf("%d keys, %d series", len(m.Keys), len(m.Series))
		}
		for k, s := range m.Series {
			for i, p := range s {
				if math.IsNaN(p.Step) || math.IsInf(p.Step, 0) || (i > 0 && p.Step <= s[i-1].Step) {
					t.Fatalf("%s: steps %v", k, s)
				}
			}
		}
		var b bytes.Buffer
		if err := (&Report{Runs: []*Run{{Name: "f", Metrics: m}}}).WriteHTML(&b); err != nil {
			t.Fatal(err)
		}
		if s := attrNonFinite.FindString(b.String()); s != "" {
			t.Fatalf("non-finite attribute %s", s)
		}
	})
}
