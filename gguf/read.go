package gguf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// TensorInfo describes a tensor stored in a file.
type TensorInfo struct {
	Name   string
	Type   Type
	Shape  []int // ggml order: Shape[0] is the row length
	Offset int64 // from the start of the data section
	Size   int64 // encoded bytes
}

// Elements is the number of values t holds.
func (t TensorInfo) Elements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// File is a parsed GGUF file; tensor data is read on demand.
type File struct {
	Version    uint32
	KV         []KV
	Tensors    []TensorInfo
	Alignment  int
	DataOffset int64

	name   string
	r      io.ReaderAt
	size   int64
	closer io.Closer
	kvIdx  map[string]int
	tIdx   map[string]int
}

// Open parses the GGUF file at path. Close releases it.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, err
	}
	f, err := Read(fh, st.Size(), path)
	if err != nil {
		fh.Close()
		return nil, err
	}
	f.closer = fh
	return f, nil
}

// Close closes the underlying file when Open opened it.
func (f *File) Close() error {
	if f.closer != nil {
		return f.closer.Close()
	}
	return nil
}

// Read parses a GGUF file of size bytes from r; name is used in errors.
func Read(r io.ReaderAt, size int64, name string) (*File, error) {
	p := &parser{r: r, size: size, name: name}
	f, err := p.file()
	if err != nil {
		return nil, err
	}
	f.name, f.r, f.size = name, r, size
	return f, nil
}

type parser struct {
	r    io.ReaderAt
	size int64
	off  int64
	name string
	// win holds the file's bytes from winOff on: the header is thousands of
	// small fields (a 151k-token vocabulary is 300k of them), and one
	// ReadAt each made opening such a file cost a system call per field.
	win    []byte
	winOff int64
}

// window is how much of the header the parser reads at a time.
const window = 64 << 10

var errShort = errors.New("unexpected end of file")

func (p *parser) errf(format string, args ...any) error {
	return fmt.Errorf("%s: offset %d: %s", p.name, p.off, fmt.Sprintf(format, args...))
}

