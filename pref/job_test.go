package pref

import (
	"bytes"
	"testing"

	"github.com/align-go/align/model"
)

// maxLen caps MaxLength at the model's positions and says so naming the Go
// field (library code names no CLI flag); at the limit it is silent.
func TestMaxLenCapsAtContext(t *testing.T) {
	cfg := &model.Config{MaxPos: 64}
	var log bytes.Buffer
	if got := (&JobData{MaxLength: 100}).maxLen(cfg, &log); got != 64 {
		t.Errorf("maxLen 100 on 64 positions: %d, want 64", got)
	}
	if want := "pref.JobData.MaxLength 100 exceeds the model's context of 64 tokens; using 64\n"; log.String() != want {
		t.Errorf("log %q, want %q", log.String(), want)
	}
	log.Reset()
	if got := (&JobData{MaxLength: 64}).maxLen(cfg, &log); got != 64 || log.Len() != 0 {
		t.Errorf("maxLen 64 on 64 positions: %d, log %q; want 64 and no log", got, log.String())
	}
}
