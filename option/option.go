// Package option holds the error a library entry point (a job builder,
// eval.Run) returns for an option it cannot use. It names the option by its
// Go field ("sft.JobOptions.Model"), so a Go caller reads the name it set; a
// command line rewrites the names it knows into its own flags in one place.
//
// It is its own package, importing only fmt, so that every package taking
// options (train's jobs, eval, ...) can share the one type without importing
// each other.
package option

import "fmt"

// Error is an option a library call cannot use.
type Error struct {
	Option string // package.Type.Field of the bad option
	Err    error
}

func (e *Error) Error() string { return e.Option + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Bad returns an *Error for option; format and args are fmt.Errorf's (%w wraps).
func Bad(option, format string, args ...any) error {
	return &Error{Option: option, Err: fmt.Errorf(format, args...)}
}
