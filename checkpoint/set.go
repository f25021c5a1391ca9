package checkpoint

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
)

// Standard file names of HuggingFace checkpoints.
const (
	SingleFile = "model.safetensors"
	IndexFile  = "model.safetensors.index.json"
)

// Set is a whole checkpoint: one file or all shards listed by an index.
type Set struct {
	dir   string
	files []*File
	owner map[string]*File
	names []string
}

// OpenDir opens the checkpoint in dir: model.safetensors if present, else
// the shards named by model.safetensors.index.json. dir may also be the path
// of a single .safetensors file.
func OpenDir(dir string) (*Set, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	if !st.IsDir() {
		f, err := Open(dir)
		if err != nil {
			return nil, err
		}
		return newSet(filepath.Dir(dir), []*File{f}, nil), nil
	}
	single := filepath.Join(dir, SingleFile)
	if _, err := os.Stat(single); err == nil {
		f, err := Open(single)
		if err != nil {
			return nil, err
		}
		return newSet(dir, []*File{f}, nil), nil
	}
	index := filepath.Join(dir, IndexFile)
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := ReadJSON(index, &idx); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("checkpoint: %s: neither %s nor %s found (only safetensors checkpoints are supported)", dir, SingleFile, IndexFile)
		}
		return nil, err
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("checkpoint: %s: weight_map is missing or empty", index)
	}
	shardNames := make([]string, 0)
	seen := map[string]bool{}
	for name, shard := range idx.WeightMap {
		if shard == "" || shard == "." || shard == ".." || filepath.IsAbs(shard) || shard != filepath.Base(shard) {
			return nil, fmt.Errorf("checkpoint: %s: tensor %q: shard %q must be a plain file name in the same directory", index, name, shard)
		}
		if !seen[shard] {
			seen[shard] = true
			shardNames = append(shardNames, shard)
		}
	}
	sort.Strings(shardNames)
	byName := map[string]*File{}
	files := make([]*File, 0, len(shardNames))
	for _, s := range shardNames {
		f, err := Open(filepath.Join(dir, s))
		if err != nil {
			return nil, err
		}
		byName[s] = f
		files = append(files, f)
	}
	for name, shard := range idx.WeightMap {
		if _, ok := byName[shard].hdr.infos[name]; !ok {
			return nil, fmt.Errorf("checkpoint: %s: tensor %q is mapped to %s, which does not hold it", index, name, shard)
		}
	}
	return newSet(dir, files, idx.WeightMap), nil
}

// newSet indexes the tensors of files. With an index its weight_map is
// authoritative, as in transformers: a tensor a shard holds but the map does
// not list is ignored.
func newSet(dir string, files []*File, weightMap map[string]string) *Set {
	s := &Set{dir: dir, files: files, owner: map[string]*File{}}
	if weightMap == nil {
		for _, f := range files {
			for _, name := range f.hdr.names {
				s.owner[name] = f
			}
		}
	} else {
		byBase := map[string]*File{}
		for _, f := range files {
			byBase[filepath.Base(f.path)] = f
		}
		for name, shard := range weightMap {
			s.owner[name] = byBase[shard]
		}
	}
	for name := range s.owner {
		s.names = append(s.names, name)
	}
	sort.Strings(s.names)
	return s
}

// Files lists the paths of the underlying safetensors files.
func (s *Set) Files() []string {
	out := make([]string, len(s.files))
	for i, f := range s.files {
		out[i] = f.path
	}
	return out
}

// Names lists all tensors of all shards, sorted.
func (s *Set) Names() []string { return slices.Clone(s.names) }

// File returns the shard holding tensor name.
func (s *Set) File(name string) (*File, bool) {
	f, ok := s.owner[name]
	return f, ok
}

// Info describes tensor name.
func (s *Set) Info(name string) (Info, bool) {
	f, ok := s.owner[name]
	if !ok {
		return Info{}, false
	}
	return f.Info(name)
}

func (s *Set) file(name string) (*File, error) {
	f, ok := s.owner[name]
	if !ok {
		return nil, fmt.Errorf("checkpoint: %s: no tensor %q", s.dir, name)
	}
	return f, nil
}

// Float32 reads tensor name as float32; see File.Float32.
func (s *Set) Float32(name string) ([]float32, []int, error) {
	f, err := s.file(name)
	if err != nil {
		return nil, nil, err
	}
	return f.Float32(name)
}

// Float32Into reads tensor name into dst; see File.Float32Into.
func (s *Set) Float32Into(name string, dst []float32, wantShape []int) error {
	f, err := s.file(name)
	if err != nil {
		return err
	}
	return f.Float32Into(name, dst, wantShape)
}

// Int64 reads an integer tensor; see File.Int64.
func (s *Set) Int64(name string) ([]int64, []int, error) {
	f, err := s.file(name)
	if err != nil {
		return nil, nil, err
	}
	return f.Int64(name)
}
