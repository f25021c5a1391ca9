package checkpoint

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzOpenDirIndex feeds arbitrary model.safetensors.index.json contents to
// OpenDir beside the two real shards of the mistral fixture (written by
// transformers' save_pretrained with max_shard_size). Seeds are its index and
// hub-shaped variants. A bad index must give an error naming the index or a
// shard, never a panic; an accepted one must map every tensor to a shard
// that holds it and reads.
func FuzzOpenDirIndex(f *testing.F) {
	src := filepath.Join("..", "testdata", "models", "mistral")
	index, err := os.ReadFile(filepath.Join(src, IndexFile))
	if err != nil {
		f.Fatal(err)
	}
	shards, _ := filepath.Glob(filepath.Join(src, "model-*.safetensors"))
	if len(shards) != 2 {
		f.Fatalf("want 2 shards in %s, have %v", src, shards)
	}
	f.Add(index)
	for _, s := range []string{
		`{"metadata":{"total_size":1},"weight_map":{"lm_head.weight":"model-00002-of-00002.safetensors"}}`,
		`{"weight_map":{"lm_head.weight":"../model-00002-of-00002.safetensors"}}`,
		`{"weight_map":{"lm_head.weight":"."}}`, `{"weight_map":{"lm_head.weight":".."}}`,
		`{"weight_map":{"lm_head.weight":"model-00001-of-00002.safetensors"}}`,
		`{"weight_map":{}}`, `{"weight_map":null}`, `{"weight_map":{"x":1}}`, `[]`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	for _, s := range shards {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(s)), b, 0o644); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, index []byte) {
		idx := filepath.Join(dir, IndexFile)
		if err := os.WriteFile(idx, index, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := OpenDir(dir)
		if err != nil {
			if !strings.Contains(err.Error(), dir) {
				t.Fatalf("error names no file: %v", err)
			}
			return
		}
		if len(s.Names()) == 0 {
			t.Fatal("accepted an index mapping no tensor")
		}
		for _, name := range s.Names() {
			if _, ok := s.Info(name); !ok {
				t.Fatalf("%q listed but has no info", name)
			}
			if _, _, err := s.Float32(name); err != nil {
				t.Fatalf("%q listed but does not read: %v", name, err)
			}
		}
	})
}
