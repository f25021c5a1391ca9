// Package report turns training runs into one self-contained HTML file:
// loss, reward, KL, reward against KL, completion length, gradient norm and
// learning rate of every run overlaid per chart, with evaluation tables from
// align eval's eval.json and the quickstart's summary.json.
//
// A run is a directory with a metrics.jsonl (train.Run, align ppo and
// align grpo write one). Charts are inline SVG drawn here, and the page has
// no scripts, fonts, styles or images from elsewhere, so it opens offline
// and can be attached or archived as it is.
//
// Load reads the inputs; WriteHTML renders them; WriteFile does both and
// replaces the output atomically, which is what align report and
// align quickstart call.
package report

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/align-go/align/checkpoint"
)

// Report is everything one page shows.
type Report struct {
	Inputs    []string // the arguments Load was given
	Runs      []*Run
	Evals     []*Eval
	Summaries []*Summary
	Warnings  []string
	Created   time.Time
}

// Run is one training run.
type Run struct {
	Name string // unique within the report
	Dir  string
	Desc string // from config.yaml
	*Metrics
}

// entry is a directory or file found among the inputs, before it is read.
type entry struct {
	path   string // directory (or eval.json given as a file)
	name   string // preliminary name
	prefix string // what tells it apart from another entry of the same name
	file   bool   // an eval.json given directly
}

// Load reads the runs, eval.json files and summary.json files named by
// args. Each argument may be
//   - a run directory (metrics.jsonl and/or eval.json in it; metrics.jsonl
//     itself may be given too),
//   - a directory of runs, searched two levels deep (the quickstart's
//     output root: its summary.json becomes a table and orders its runs),
//   - an eval.json or summary.json file.
//
// A run is named by its directory; runs found under a directory of runs by
// their path below it ("cai/model"). Clashing names get the parent's name in
// front.
func Load(args []string) (*Report, error) {
	if len(args) == 0 {
		return nil, errors.New("report: no run directories given")
	}
	r := &Report{Inputs: args, Created: time.Now()}
	var runs, evals []entry
	for _, a := range args {
		fi, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		abs, err := filepath.Abs(a)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			switch {
			case filepath.Base(a) == "metrics.jsonl":
				d := filepath.Dir(abs)
				runs = append(runs, entry{path: d, name: filepath.Base(d), prefix: filepath.Base(filepath.Dir(d))})
			case strings.HasSuffix(a, ".json") && firstByte(a) == '[':
				s, err := readSummary(a, filepath.Base(filepath.Dir(abs)))
				if err != nil {
					return nil, err
				}
				r.Summaries = append(r.Summaries, s)
			case strings.HasSuffix(a, ".json"):
				evals = append(evals, entry{path: abs, name: strings.TrimSuffix(filepath.Base(a), ".json"),
					prefix: filepath.Base(filepath.Dir(abs)), file: true})
			default:
				return nil, fmt.Errorf("%s: not a run directory, metrics.jsonl, eval.json or summary.json", a)
			}
			continue
		}
		if isRun(abs) {
			runs = append(runs, entry{path: abs, name: filepath.Base(abs), prefix: filepath.Base(filepath.Dir(abs))})
			continue
		}
		found, err := findRuns(abs)
		if err != nil {
			return nil, err
		}
		var sum *Summary
		if p := filepath.Join(abs, "summary.json"); exists(p) {
			if sum, err = readSummary(p, filepath.Base(abs)); err != nil {
				return nil, err
			}
			r.Summaries = append(r.Summaries, sum)
		}
		if len(found) == 0 && sum == nil {
			return nil, fmt.Errorf("%s: no runs: no metrics.jsonl, eval.json or summary.json in it or in its subdirectories (2 levels deep)", a)
		}
		if sum != nil {
			orderByStage(abs, found, sum.stages())
		}
		for _, d := range found {
			rel, _ := filepath.Rel(abs, d)
			runs = append(runs, entry{path: d, name: filepath.ToSlash(rel), prefix: filepath.Base(abs)})
		}
	}
	runs = dedupe(runs)
	uniqueNames(runs)
	for _, e := range runs {
		if err := r.addRun(e); err != nil {
			return nil, err
		}
	}
	for _, e := range dedupe(evals) {
		ev, err := readEval(e.path, "")
		if err != nil {
			return nil, err
		}
		// "eval" says nothing; the evaluated model's directory does.
		if e.name == "eval" && ev.Model != "" {
			e.name = filepath.Base(ev.Model)
		}
		ev.Name = e.name
		r.Evals = append(r.Evals, ev)
	}
	uniqueEvalNames(r.Evals)
	return r, nil
}

