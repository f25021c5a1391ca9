package data

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/align-go/align/chat"
)

// writeFile writes content to dir/name and returns the path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func lines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

func u(s string) chat.Message   { return chat.Message{Role: chat.RoleUser, Content: s} }
func a(s string) chat.Message   { return chat.Message{Role: chat.RoleAssistant, Content: s} }
func sys(s string) chat.Message { return chat.Message{Role: chat.RoleSystem, Content: s} }

func msgs(m ...chat.Message) []chat.Message { return m }

func f64(x float64) *float64 { return &x }

// checkErr requires err's text to be exactly want once the directory of path
// is dropped, so that the whole message is pinned, location included.
func checkErr(t *testing.T, err error, path, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %q", want)
	}
	got := strings.ReplaceAll(err.Error(), filepath.Dir(path)+string(filepath.Separator), "")
	if got != want {
		t.Fatalf("error\n got: %s\nwant: %s", got, want)
	}
}
