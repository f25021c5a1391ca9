package data

import (
	"errors"
	"fmt"
	"io"
)

// Reader streams normalised rows of type T from one file.
type Reader[T any] struct {
	path   string
	src    source
	opts   Options
	detect func(map[string]any) (Format, *fieldError)
	parse  func(Format, map[string]any) (T, *fieldError)
	setLoc func(*T, string)
	format Format
	report Report
	err    error // sticky: once Next fails it keeps failing
}

// OpenSFT opens an SFT file: messages, sharegpt, prompt_completion, alpaca or
// text rows.
func OpenSFT(path string, opts Options) (*Reader[SFTExample], error) {
	if err := checkSFTFormat(opts.Format); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return open(path, opts, detectSFT, parseSFT, func(e *SFTExample, loc string) { e.Loc = loc })
}

// OpenPreference opens a preference file (chosen/rejected pairs, see
// parsePreference for the accepted layouts).
func OpenPreference(path string, opts Options) (*Reader[PreferenceExample], error) {
	if opts.Format != FormatAuto && opts.Format != FormatPreference {
		return nil, fmt.Errorf("%s: format %q is not a preference format", path, opts.Format)
	}
	return open(path, opts, detectPreference,
		func(_ Format, m map[string]any) (PreferenceExample, *fieldError) { return parsePreference(m) },
		func(e *PreferenceExample, loc string) { e.Loc = loc })
}

// OpenPrompts opens a prompt-only file: rows with a "prompt" string or
// message list; other columns are kept in PromptExample.Extra. Any file
// whose rows have a "prompt" column qualifies, so the prompts of a
// preference or prompt/completion set can be reused for generation.
func OpenPrompts(path string, opts Options) (*Reader[PromptExample], error) {
	if opts.Format != FormatAuto && opts.Format != FormatPrompt {
		return nil, fmt.Errorf("%s: format %q is not the prompt format", path, opts.Format)
	}
	return open(path, opts, detectPrompt,
		func(_ Format, m map[string]any) (PromptExample, *fieldError) { return parsePrompt(m) },
		func(e *PromptExample, loc string) { e.Loc = loc })
}

func open[T any](path string, opts Options,
	detect func(map[string]any) (Format, *fieldError),
	parse func(Format, map[string]any) (T, *fieldError),
	setLoc func(*T, string)) (*Reader[T], error) {
	src, err := openSource(path, opts.MaxLineBytes)
	if err != nil {
		return nil, err
	}
	r := &Reader[T]{path: path, src: src, opts: opts, detect: detect, parse: parse, setLoc: setLoc, format: opts.Format}
	r.report.Format = opts.Format
	return r, nil
}

// Next returns the next good row, or io.EOF after the last one. Without
// SkipBadRows the first bad row's *RowError is returned and the reader stays
// failed; with it bad rows are counted in Report and skipped. Errors reading
// the file itself are returned either way.
func (r *Reader[T]) Next() (T, error) {
	var zero T
	if r.err != nil {
		return zero, r.err
	}
	for {
		m, loc, err := r.src.next()
		if err == nil {
			var ferr *fieldError
			var ex T
			if r.format == FormatAuto {
				var f Format
				if f, ferr = r.detect(m); ferr == nil {
					if ex, ferr = r.parse(f, m); ferr == nil {
						// The format is fixed by the first row that parses,
						// so one stray row cannot redirect the whole file.
						r.format, r.report.Format = f, f
					}
				}
			} else {
				ex, ferr = r.parse(r.format, m)
			}
			if ferr == nil {
				r.setLoc(&ex, loc)
				r.report.Rows++
				return ex, nil
			}
			err = ferr.at(loc)
		}
		var re *RowError
		if r.opts.SkipBadRows && errors.As(err, &re) {
			r.skip(re)
			continue
		}
		r.err = err
		return zero, err
	}
}

func (r *Reader[T]) skip(e *RowError) {
	r.report.Skipped++
	if r.report.Reasons == nil {
		r.report.Reasons = map[string]int{}
	}
	r.report.Reasons[e.Reason]++
	max := r.opts.MaxFirstErrors
	if max <= 0 {
		max = 10
	}
	if len(r.report.FirstErrors) < max {
		r.report.FirstErrors = append(r.report.FirstErrors, e.Error())
	}
}

// Report returns the counts so far.
func (r *Reader[T]) Report() Report { return r.report }

// Format returns the detected or forced format ("" before any row matched).
func (r *Reader[T]) Format() Format { return r.format }

// Close releases the file.
func (r *Reader[T]) Close() error { return r.src.Close() }

// ReadAll reads every row. It fails on the first bad row unless
// opts.SkipBadRows is set, and also when no good row is left, since an empty
// training set is always a mistake worth stopping for.
func ReadAll[T any](r *Reader[T]) ([]T, Report, error) {
	var out []T
	for {
		ex, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return out, r.report, err
		}
		out = append(out, ex)
	}
	if len(out) == 0 {
		if r.report.Skipped > 0 {
			return nil, r.report, fmt.Errorf("%s: no valid rows (%d skipped; first: %s)", r.path, r.report.Skipped, r.report.FirstErrors[0])
		}
		return nil, r.report, fmt.Errorf("%s: no rows", r.path)
	}
	return out, r.report, nil
}

func readAll[T any](r *Reader[T], err error) ([]T, Report, error) {
	if err != nil {
		return nil, Report{}, err
	}
	defer r.Close()
	return ReadAll(r)
}

// ReadSFT reads a whole SFT file.
func ReadSFT(path string, opts Options) ([]SFTExample, Report, error) {
	return readAll(OpenSFT(path, opts))
}

// ReadPreference reads a whole preference file.
func ReadPreference(path string, opts Options) ([]PreferenceExample, Report, error) {
	return readAll(OpenPreference(path, opts))
}

// ReadPrompts reads a whole prompt-only file.
func ReadPrompts(path string, opts Options) ([]PromptExample, Report, error) {
	return readAll(OpenPrompts(path, opts))
}
