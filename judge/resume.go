package judge

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
)

// Run judges items in batches and appends one JSONL line per finished item to
// path, fsync'd after every batch, so a killed run loses at most the batch in
// flight. On restart it reads path, drops a torn last line (a kill mid-write),
// and skips every item whose id is already there: no judgment is lost or
// repeated. Each line work returns must marshal to a JSON object whose "id"
// field is the item's id. Ids must be unique.
func Run[I, O any](ctx context.Context, path string, items []I, id func(I) string, batch int,
	work func(context.Context, []I) ([]O, error)) (done int, err error) {
	if batch <= 0 {
		batch = 1
	}
	seen, size, err := readDone(path)
	if err != nil {
		return 0, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil { // drop a torn line
		return 0, err
	}
	if _, err := f.Seek(size, 0); err != nil {
		return 0, err
	}
	var todo []I
	ids := map[string]bool{}
	for _, it := range items {
		k := id(it)
		if ids[k] {
			return 0, fmt.Errorf("judge.Run: id %q appears twice in the items", k)
		}
		ids[k] = true
		if !seen[k] {
			todo = append(todo, it)
		}
	}
	done = len(items) - len(todo)
	for len(todo) > 0 {
		n := min(batch, len(todo))
		outs, err := work(ctx, todo[:n])
		if err != nil {
			return done, err
		}
		if len(outs) != n {
			return done, fmt.Errorf("judge.Run: %d results for %d items", len(outs), n)
		}
		var buf bytes.Buffer
		for k, o := range outs {
			b, err := json.Marshal(o)
			if err != nil {
				return done, err
			}
			var rec struct {
				ID *string `json:"id"`
			}
			if json.Unmarshal(b, &rec) != nil || rec.ID == nil || *rec.ID != id(todo[k]) {
				return done, fmt.Errorf("judge.Run: result %s lacks \"id\": %q", b, id(todo[k]))
			}
			buf.Write(b)
			buf.WriteByte('\n')
		}
		if _, err := f.Write(buf.Bytes()); err != nil {
			return done, err
		}
		if err := f.Sync(); err != nil {
			return done, err
		}
		done += n
		todo = todo[n:]
	}
	return done, nil
}

// readDone returns the ids in path and the length of its complete lines.
func readDone(path string) (map[string]bool, int64, error) {
	seen := map[string]bool{}
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return seen, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	var size int64
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, len(b)+1)
	for line := 1; sc.Scan(); line++ {
		l := sc.Bytes()
		if int(size)+len(l) >= len(b) { // no newline: torn by a kill
			break
		}
		var rec struct {
			ID *string `json:"id"`
		}
		if err := json.Unmarshal(l, &rec); err != nil || rec.ID == nil {
			return nil, 0, fmt.Errorf("%s:%d: not a JSON object with an \"id\"", path, line)
		}
		if seen[*rec.ID] {
			return nil, 0, fmt.Errorf("%s:%d: id %q repeated", path, line, *rec.ID)
		}
		seen[*rec.ID] = true
		size += int64(len(l)) + 1
	}
	return seen, size, nil
}
