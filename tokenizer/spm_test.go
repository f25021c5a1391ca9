package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// spmRow is one reference vector written by testdata/spm/gen.js with
// HuggingFace tokenizers (Rust, via its Node binding).
type spmRow struct {
	Text       string   `json:"text"`
	IDs        []int    `json:"ids"`
	Tokens     []string `json:"tokens"`
	SpecialIDs []int    `json:"special_ids"`
	Decode     string   `json:"decode"`
	DecodeSkip string   `json:"decode_skip"`
}

func TestSPMVectors(t *testing.T) {
	for _, variant := range []string{"old", "metaspace", "split"} {
		t.Run(variant, func(t *testing.T) {
			tok, err := LoadTokenizerJSON(filepath.Join("testdata", "spm", variant+".json"))
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(filepath.Join("testdata", "spm", variant+".vectors.json"))
			if err != nil {
				t.Fatal(err)
			}
			var rows []spmRow
			if err := json.Unmarshal(data, &rows); err != nil {
				t.Fatal(err)
			}
			if len(rows) < 200 {
				t.Fatalf("only %d rows", len(rows))
			}
			for _, r := range rows {
				ids := tok.Encode(r.Text)
				if !reflect.DeepEqual(nz(ids), nz(r.IDs)) {
					t.Errorf("Encode(%q) = %v, want %v (%q)", r.Text, ids, r.IDs, r.Tokens)
					continue
				}
				for i, id := range ids {
					if s, _ := tok.IDToken(id); s != r.Tokens[i] {
						t.Errorf("Encode(%q): token %d spelled %q, want %q", r.Text, i, s, r.Tokens[i])
					}
				}
				if got := tok.EncodeWith(r.Text, EncodeOptions{AddSpecialTokens: true}); !reflect.DeepEqual(nz(got), nz(r.SpecialIDs)) {
					t.Errorf("EncodeWith(%q, AddSpecialTokens) = %v, want %v", r.Text, got, r.SpecialIDs)
				}
				if got := tok.Decode(r.IDs); got != r.Decode {
					t.Errorf("Decode(%v) = %q, want %q", r.IDs, got, r.Decode)
				}
				if got := tok.DecodeWith(r.SpecialIDs, DecodeOptions{SkipSpecial: true}); got != r.DecodeSkip {
					t.Errorf("DecodeWith(%v, SkipSpecial) = %q, want %q", r.SpecialIDs, got, r.DecodeSkip)
				}
				oids, offs := tok.EncodeOffsets(r.Text, EncodeOptions{})
				if !reflect.DeepEqual(nz(oids), nz(r.IDs)) || len(offs) != len(oids) {
					t.Errorf("EncodeOffsets(%q) = %v, %v", r.Text, oids, offs)
				}
				for _, sp := range offs {
					if sp.Start < 0 || sp.Start > sp.End || sp.End > len(r.Text) {
						t.Errorf("EncodeOffsets(%q): span %v out of range", r.Text, sp)
					}
				}
			}
		})
	}
}

func nz(ids []int) []int {
	if ids == nil {
		return []int{}
	}
	return ids
}

func TestSPMLoadDir(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("testdata", "spm", "old.json"))
	if err != nil {
		t.Fatal(err)
	}
	// Without a post_processor the BOS comes from add_bos_token.
	var f map[string]any
	if err := json.Unmarshal(src, &f); err != nil {
		t.Fatal(err)
	}
	f["post_processor"] = nil
	noPost, _ := json.Marshal(f)
	cfg := `{"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "add_bos_token": true, "add_eos_token": false}`
	for _, tc := range []struct {
		name string
		file []byte
	}{{"template", src}, {"no_post_processor", noPost}} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), tc.file, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(cfg), 0o644); err != nil {
				t.Fatal(err)
			}
			tok, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if tok.BOS() != 1 || tok.EOS() != 2 || tok.UNK() != 0 {
				t.Fatalf("BOS/EOS/UNK = %d/%d/%d, want 1/2/0", tok.BOS(), tok.EOS(), tok.UNK())
			}
			plain := tok.Encode("Hello world")
			with := tok.EncodeWith("Hello world", EncodeOptions{AddSpecialTokens: true})
			if len(with) != len(plain)+1 || with[0] != 1 || !reflect.DeepEqual(with[1:], plain) {
				t.Fatalf("EncodeWith(AddSpecialTokens) = %v, want <s> + %v", with, plain)
			}
			if got := tok.Decode(with); got != "<s> Hello world" {
				t.Errorf("Decode = %q", got)
			}
			if got := tok.DecodeWith(with, DecodeOptions{SkipSpecial: true}); got != "Hello world" {
				t.Errorf("DecodeWith(SkipSpecial) = %q", got)
			}
			if b, ok := tok.TokenBytes(3 + '\n'); !ok || string(b) != "\n" {
				t.Errorf("TokenBytes(<0x0A>) = %q, %v", b, ok)
			}
		})
	}
}

