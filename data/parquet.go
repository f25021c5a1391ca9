package data

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// Parquet rows are assembled into the same map[string]any shape a JSON row
// decodes to, straight from the column values and their repetition and
// definition levels (the Dremel record assembly). Doing it here rather than
// through the library's reflection-based reconstruction keeps the mapping
// predictable for every list layout writers produce: the standard three-level
// LIST (pyarrow, arrow-rs, HF datasets), the legacy two-level one, and bare
// repeated fields.

// pnode is one schema node with its levels precomputed.
type pnode struct {
	name     string
	optional bool
	repeated bool
	def, rep int // maximum levels at this node, counting itself
	ncols    int // leaf columns under this node

	leaf    bool
	strings bool // byte arrays annotated as text

	fields []*pnode

	list      bool // LIST-annotated group; fields[0] is the repeated child
	unwrapOne bool // the LIST's repeated child is a one-field wrapper around the element
	isMap     bool // MAP-annotated group; fields[0] is the repeated key_value child
}

func buildNode(n parquet.Node, name string, def, rep int) *pnode {
	p := &pnode{name: name, optional: n.Optional(), repeated: n.Repeated()}
	if p.optional || p.repeated {
		def++
	}
	if p.repeated {
		rep++
	}
	p.def, p.rep = def, rep
	if n.Leaf() {
		p.leaf, p.ncols = true, 1
		switch logical(n).(type) {
		case *format.StringType, *format.EnumType, *format.JsonType:
			p.strings = true
		}
		return p
	}
	for _, f := range n.Fields() {
		c := buildNode(f, f.Name(), def, rep)
		p.fields = append(p.fields, c)
		p.ncols += c.ncols
	}
	lt := logical(n)
	if len(p.fields) == 1 && p.fields[0].repeated {
		r := p.fields[0]
		switch lt.(type) {
		case *format.ListType:
			p.list = true
			// The spec's backward-compatibility rules: a repeated group
			// with one field is a wrapper unless it is named "array" or
			// "<list>_tuple", in which case it is the element itself.
			p.unwrapOne = !r.leaf && len(r.fields) == 1 && r.name != "array" && r.name != name+"_tuple"
		case *format.MapType:
			p.isMap = !r.leaf && len(r.fields) == 2
		}
	}
	return p
}

func logical(n parquet.Node) format.LogicalTypeValue {
	if lt := n.Type().LogicalType(); lt != nil {
		return lt.Value
	}
	return nil
}

var errLevels = errors.New("malformed repetition/definition levels")

// value assembles node n from vals, the values of its leaf columns for one
// instance of its parent.
func (n *pnode) value(vals [][]parquet.Value) (any, error) {
	if len(vals) == 0 || len(vals[0]) == 0 {
		return nil, errLevels
	}
	d := vals[0][0].DefinitionLevel()
	if n.repeated {
		if d < n.def {
			return []any{}, nil
		}
		return n.elements(vals)
	}
	if n.optional && d < n.def {
		return nil, nil
	}
	return n.inner(vals)
}

