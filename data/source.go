package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// source yields raw rows. next returns io.EOF at the end, a *RowError for a
// row that is bad on its own (the next call continues after it), and any
// other error when the file itself cannot be read further.
type source interface {
	next() (row map[string]any, loc string, err error)
	Close() error
}

const defaultMaxLine = 64 << 20

// openSource picks the reader from the extension: .jsonl/.ndjson are JSON
// lines, .json is a JSON array if its first non-space byte is '[' and JSON
// lines otherwise (both occur in the wild under that name), .parquet is
// Parquet. A trailing .gz on the JSON kinds is decompressed on the fly.
func openSource(path string, maxLine int) (source, error) {
	if maxLine <= 0 {
		maxLine = defaultMaxLine
	}
	name := strings.ToLower(path)
	gz := strings.HasSuffix(name, ".gz")
	name = strings.TrimSuffix(name, ".gz")
	ext := filepath.Ext(name)
	switch ext {
	case ".parquet":
		if gz {
			return nil, fmt.Errorf("%s: gzipped Parquet is not supported (Parquet compresses its own pages)", path)
		}
		return openParquet(path)
	case ".jsonl", ".ndjson", ".json":
	default:
		return nil, fmt.Errorf("%s: unknown file type %q (want .jsonl, .ndjson, .json or .parquet, optionally .gz for JSON)", path, ext)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	var r io.Reader = f
	closer := f.Close
	if gz {
		zr, err := gzip.NewReader(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		r = zr
		closer = func() error { zr.Close(); return f.Close() }
	}
	br := bufio.NewReaderSize(r, 1<<16)
	if b, _ := br.Peek(3); bytes.Equal(b, []byte("\xef\xbb\xbf")) {
		br.Discard(3) // a UTF-8 BOM, as some Windows tools write
	}
	if ext == ".json" {
		if c, err := firstByte(br); err == nil && c == '[' {
			return newArraySource(path, br, closer)
		}
	}
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 0, min(1<<16, maxLine)), maxLine)
	return &jsonlSource{path: path, sc: sc, closer: closer, maxLine: maxLine}, nil
}

// firstByte peeks at the first byte that is not white space.
func firstByte(br *bufio.Reader) (byte, error) {
	for n := 1; n <= 1<<16; n++ {
		b, err := br.Peek(n)
		if len(b) < n {
			if err == nil {
				err = io.EOF
			}
			return 0, err
		}
		if c := b[n-1]; c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return c, nil
		}
	}
	return 0, errors.New("only white space in the first 64 KiB")
}

type jsonlSource struct {
	path    string
	sc      *bufio.Scanner
	closer  func() error
	line    int
	maxLine int
}

func (s *jsonlSource) next() (map[string]any, string, error) {
	for s.sc.Scan() {
		s.line++
		b := s.sc.Bytes()
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		loc := fmt.Sprintf("%s:%d", s.path, s.line)
		row, err := decodeRow(b)
		if err != nil {
			return nil, loc, err.at(loc)
		}
		return row, loc, nil
	}
	if err := s.sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, "", fmt.Errorf("%s:%d: line longer than %d bytes (raise Options.MaxLineBytes)", s.path, s.line+1, s.maxLine)
		}
		return nil, "", fmt.Errorf("%s:%d: %w", s.path, s.line+1, err)
	}
	return nil, "", io.EOF
}

func (s *jsonlSource) Close() error { return s.closer() }

// decodeRow decodes one JSON object.
func decodeRow(b []byte) (map[string]any, *fieldError) {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, &fieldError{msg: "invalid JSON: " + err.Error(), reason: "invalid JSON"}
	}
	return asObject(v)
}

func asObject(v any) (map[string]any, *fieldError) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &fieldError{msg: "row is not a JSON object (got " + typeName(v) + ")", reason: "row is not an object"}
	}
	return m, nil
}

// arraySource streams the elements of one top-level JSON array. A syntax
// error ends the file: unlike JSON lines there is no way to resynchronise.
type arraySource struct {
	path   string
	dec    *json.Decoder
	closer func() error
	i      int
	done   bool
}

func newArraySource(path string, r io.Reader, closer func() error) (source, error) {
	dec := json.NewDecoder(r)
	if t, err := dec.Token(); err != nil || t != json.Delim('[') {
		closer()
		return nil, fmt.Errorf("%s: want a JSON array: %v", path, err)
	}
	return &arraySource{path: path, dec: dec, closer: closer}, nil
}

func (s *arraySource) next() (map[string]any, string, error) {
	if s.done {
		return nil, "", io.EOF
	}
	loc := fmt.Sprintf("%s: row %d", s.path, s.i)
	if !s.dec.More() {
		s.done = true
		if _, err := s.dec.Token(); err != nil {
			return nil, "", fmt.Errorf("%s: after row %d: %w", s.path, s.i-1, err)
		}
		return nil, "", io.EOF
	}
	var v any
	if err := s.dec.Decode(&v); err != nil {
		s.done = true
		return nil, "", fmt.Errorf("%s: invalid JSON: %w", loc, err)
	}
	s.i++
	m, err := asObject(v)
	if err != nil {
		return nil, loc, err.at(loc)
	}
	return m, loc, nil
}

func (s *arraySource) Close() error { return s.closer() }
