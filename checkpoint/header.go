// Package checkpoint reads and writes HuggingFace safetensors checkpoints
// (single files and sharded directories with model.safetensors.index.json)
// and the JSON side files next to them, converting every floating dtype to
// float32 on the way in.
//
// Files are read with plain ReadAt calls instead of mmap so the package is
// portable and a truncated or rewritten file surfaces as an error, never a
// SIGBUS. Every malformed input is reported as an error naming the file and,
// where there is one, the tensor.
package checkpoint

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/bits"
	"sort"
)

// maxHeader mirrors the reference implementation's limit: a larger header is
// far more likely a corrupt length word than a real checkpoint.
const maxHeader = 100_000_000

// dtypeSize maps the safetensors dtype names to their element size in bytes.
// Every dtype the format defines is known, so a file holding e.g. U32
// tensors still opens and its other tensors stay readable.
var dtypeSize = map[string]int64{
	"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
	"I16": 2, "U16": 2, "F16": 2, "BF16": 2,
	"I32": 4, "U32": 4, "F32": 4,
	"F64": 8, "I64": 8, "U64": 8,
}

// dtypeRank is the dtype order of the reference implementation (increasing
// alignment); writers sort tensors by descending rank, then by name.
var dtypeRank = map[string]int{
	"BOOL": 0, "U8": 1, "I8": 2, "F8_E5M2": 3, "F8_E4M3": 4, "I16": 5, "U16": 6,
	"F16": 7, "BF16": 8, "I32": 9, "U32": 10, "F32": 11, "F64": 12, "I64": 13, "U64": 14,
}

// Info describes one tensor of a checkpoint.
type Info struct {
	DType string // safetensors dtype name: "F32", "BF16", "I64", ...
	Shape []int  // empty for a scalar

	begin, end int64 // byte range relative to the start of the data section
}

// NumElements is the product of the shape (1 for a scalar).
func (in Info) NumElements() int {
	n := 1
	for _, d := range in.Shape {
		if d == 0 {
			return 0
		}
		n *= d
	}
	return n
}

type rawInfo struct {
	DType       string  `json:"dtype"`
	Shape       []int64 `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// header is a parsed and validated safetensors header.
type header struct {
	infos map[string]Info
	names []string // sorted by name
	meta  map[string]string
}

// parseHeader decodes the JSON header of file (used only in messages) and
// checks that the tensors tile the dataLen bytes that follow it exactly, as
// the reference implementation requires: no overlaps, no gaps, nothing past
// the end, and every byte range matching dtype × shape.
func parseHeader(file string, hdr []byte, dataLen int64) (*header, error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(hdr))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("checkpoint: %s: bad header JSON: %v", file, err)
	}
	if raw == nil {
		return nil, fmt.Errorf("checkpoint: %s: header is not a JSON object", file)
	}
	// Only padding may follow the object.
	if rest := bytes.TrimSpace(hdr[dec.InputOffset():]); len(bytes.Trim(rest, "\x00")) != 0 {
		return nil, fmt.Errorf("checkpoint: %s: trailing bytes after header JSON", file)
	}
	h := &header{infos: make(map[string]Info, len(raw))}
	type span struct {
		name       string
		begin, end int64
	}
	spans := make([]span, 0, len(raw))
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &h.meta); err != nil {
				return nil, fmt.Errorf("checkpoint: %s: __metadata__ must map strings to strings: %v", file, err)
			}
			continue
		}
		var ri rawInfo
		if err := json.Unmarshal(msg, &ri); err != nil {
			return nil, fmt.Errorf("checkpoint: %s: tensor %q: bad entry: %v", file, name, err)
		}
		size, ok := dtypeSize[ri.DType]
		if !ok {
			return nil, fmt.Errorf("checkpoint: %s: tensor %q: unknown dtype %q", file, name, ri.DType)
		}
		if len(ri.DataOffsets) != 2 {
			return nil, fmt.Errorf("checkpoint: %s: tensor %q: data_offsets must have 2 entries, has %d", file, name, len(ri.DataOffsets))
		}
		b, e := ri.DataOffsets[0], ri.DataOffsets[1]
		if b < 0 || e < b || e > dataLen {
			return nil, fmt.Errorf("checkpoint: %s: tensor %q: data_offsets [%d, %d] outside the %d data bytes (truncated file?)", file, name, b, e, dataLen)
		}
		shape := make([]int, len(ri.Shape))
		zero := false
		for i, d := range ri.Shape {
			if d < 0 {
				return nil, fmt.Errorf("checkpoint: %s: tensor %q: negative dimension %d in shape %v", file, name, d, ri.Shape)
			}
			zero = zero || d == 0
			shape[i] = int(d)
		}
		n := uint64(1)
		if zero {
			n = 0
		}
		for _, d := range ri.Shape {
			if zero {
				break
			}
			// Elements never outnumber bytes, so a product past dataLen is
			// already invalid.
			hi, lo := bits.Mul64(n, uint64(d))
			if n = lo; hi != 0 || n > uint64(dataLen) {
				return nil, fmt.Errorf("checkpoint: %s: tensor %q: shape %v is larger than the file", file, name, ri.Shape)
			}
		}
		if want := n * uint64(size); want != uint64(e-b) {
			return nil, fmt.Errorf("checkpoint: %s: tensor %q: %s%v needs %d bytes, data_offsets [%d, %d] hold %d", file, name, ri.DType, ri.Shape, want, b, e, e-b)
		}
		h.infos[name] = Info{DType: ri.DType, Shape: shape, begin: b, end: e}
		h.names = append(h.names, name)
		spans = append(spans, span{name, b, e})
	}
	sort.Strings(h.names)
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].begin != spans[j].begin {
			return spans[i].begin < spans[j].begin
		}
		return spans[i].end < spans[j].end
	})
	var at int64
	for i, s := range spans {
		if s.begin < at {
			return nil, fmt.Errorf("checkpoint: %s: tensor %q: data_offsets [%d, %d] overlap tensor %q", file, s.name, s.begin, s.end, spans[i-1].name)
		}
		if s.begin > at {
			return nil, fmt.Errorf("checkpoint: %s: tensor %q: gap of %d bytes before its data_offsets [%d, %d]", file, s.name, s.begin-at, s.begin, s.end)
		}
		at = s.end
	}
	if at != dataLen {
		return nil, fmt.Errorf("checkpoint: %s: tensors cover %d data bytes but the file holds %d", file, at, dataLen)
	}
	return h, nil
}

// splitFile validates the 8-byte length prefix against the file size and
// returns the header length.
func splitFile(file string, prefix []byte, fileSize int64) (int64, error) {
	if fileSize < 8 || len(prefix) < 8 {
		return 0, fmt.Errorf("checkpoint: %s: %d bytes is too short for a safetensors file", file, fileSize)
	}
	n := binary.LittleEndian.Uint64(prefix)
	if n > maxHeader {
		return 0, fmt.Errorf("checkpoint: %s: header length %d exceeds the %d byte limit", file, n, maxHeader)
	}
	if int64(n) > fileSize-8 {
		return 0, fmt.Errorf("checkpoint: %s: header length %d runs past the end of the %d byte file", file, n, fileSize)
	}
	return int64(n), nil
}
