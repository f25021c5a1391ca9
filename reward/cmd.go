package reward

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
)

// Command is a reward computed by a long-running program. For each sample
// it is sent one JSON line on stdin,
//
//	{"prompt": "...", "completion": "...", <the prompt row's other fields>}
//
// and must answer one line {"reward": NUMBER} on stdout, in order. The
// program starts at the first Score and serves every later batch (it is not
// restarted); lines are written while answers are read, so a program may
// answer as it goes or batch internally. Its stderr is kept (the last few
// KiB) for the error when it dies.
type Command struct {
	Argv []string

	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	stderr tail
	lines  int // answers read so far, for error messages
	broken error
}

// Name is the reward's metric name.
func (c *Command) Name() string { return "cmd" }

func (c *Command) start() error {
	c.cmd = exec.Command(c.Argv[0], c.Argv[1:]...)
	c.cmd.Stderr = &c.stderr
	in, err := c.cmd.StdinPipe()
	if err != nil {
		return err
	}
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := c.cmd.Start(); err != nil {
		return fmt.Errorf("cmd: %w", err)
	}
	c.stdin, c.stdout = in, bufio.NewReaderSize(out, 1<<16)
	return nil
}

// Score sends every sample and reads one answer per sample.
func (c *Command) Score(ctx context.Context, samples []Sample) ([]float64, error) {
	if c.broken != nil {
		return nil, c.broken
	}
	if c.cmd == nil {
		if err := c.start(); err != nil {
			c.broken = err
			return nil, err
		}
	}
	werr := make(chan error, 1)
	go func() {
		w := bufio.NewWriter(c.stdin)
		for _, s := range samples {
			b, err := json.Marshal(sampleJSON(s))
			if err != nil {
				werr <- err
				return
			}
			w.Write(b)
			w.WriteByte('\n')
		}
		werr <- w.Flush()
	}()
	out := make([]float64, len(samples))
	for i := range samples {
		if err := ctx.Err(); err != nil {
			return nil, c.fail(err)
		}
		line, err := c.stdout.ReadString('\n')
		c.lines++
		if err != nil {
			return nil, c.fail(c.died(i))
		}
		var ans struct {
			Reward *float64 `json:"reward"`
		}
		if err := json.Unmarshal([]byte(line), &ans); err != nil || ans.Reward == nil {
			return nil, c.fail(fmt.Errorf("cmd %s: answer line %d (sample %d) is %q, want {\"reward\": NUMBER}", c.Argv[0], c.lines, i, strings.TrimSpace(truncate(line, 200))))
		}
		out[i] = *ans.Reward
	}
	if err := <-werr; err != nil {
		return nil, c.fail(fmt.Errorf("cmd %s: writing samples: %w", c.Argv[0], err))
	}
	return out, nil
}

// died describes the program's end after it stopped answering.
func (c *Command) died(sample int) error {
	c.stdin.Close()
	werr := c.cmd.Wait()
	msg := fmt.Sprintf("cmd %s: no answer line %d (sample %d): the program exited", c.Argv[0], c.lines, sample)
	if werr != nil {
		msg += " (" + werr.Error() + ")"
	}
	if t := strings.TrimSpace(c.stderr.String()); t != "" {
		msg += "; its stderr ends: " + t
	}
	c.cmd.Process = nil
	return errors.New(msg)
}

// fail stops the program after an error: its answers are out of step with
// the samples from now on, so no later batch may use it.
func (c *Command) fail(err error) error {
	c.broken = err
	c.Close()
	return err
}

// Close stops the program.
func (c *Command) Close() error {
	if c.cmd == nil || c.cmd.Process == nil {
		return nil
	}
	c.stdin.Close()
	c.cmd.Process.Kill()
	c.cmd.Wait()
	c.cmd.Process = nil
	return nil
}

// sampleJSON is the object cmd: and http: rewards receive per sample.
func sampleJSON(s Sample) map[string]any {
	m := make(map[string]any, len(s.Fields)+2)
	for k, v := range s.Fields {
		m[k] = v
	}
	m["prompt"] = s.Prompt
	m["completion"] = s.Completion
	return m
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// tail keeps the last 4 KiB written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 4096 {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-4096:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