// addRun reads one run directory: its metrics, description and eval.json.
func (r *Report) addRun(e entry) error {
	if p := filepath.Join(e.path, "metrics.jsonl"); exists(p) {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		m, err := ParseMetrics(f, p)
		f.Close()
		if err != nil {
			return err
		}
		desc, warn := describe(e.path)
		if warn != "" {
			r.Warnings = append(r.Warnings, warn)
		}
		if m.Rows == 0 {
			r.Warnings = append(r.Warnings, p+": no rows yet")
		}
		r.Warnings = append(r.Warnings, m.Warnings...)
		r.Runs = append(r.Runs, &Run{Name: e.name, Dir: e.path, Desc: desc, Metrics: m})
	}
	if p := filepath.Join(e.path, "eval.json"); exists(p) {
		ev, err := readEval(p, e.name)
		if err != nil {
			return err
		}
		r.Evals = append(r.Evals, ev)
	}
	return nil
}

// WriteFile loads dirs and writes the report to path.
func WriteFile(path string, dirs []string) error {
	r, err := Load(dirs)
	if err != nil {
		return err
	}
	return r.Save(path)
}

// Save writes the report to path through a temporary file in the same
// directory, so a reader (or a browser reloading it) never sees half a page.
func (r *Report) Save(path string) error {
	// Rendered to memory first: a template error then leaves the old page.
	var b bytes.Buffer
	if err := r.WriteHTML(&b); err != nil {
		return err
	}
	if err := checkpoint.WriteAtomic(path, func(w io.Writer) error { _, err := w.Write(b.Bytes()); return err }); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// isRun reports whether dir holds a run's outputs.
func isRun(dir string) bool {
	return exists(filepath.Join(dir, "metrics.jsonl")) || exists(filepath.Join(dir, "eval.json"))
}

// findRuns lists the run directories below root, two levels deep. It does
// not look inside a run (a PPO run's value/ model is not another run) or
// inside checkpoints and hidden directories.
func findRuns(root string) ([]string, error) {
	var out []string
	var walk func(dir string, depth int) error
	walk = func(dir string, depth int) error {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range ents {
			n := e.Name()
			if strings.HasPrefix(n, ".") || strings.HasPrefix(n, "checkpoint-") {
				continue
			}
			p := filepath.Join(dir, n)
			if fi, err := os.Stat(p); err != nil || !fi.IsDir() { // Stat: follow links to directories
				continue
			}
			if isRun(p) {
				out = append(out, p)
			} else if depth < 2 {
				if err := walk(p, depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return out, walk(root, 1)
}

// orderByStage sorts runs below root in the order of the summary's stages
// (pipeline order reads better than alphabetical); others go last.
func orderByStage(root string, dirs []string, stages []string) {
	rank := func(d string) int {
		rel, _ := filepath.Rel(root, d)
		first := strings.SplitN(filepath.ToSlash(rel), "/", 2)[0]
		for i, s := range stages {
			if s == first {
				return i
			}
		}
		return len(stages)
	}
	sort.SliceStable(dirs, func(i, j int) bool { return rank(dirs[i]) < rank(dirs[j]) })
}

// dedupe drops entries for a path already listed (a run given twice, or
// given and also found under a directory of runs).
func dedupe(es []entry) []entry {
	seen := map[string]bool{}
	var out []entry
	for _, e := range es {
		if !seen[e.path] {
			seen[e.path] = true
			out = append(out, e)
		}
	}
	return out
}

// uniqueNames puts the prefix in front of clashing names, then numbers
// whatever still clashes.
func uniqueNames(es []entry) {
	count := map[string]int{}
	for _, e := range es {
		count[e.name]++
	}
	for i := range es {
		if count[es[i].name] > 1 {
			es[i].name = es[i].prefix + "/" + es[i].name
		}
	}
	used := map[string]int{}
	for i := range es {
		n := es[i].name
		if used[n]++; used[n] > 1 {
			es[i].name = fmt.Sprintf("%s (%d)", n, used[n])
		}
	}
}

func uniqueEvalNames(evs []*Eval) {
	es := make([]entry, len(evs))
	for i, e := range evs {
		es[i] = entry{name: e.Name, prefix: filepath.Base(filepath.Dir(e.Path))}
	}
	uniqueNames(es)
	for i := range evs {
		evs[i].Name = es[i].name
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// firstByte is the file's first non-space byte: '[' for a summary.json.
func firstByte(path string) byte {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	buf := make([]byte, 512)
	n, _ := f.Read(buf)
	if t := bytes.TrimSpace(buf[:n]); len(t) > 0 {
		return t[0]
	}
	return 0
}
