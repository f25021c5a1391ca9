package checkpoint

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The byte images come from the reference implementation's own tests
// (safetensors/src/tensor.rs: test_serialization,
// test_serialization_forced_alignement, test_empty).
func TestWriteMatchesReferenceBytes(t *testing.T) {
	f32le := []byte{0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64}
	tests := []struct {
		name    string
		tensors []Tensor
		meta    map[string]string
		header  string
		data    []byte
	}{
		{"attn.0", []Tensor{{Name: "attn.0", Shape: []int{1, 2, 3}, Data: []float32{0, 1, 2, 3, 4, 5}}}, nil,
			`{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}`, f32le},
		{"aligned", []Tensor{{Name: "attn0", Shape: []int{1, 1, 2, 3}, Data: []float32{0, 1, 2, 3, 4, 5}}}, nil,
			`{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       `, f32le},
		{"empty", nil, nil, `{}      `, nil},
		{"empty meta", nil, map[string]string{"framework": "pt"}, `{"__metadata__":{"framework":"pt"}}     `, nil},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		path := filepath.Join(dir, tc.name+".safetensors")
		if err := Write(path, tc.tensors, tc.meta); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		want := append(append(le.AppendUint64(nil, uint64(len(tc.header))), tc.header...), tc.data...)
		if !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, want)
		}
	}
}

func TestWriteRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	in := []Tensor{
		{Name: "z.f32", Shape: []int{2, 2}, Data: []float32{1, -2, float32(math.Inf(1)), 1e-40}},
		{Name: "a.bf16", Shape: []int{3}, Data: []float32{1, 1 + 1.0/256, -3.14159}, DType: "BF16"},
		{Name: "m.f16", Shape: []int{2}, Data: []float32{65504, 1.0 / (1 << 24)}, DType: "F16"},
		{Name: "ids", Shape: []int{1, 2}, Ints: []int64{-1, 1 << 40}, DType: "I64"},
		{Name: "s", Shape: []int{}, Data: []float32{7}},
	}
	if err := Write(path, in, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	// Reference layout: descending dtype alignment (I64 > F32 > BF16 > F16),
	// then name.
	raw, _ := os.ReadFile(path)
	hdr := string(raw[8 : 8+le.Uint64(raw)])
	order := []string{`"ids"`, `"s"`, `"z.f32"`, `"a.bf16"`, `"m.f16"`}
	for i := 1; i < len(order); i++ {
		if strings.Index(hdr, order[i-1]) > strings.Index(hdr, order[i]) {
			t.Errorf("header order: %s should precede %s in %s", order[i-1], order[i], hdr)
		}
	}
	if (8+len(hdr))%8 != 0 || !strings.HasPrefix(hdr, `{"__metadata__":{"format":"pt"},`) {
		t.Errorf("header %q: want __metadata__ first and 8-byte alignment", hdr)
	}
	wants := map[string][]float32{
		"z.f32":  {1, -2, float32(math.Inf(1)), 1e-40},
		"a.bf16": {1, 1, -3.140625}, // 1+2^-8 ties to even
		"m.f16":  {65504, 1.0 / (1 << 24)},
		"s":      {7},
	}
	for name, want := range wants {
		got := mustF32(t, f, name)
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s = %v, want %v", name, got, want)
				break
			}
		}
	}
	ids, shape, err := f.Int64("ids")
	if err != nil || !equalInts(shape, []int{1, 2}) || ids[0] != -1 || ids[1] != 1<<40 {
		t.Errorf("ids = %v %v %v", ids, shape, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestWriteErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		tensors []Tensor
		want    string
	}{
		{"short data", []Tensor{{Name: "w", Shape: []int{2, 2}, Data: make([]float32, 3)}}, "needs 4 elements"},
		{"dtype", []Tensor{{Name: "w", Shape: []int{1}, Data: []float32{1}, DType: "F8"}}, "cannot write dtype"},
		{"duplicate", []Tensor{{Name: "w", Data: []float32{1}}, {Name: "w", Data: []float32{1}}}, "duplicate"},
		{"reserved", []Tensor{{Name: "__metadata__", Data: []float32{1}}}, "invalid tensor name"},
		{"negative", []Tensor{{Name: "w", Shape: []int{-1}}}, "negative"},
		{"ints for float", []Tensor{{Name: "w", Shape: []int{1}, Ints: []int64{1}}}, "Ints set"},
	}
	for _, tc := range tests {
		path := filepath.Join(dir, "x.safetensors")
		err := Write(path, tc.tensors, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %v, want one naming %s and %q", tc.name, err, path, tc.want)
		}
	}
	if err := Write(filepath.Join(dir, "no/such/dir/x.safetensors"), nil, nil); err == nil {
		t.Error("write into a missing directory: want error")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed writes left files: %v", entries)
	}
}