func TestSPMMalformed(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "spm", "old.json"))
	if err != nil {
		t.Fatal(err)
	}
	base := string(src)
	sub := func(old, new string) string {
		if !strings.Contains(base, old) {
			t.Fatalf("fixture lacks %q", old)
		}
		return strings.Replace(base, old, new, 1)
	}
	for _, tc := range []struct {
		name, text, field string
	}{
		{"unknown normalizer", sub(`"type": "Prepend"`, `"type": "Strip"`), "normalizer.normalizers[0].type"},
		{"empty prepend", sub(`"prepend": "▁"`, `"prepend": ""`), "normalizer.normalizers[0].prepend"},
		{"regex replace", sub(`"String": " "`, `"Regex": " "`), "normalizer.normalizers[1].pattern"},
		{"pre_tokenizer", sub(`"pre_tokenizer": null`, `"pre_tokenizer": {"type": "Whitespace"}`), "pre_tokenizer.type"},
		{"metaspace replacement", sub(`"pre_tokenizer": null`, `"pre_tokenizer": {"type": "Metaspace", "replacement": "ab"}`), "pre_tokenizer.replacement"},
		{"prepend scheme", sub(`"pre_tokenizer": null`, `"pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "sometimes"}`), "pre_tokenizer.prepend_scheme"},
		{"decoder", sub(`"type": "Fuse"`, `"type": "WordPiece"`), "decoder.decoders[2].type"},
		{"strip", sub(`"start": 1`, `"start": -1`), "decoder.decoders[3].start"},
		{"unk", sub(`"unk_token": "<unk>"`, `"unk_token": "<nope>"`), "model.unk_token"},
		{"dropout", sub(`"dropout": null`, `"dropout": 0.5`), "model.dropout"},
		{"merge", sub(`"merges": [`, `"merges": [["zzq", "q"],`), "model.merges[0]"},
		{"vocab type", sub(`"<unk>": 0,`, `"<unk>": "x",`), "model.vocab"},
		{"decoder type", sub(`"type": "ByteFallback"`, `"type": 7`), "decoder.decoders[1]"},
		{"no metaspace", sub(`"type": "Sequence",
  "normalizers"`, `"type": "Sequence", "x": 1,
  "normalizers": [], "y"`), "model.byte_fallback"},
		{"added", sub(`"id": 0,`, `"id": -4,`), "added_tokens[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseTokenizerJSON([]byte(tc.text), "spm.json")
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), "spm.json") || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("error %q does not name spm.json and %s", err, tc.field)
			}
		})
	}
}

// TestSPMSaveRoundTrip checks that Save keeps what makes the file
// SentencePiece-style (byte_fallback above all), using the HF vectors.
func TestSPMSaveRoundTrip(t *testing.T) {
	for _, variant := range []string{"old", "metaspace", "split"} {
		t.Run(variant, func(t *testing.T) {
			tok, err := LoadTokenizerJSON(filepath.Join("testdata", "spm", variant+".json"))
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if err := tok.Save(dir); err != nil {
				t.Fatal(err)
			}
			back, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(filepath.Join("testdata", "spm", variant+".vectors.json"))
			if err != nil {
				t.Fatal(err)
			}
			var rows []spmRow
			if err := json.Unmarshal(data, &rows); err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				if got := back.Encode(r.Text); !reflect.DeepEqual(nz(got), nz(r.IDs)) {
					t.Errorf("after Save, Encode(%q) = %v, want %v", r.Text, got, r.IDs)
				}
				if got := back.Decode(r.IDs); got != r.Decode {
					t.Errorf("after Save, Decode(%v) = %q, want %q", r.IDs, got, r.Decode)
				}
			}
		})
	}
}
