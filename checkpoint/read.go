package checkpoint

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sync"

	"github.com/align-go/align/internal/hugepage"
)

// Reader is what both a single File and a sharded Set offer, so model code
// can load from either.
type Reader interface {
	Names() []string
	Info(name string) (Info, bool)
	Float32(name string) ([]float32, []int, error)
	Float32Into(name string, dst []float32, wantShape []int) error
	Int64(name string) ([]int64, []int, error)
}

// File is one opened safetensors file. Only the header is held in memory;
// tensor data is read on demand, reopening the file for each read so a File
// needs no Close.
type File struct {
	path      string
	ra        io.ReaderAt // in-memory source (OpenBytes); nil means read path
	dataStart int64
	hdr       *header
}

var (
	_ Reader = (*File)(nil)
	_ Reader = (*Set)(nil)
)

// Open reads and validates the header of the safetensors file at path.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	return openFrom(path, f, st.Size())
}

// OpenBytes parses an in-memory safetensors image; name is used in errors.
func OpenBytes(name string, b []byte) (*File, error) {
	cf, err := openFrom(name, bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, err
	}
	cf.ra = bytes.NewReader(b)
	return cf, nil
}

func openFrom(name string, ra io.ReaderAt, size int64) (*File, error) {
	var prefix [8]byte
	if size >= 8 {
		if _, err := ra.ReadAt(prefix[:], 0); err != nil {
			return nil, fmt.Errorf("checkpoint: %s: reading header length: %v", name, err)
		}
	}
	n, err := splitFile(name, prefix[:], size)
	if err != nil {
		return nil, err
	}
	hdr := make([]byte, n)
	if _, err := ra.ReadAt(hdr, 8); err != nil {
		return nil, fmt.Errorf("checkpoint: %s: reading header: %v", name, err)
	}
	h, err := parseHeader(name, hdr, size-8-n)
	if err != nil {
		return nil, err
	}
	return &File{path: name, dataStart: 8 + n, hdr: h}, nil
}

// Path is the file name given to Open.
func (f *File) Path() string { return f.path }

// Names lists the tensors, sorted.
func (f *File) Names() []string { return slices.Clone(f.hdr.names) }

// Metadata is the header's __metadata__ map (nil when absent).
func (f *File) Metadata() map[string]string { return f.hdr.meta }

// Info describes tensor name.
func (f *File) Info(name string) (Info, bool) {
	in, ok := f.hdr.infos[name]
	if ok {
		in.Shape = slices.Clone(in.Shape)
	}
	return in, ok
}

func (f *File) lookup(name string) (Info, error) {
	in, ok := f.hdr.infos[name]
	if !ok {
		return Info{}, fmt.Errorf("checkpoint: %s: no tensor %q", f.path, name)
	}
	return in, nil
}

// Bytes returns the raw little-endian bytes of tensor name.
func (f *File) Bytes(name string) ([]byte, error) {
	in, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	ra, done, err := f.source(name)
	if err != nil {
		return nil, err
	}
	defer done()
	// A tensor read as bytes is kept (bf16/f16 weights as stored): on huge
	// pages it loads with 512× fewer page faults and streams with fewer TLB
	// misses (internal/hugepage).
	buf := hugepage.Bytes(int(in.end - in.begin))
	if err := f.readAt(ra, name, buf, in.begin); err != nil {
		return nil, err
	}
	return buf, nil
}

// source returns what to read tensor data from: the in-memory image, or the
// file reopened for this one read.
func (f *File) source(name string) (io.ReaderAt, func(), error) {
	if f.ra != nil {
		return f.ra, func() {}, nil
	}
	fh, err := os.Open(f.path)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint: tensor %q: %w", name, err)
	}
	return fh, func() { fh.Close() }, nil
}

func (f *File) readAt(ra io.ReaderAt, name string, buf []byte, off int64) error {
	if len(buf) == 0 {
		return nil
	}
	if _, err := ra.ReadAt(buf, f.dataStart+off); err != nil {
		return fmt.Errorf("checkpoint: %s: tensor %q: reading data: %v (file changed or truncated since Open?)", f.path, name, err)
	}
	return nil
}

// Float32 reads tensor name converted to float32, with its shape. Floating
// dtypes are rounded to nearest; integer and bool dtypes are converted.
func (f *File) Float32(name string) ([]float32, []int, error) {
	in, err := f.lookup(name)
	if err != nil {
		return nil, nil, err
	}
	dst := make([]float32, in.NumElements())
	if err := f.float32Into(name, in, dst); err != nil {
		return nil, nil, err
	}
	return dst, slices.Clone(in.Shape), nil
}

// Float32Into reads tensor name into dst, which must have exactly as many
// elements as wantShape, and wantShape must equal the stored shape; model
// loaders use it to fill preallocated parameters and get an error naming the
// file and tensor on a config/checkpoint mismatch.
func (f *File) Float32Into(name string, dst []float32, wantShape []int) error {
	in, err := f.lookup(name)
	if err != nil {
		return err
	}
	if !slices.Equal(in.Shape, wantShape) {
		return fmt.Errorf("checkpoint: %s: tensor %q has shape %v, want %v", f.path, name, in.Shape, wantShape)
	}
	if len(dst) != in.NumElements() {
		return fmt.Errorf("checkpoint: %s: tensor %q has %d elements, destination holds %d", f.path, name, in.NumElements(), len(dst))
	}
	return f.float32Into(name, in, dst)
}