// elements splits each column at the values that start a new element (those
// repeating at this node's level) and assembles each element.
func (n *pnode) elements(vals [][]parquet.Value) ([]any, error) {
	count := 0
	for k, v := range vals[0] {
		if k == 0 || v.RepetitionLevel() <= n.rep {
			count++
		}
	}
	out := make([]any, 0, count)
	sub := make([][]parquet.Value, len(vals))
	rest := make([][]parquet.Value, len(vals))
	copy(rest, vals)
	for range count {
		for j, col := range rest {
			if len(col) == 0 {
				return nil, errLevels
			}
			end := 1
			for end < len(col) && col[end].RepetitionLevel() > n.rep {
				end++
			}
			sub[j], rest[j] = col[:end], col[end:]
		}
		x, err := n.inner(sub)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	for _, col := range rest {
		if len(col) != 0 {
			return nil, errLevels
		}
	}
	return out, nil
}

func (n *pnode) inner(vals [][]parquet.Value) (any, error) {
	if n.leaf {
		return n.convert(vals[0][0]), nil
	}
	m := make(map[string]any, len(n.fields))
	off := 0
	for _, f := range n.fields {
		x, err := f.value(vals[off : off+f.ncols])
		if err != nil {
			return nil, err
		}
		off += f.ncols
		m[f.name] = x
	}
	switch {
	case n.list:
		list, _ := m[n.fields[0].name].([]any)
		if n.unwrapOne {
			inner := n.fields[0].fields[0].name
			for i, e := range list {
				list[i] = e.(map[string]any)[inner]
			}
		}
		return list, nil
	case n.isMap:
		kv, _ := m[n.fields[0].name].([]any)
		out := make(map[string]any, len(kv))
		k, v := n.fields[0].fields[0].name, n.fields[0].fields[1].name
		for _, e := range kv {
			e := e.(map[string]any)
			out[fmt.Sprint(e[k])] = e[v]
		}
		return out, nil
	}
	return m, nil
}

func (n *pnode) convert(v parquet.Value) any {
	if v.IsNull() {
		return nil
	}
	switch v.Kind() {
	case parquet.Boolean:
		return v.Boolean()
	case parquet.Int32:
		return int64(v.Int32())
	case parquet.Int64:
		return v.Int64()
	case parquet.Float:
		return float64(v.Float())
	case parquet.Double:
		return v.Double()
	case parquet.ByteArray:
		// Old writers leave text unannotated; valid UTF-8 is taken as text
		// so that such files still read, anything else stays binary.
		b := v.ByteArray()
		if n.strings || utf8.Valid(b) {
			return string(b)
		}
		return append([]byte(nil), b...)
	case parquet.Int96:
		return v.String()
	}
	return append([]byte(nil), v.ByteArray()...)
}

type parquetRow struct {
	row map[string]any
	loc string
	err error
}

type parquetSource struct {
	path    string
	f       *os.File
	root    *pnode
	groups  []parquet.RowGroup
	g       int
	rows    parquet.Rows
	buf     []parquet.Row
	pending []parquetRow
	index   int64
	cols    [][]parquet.Value
}

func openParquet(path string) (source, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if err := checkFrame(f, st.Size()); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	pf, err := safeOpen(f, st.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	root := buildNode(pf.Schema(), "", 0, 0)
	return &parquetSource{
		path:   path,
		f:      f,
		root:   root,
		groups: pf.RowGroups(),
		buf:    make([]parquet.Row, 64),
		cols:   make([][]parquet.Value, root.ncols),
	}, nil
}

// checkFrame checks the magic bytes and that the footer fits in the file.
// The library sizes its footer buffer from the stored length before
// comparing it with the file, so one flipped bit there costs gigabytes.
func checkFrame(f *os.File, size int64) error {
	const magic = "PAR1"
	if size < 12 {
		return fmt.Errorf("not a Parquet file (%d bytes)", size)
	}
	head := make([]byte, 4)
	tail := make([]byte, 8)
	if _, err := f.ReadAt(head, 0); err != nil {
		return err
	}
	if _, err := f.ReadAt(tail, size-8); err != nil {
		return err
	}
	if string(head) != magic || string(tail[4:]) != magic {
		return errors.New("not a Parquet file (no PAR1 magic)")
	}
	if n := int64(binary.LittleEndian.Uint32(tail)); n > size-12 {
		return fmt.Errorf("corrupt Parquet file: footer of %d bytes in a %d-byte file", n, size)
	}
	return nil
}

// safeOpen turns the library's panics on corrupt files into errors: a bad
// file must not take the trainer down.
func safeOpen(f *os.File, size int64) (pf *parquet.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("corrupt Parquet file: %v", r)
		}
	}()
	return parquet.OpenFile(f, size)
}

func (s *parquetSource) next() (map[string]any, string, error) {
	for len(s.pending) == 0 {
		if err := s.fill(); err != nil {
			return nil, "", err
		}
	}
	p := s.pending[0]
	s.pending = s.pending[1:]
	return p.row, p.loc, p.err
}

// fill reads the next batch and assembles it at once, because row values may
// point into page buffers that the next ReadRows reuses.
func (s *parquetSource) fill() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: row %d: corrupt Parquet data: %v", s.path, s.index, r)
		}
	}()
	for s.rows == nil {
		if s.g >= len(s.groups) {
			return io.EOF
		}
		s.rows = s.groups[s.g].Rows()
		s.g++
	}
	n, rerr := s.rows.ReadRows(s.buf)
	for _, r := range s.buf[:n] {
		loc := fmt.Sprintf("%s: row %d", s.path, s.index)
		s.index++
		m, err := s.assemble(r)
		if err != nil {
			s.pending = append(s.pending, parquetRow{loc: loc, err: (&fieldError{msg: err.Error(), reason: "malformed Parquet row"}).at(loc)})
			continue
		}
		s.pending = append(s.pending, parquetRow{row: m, loc: loc})
	}
	if rerr == io.EOF || (rerr == nil && n == 0) {
		s.rows.Close()
		s.rows = nil
		return nil
	}
	if rerr != nil {
		return fmt.Errorf("%s: row %d: %w", s.path, s.index, rerr)
	}
	return nil
}

func (s *parquetSource) assemble(r parquet.Row) (map[string]any, error) {
	for i := range s.cols {
		s.cols[i] = nil
	}
	start := 0
	for i := 1; i <= len(r); i++ {
		if i == len(r) || r[i].Column() != r[start].Column() {
			c := r[start].Column()
			if c < 0 || c >= len(s.cols) || s.cols[c] != nil {
				return nil, errLevels
			}
			s.cols[c] = r[start:i]
			start = i
		}
	}
	m := make(map[string]any, len(s.root.fields))
	off := 0
	for _, f := range s.root.fields {
		x, err := f.value(s.cols[off : off+f.ncols])
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", f.name, err)
		}
		off += f.ncols
		m[f.name] = x
	}
	return m, nil
}

func (s *parquetSource) Close() error {
	if s.rows != nil {
		s.rows.Close()
	}
	return s.f.Close()
}
