package refdata

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The committed copies must be byte-identical to the originals: these are the
// sha256 sums of the uncompressed files listed in testdata/README.md.
func TestCopiesMatchOriginals(t *testing.T) {
	want := map[string]string{
		"tokenizers/gpt2/vocab.json":                  "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
		"tokenizers/gpt2/merges.txt":                  "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
		"tokenizers/gpt2/tokenizer.json":              "f4b816122a84b1b1947731284efdb47e50308dbb71f8a65f2d6324419b1592d8",
		"tokenizers/qwen3/tokenizer.json":             "aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4",
		"tokenizers/qwen3/tokenizer_config.json":      "5a7303fcb1a27ede63134a2cbd61d5282c247ca6d769ce4746d4ffa124aedd63",
		"tokenizer-vectors/gpt2_encode.jsonl":         "53f09dae7b595655d38390c09c43543c8c318ca40c6d17f0386eb347531069b2",
		"tokenizer-vectors/qwen3_encode.jsonl":        "30640ebd7f60cc87c50042776046da81995eedc168632210cd5a963fd75c5cfe",
		"tokenizer-vectors/qwen3_chat_template.jsonl": "a0c78093c8ee441cc3c5c6d439f412a8dabe539144b361b6f7bfc1ac43960205",
		"corpora/moby-dick.txt":                       "fe282a57094ed62e7144fb7c804a9748fc1c909bf3b49d06e7276015f9f67240",
	}
	for rel, sum := range want {
		got := sha256.Sum256(ReadFile(t, rel))
		if hex.EncodeToString(got[:]) != sum {
			t.Errorf("testdata/%s: sha256 %x, want %s", rel, got, sum)
		}
	}
}

func TestDirAndPath(t *testing.T) {
	names, err := Files("tokenizers/qwen3")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(names, ",") != "LICENSE,tokenizer.json,tokenizer_config.json" {
		t.Fatalf("Files(tokenizers/qwen3) = %v", names)
	}
	dir := Dir(t, "tokenizers/qwen3")
	b, err := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 11422654 {
		t.Fatalf("decompressed tokenizer.json is %d bytes, want 11422654", len(b))
	}
	// A compressed file gets a decompressed temporary copy; a plain one is
	// returned in place.
	if p := Path(t, "corpora/moby-dick.txt"); strings.Contains(p, string(filepath.Separator)+"testdata"+string(filepath.Separator)) {
		t.Fatalf("Path of a gzipped file points into testdata: %s", p)
	}
	if p := Path(t, "tokenizers/qwen3/tokenizer_config.json"); !strings.HasSuffix(filepath.ToSlash(p), "testdata/tokenizers/qwen3/tokenizer_config.json") {
		t.Fatalf("Path of a plain file = %s", p)
	}
	if _, err := Load("corpora/no-such-file.txt"); err == nil || !strings.Contains(err.Error(), "no-such-file.txt") {
		t.Fatalf("missing file: err = %v, want one naming the file", err)
	}
}

// siblingRef matches a path to the reference folder beside the checkout
// (named "shared"), in the forms code has used: a relative path climbing one
// or more levels to it, and filepath.Join(dir, "..", name). It and the
// examples below are assembled from parts so that this file, which is
// tracked too, does not match itself.
var siblingRef = regexp.MustCompile(`\.\./` + `shared\b|"\.\."\s*,\s*"` + `shared"`)

func TestSiblingRefPattern(t *testing.T) {
	for _, s := range []string{
		"book := \"../../../" + "shared/corpora/moby-dick.txt\"",
		"see ../" + "shared for the data",
		`filepath.Join(d, "..", "` + `shared")`,
	} {
		if !siblingRef.MatchString(s) {
			t.Errorf("pattern misses %q", s)
		}
	}
	for _, s := range []string{"the shared loop", "shared/ inside the repo", "../" + "sharedfoo", "tensor/share.go"} {
		if siblingRef.MatchString(s) {
			t.Errorf("pattern matches %q", s)
		}
	}
}

// TestNoSiblingSharedFolder keeps a fresh clone self-sufficient: no tracked
// file (test, script, CI, docs) may refer to the reference folder that sits
// beside the checkout on the developers' machines, since nobody else has it.
// Everything tests read lives under testdata/. Without git (an exported
// tree) it walks the files instead of skipping.
func TestNoSiblingSharedFolder(t *testing.T) {
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	files, how := trackedFiles(t, root)
	if len(files) < 100 {
		t.Fatalf("%s found only %d files under %s", how, len(files), root)
	}
	for _, rel := range files {
		b, err := os.ReadFile(filepath.Join(root, rel))
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted in the work tree, not yet committed
		}
		if err != nil {
			t.Fatal(err)
		}
		if loc := siblingRef.FindIndex(b); loc != nil {
			line := 1 + strings.Count(string(b[:loc[0]]), "\n")
			t.Errorf("%s:%d refers to the folder beside the checkout (%q); copy what it needs into testdata/ instead",
				rel, line, b[loc[0]:loc[1]])
		}
	}
}

// trackedFiles lists git's tracked files, or every file under root (but
// .git and node_modules) where git or the repository metadata is missing.
func trackedFiles(t *testing.T, root string) ([]string, string) {
	if out, err := exec.Command("git", "-C", root, "ls-files", "-z").Output(); err == nil && len(out) > 0 {
		var files []string
		for _, f := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
			files = append(files, filepath.FromSlash(f))
		}
		return files, "git ls-files"
	}
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files, "walking the tree"
}