// chunkBytes bounds the staging buffer so a large tensor is converted in
// pieces instead of holding its raw bytes and its float32 copy at once.
const chunkBytes = 1 << 20

// stagePool holds the staging buffers, so loading a model tensor by tensor
// leaves no megabyte of garbage per tensor behind.
var stagePool = sync.Pool{New: func() any { b := make([]byte, chunkBytes); return &b }}

func (f *File) float32Into(name string, in Info, dst []float32) error {
	size := int(dtypeSize[in.DType])
	conv, ok := floatConv[in.DType]
	if !ok {
		return fmt.Errorf("checkpoint: %s: tensor %q: cannot convert dtype %s to float32", f.path, name, in.DType)
	}
	ra, done, err := f.source(name)
	if err != nil {
		return err
	}
	defer done()
	per := chunkBytes / size
	sp := stagePool.Get().(*[]byte)
	defer stagePool.Put(sp)
	buf := (*sp)[:min(len(dst), per)*size]
	for i := 0; i < len(dst); i += per {
		n := min(per, len(dst)-i)
		b := buf[:n*size]
		if err := f.readAt(ra, name, b, in.begin+int64(i*size)); err != nil {
			return err
		}
		conv(dst[i:i+n], b)
	}
	return nil
}

var le = binary.LittleEndian

var floatConv = map[string]func(dst []float32, b []byte){
	"F32": func(d []float32, b []byte) {
		for i := range d {
			d[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
	},
	"F16": func(d []float32, b []byte) {
		for i := range d {
			d[i] = F16ToF32(le.Uint16(b[2*i:]))
		}
	},
	"BF16": func(d []float32, b []byte) {
		for i := range d {
			d[i] = BF16ToF32(le.Uint16(b[2*i:]))
		}
	},
	"F64": func(d []float32, b []byte) {
		for i := range d {
			d[i] = float32(math.Float64frombits(le.Uint64(b[8*i:])))
		}
	},
	"F8_E4M3": func(d []float32, b []byte) {
		for i := range d {
			d[i] = f8e4m3ToF32(b[i])
		}
	},
	"F8_E5M2": func(d []float32, b []byte) {
		for i := range d {
			d[i] = f8e5m2ToF32(b[i])
		}
	},
}

func init() {
	for dt := range intConv {
		conv := intConv[dt]
		floatConv[dt] = func(d []float32, b []byte) {
			for i := range d {
				d[i] = float32(conv(b, i))
			}
		}
	}
	floatConv["U64"] = func(d []float32, b []byte) {
		for i := range d {
			d[i] = float32(le.Uint64(b[8*i:]))
		}
	}
}

// intConv decodes element i of an integer (or bool) tensor; U64 values
// above MaxInt64 are reported by Int64 rather than wrapped.
var intConv = map[string]func(b []byte, i int) int64{
	"BOOL": func(b []byte, i int) int64 { return int64(b[i]) },
	"U8":   func(b []byte, i int) int64 { return int64(b[i]) },
	"I8":   func(b []byte, i int) int64 { return int64(int8(b[i])) },
	"I16":  func(b []byte, i int) int64 { return int64(int16(le.Uint16(b[2*i:]))) },
	"U16":  func(b []byte, i int) int64 { return int64(le.Uint16(b[2*i:])) },
	"I32":  func(b []byte, i int) int64 { return int64(int32(le.Uint32(b[4*i:]))) },
	"U32":  func(b []byte, i int) int64 { return int64(le.Uint32(b[4*i:])) },
	"I64":  func(b []byte, i int) int64 { return int64(le.Uint64(b[8*i:])) },
	"U64":  func(b []byte, i int) int64 { return int64(le.Uint64(b[8*i:])) },
}

// Int64 reads an integer or bool tensor (token ids, masks) widened to int64.
func (f *File) Int64(name string) ([]int64, []int, error) {
	in, err := f.lookup(name)
	if err != nil {
		return nil, nil, err
	}
	conv, ok := intConv[in.DType]
	if !ok {
		return nil, nil, fmt.Errorf("checkpoint: %s: tensor %q has dtype %s, want an integer dtype", f.path, name, in.DType)
	}
	b, err := f.Bytes(name)
	if err != nil {
		return nil, nil, err
	}
	out := make([]int64, in.NumElements())
	for i := range out {
		out[i] = conv(b, i)
		if in.DType == "U64" && out[i] < 0 {
			return nil, nil, fmt.Errorf("checkpoint: %s: tensor %q: U64 element %d = %d overflows int64", f.path, name, i, le.Uint64(b[8*i:]))
		}
	}
	return out, slices.Clone(in.Shape), nil
}
