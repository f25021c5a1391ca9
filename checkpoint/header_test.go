package checkpoint

import (
	"encoding/binary"
	"strings"
	"testing"
)

// image builds a safetensors file from a header string and n data bytes.
func image(hdr string, n int) []byte {
	b := make([]byte, 8, 8+len(hdr)+n)
	binary.LittleEndian.PutUint64(b, uint64(len(hdr)))
	b = append(b, hdr...)
	return append(b, make([]byte, n)...)
}

func TestParseErrors(t *testing.T) {
	huge := make([]byte, 8)
	binary.LittleEndian.PutUint64(huge, 1<<40)
	long := make([]byte, 16)
	binary.LittleEndian.PutUint64(long, 9)
	tests := []struct {
		name string
		file []byte
		want []string // substrings of the error besides the file name
	}{
		{"short", []byte{1, 2, 3}, []string{"too short"}},
		{"header past end", long, []string{"past the end"}},
		{"header too large", append(huge, "{}"...), []string{"exceeds"}},
		{"bad json", image(`{"a":`, 0), []string{"bad header JSON"}},
		{"not an object", image(`[1,2]`, 0), []string{"bad header JSON"}},
		{"null", image(`null`, 0), []string{"not a JSON object"}},
		{"trailing garbage", image(`{} x`, 0), []string{"trailing"}},
		{"entry not object", image(`{"w":5}`, 0), []string{`"w"`, "bad entry"}},
		{"unknown dtype", image(`{"w":{"dtype":"F12","shape":[1],"data_offsets":[0,4]}}`, 4), []string{`"w"`, "unknown dtype"}},
		{"offsets arity", image(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}}`, 4), []string{`"w"`, "2 entries"}},
		{"truncated", image(`{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, 12), []string{`"w"`, "truncated"}},
		{"negative offset", image(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, 4), []string{`"w"`, "outside"}},
		{"reversed offsets", image(`{"w":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}`, 4), []string{`"w"`, "outside"}},
		{"size mismatch", image(`{"w":{"dtype":"BF16","shape":[3],"data_offsets":[0,8]}}`, 8), []string{`"w"`, "needs 6 bytes"}},
		{"negative dim", image(`{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, 4), []string{`"w"`, "negative"}},
		{"fractional dim", image(`{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, 4), []string{`"w"`, "bad entry"}},
		{"overflowing shape", image(`{"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]}}`, 4), []string{`"w"`, "larger than the file"}},
		{"overlap", image(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, 12), []string{`"b"`, "overlap", `"a"`}},
		{"gap", image(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, 12), []string{`"b"`, "gap"}},
		{"extra data", image(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 8), []string{"cover 4", "holds 8"}},
		{"bad metadata", image(`{"__metadata__":{"x":1}}`, 0), []string{"__metadata__"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := OpenBytes("bad.safetensors", tc.file)
			if err == nil {
				t.Fatal("want error")
			}
			for _, w := range append(tc.want, "bad.safetensors") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestParseValid(t *testing.T) {
	// Offsets in any order, zero-size tensors, scalars, NUL or space padding
	// and a metadata block are all legal.
	hdr := `{"b":{"dtype":"I8","shape":[2],"data_offsets":[4,6]},"__metadata__":{"format":"pt"},` +
		`"a":{"dtype":"F16","shape":[],"data_offsets":[2,4]},"z":{"dtype":"F32","shape":[3,0],"data_offsets":[0,0]},` +
		`"c":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}}` + "  \x00"
	img := image(hdr, 6)
	copy(img[8+len(hdr):], []byte{0x80, 0x3f, 0x00, 0x3c, 0xff, 0x05})
	f, err := OpenBytes("ok", img)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.Names(), ","); got != "a,b,c,z" {
		t.Errorf("Names = %s", got)
	}
	if f.Metadata()["format"] != "pt" {
		t.Errorf("Metadata = %v", f.Metadata())
	}
	for _, tc := range []struct {
		name string
		want []float32
	}{{"a", []float32{1}}, {"b", []float32{-1, 5}}, {"c", []float32{1}}, {"z", nil}} {
		got := mustF32(t, f, tc.name)
		if len(got) != len(tc.want) {
			t.Fatalf("%s = %v, want %v", tc.name, got, tc.want)
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s = %v, want %v", tc.name, got, tc.want)
			}
		}
	}
	in, ok := f.Info("b")
	if !ok || in.DType != "I8" || !equalInts(in.Shape, []int{2}) || in.NumElements() != 2 {
		t.Errorf("Info(b) = %+v %v", in, ok)
	}
	if _, ok := f.Info("missing"); ok {
		t.Error("Info(missing) ok")
	}
}

func TestReadErrors(t *testing.T) {
	img := image(`{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"u":{"dtype":"U32","shape":[1],"data_offsets":[24,28]}}`, 28)
	f, err := OpenBytes("m.safetensors", img)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		call func() error
		want []string
	}{
		{"shape", func() error { return f.Float32Into("w", make([]float32, 6), []int{3, 2}) }, []string{`"w"`, "[2 3]", "[3 2]"}},
		{"dst length", func() error { return f.Float32Into("w", make([]float32, 5), []int{2, 3}) }, []string{`"w"`, "5"}},
		{"missing", func() error { return f.Float32Into("q", nil, nil) }, []string{`"q"`}},
		{"missing float", func() error { _, _, err := f.Float32("q"); return err }, []string{`"q"`}},
		{"missing int", func() error { _, _, err := f.Int64("q"); return err }, []string{`"q"`}},
		{"int of float", func() error { _, _, err := f.Int64("w"); return err }, []string{`"w"`, "F32"}},
	}
	for _, tc := range tests {
		err := tc.call()
		if err == nil {
			t.Errorf("%s: want error", tc.name)
			continue
		}
		for _, w := range append(tc.want, "m.safetensors") {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", tc.name, err, w)
			}
		}
	}
	if err := f.Float32Into("w", make([]float32, 6), []int{2, 3}); err != nil {
		t.Error(err)
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add([]byte(`{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}`), uint16(16))
	f.Add([]byte(`{"a":{"dtype":"BF16","shape":[3],"data_offsets":[0,6]},"b":{"dtype":"I64","shape":[],"data_offsets":[6,14]}}`), uint16(14))
	f.Add([]byte(`{"a":{"dtype":"F8_E4M3","shape":[0,7],"data_offsets":[0,0]}}`), uint16(0))
	f.Add([]byte(`{}`), uint16(0))
	f.Fuzz(func(t *testing.T, hdr []byte, n uint16) {
		img := image(string(hdr), int(n))
		for i := range int(n) {
			img[8+len(hdr)+i] = byte(i * 37)
		}
		cf, err := OpenBytes("fuzz", img)
		if err != nil {
			return
		}
		// A header that validates must make every tensor readable.
		for _, name := range cf.Names() {
			in, _ := cf.Info(name)
			b, err := cf.Bytes(name)
			if err != nil || int64(len(b)) != int64(in.NumElements())*dtypeSize[in.DType] {
				t.Fatalf("tensor %q (%+v): %d bytes, %v", name, in, len(b), err)
			}
			if _, _, err := cf.Float32(name); err != nil {
				t.Fatalf("Float32(%q): %v", name, err)
			}
		}
	})
}