func (p *parser) read(n int) ([]byte, error) {
	if int64(n) > p.size-p.off || n < 0 {
		return nil, errShort
	}
	if lo := p.off - p.winOff; lo < 0 || lo+int64(n) > int64(len(p.win)) {
		// Refill into a fresh slice: callers copy what they keep, but a
		// slice handed out earlier must never change under them.
		want := min(max(int64(n), window), p.size-p.off)
		b := make([]byte, want)
		got, err := p.r.ReadAt(b, p.off)
		if got < n {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		p.win, p.winOff = b[:got], p.off
	}
	lo := p.off - p.winOff
	p.off += int64(n)
	return p.win[lo : lo+int64(n) : lo+int64(n)], nil
}

func (p *parser) u32() (uint32, error) {
	b, err := p.read(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (p *parser) u64() (uint64, error) {
	b, err := p.read(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

func (p *parser) str() (string, error) {
	n, err := p.u64()
	if err != nil {
		return "", err
	}
	if n > uint64(p.size-p.off) {
		return "", errShort
	}
	b, err := p.read(int(n))
	return string(b), err
}

// count reads an element count and checks that count elements of at least
// minSize bytes each can still fit in the file, so a corrupt count cannot
// trigger a huge allocation.
func (p *parser) count(minSize int64) (int, error) {
	n, err := p.u64()
	if err != nil {
		return 0, err
	}
	if n > uint64((p.size-p.off)/minSize) {
		return 0, fmt.Errorf("count %d does not fit in the %d bytes left", n, p.size-p.off)
	}
	return int(n), nil
}

func (p *parser) file() (*File, error) {
	magic, err := p.read(4)
	if err != nil || string(magic) != Magic {
		return nil, fmt.Errorf("%s: not a GGUF file (no %q magic)", p.name, Magic)
	}
	f := &File{kvIdx: map[string]int{}, tIdx: map[string]int{}}
	if f.Version, err = p.u32(); err != nil {
		return nil, p.errf("version: %v", err)
	}
	if f.Version != 2 && f.Version != 3 {
		return nil, p.errf("GGUF version %d not supported (want 2 or 3)", f.Version)
	}
	nt, err := p.count(24)
	if err != nil {
		return nil, p.errf("tensor count: %v", err)
	}
	nkv, err := p.count(13)
	if err != nil {
		return nil, p.errf("metadata count: %v", err)
	}
	for i := 0; i < nkv; i++ {
		key, err := p.str()
		if err != nil {
			return nil, p.errf("metadata entry %d key: %v", i, err)
		}
		t, err := p.u32()
		if err != nil {
			return nil, p.errf("metadata %q type: %v", key, err)
		}
		v, err := p.value(ValueType(t), 0)
		if err != nil {
			return nil, p.errf("metadata %q: %v", key, err)
		}
		if _, dup := f.kvIdx[key]; dup {
			return nil, p.errf("metadata %q appears twice", key)
		}
		f.kvIdx[key] = len(f.KV)
		f.KV = append(f.KV, KV{key, v})
	}
	f.Alignment = DefaultAlignment
	if v, ok := f.Get("general.alignment"); ok {
		a, ok := v.(uint32)
		if !ok || a == 0 || a&(a-1) != 0 {
			return nil, fmt.Errorf("%s: metadata \"general.alignment\": want a power-of-two uint32, got %T %v", p.name, v, v)
		}
		f.Alignment = int(a)
	}
	for i := 0; i < nt; i++ {
		var ti TensorInfo
		if ti.Name, err = p.str(); err != nil {
			return nil, p.errf("tensor %d name: %v", i, err)
		}
		nd, err := p.u32()
		if err != nil {
			return nil, p.errf("tensor %q dimensions: %v", ti.Name, err)
		}
		if nd == 0 || nd > 4 {
			return nil, p.errf("tensor %q: %d dimensions (want 1 to 4)", ti.Name, nd)
		}
		elems := int64(1)
		for d := uint32(0); d < nd; d++ {
			n, err := p.u64()
			if err != nil {
				return nil, p.errf("tensor %q shape: %v", ti.Name, err)
			}
			if n == 0 || n > 1<<40 || elems > (1<<50)/int64(n) {
				return nil, p.errf("tensor %q: dimension %d is %d", ti.Name, d, n)
			}
			elems *= int64(n)
			ti.Shape = append(ti.Shape, int(n))
		}
		t, err := p.u32()
		if err != nil {
			return nil, p.errf("tensor %q type: %v", ti.Name, err)
		}
		ti.Type = Type(t)
		if !ti.Type.Known() {
			return nil, p.errf("tensor %q: unknown ggml type %d", ti.Name, t)
		}
		row, err := RowBytes(ti.Type, ti.Shape[0])
		if err != nil {
			return nil, p.errf("tensor %q: %v", ti.Name, err)
		}
		ti.Size = int64(row) * elems / int64(ti.Shape[0])
		off, err := p.u64()
		if err != nil {
			return nil, p.errf("tensor %q offset: %v", ti.Name, err)
		}
		if off%uint64(f.Alignment) != 0 || off > 1<<60 {
			return nil, p.errf("tensor %q: offset %d is not a multiple of the alignment %d", ti.Name, off, f.Alignment)
		}
		ti.Offset = int64(off)
		if _, dup := f.tIdx[ti.Name]; dup {
			return nil, p.errf("tensor %q appears twice", ti.Name)
		}
		f.tIdx[ti.Name] = len(f.Tensors)
		f.Tensors = append(f.Tensors, ti)
	}
	f.DataOffset = int64(pad(int(p.off), f.Alignment))
	for _, ti := range f.Tensors {
		if f.DataOffset+ti.Offset+ti.Size > p.size {
			return nil, fmt.Errorf("%s: tensor %q: data [%d, %d) runs past the end of the file (%d bytes)",
				p.name, ti.Name, f.DataOffset+ti.Offset, f.DataOffset+ti.Offset+ti.Size, p.size)
		}
	}
	return f, nil
}

func (p *parser) value(t ValueType, depth int) (any, error) {
	switch t {
	case TypeUint8, TypeInt8, TypeBool:
		b, err := p.read(1)
		if err != nil {
			return nil, err
		}
		switch t {
		case TypeInt8:
			return int8(b[0]), nil
		case TypeBool:
			if b[0] > 1 {
				return nil, fmt.Errorf("bool byte %d", b[0])
			}
			return b[0] == 1, nil
		}
		return b[0], nil
	case TypeUint16, TypeInt16:
		b, err := p.read(2)
		if err != nil {
			return nil, err
		}
		v := binary.LittleEndian.Uint16(b)
		if t == TypeInt16 {
			return int16(v), nil
		}
		return v, nil
	case TypeUint32, TypeInt32, TypeFloat32:
		v, err := p.u32()
		if err != nil {
			return nil, err
		}
		switch t {
		case TypeInt32:
			return int32(v), nil
		case TypeFloat32:
			return math.Float32frombits(v), nil
		}
		return v, nil
	case TypeUint64, TypeInt64, TypeFloat64:
		v, err := p.u64()
		if err != nil {
			return nil, err
		}
		switch t {
		case TypeInt64:
			return int64(v), nil
		case TypeFloat64:
			return math.Float64frombits(v), nil
		}
		return v, nil
	case TypeString:
		return p.str()
	case TypeArray:
		if depth > 2 {
			return nil, fmt.Errorf("arrays nested deeper than 3")
		}
		et, err := p.u32()
		if err != nil {
			return nil, err
		}
		return p.array(ValueType(et), depth)
	}
	return nil, fmt.Errorf("unknown value type %d", uint32(t))
}

func elemMin(t ValueType) int64 {
	switch t {
	case TypeUint16, TypeInt16:
		return 2
	case TypeUint32, TypeInt32, TypeFloat32:
		return 4
	case TypeUint64, TypeInt64, TypeFloat64, TypeString:
		return 8
	case TypeArray:
		return 12
	}
	return 1
}

func (p *parser) array(et ValueType, depth int) (any, error) {
	n, err := p.count(elemMin(et))
	if err != nil {
		return nil, err
	}
	switch et {
	case TypeString:
		out := make([]string, n)
		for i := range out {
			if out[i], err = p.str(); err != nil {
				return nil, fmt.Errorf("element %d: %v", i, err)
			}
		}
		return out, nil
	case TypeArray:
		out := make([]any, n)
		for i := range out {
			if out[i], err = p.value(TypeArray, depth+1); err != nil {
				return nil, fmt.Errorf("element %d: %v", i, err)
			}
		}
		return out, nil
	}
	switch et {
	case TypeUint8, TypeInt8, TypeBool, TypeUint16, TypeInt16, TypeUint32, TypeInt32, TypeFloat32,
		TypeUint64, TypeInt64, TypeFloat64:
	default:
		return nil, fmt.Errorf("unknown array element type %d", uint32(et))
	}
	b, err := p.read(n * int(elemMin(et)))
	if err != nil {
		return nil, err
	}
	switch et {
	case TypeUint8:
		return append([]uint8(nil), b...), nil
	case TypeInt8:
		out := make([]int8, n)
		for i := range out {
			out[i] = int8(b[i])
		}
		return out, nil
	case TypeBool:
		out := make([]bool, n)
		for i := range out {
			if b[i] > 1 {
				return nil, fmt.Errorf("element %d: bool byte %d", i, b[i])
			}
			out[i] = b[i] == 1
		}
		return out, nil
	case TypeUint16:
		out := make([]uint16, n)
		for i := range out {
			out[i] = binary.LittleEndian.Uint16(b[2*i:])
		}
		return out, nil
	case TypeInt16:
		out := make([]int16, n)
		for i := range out {
			out[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
		}
		return out, nil
	case TypeUint32:
		out := make([]uint32, n)
		for i := range out {
			out[i] = binary.LittleEndian.Uint32(b[4*i:])
		}
		return out, nil
	case TypeInt32:
		out := make([]int32, n)
		for i := range out {
			out[i] = int32(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return out, nil
	case TypeFloat32:
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return out, nil
	case TypeUint64:
		out := make([]uint64, n)
		for i := range out {
			out[i] = binary.LittleEndian.Uint64(b[8*i:])
		}
		return out, nil
	case TypeInt64:
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
		}
		return out, nil
	default: // TypeFloat64
		out := make([]float64, n)
		for i := range out {
			out[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
		}
		return out, nil
	}
}

// Get returns a metadata value.
func (f *File) Get(key string) (any, bool) {
	i, ok := f.kvIdx[key]
	if !ok {
		return nil, false
	}
	return f.KV[i].Value, true
}

// Tensor returns a tensor's descriptor.
func (f *File) Tensor(name string) (TensorInfo, bool) {
	i, ok := f.tIdx[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.Tensors[i], true
}

// Raw returns a tensor's encoded bytes.
func (f *File) Raw(name string) ([]byte, TensorInfo, error) {
	ti, ok := f.Tensor(name)
	if !ok {
		return nil, ti, fmt.Errorf("%s: no tensor %q", f.name, name)
	}
	b := make([]byte, ti.Size)
	if _, err := f.r.ReadAt(b, f.DataOffset+ti.Offset); err != nil {
		return nil, ti, fmt.Errorf("%s: tensor %q: %v", f.name, name, err)
	}
	return b, ti, nil
}

// Float32 returns a tensor's values, dequantised, row-major.
func (f *File) Float32(name string) ([]float32, TensorInfo, error) {
	b, ti, err := f.Raw(name)
	if err != nil {
		return nil, ti, err
	}
	out, err := Decode(ti.Type, b, ti.Elements())
	if err != nil {
		return nil, ti, fmt.Errorf("%s: tensor %q: %v", f.name, name, err)
	}
	return out, ti, nil
}
