package data

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/align-go/align/chat"
	"github.com/parquet-go/parquet-go"
)

// writeParquet writes rows (maps matching schema) with parquet-go.
func writeParquet(t *testing.T, name string, schema *parquet.Schema, rows []map[string]any, opts ...parquet.WriterOption) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[map[string]any](f, append([]parquet.WriterOption{schema}, opts...)...)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

func mrow(role, content any) map[string]any { return map[string]any{"role": role, "content": content} }

// hfMessages is the layout pyarrow gives a list<struct<content, role>>
// column: everything optional, three-level LIST.
func hfMessages() parquet.Node {
	return parquet.Optional(parquet.List(parquet.Optional(parquet.Group{
		"role":    parquet.Optional(parquet.String()),
		"content": parquet.Optional(parquet.String()),
	})))
}

func TestParquetFlat(t *testing.T) {
	type row struct {
		Prompt     string `parquet:"prompt"`
		Completion string `parquet:"completion"`
		ID         int64  `parquet:"id"`
	}
	p := filepath.Join(t.TempDir(), "train.parquet")
	if err := parquet.WriteFile(p, []row{{"The sky is", " blue.", 1}, {"Grass is", " green.", 2}}); err != nil {
		t.Fatal(err)
	}
	got, rep, err := ReadSFT(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []SFTExample{
		{Kind: KindPromptCompletion, PromptText: "The sky is", CompletionText: " blue.", Loc: p + ": row 0"},
		{Kind: KindPromptCompletion, PromptText: "Grass is", CompletionText: " green.", Loc: p + ": row 1"},
	}
	if !reflect.DeepEqual(got, want) || rep.Format != FormatPromptCompletion {
		t.Fatalf("got %+v %+v", got, rep)
	}
}

func TestParquetNestedStructTags(t *testing.T) {
	type msg struct {
		Role    string `parquet:"role"`
		Content string `parquet:"content"`
	}
	type listRow struct {
		Messages []msg `parquet:"messages,list"`
	}
	type bareRow struct {
		Messages []msg `parquet:"messages"` // a bare repeated group, no LIST
	}
	conv := []msg{{"user", "q1"}, {"assistant", "r1"}, {"user", "q2"}, {"assistant", "r2"}}
	want := msgs(u("q1"), a("r1"), u("q2"), a("r2"))
	dir := t.TempDir()
	for name, rows := range map[string]any{
		"list.parquet": []listRow{{Messages: conv[:2]}, {Messages: conv}},
		"bare.parquet": []bareRow{{Messages: conv[:2]}, {Messages: conv}},
	} {
		p := filepath.Join(dir, name)
		var err error
		switch rows := rows.(type) {
		case []listRow:
			err = parquet.WriteFile(p, rows)
		case []bareRow:
			err = parquet.WriteFile(p, rows)
		}
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := ReadSFT(p, Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got) != 2 || !reflect.DeepEqual(got[0].Messages, want[:2]) || !reflect.DeepEqual(got[1].Messages, want) {
			t.Fatalf("%s: got %+v", name, got)
		}
	}
}

func TestParquetOptionalNested(t *testing.T) {
	schema := parquet.NewSchema("hf", parquet.Group{
		"messages": hfMessages(),
		"source":   parquet.Optional(parquet.String()),
	})
	rows := []map[string]any{
		{"messages": []any{mrow("user", "q"), mrow("assistant", "r")}, "source": nil},
		{"messages": []any{mrow("user", "q"), mrow("assistant", nil)}, "source": "x"},
		{"messages": nil, "source": "x"},
		{"messages": []any{}, "source": "x"},
		{"messages": []any{mrow("system", "S"), nil, mrow("assistant", "r")}, "source": "x"},
		// parquet-go writes "" to an optional column as null, so the empty
		// string case lives in the arrow fixture instead.
		{"messages": []any{mrow("system", "S"), mrow("user", "q2"), mrow("assistant", "r")}, "source": "x"},
	}
	p := writeParquet(t, "train.parquet", schema, rows)
	got, rep, err := ReadSFT(p, Options{SkipBadRows: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []SFTExample{
		{Kind: KindConversation, Conversational: true, Messages: msgs(u("q"), a("r")), Loc: p + ": row 0"},
		{Kind: KindConversation, Conversational: true, Messages: msgs(sys("S"), u("q2"), a("r")), Loc: p + ": row 5"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\n%q", got, rep.FirstErrors)
	}
	wantErrs := []string{
		p + `: row 1: field "messages[1].content": want string, got null`,
		p + `: row 2: field "messages": want list of messages, got null`,
		p + `: row 3: field "messages": no user or assistant turns`,
		p + `: row 4: field "messages[1]": want object, got null`,
	}
	if !reflect.DeepEqual(rep.FirstErrors, wantErrs) || rep.Rows != 2 || rep.Skipped != 4 {
		t.Fatalf("report %+v", rep)
	}
}

func TestParquetWrongType(t *testing.T) {
	schema := parquet.NewSchema("m", parquet.Group{
		"messages": parquet.List(parquet.Group{
			"role":    parquet.Int(32),
			"content": parquet.String(),
		}),
	})
	p := writeParquet(t, "train.parquet", schema, []map[string]any{
		{"messages": []any{map[string]any{"role": int32(1), "content": "q"}}},
	})
	_, _, err := ReadSFT(p, Options{})
	checkErr(t, err, p, `train.parquet: row 0: field "messages[0].role": want string, got number`)
}

func TestParquetRowGroups(t *testing.T) {
	schema := parquet.NewSchema("pc", parquet.Group{
		"prompt":     parquet.String(),
		"completion": parquet.Optional(parquet.String()),
	})
	var rows []map[string]any
	for i := range 7 {
		c := any("c")
		if i == 3 || i == 6 {
			c = nil
		}
		rows = append(rows, map[string]any{"prompt": "p", "completion": c})
	}
	p := writeParquet(t, "train.parquet", schema, rows, parquet.MaxRowsPerRowGroup(2), parquet.PageBufferSize(64))
	_, _, err := ReadSFT(p, Options{})
	checkErr(t, err, p, `train.parquet: row 3: field "completion": want string or list of messages, got null`)
	got, rep, err := ReadSFT(p, Options{SkipBadRows: true})
	if err != nil {
		t.Fatal(err)
	}
	locs := []string{}
	for _, ex := range got {
		locs = append(locs, ex.Loc[len(p):])
	}
	if !reflect.DeepEqual(locs, []string{": row 0", ": row 1", ": row 2", ": row 4", ": row 5"}) || rep.Skipped != 2 {
		t.Fatalf("locs %v report %+v", locs, rep)
	}
}

func TestParquetPreferenceAndPrompts(t *testing.T) {
	schema := parquet.NewSchema("pref", parquet.Group{
		"prompt":   parquet.Optional(parquet.String()),
		"chosen":   hfMessages(),
		"rejected": hfMessages(),
		"margin":   parquet.Optional(parquet.Int(64)),
		"tags":     parquet.Optional(parquet.List(parquet.String())),
		"blob":     parquet.Optional(parquet.Leaf(parquet.ByteArrayType)),
		"meta":     parquet.Optional(parquet.Map(parquet.String(), parquet.Optional(parquet.Int(32)))),
	})
	p := writeParquet(t, "pref.parquet", schema, []map[string]any{{
		"prompt":   "q",
		"chosen":   []any{mrow("user", "q"), mrow("assistant", "good")},
		"rejected": []any{mrow("user", "q"), mrow("assistant", "bad")},
		"margin":   int64(3),
		"tags":     []any{"math", "easy"},
		"blob":     []byte{0xff, 0x00},
		"meta":     map[string]any{"k": int32(7)},
	}})
	got, _, err := ReadPreference(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := PreferenceExample{Conversational: true, Prompt: msgs(u("q")), Chosen: msgs(a("good")), Rejected: msgs(a("bad")),
		Margin: f64(3), Loc: p + ": row 0"}
	if !reflect.DeepEqual(got, []PreferenceExample{want}) {
		t.Fatalf("got %+v", got)
	}
	prompts, _, err := ReadPrompts(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	extra := map[string]any{
		"chosen":   []any{map[string]any{"role": "user", "content": "q"}, map[string]any{"role": "assistant", "content": "good"}},
		"rejected": []any{map[string]any{"role": "user", "content": "q"}, map[string]any{"role": "assistant", "content": "bad"}},
		"margin":   int64(3),
		"tags":     []any{"math", "easy"},
		"blob":     []byte{0xff, 0x00},
		"meta":     map[string]any{"k": int64(7)},
	}
	if len(prompts) != 1 || prompts[0].PromptText != "q" || !reflect.DeepEqual(prompts[0].Extra, extra) {
		t.Fatalf("got %+v", prompts)
	}
}

// TestParquetSoftLabel reads p_chosen from a nullable double column:
// present, null (no label), and out of range or NaN (row errors).
func TestParquetSoftLabel(t *testing.T) {
	schema := parquet.NewSchema("pref", parquet.Group{
		"prompt":   parquet.String(),
		"chosen":   parquet.String(),
		"rejected": parquet.String(),
		"p_chosen": parquet.Optional(parquet.Leaf(parquet.DoubleType)),
	})
	row := func(p any) map[string]any {
		return map[string]any{"prompt": "q", "chosen": "good", "rejected": "bad", "p_chosen": p}
	}
	p := writeParquet(t, "soft.parquet", schema, []map[string]any{row(0.8), row(nil), row(1.5), row(math.NaN()), row(0.0)})
	got, rep, err := ReadPreference(p, Options{SkipBadRows: true})
	if err != nil {
		t.Fatal(err)
	}
	ex := func(pc *float64, loc string) PreferenceExample {
		return PreferenceExample{PromptText: "q", ChosenText: "good", RejectedText: "bad", PChosen: pc, Loc: p + loc}
	}
	// parquet-go writes a Go zero value into an optional column as null, so
	// row 4 (0.0) reads back as no label; the required column below has a
	// real 0.
	want := []PreferenceExample{ex(f64(0.8), ": row 0"), ex(nil, ": row 1"), ex(nil, ": row 4")}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v", got)
	}
	wantErrs := []string{
		p + `: row 2: field "p_chosen": 1.5 is outside [0, 1] (the probability that chosen is better)`,
		p + `: row 3: field "p_chosen": NaN is outside [0, 1] (the probability that chosen is better)`,
	}
	if !reflect.DeepEqual(rep.FirstErrors, wantErrs) {
		t.Fatalf("errors %q", rep.FirstErrors)
	}

	schema = parquet.NewSchema("pref", parquet.Group{
		"prompt":   parquet.String(),
		"chosen":   parquet.String(),
		"rejected": parquet.String(),
		"p_chosen": parquet.Leaf(parquet.FloatType),
	})
	p = writeParquet(t, "required.parquet", schema, []map[string]any{row(float32(0)), row(float32(1)), row(float32(0.25))})
	if got, _, err = ReadPreference(p, Options{}); err != nil {
		t.Fatal(err)
	}
	want = []PreferenceExample{ex(f64(0), ": row 0"), ex(f64(1), ": row 1"), ex(f64(0.25), ": row 2")}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v", got)
	}
}

// The fixtures were written by arrow-rs (see testdata/gen_parquet.js), in the
// nullable list<struct> layout of HF datasets files, with two rows per row
// group.
func TestParquetArrowFixtures(t *testing.T) {
	p := filepath.Join("testdata", "chat.parquet")
	got, rep, err := ReadSFT(p, Options{SkipBadRows: true})
	if err != nil {
		t.Fatal(err)
	}
	// "messages" wins over "prompt"+no completion; the prompt column is ignored.
	conv := func(loc string, m ...chat.Message) SFTExample {
		return SFTExample{Kind: KindConversation, Conversational: true, Messages: m, Loc: p + loc}
	}
	want := []SFTExample{
		conv(": row 0", u("Hi"), a("Hello! How can I help?")),
		conv(": row 1", sys("Be terse."), u("2+2?"), a("4")),
		conv(": row 2", u("Name a colour."), a("Blue."), u("Another?"), a("Green.")),
		conv(": row 5", u(""), a("An empty user turn is allowed.")),
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v", got)
	}
	wantErrs := []string{
		p + `: row 3: field "messages[1].content": want string, got null`,
		p + `: row 4: field "messages": want list of messages, got null`,
	}
	if !reflect.DeepEqual(rep.FirstErrors, wantErrs) {
		t.Fatalf("errors %q", rep.FirstErrors)
	}

	p = filepath.Join("testdata", "pref.parquet")
	pref, rep, err := ReadPreference(p, Options{SkipBadRows: true})
	if err != nil {
		t.Fatal(err)
	}
	wantPref := []PreferenceExample{
		{Conversational: true, Prompt: msgs(u("q1")), Chosen: msgs(a("good1")), Rejected: msgs(a("bad1")), Margin: f64(0.5), Loc: p + ": row 0"},
		{Conversational: true, Prompt: msgs(u("q2")), Chosen: msgs(a("good2")), Rejected: msgs(a("bad2")), Loc: p + ": row 1"},
	}
	if !reflect.DeepEqual(pref, wantPref) || !reflect.DeepEqual(rep.FirstErrors, []string{p + ": row 2: chosen and rejected are identical"}) {
		t.Fatalf("got %+v %+v", pref, rep)
	}
}

func TestParquetCorrupt(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("testdata", "chat.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	// Truncations and byte flips must give errors, never panics.
	for _, n := range []int{0, 4, 8, 100, len(good) / 2, len(good) - 9, len(good) - 1} {
		p := writeFile(t, "cut.parquet", string(good[:n]))
		if _, _, err := ReadSFT(p, Options{SkipBadRows: true}); err == nil {
			t.Errorf("truncated to %d bytes: no error", n)
		}
	}
	// A flipped high bit in the footer length used to make the library
	// allocate gigabytes before failing.
	b := append([]byte(nil), good...)
	b[len(b)-5] ^= 0xff
	p := writeFile(t, "footer.parquet", string(b))
	_, _, err = ReadSFT(p, Options{})
	checkErr(t, err, p, fmt.Sprintf("footer.parquet: corrupt Parquet file: footer of %d bytes in a %d-byte file",
		binary.LittleEndian.Uint32(b[len(b)-8:]), len(b)))
	for i := 4; i < len(good)-8; i += 37 {
		b := append([]byte(nil), good...)
		b[i] ^= 0x5a
		p := writeFile(t, "flip.parquet", string(b))
		ReadSFT(p, Options{SkipBadRows: true}) // only must not panic
	}
}
