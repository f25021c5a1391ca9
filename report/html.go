package report

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/align-go/align/eval"
)

// page is the template's view of a Report.
type page struct {
	Created, Inputs string
	Runs            []runRow
	Charts          []*chart
	Omitted         []string
	Warnings        []string
	Tables          []table
	Samples         []sampleSet
}

type runRow struct {
	Name, Color, Dash, Dir, Desc, Keys string
	Rows                               int
	LastStep                           string
}

type table struct {
	ID, Title string
	Notes     []string
	Head      []string
	Rows      [][]cell
}

type cell struct {
	Text  string
	Num   bool
	Color string // a run's swatch
}

type sampleSet struct {
	Name              string
	Samples           []eval.Sample
	Total             int
	Failed            []eval.RedTeamResult
	RedTeamN, FailedN int
}

// Charts lists the charts the report draws, for callers that want to know
// what a page holds (the browser test counts them).
func (r *Report) Charts() []string {
	var ids []string
	for _, c := range r.charts() {
		ids = append(ids, c.ID)
	}
	return ids
}

func (r *Report) charts() []*chart {
	var out []*chart
	for _, s := range lineCharts {
		if c := lineChart(s, r.Runs); c != nil {
			out = append(out, c)
		}
		if s.id == klSpec.id { // reward vs KL reads best next to both
			if c := rewardKLChart(r.Runs); c != nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// WriteHTML renders the report as one HTML page.
func (r *Report) WriteHTML(w io.Writer) error {
	p := page{Created: r.Created.Format("2006-01-02 15:04:05 MST"), Inputs: strings.Join(r.Inputs, " "),
		Warnings: r.Warnings}
	for i, run := range r.Runs {
		color, dash := runColor(i)
		lastStep := math.Inf(-1)
		for _, s := range run.Series {
			if len(s) > 0 {
				lastStep = math.Max(lastStep, s[len(s)-1].Step)
			}
		}
		last := "-"
		if finite(lastStep) {
			last = fmtNum(lastStep)
		}
		p.Runs = append(p.Runs, runRow{Name: run.Name, Color: color, Dash: dash, Dir: run.Dir, Desc: run.Desc,
			Rows: run.Rows, LastStep: last, Keys: strings.Join(run.Keys, ", ")})
	}
	p.Charts = r.charts()
	drawn := map[string]bool{}
	for _, c := range p.Charts {
		drawn[c.ID] = true
	}
	for _, s := range lineCharts {
		if !drawn[s.id] && len(r.Runs) > 0 {
			p.Omitted = append(p.Omitted, fmt.Sprintf("%s: no run logged %s", s.title, strings.Join(s.keys, ", ")))
		}
		if s.id == klSpec.id && !drawn["reward_kl"] && len(r.Runs) > 0 {
			p.Omitted = append(p.Omitted, "Reward vs KL: no run logged a reward and a KL ("+
				strings.Join(klSpec.keys, ", ")+")")
		}
	}
	for _, s := range r.Summaries {
		p.Tables = append(p.Tables, summaryTable(s))
	}
	if t, ok := evalTable(r.Evals); ok {
		p.Tables = append(p.Tables, t)
	}
	if t, ok := trainEvalTable(r.Runs); ok {
		p.Tables = append(p.Tables, t)
	}
	for _, e := range r.Evals {
		ss := sampleSet{Name: e.Name, RedTeamN: len(e.RedTeam), Total: len(e.Samples)}
		ss.Samples = e.Samples[:min(3, len(e.Samples))]
		for _, rt := range e.RedTeam {
			if !rt.Passed {
				ss.FailedN++
				if len(ss.Failed) < 3 {
					ss.Failed = append(ss.Failed, rt)
				}
			}
		}
		if len(ss.Samples) > 0 || len(ss.Failed) > 0 {
			p.Samples = append(p.Samples, ss)
		}
	}
	return pageTmpl.Execute(w, p)
}

func summaryTable(s *Summary) table {
	t := table{ID: "summary-" + s.Name, Title: "Quickstart stages (" + s.Path + ")", Head: s.Columns}
	for _, row := range s.Rows {
		if why, ok := row["not_run"].(string); ok {
			t.Notes = append(t.Notes, fmt.Sprintf("%v: not run: %s", row["stage"], why))
		}
		var cs []cell
		for _, k := range s.Columns {
			cs = append(cs, anyCell(row[k]))
		}
		t.Rows = append(t.Rows, cs)
	}
	return t
}

func evalTable(evs []*Eval) (table, bool) {
	if len(evs) == 0 {
		return table{}, false
	}
	keys := map[string]bool{}
	for _, e := range evs {
		for k := range e.Metrics {
			keys[k] = true
		}
	}
	cols := sortedKeys(keys)
	t := table{ID: "eval", Title: "Evaluations (align eval: eval.json)",
		Head: append([]string{"run", "model", "baseline", "prompts", "wins / ties / losses"}, cols...)}
	for _, e := range evs {
		wtl := "-"
		if w := e.WinRate; w != nil {
			wtl = fmt.Sprintf("%d / %d / %d", w.Wins, w.Ties, w.Losses)
			if w.Incon > 0 {
				wtl += fmt.Sprintf(" (%d inconsistent)", w.Incon)
			}
		}
		row := []cell{{Text: e.Name}, {Text: e.Model}, {Text: orDash(e.Baseline)}, {Text: strconv.Itoa(e.Prompts), Num: true}, {Text: wtl}}
		for _, k := range cols {
			if v, ok := e.Metrics[k]; ok {
				row = append(row, cell{Text: fmtNum(v), Num: true})
			} else {
				row = append(row, cell{Text: "-"})
			}
		}
		t.Rows = append(t.Rows, row)
		for _, n := range e.NotMeasured {
			t.Notes = append(t.Notes, e.Name+": not measured: "+n)
		}
	}
	return t, true
}

// trainEvalTable shows each run's last eval_* row: where its held-out
// metrics ended.
func trainEvalTable(runs []*Run) (table, bool) {
	keys := map[string]bool{}
	for _, r := range runs {
		for _, k := range r.Keys {
			if strings.HasPrefix(k, "eval_") {
				keys[k] = true
			}
		}
	}
	if len(keys) == 0 {
		return table{}, false
	}
	delete(keys, "eval_loss")
	cols := append([]string{"eval_loss"}, sortedKeys(keys)...)
	t := table{ID: "train-eval", Title: "Evaluation during training (each run's last eval row)",
		Head: append([]string{"run", "step"}, cols...)}
	for i, r := range runs {
		step, has := math.Inf(-1), false
		for _, k := range cols {
			if s := r.Series[k]; len(s) > 0 {
				step, has = math.Max(step, s[len(s)-1].Step), true
			}
		}
		if !has {
			continue
		}
		color, _ := runColor(i)
		row := []cell{{Text: r.Name, Color: color}, {Text: fmtNum(step), Num: true}}
		for _, k := range cols {
			if s := r.Series[k]; len(s) > 0 {
				row = append(row, cell{Text: fmtNum(s[len(s)-1].Value), Num: true})
			} else {
				row = append(row, cell{Text: "-"})
			}
		}
		t.Rows = append(t.Rows, row)
	}
	return t, true
}

func anyCell(v any) cell {
	switch x := v.(type) {
	case nil:
		return cell{Text: "-"}
	case float64:
		return cell{Text: fmtNum(x), Num: true}
	case string:
		return cell{Text: x}
	}
	return cell{Text: fmt.Sprint(v)}
}

// fmtNum prints a table value or tooltip: whole numbers as they are,
// others to four significant digits.
func fmtNum(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 0):
		return strconv.FormatFloat(v, 'f', -1, 64)
	case v == math.Trunc(v) && a < 1e15:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 1e4:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a < 1e-3:
		return strconv.FormatFloat(v, 'e', 3, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Methods the template uses for positions it cannot compute itself.
func (c *chart) PlotW() float64   { return c.R - c.L }
func (c *chart) PlotH() float64   { return c.B - c.T }
func (c *chart) MidX() float64    { return (c.L + c.R) / 2 }
func (c *chart) XLabelY() float64 { return float64(c.H) - 8 }
func (c *chart) TickY() float64   { return c.B + 16 }
func (c *chart) TickX() float64   { return c.L - 6 }

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"num": func(p *float64) string { return fmtNum(*p) },
}).Parse(pageHTML))
