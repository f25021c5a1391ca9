package rl

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/align-go/align/chat"
)

func TestReadPrompts(t *testing.T) {
	p := filepath.Join(t.TempDir(), "p.jsonl")
	os.WriteFile(p, []byte(`{"prompt": "2+2=", "answer": "4"}`+"\n"+
		`{"prompt": [{"role": "user", "content": "hi"}], "id": 7}`+"\n"), 0o644)
	rows, err := ReadPrompts(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Text != "2+2=" || rows[0].Fields["answer"] != "4" || rows[0].Messages != nil {
		t.Fatalf("row 1: %+v", rows[0])
	}
	if want := []chat.Message{{Role: "user", Content: "hi"}}; rows[1].Text != "" || !reflect.DeepEqual(rows[1].Messages, want) ||
		len(rows[1].Fields) != 1 {
		t.Fatalf("row 2: %+v", rows[1])
	}
	os.WriteFile(p, []byte(`{"prompt": "a"}`+"\n"+`{"question": "b"}`+"\n"), 0o644)
	if _, err := ReadPrompts(p); err == nil || !strings.Contains(err.Error(), p+":2") {
		t.Fatalf("err %v, want it to name %s:2", err, p)
	}
}

func TestTrimSteps(t *testing.T) {
	p := filepath.Join(t.TempDir(), "s.jsonl")
	os.WriteFile(p, []byte("{\"step\":1,\"x\":1}\n{\"step\":2}\n{\"step\":3}\n{\"step\":2,\"y\":0}\n"), 0o644)
	if err := TrimSteps(p, 2); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if want := "{\"step\":1,\"x\":1}\n{\"step\":2}\n{\"step\":2,\"y\":0}\n"; string(b) != want {
		t.Fatalf("trimmed to %q, want %q", b, want)
	}
	if err := TrimSteps(filepath.Join(t.TempDir(), "none.jsonl"), 0); err != nil {
		t.Fatalf("missing file: %v", err)
	}
}
