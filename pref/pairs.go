package pref

import (
	"fmt"
	"io"

	"github.com/align-go/align/data"
	"github.com/align-go/align/pairenc"
)

// PairFiles name a preference run's data: Train's rows, and held-out rows
// read from Eval or, when Eval is "", an EvalFraction of Train drawn with
// Seed (data.Split). Options apply to every file read.
type PairFiles struct {
	Train, Eval  string
	EvalFraction float64
	Seed         uint64
	Options      data.Options
}

// ReadPairs reads a preference file (JSONL or Parquet, plain or
// conversational; data.ReadPreference) and encodes its rows. Skipped bad
// rows (Options.SkipBadRows) are counted on log, with the first error.
func ReadPairs(enc *pairenc.Encoder, path string, opt data.Options, log io.Writer) ([]pairenc.Pair, error) {
	exs, rep, err := data.ReadPreference(path, opt)
	if err != nil {
		return nil, err
	}
	if rep.Skipped > 0 && log != nil {
		fmt.Fprintf(log, "%s: skipped %d bad rows (first: %s)\n", path, rep.Skipped, rep.FirstErrors[0])
	}
	return enc.EncodePairs(exs)
}

// LoadPairs reads and encodes the training and evaluation pairs f names
// (evalPairs is nil when f names no evaluation data).
func LoadPairs(enc *pairenc.Encoder, f PairFiles, log io.Writer) (trainPairs, evalPairs []pairenc.Pair, err error) {
	if f.Eval != "" && f.EvalFraction > 0 {
		return nil, nil, fmt.Errorf("give an evaluation file or an evaluation fraction, not both")
	}
	if trainPairs, err = ReadPairs(enc, f.Train, f.Options, log); err != nil {
		return nil, nil, err
	}
	switch {
	case f.Eval != "":
		evalPairs, err = ReadPairs(enc, f.Eval, f.Options, log)
	case f.EvalFraction > 0:
		if trainPairs, evalPairs, err = data.Split(trainPairs, f.EvalFraction, f.Seed); err != nil {
			err = fmt.Errorf("eval fraction %v: %w", f.EvalFraction, err)
		}
	}
	return trainPairs, evalPairs, err
}
