package option

import (
	"errors"
	"fmt"
	"io"
	"testing"
)

// An Error reads "Field: cause", and errors.Is / errors.As see through it and
// through a caller's wrapping.
func TestError(t *testing.T) {
	err := fmt.Errorf("stage: %w", Bad("eval.Options.Prompts", "%w", io.EOF))
	if got, want := err.Error(), "stage: eval.Options.Prompts: EOF"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, io.EOF) {
		t.Error("errors.Is does not find the wrapped cause")
	}
	var oe *Error
	if !errors.As(err, &oe) || oe.Option != "eval.Options.Prompts" {
		t.Errorf("errors.As: %v, %+v", errors.As(err, &oe), oe)
	}
}
