// Package gguf reads and writes GGUF v3 files, the single-file model format of
// llama.cpp and the tools built on it (Ollama, LM Studio, GPT4All): metadata
// key/values, tensor descriptors and aligned tensor data, with ggml's block
// quantisations (Q8_0, Q4_0, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K) implemented bit for
// bit as ggml's reference quantisers, so a file written here is the file
// llama-quantize would have written from the same float weights.
package gguf

import "fmt"

// Type is a ggml tensor type, numbered as in ggml.h.
type Type uint32

const (
	F32  Type = 0
	F16  Type = 1
	Q4_0 Type = 2
	Q4_1 Type = 3
	Q5_0 Type = 6
	Q5_1 Type = 7
	Q8_0 Type = 8
	Q8_1 Type = 9
	Q2_K Type = 10
	Q3_K Type = 11
	Q4_K Type = 12
	Q5_K Type = 13
	Q6_K Type = 14
	Q8_K Type = 15
	I8   Type = 24
	I16  Type = 25
	I32  Type = 26
	I64  Type = 27
	F64  Type = 28
	BF16 Type = 30
)

// QK_K is the super-block size of the k-quants.
const QK_K = 256

type typeTraits struct {
	name  string
	block int // elements per block
	size  int // bytes per block
}

var traits = map[Type]typeTraits{
	F32:  {"F32", 1, 4},
	F16:  {"F16", 1, 2},
	BF16: {"BF16", 1, 2},
	Q4_0: {"Q4_0", 32, 18},
	Q4_1: {"Q4_1", 32, 20},
	Q5_0: {"Q5_0", 32, 22},
	Q5_1: {"Q5_1", 32, 24},
	Q8_0: {"Q8_0", 32, 34},
	Q8_1: {"Q8_1", 32, 36},
	Q2_K: {"Q2_K", QK_K, 84},
	Q3_K: {"Q3_K", QK_K, 110},
	Q4_K: {"Q4_K", QK_K, 144},
	Q5_K: {"Q5_K", QK_K, 176},
	Q6_K: {"Q6_K", QK_K, 210},
	Q8_K: {"Q8_K", QK_K, 292},
	I8:   {"I8", 1, 1},
	I16:  {"I16", 1, 2},
	I32:  {"I32", 1, 4},
	I64:  {"I64", 1, 8},
	F64:  {"F64", 1, 8},
}

func (t Type) String() string {
	if tr, ok := traits[t]; ok {
		return tr.name
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// Known reports whether t's block layout is known here (for sizes).
func (t Type) Known() bool { _, ok := traits[t]; return ok }

// BlockSize is the number of elements one block of t holds.
func (t Type) BlockSize() int { return traits[t].block }

// TypeSize is the byte size of one block of t.
func (t Type) TypeSize() int { return traits[t].size }

// ParseType reads a type name ("Q4_K", "q8_0", "bf16").
func ParseType(s string) (Type, error) {
	for t, tr := range traits {
		if equalFold(tr.name, s) {
			return t, nil
		}
	}
	return 0, fmt.Errorf("unknown ggml type %q", s)
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 32
		}
		if 'a' <= y && y <= 'z' {
			y -= 32
		}
		if x != y {
			return false
		}
	}
	return true
}

// RowBytes is the byte size of a row of n elements of t; n must be a multiple
// of the block size.
func RowBytes(t Type, n int) (int, error) {
	tr, ok := traits[t]
	if !ok {
		return 0, fmt.Errorf("unknown ggml type %d", uint32(t))
	}
	if n%tr.block != 0 {
		return 0, fmt.Errorf("%s: row of %d elements is not a multiple of the block size %d", tr.name, n, tr.block)
	}
	return n / tr.block * tr.size, nil
}

// FileType is llama.cpp's llama_ftype, stored as general.file_type: the
// predominant type of a file's weights.
type FileType uint32

const (
	FileAllF32      FileType = 0
	FileMostlyF16   FileType = 1
	FileMostlyQ4_0  FileType = 2
	FileMostlyQ8_0  FileType = 7
	FileMostlyQ4_KM FileType = 15
	FileMostlyBF16  FileType = 32
)
