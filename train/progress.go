package train

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress shows the run to a person: a bar on a terminal, plain lines
// elsewhere (logs, CI). Methods may be called from the signal goroutine.
type progress interface {
	start(step, total int)
	update(step int, loss, tokPerSec float64)
	row(kind string, step int, line string)
	message(msg string)
	finish(msg string)
}

func newProgress(w io.Writer, every int) progress {
	if w == nil {
		w = os.Stderr
	}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return &barProgress{w: w}
	}
	return &lineProgress{w: w}
}

// lineProgress prints one line per logged row, with an ETA.
type lineProgress struct {
	mu          sync.Mutex
	w           io.Writer
	total       int
	first       int
	startedAt   time.Time
	lastStepNum int
}

func (p *lineProgress) start(step, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.first, p.total, p.startedAt = step, total, time.Now()
	fmt.Fprintf(p.w, "training: step %d of %d\n", step, total)
}

func (p *lineProgress) update(step int, loss, tokPerSec float64) {
	p.mu.Lock()
	p.lastStepNum = step
	p.mu.Unlock()
}

func (p *lineProgress) row(kind string, step int, line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	eta := ""
	if done := step - p.first; done > 0 && kind == "train" && step < p.total {
		left := time.Duration(float64(time.Since(p.startedAt)) / float64(done) * float64(p.total-step))
		eta = " | eta " + left.Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "%s step %d/%d | %s%s\n", kind, step, p.total, line, eta)
}

func (p *lineProgress) message(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintln(p.w, msg)
}

func (p *lineProgress) finish(msg string) { p.message(msg) }

// barProgress is a terminal progress bar with ETA, loss and tokens/s; rows
// and messages print above it.
type barProgress struct {
	mu  sync.Mutex
	w   io.Writer
	bar *progressbar.ProgressBar
	off int
}

func (p *barProgress) start(step, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.off = step
	// The bar counts only this session's steps so that its rate and ETA are right after a resume.
	p.bar = progressbar.NewOptions(total-step,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetWidth(30),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionShowCount(),
		progressbar.OptionSetDescription(fmt.Sprintf("steps %d-%d", step+1, total)),
	)
}

func (p *barProgress) update(step int, loss, tokPerSec float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	// The count is the bar's own; the description carries the step's numbers.
	p.bar.Describe(fmt.Sprintf("loss %.4f %s tok/s", loss, humanRate(tokPerSec)))
	p.bar.Set(step - p.off)
}

func (p *barProgress) print(line string) {
	if p.bar == nil {
		fmt.Fprintln(p.w, line)
		return
	}
	p.bar.Clear()
	fmt.Fprintln(p.w, line)
	p.bar.RenderBlank()
}

func (p *barProgress) row(kind string, step int, line string) {
	if kind == "train" {
		return // the bar shows it
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.print(fmt.Sprintf("%s step %d | %s", kind, step, line))
}

func (p *barProgress) message(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.print(msg)
}

func (p *barProgress) finish(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Exit()
		fmt.Fprintln(p.w)
	}
	fmt.Fprintln(p.w, msg)
}

func humanRate(x float64) string {
	switch {
	case x >= 1e6:
		return fmt.Sprintf("%.2fM", x/1e6)
	case x >= 1e3:
		return fmt.Sprintf("%.1fk", x/1e3)
	}
	return strings.TrimSuffix(fmt.Sprintf("%.0f", x), ".")
}
