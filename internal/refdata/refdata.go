// Package refdata gives tests the reference files committed under the
// repository's testdata/ folder: the GPT-2 and Qwen3 tokenizers, the
// tokenizer and chat-template vectors and the Moby-Dick text (provenance and
// licences in testdata/README.md). Large files are stored gzipped to keep a
// checkout small; the helpers here decompress them transparently, so a test
// names a file as "tokenizers/qwen3/tokenizer.json" whether it is kept as
// that file or as "tokenizer.json.gz".
//
// Missing data is a failure, never a skip: the vectors are the bar the
// tokenizer is held to, and a fresh clone has everything they need.
package refdata

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
)

// Root returns the repository root: the nearest directory above the working
// directory (go test runs in the package's folder) that holds go.mod and
// testdata/, else the one above this source file.
func Root() (string, error) {
	isRoot := func(d string) bool {
		_, err1 := os.Stat(filepath.Join(d, "go.mod"))
		st, err2 := os.Stat(filepath.Join(d, "testdata"))
		return err1 == nil && err2 == nil && st.IsDir()
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			if isRoot(d) {
				return d, nil
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		if d := filepath.Join(filepath.Dir(file), "..", ".."); isRoot(d) {
			return filepath.Clean(d), nil
		}
	}
	return "", errors.New("refdata: no repository root (go.mod beside testdata/) above the working directory")
}

var cache sync.Map // rel -> *entry

type entry struct {
	once sync.Once
	data []byte
	err  error
}

// Load returns the contents of testdata/rel, decompressing testdata/rel.gz
// when only the compressed copy is kept. Contents are cached for the life of
// the test binary; callers must not modify the returned slice.
func Load(rel string) ([]byte, error) {
	v, _ := cache.LoadOrStore(rel, &entry{})
	e := v.(*entry)
	e.once.Do(func() { e.data, e.err = load(rel) })
	return e.data, e.err
}

func load(rel string) ([]byte, error) {
	root, err := Root()
	if err != nil {
		return nil, err
	}
	path := filepath.Join(root, "testdata", filepath.FromSlash(rel))
	if b, err := os.ReadFile(path); err == nil {
		return b, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	f, err := os.Open(path + ".gz")
	if err != nil {
		return nil, fmt.Errorf("refdata: testdata/%s: neither the file nor its .gz is in the repository: %w", rel, err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("refdata: %s.gz: %w", path, err)
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, zr); err != nil {
		return nil, fmt.Errorf("refdata: %s.gz: %w", path, err)
	}
	if err := zr.Close(); err != nil {
		return nil, fmt.Errorf("refdata: %s.gz: %w", path, err)
	}
	return buf.Bytes(), nil
}

// ReadFile is Load for tests: a missing or corrupt file fails t.
func ReadFile(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := Load(rel)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Path returns a path holding testdata/rel's contents: the committed file
// itself when it is kept uncompressed, else a decompressed copy in a
// temporary directory removed when t ends.
func Path(t testing.TB, rel string) string {
	t.Helper()
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "testdata", filepath.FromSlash(rel))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	out := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := os.WriteFile(out, ReadFile(t, rel), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// Files lists the files of the folder testdata/rel by their decompressed
// names (tokenizer.json.gz is listed as tokenizer.json), sorted.
func Files(rel string) ([]string, error) {
	root, err := Root()
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(filepath.Join(root, "testdata", filepath.FromSlash(rel)))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() {
			names = append(names, strings.TrimSuffix(e.Name(), ".gz"))
		}
	}
	sort.Strings(names)
	return names, nil
}

// CopyTo writes the named files of the folder testdata/rel (all of them when
// names is empty) decompressed into the existing directory dst, as a
// model directory's tokenizer files.
func CopyTo(t testing.TB, rel, dst string, names ...string) {
	t.Helper()
	if len(names) == 0 {
		var err error
		if names, err = Files(rel); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dst, n), ReadFile(t, rel+"/"+n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Dir returns a temporary directory (removed when t ends) holding the files
// of the folder testdata/rel decompressed, for loaders that take a directory
// such as tokenizer.Load.
func Dir(t testing.TB, rel string) string {
	t.Helper()
	dir := t.TempDir()
	CopyTo(t, rel, dir)
	return dir
}