func TestJSON(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	if err := WriteJSON(path, map[string]any{"hidden_size": 32, "rms_norm_eps": 1e-6}); err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Hidden int     `json:"hidden_size"`
		Eps    float64 `json:"rms_norm_eps"`
	}
	if err := ReadJSON(path, &cfg); err != nil || cfg.Hidden != 32 || cfg.Eps != 1e-6 {
		t.Errorf("ReadJSON = %+v, %v", cfg, err)
	}
	os.WriteFile(path, []byte("{\n  \"a\": 1,\n  \"b\": ]\n}\n"), 0o644)
	err := ReadJSON(path, &cfg)
	if err == nil || !strings.Contains(err.Error(), path+":3") {
		t.Errorf("ReadJSON(bad) = %v, want error at %s:3", err, path)
	}
}

func TestLargeAndTruncated(t *testing.T) {
	// More than one conversion chunk in both directions.
	n := chunkBytes/2 + 12345
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(i%1000) - 500.25
	}
	path := filepath.Join(t.TempDir(), "big.safetensors")
	if err := Write(path, []Tensor{{Name: "w", Shape: []int{n}, Data: data}, {Name: "h", Shape: []int{n}, Data: data, DType: "BF16"}}, nil); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"w", "h"} {
		got := mustF32(t, f, name)
		for i := range got {
			want := data[i]
			if name == "h" {
				want = BF16ToF32(F32ToBF16(want))
			}
			if got[i] != want {
				t.Fatalf("%s[%d] = %g, want %g", name, i, got[i], want)
			}
		}
	}
	// The file shrinks after Open: reads must fail cleanly, naming file and tensor.
	st, _ := os.Stat(path)
	if err := os.Truncate(path, st.Size()-100); err != nil {
		t.Fatal(err)
	}
	_, _, err = f.Float32("h") // stored last (BF16 sorts after F32)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `"h"`) {
		t.Errorf("read after truncation: %v", err)
	}
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("Open(truncated) = %v", err)
	}
}

// A Fill tensor writes the same bytes as the Data tensor it generates, across
// several chunks and a partial last one, and asks for each element once.
func TestWriteFillMatchesData(t *testing.T) {
	const n = chunkBytes/8*2 + 37 // two full chunks and a tail
	val := func(i int) float32 { return float32(i%1000)/7 - 50 }
	data := make([]float32, n)
	for i := range data {
		data[i] = val(i)
	}
	calls := make([]int, n)
	fill := func(dst []float32, off int) {
		for j := range dst {
			calls[off+j]++
			dst[j] = val(off + j)
		}
	}
	dir := t.TempDir()
	for _, dt := range []string{"F32", "BF16", "F16"} {
		clear(calls)
		a, b := filepath.Join(dir, dt+"-data"), filepath.Join(dir, dt+"-fill")
		if err := Write(a, []Tensor{{Name: "w", Shape: []int{1, n}, Data: data, DType: dt}}, nil); err != nil {
			t.Fatal(err)
		}
		if err := Write(b, []Tensor{{Name: "w", Shape: []int{1, n}, Fill: fill, DType: dt}}, nil); err != nil {
			t.Fatal(err)
		}
		ga, _ := os.ReadFile(a)
		gb, _ := os.ReadFile(b)
		if !bytes.Equal(ga, gb) {
			t.Errorf("%s: Fill wrote different bytes from Data", dt)
		}
		for i, c := range calls {
			if c != 1 {
				t.Fatalf("%s: element %d filled %d times", dt, i, c)
			}
		}
	}
	err := Write(filepath.Join(dir, "both"), []Tensor{{Name: "w", Shape: []int{1}, Data: []float32{1}, Fill: fill}}, nil)
	if err == nil || !strings.Contains(err.Error(), "both Data and Fill") {
		t.Errorf("Data and Fill together: err = %v", err)
	}
}
