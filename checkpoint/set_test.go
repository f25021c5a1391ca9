package checkpoint

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func someTensors() []Tensor {
	var ts []Tensor
	for i, name := range []string{"a", "b", "c", "d", "e"} {
		data := make([]float32, 10)
		for j := range data {
			data[j] = float32(10*i + j)
		}
		ts = append(ts, Tensor{Name: name + ".weight", Shape: []int{2, 5}, Data: data})
	}
	return ts
}

func TestShardedRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		maxBytes int64
		files    int
	}{{1 << 20, 1}, {80, 3}, {40, 5}} {
		dir := t.TempDir()
		if err := WriteSharded(dir, someTensors(), map[string]string{"format": "pt"}, tc.maxBytes); err != nil {
			t.Fatal(err)
		}
		s, err := OpenDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Files()) != tc.files {
			t.Errorf("max %d: %d files %v, want %d", tc.maxBytes, len(s.Files()), s.Files(), tc.files)
		}
		if got := strings.Join(s.Names(), ","); got != "a.weight,b.weight,c.weight,d.weight,e.weight" {
			t.Errorf("Names = %s", got)
		}
		for i, want := range someTensors() {
			got := make([]float32, 10)
			if err := s.Float32Into(want.Name, got, []int{2, 5}); err != nil {
				t.Fatal(err)
			}
			if got[3] != float32(10*i+3) {
				t.Errorf("%s = %v", want.Name, got)
			}
		}
		_, hasIndex := os.Stat(filepath.Join(dir, IndexFile))
		if (hasIndex == nil) != (tc.files > 1) {
			t.Errorf("max %d: index present = %v with %d files", tc.maxBytes, hasIndex == nil, tc.files)
		}
	}
}

func TestShardedSwitchRemovesStaleLayout(t *testing.T) {
	dir := t.TempDir()
	if err := WriteSharded(dir, someTensors(), nil, 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := WriteSharded(dir, someTensors()[:4], nil, 40); err != nil {
		t.Fatal(err)
	}
	s, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Names()) != 4 {
		t.Errorf("after resharding: %v (stale model.safetensors shadowed the index?)", s.Names())
	}
}

func TestOpenDirErrors(t *testing.T) {
	mk := func(t *testing.T, index string, shards ...string) string {
		dir := t.TempDir()
		for _, s := range shards {
			if err := Write(filepath.Join(dir, s), []Tensor{{Name: "in." + s, Shape: []int{1}, Data: []float32{1}}}, nil); err != nil {
				t.Fatal(err)
			}
		}
		if index != "" {
			os.WriteFile(filepath.Join(dir, IndexFile), []byte(index), 0o644)
		}
		return dir
	}
	tests := []struct {
		name  string
		index string
		files []string
		want  string
	}{
		{"empty dir", "", nil, "neither"},
		{"bad index json", `{"weight_map": [}`, nil, IndexFile},
		{"empty map", `{"weight_map": {}}`, nil, "weight_map"},
		{"missing shard", `{"weight_map": {"w": "s1.safetensors"}}`, nil, "s1.safetensors"},
		{"path escape", `{"weight_map": {"w": "../x.safetensors"}}`, nil, "plain file name"},
		{"wrong shard", `{"weight_map": {"in.s2.safetensors": "s1.safetensors"}}`, []string{"s1.safetensors", "s2.safetensors"}, `"in.s2.safetensors"`},
	}
	for _, tc := range tests {
		dir := mk(t, tc.index, tc.files...)
		_, err := OpenDir(dir)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
	if _, err := OpenDir(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Error("missing dir: want error")
	}
	// A file path opens as a one-file set.
	dir := mk(t, "", "x.safetensors")
	s, err := OpenDir(filepath.Join(dir, "x.safetensors"))
	if err != nil || len(s.Names()) != 1 {
		t.Errorf("OpenDir(file) = %v, %v", s, err)
	}
	if _, _, err := s.Float32("nope"); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("Float32(nope) = %v", err)
	}
}
