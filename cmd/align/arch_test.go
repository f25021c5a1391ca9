package main

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// cliOnly are the imports only a command (package main) may use: flag
// parsing belongs to the CLI, and a library package that took them would
// force them on every Go program that uses it.
var cliOnly = []string{"github.com/spf13/cobra", "github.com/spf13/pflag"}

// TestLibraryImportsNoCLI: no library package (any package not main, in
// this module) imports cobra or pflag.
func TestLibraryImportsNoCLI(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		if f.Name.Name == "main" {
			return nil
		}
		checked++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			for _, bad := range cliOnly {
				if p == bad || strings.HasPrefix(p, bad+"/") {
					t.Errorf("%s (package %s) imports %s: flags belong in cmd/align", path, f.Name.Name, p)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 100 {
		t.Fatalf("checked only %d library files under %s: the walk missed the module", checked, root)
	}
}
