package endpoint

import "testing"

func TestParse(t *testing.T) {
	for _, c := range []struct {
		spec string
		want Spec
		bad  bool
	}{
		{spec: "http:http://127.0.0.1:8080/v1#tiny", want: Spec{Kind: "http", Arg: "http://127.0.0.1:8080/v1#tiny", HasArg: true, URL: "http://127.0.0.1:8080/v1", Model: "tiny"}},
		{spec: "http://h/v1", want: Spec{Kind: "http", Arg: "//h/v1", HasArg: true, URL: "http://h/v1"}},
		{spec: " https://api.example.com/v1#gpt-x ", want: Spec{Kind: "http", Arg: "//api.example.com/v1#gpt-x", HasArg: true, URL: "https://api.example.com/v1", Model: "gpt-x"}},
		{spec: "https:http://h:9/x", want: Spec{Kind: "http", Arg: "http://h:9/x", HasArg: true, URL: "http://h:9/x"}},
		{spec: "http:ftp://x", bad: true},
		{spec: "http:", bad: true},
		{spec: "local:/models/a", want: Spec{Kind: "local", Arg: "/models/a", HasArg: true}},
		{spec: "/models/a", want: Spec{Arg: "/models/a"}},
		{spec: "rule:regex:a:b", want: Spec{Kind: "rule", Arg: "regex:a:b", HasArg: true}},
		{spec: "exact-match", want: Spec{Arg: "exact-match"}},
		{spec: "exact-match:", want: Spec{Kind: "exact-match", HasArg: true}},
	} {
		got, err := Parse(c.spec)
		if c.bad {
			if err == nil {
				t.Errorf("Parse(%q) = %+v, want an error", c.spec, got)
			}
			continue
		}
		c.want.Raw = got.Raw
		if err != nil || got != c.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", c.spec, got, err, c.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"http:http://h/v1#m", "https://x", "local:d", "rule:regex:a", "d", "http:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := Parse(spec)
		if err != nil {
			return
		}
		if s.Kind == KindHTTP && s.URL == "" {
			t.Fatalf("%q: an http spec without a URL", spec)
		}
		if s.HasArg && s.Kind != KindHTTP && s.Kind+":"+s.Arg != s.Raw {
			t.Fatalf("%q: %+v does not put back together", spec, s)
		}
	})
}
