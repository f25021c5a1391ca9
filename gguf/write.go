package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// Magic is the first four bytes of every GGUF file.
const Magic = "GGUF"

// Version is the GGUF version written here.
const Version = 3

// DefaultAlignment is the data alignment when general.alignment is absent.
const DefaultAlignment = 32

// Tensor is a tensor on its way into a file. Shape is in ggml order: Shape[0]
// is the row length (the fastest-varying axis), so torch's [out, in] weight is
// Shape {in, out}. Data produces the encoded bytes when the file is written, so
// a large model need not hold every encoded tensor at once.
type Tensor struct {
	Name  string
	Type  Type
	Shape []int
	Data  func() ([]byte, error)

	src []float32 // AddFloat32's values: WriteTo encodes them a chunk of rows at a time
}

// Bytes is the encoded size of t.
func (t *Tensor) Bytes() (int, error) {
	if len(t.Shape) == 0 || len(t.Shape) > 4 {
		return 0, fmt.Errorf("tensor %q: %d dimensions (want 1 to 4)", t.Name, len(t.Shape))
	}
	row, err := RowBytes(t.Type, t.Shape[0])
	if err != nil {
		return 0, fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	n := row
	for _, d := range t.Shape[1:] {
		n *= d
	}
	return n, nil
}

// Writer assembles a GGUF file: metadata in insertion order, then tensors.
type Writer struct {
	kv      []KV
	index   map[string]int
	tensors []*Tensor
	names   map[string]bool
}

// NewWriter returns an empty writer.
func NewWriter() *Writer {
	return &Writer{index: map[string]int{}, names: map[string]bool{}}
}

// Set adds or replaces a metadata entry. The value's Go type fixes its GGUF
// type (see KV); an untyped Go int is refused so no width is guessed.
func (w *Writer) Set(key string, v any) error {
	if _, _, err := valueType(v); err != nil {
		return fmt.Errorf("metadata %q: %w", key, err)
	}
	if i, ok := w.index[key]; ok {
		w.kv[i].Value = v
		return nil
	}
	w.index[key] = len(w.kv)
	w.kv = append(w.kv, KV{key, v})
	return nil
}

// KV returns the metadata entries in file order.
func (w *Writer) KV() []KV { return w.kv }

// Tensors returns the tensors added so far, in file order.
func (w *Writer) Tensors() []*Tensor { return w.tensors }

// Add appends a tensor.
func (w *Writer) Add(t *Tensor) error {
	if w.names[t.Name] {
		return fmt.Errorf("tensor %q added twice", t.Name)
	}
	if _, err := t.Bytes(); err != nil {
		return err
	}
	w.names[t.Name] = true
	w.tensors = append(w.tensors, t)
	return nil
}

// AddFloat32 appends a tensor encoded from float32 values at write time; data
// is row-major with rows of Shape[0] elements.
func (w *Writer) AddFloat32(name string, typ Type, shape []int, data []float32) error {
	n := 1
	for _, d := range shape {
		n *= d
	}
	if n != len(data) {
		return fmt.Errorf("tensor %q: shape %v holds %d values, got %d", name, shape, n, len(data))
	}
	return w.Add(&Tensor{Name: name, Type: typ, Shape: shape, src: data, Data: func() ([]byte, error) {
		return Encode(typ, data, shape[0])
	}})
}

func (w *Writer) alignment() (int, error) {
	i, ok := w.index["general.alignment"]
	if !ok {
		return DefaultAlignment, nil
	}
	a, ok := w.kv[i].Value.(uint32)
	if !ok || a == 0 || a&(a-1) != 0 {
		return 0, fmt.Errorf("metadata \"general.alignment\": want a power-of-two uint32, got %T %v", w.kv[i].Value, w.kv[i].Value)
	}
	return int(a), nil
}

// WriteTo writes the whole file.
func (w *Writer) WriteTo(out io.Writer) (int64, error) {
	align, err := w.alignment()
	if err != nil {
		return 0, err
	}
	bw := &countWriter{w: bufio.NewWriterSize(out, 1<<20)}
	bw.raw([]byte(Magic))
	bw.u32(Version)
	bw.u64(uint64(len(w.tensors)))
	bw.u64(uint64(len(w.kv)))
	for _, kv := range w.kv {
		bw.str(kv.Key)
		if err := bw.value(kv.Value); err != nil {
			return bw.n, fmt.Errorf("metadata %q: %w", kv.Key, err)
		}
	}
	sizes := make([]int, len(w.tensors))
	off := 0
	for i, t := range w.tensors {
		sizes[i], _ = t.Bytes()
		bw.str(t.Name)
		bw.u32(uint32(len(t.Shape)))
		for _, d := range t.Shape {
			bw.u64(uint64(d))
		}
		bw.u32(uint32(t.Type))
		bw.u64(uint64(off))
		off += pad(sizes[i], align)
	}
	bw.zeros(pad(int(bw.n), align) - int(bw.n))
	for i, t := range w.tensors {
		if t.src != nil {
			// Encode about 4 MB of output at a time, so exporting a large
			// embedding never holds a second copy of it.
			row := t.Shape[0]
			rb, _ := RowBytes(t.Type, row)
			step := max(1, (4<<20)/rb) * row
			n := 0
			for off := 0; off < len(t.src) && bw.err == nil; off += step {
				b, err := Encode(t.Type, t.src[off:min(off+step, len(t.src))], row)
				if err != nil {
					return bw.n, fmt.Errorf("tensor %q: %w", t.Name, err)
				}
				bw.raw(b)
				n += len(b)
			}
			if bw.err == nil && n != sizes[i] {
				return bw.n, fmt.Errorf("tensor %q: encoded %d bytes, want %d for %s %v", t.Name, n, sizes[i], t.Type, t.Shape)
			}
		} else {
			b, err := t.Data()
			if err != nil {
				return bw.n, fmt.Errorf("tensor %q: %w", t.Name, err)
			}
			if len(b) != sizes[i] {
				return bw.n, fmt.Errorf("tensor %q: encoded %d bytes, want %d for %s %v", t.Name, len(b), sizes[i], t.Type, t.Shape)
			}
			bw.raw(b)
		}
		bw.zeros(pad(sizes[i], align) - sizes[i])
	}
	if bw.err == nil {
		bw.err = bw.w.(*bufio.Writer).Flush()
	}
	return bw.n, bw.err
}

func pad(n, align int) int { return (n + align - 1) / align * align }

type countWriter struct {
	w   io.Writer
	n   int64
	err error
	buf [8]byte
}

func (c *countWriter) raw(b []byte) {
	if c.err != nil {
		return
	}
	n, err := c.w.Write(b)
	c.n += int64(n)
	c.err = err
}

func (c *countWriter) zeros(n int) {
	var z [64]byte
	for n > 0 {
		k := min(n, len(z))
		c.raw(z[:k])
		n -= k
	}
}

func (c *countWriter) u8(v uint8)   { c.buf[0] = v; c.raw(c.buf[:1]) }
func (c *countWriter) u16(v uint16) { binary.LittleEndian.PutUint16(c.buf[:], v); c.raw(c.buf[:2]) }
func (c *countWriter) u32(v uint32) { binary.LittleEndian.PutUint32(c.buf[:], v); c.raw(c.buf[:4]) }
func (c *countWriter) u64(v uint64) { binary.LittleEndian.PutUint64(c.buf[:], v); c.raw(c.buf[:8]) }
func (c *countWriter) str(s string) { c.u64(uint64(len(s))); c.raw([]byte(s)) }

func (c *countWriter) value(v any) error {
	t, elem, err := valueType(v)
	if err != nil {
		return err
	}
	c.u32(uint32(t))
	if t != TypeArray {
		c.scalar(v)
		return nil
	}
	c.u32(uint32(elem))
	switch a := v.(type) {
	case []uint8:
		c.u64(uint64(len(a)))
		c.raw(a)
	case []string:
		c.u64(uint64(len(a)))
		for _, s := range a {
			c.str(s)
		}
	default:
		n := sliceLen(v)
		c.u64(uint64(n))
		for i := 0; i < n; i++ {
			c.scalar(sliceAt(v, i))
		}
	}
	return nil
}

func (c *countWriter) scalar(v any) {
	switch x := v.(type) {
	case uint8:
		c.u8(x)
	case int8:
		c.u8(uint8(x))
	case uint16:
		c.u16(x)
	case int16:
		c.u16(uint16(x))
	case uint32:
		c.u32(x)
	case int32:
		c.u32(uint32(x))
	case float32:
		c.u32(math.Float32bits(x))
	case bool:
		if x {
			c.u8(1)
		} else {
			c.u8(0)
		}
	case string:
		c.str(x)
	case uint64:
		c.u64(x)
	case int64:
		c.u64(uint64(x))
	case float64:
		c.u64(math.Float64bits(x))
	}
}

func sliceLen(v any) int {
	switch a := v.(type) {
	case []int8:
		return len(a)
	case []uint16:
		return len(a)
	case []int16:
		return len(a)
	case []uint32:
		return len(a)
	case []int32:
		return len(a)
	case []float32:
		return len(a)
	case []bool:
		return len(a)
	case []uint64:
		return len(a)
	case []int64:
		return len(a)
	case []float64:
		return len(a)
	}
	return 0
}

func sliceAt(v any, i int) any {
	switch a := v.(type) {
	case []int8:
		return a[i]
	case []uint16:
		return a[i]
	case []int16:
		return a[i]
	case []uint32:
		return a[i]
	case []int32:
		return a[i]
	case []float32:
		return a[i]
	case []bool:
		return a[i]
	case []uint64:
		return a[i]
	case []int64:
		return a[i]
	case []float64:
		return a[i]
	}
	return nil
}
