package train

import "github.com/align-go/align/option"

// OptionError is option.Error under the name the trainers' job builders have
// always returned: a job option a builder cannot use, named by its Go field
// ("sft.JobOptions.Model"). cmd/align rewrites the names it knows into flags.
type OptionError = option.Error

// BadOption is option.Bad: an *OptionError for the option name; format and args are
// fmt.Errorf's (%w wraps).
func BadOption(name, format string, args ...any) error {
	return option.Bad(name, format, args...)
}
