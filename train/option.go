package train

import "fmt"

// OptionError is a job option a library job builder cannot use, named by its
// Go field ("sft.JobOptions.Model"), so a Go caller reads the name it set.
// A command line shows its own flag instead: cmd/align rewrites the option
// names it knows into flags in one place, wherever they appear in an error.
type OptionError struct {
	Option string // package.Type.Field of the bad option
	Err    error
}

func (e *OptionError) Error() string { return e.Option + ": " + e.Err.Error() }
func (e *OptionError) Unwrap() error { return e.Err }

// BadOption returns an *OptionError for option; format and args are
// fmt.Errorf's (%w wraps).
func BadOption(option, format string, args ...any) error {
	return &OptionError{Option: option, Err: fmt.Errorf(format, args...)}
}
