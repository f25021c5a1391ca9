package gguf

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestRoundTrip writes every metadata type and a tensor of each type, reads
// the file back, and checks values, shapes, offsets and alignment.
func TestRoundTrip(t *testing.T) {
	w := NewWriter()
	kvs := []KV{
		{"general.architecture", "llama"},
		{"general.alignment", uint32(64)},
		{"u8", uint8(200)}, {"i8", int8(-5)}, {"u16", uint16(60000)}, {"i16", int16(-30000)},
		{"u32", uint32(4e9)}, {"i32", int32(-2e9)}, {"f32", float32(1.5)}, {"b", true},
		{"u64", uint64(1 << 60)}, {"i64", int64(-1 << 60)}, {"f64", math.Pi},
		{"tokens", []string{"a", "", "ĠB"}}, {"types", []int32{1, 3, -1}}, {"scores", []float32{0.5, -1}},
		{"bytes", []uint8{1, 2, 3}}, {"flags", []bool{true, false}}, {"f64s", []float64{1, 2}},
		// A vocabulary-sized string array (about 400 KB: the parser's read
		// window refills several times) and an array larger than the window.
		{"vocab", vocab(30000)}, {"blob", bytes.Repeat([]byte{7, 1, 9}, 50000)},
	}
	for _, kv := range kvs {
		if err := w.Set(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Set("bad", 3); err == nil {
		t.Fatal("an untyped int was accepted")
	}
	r := rand.New(rand.NewPCG(1, 2))
	vals := make([]float32, 2*256)
	for i := range vals {
		vals[i] = float32(r.NormFloat64())
	}
	// Large enough that WriteTo encodes it in more than one chunk of rows.
	big := make([]float32, 32*40000)
	for i := range big {
		big[i] = float32(i%977) - 400
	}
	if err := w.AddFloat32("big", F32, []int{32, 40000}, big); err != nil {
		t.Fatal(err)
	}
	types := []Type{F32, F16, BF16, Q8_0, Q4_0, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K}
	for _, typ := range types {
		if err := w.AddFloat32("t."+typ.String(), typ, []int{256, 2}, vals); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.AddFloat32("t.F32", F32, []int{256, 2}, vals); err == nil {
		t.Fatal("duplicate tensor name accepted")
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if string(b[:4]) != "GGUF" || binary.LittleEndian.Uint32(b[4:]) != 3 {
		t.Fatalf("header % x", b[:8])
	}
	cr := &countingReader{r: bytes.NewReader(b)}
	f, err := Read(cr, int64(len(b)), "mem")
	if err != nil {
		t.Fatal(err)
	}
	// Thirty thousand strings in a few reads, not one (or two) each.
	if cr.n > 50 {
		t.Errorf("parsing the header took %d ReadAt calls", cr.n)
	}
	if f.Alignment != 64 || f.DataOffset%64 != 0 {
		t.Fatalf("alignment %d, data offset %d", f.Alignment, f.DataOffset)
	}
	if len(f.KV) != len(kvs) {
		t.Fatalf("%d kvs, want %d", len(f.KV), len(kvs))
	}
	for i, kv := range kvs {
		if f.KV[i].Key != kv.Key || !reflect.DeepEqual(f.KV[i].Value, kv.Value) {
			t.Errorf("kv %d: got %s=%#v, want %s=%#v", i, f.KV[i].Key, f.KV[i].Value, kv.Key, kv.Value)
		}
	}
	gotBig, _, err := f.Float32("big")
	if err != nil {
		t.Fatal(err)
	}
	encBig, _ := Encode(F32, big, 32)
	wantBig, _ := Decode(F32, encBig, len(big))
	if !reflect.DeepEqual(gotBig, wantBig) {
		t.Fatal("chunked tensor read back differs")
	}
	for _, typ := range types {
		got, ti, err := f.Float32("t." + typ.String())
		if err != nil {
			t.Fatal(err)
		}
		if ti.Type != typ || !reflect.DeepEqual(ti.Shape, []int{256, 2}) || ti.Offset%64 != 0 {
			t.Fatalf("%s: info %+v", typ, ti)
		}
		enc, _ := Encode(typ, vals, 256)
		want, _ := Decode(typ, enc, len(vals))
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: data read back differs", typ)
		}
	}
}

func vocab(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("Ġtok%d", i)
	}
	return out
}

// countingReader counts the ReadAt calls made on r.
type countingReader struct {
	r io.ReaderAt
	n int
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	c.n++
	return c.r.ReadAt(p, off)
}

// rmsRel is the RMS error of a round trip through typ relative to the RMS of x.
func rmsRel(t *testing.T, typ Type, x []float32) (rel float64, y []float32) {
	t.Helper()
	enc, err := Encode(typ, x, QK_K)
	if err != nil {
		t.Fatal(err)
	}
	y, err = Decode(typ, enc, len(x))
	if err != nil {
		t.Fatal(err)
	}
	var se, sx float64
	for i := range x {
		d := float64(x[i] - y[i])
		se += d * d
		sx += float64(x[i]) * float64(x[i])
	}
	return math.Sqrt(se / sx), y
}

// TestQuantError bounds the round-trip error of each type on Gaussian data.
// A b-bit uniform quantiser over a block's range has RMS error about
// range/(2^b·√12); for Gaussian blocks the range is ~4.5σ (32 values) to ~6σ
// (256), which gives the expected ratios below; each bound is ~1.3× that,
// and a wrong nibble order, scale packing or sign shows up as errors of
// order 1.
func TestQuantError(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, 64*QK_K)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	for _, c := range []struct {
		typ  Type
		want float64
	}{{Q8_0, 0.007}, {Q4_0, 0.11}, {Q5_0, 0.055}, {Q5_1, 0.045}, {Q4_K, 0.10}, {Q5_K, 0.05}, {Q6_K, 0.025}, {F16, 3e-4}, {BF16, 3e-3}} {
		rel, _ := rmsRel(t, c.typ, x)
		t.Logf("%s: relative RMS error %.4f", c.typ, rel)
		if rel > c.want || rel == 0 {
			t.Errorf("%s: relative RMS error %.4f, want (0, %.3f]", c.typ, rel, c.want)
		}
	}
}

// TestQ8_0Block: x_j = j-16. amax 16, d = 16/127 → fp16 0x3008
// (0.125·(1+8/1024)); q_j = round((j-16)·127/16) with 127/16 = 7.9375.
func TestQ8_0Block(t *testing.T) {
	x := make([]float32, 32)
	for j := range x {
		x[j] = float32(j - 16)
	}
	b, _ := Encode(Q8_0, x, 32)
	if d := binary.LittleEndian.Uint16(b); d != 0x3008 {
		t.Fatalf("d = %#04x, want 0x3008", d)
	}
	for j, want := range map[int]int8{0: -127, 1: -119, 2: -111, 14: -16, 16: 0, 18: 16, 31: 119} {
		if q := int8(b[2+j]); q != want {
			t.Errorf("q[%d] = %d, want %d", j, q, want)
		}
	}
	y, _ := Decode(Q8_0, b, 32)
	if want := float32(-127 * 0.1259765625); y[0] != want {
		t.Errorf("dequantised y[0] = %v, want %v", y[0], want)
	}
}

// TestQ4_0Block: x_j = j-16; the largest magnitude is x_0 = -16, so d =
// -16/-8 = 2 (fp16 0x4000) and q_j = min(15, trunc((j-16)/2 + 8.5)):
// q_0 = 0, q_1 = 1, q_15 = 8, q_16 = 8, q_17 = 9, q_31 = 15 (16 clamped).
// Byte j holds q_j low and q_{j+16} high.
func TestQ4_0Block(t *testing.T) {
	x := make([]float32, 32)
	for j := range x {
		x[j] = float32(j - 16)
	}
	b, _ := Encode(Q4_0, x, 32)
	if d := binary.LittleEndian.Uint16(b); d != 0x4000 {
		t.Fatalf("d = %#04x, want 0x4000", d)
	}
	if b[2] != 0x80 || b[3] != 0x91 || b[17] != 0xf8 {
		t.Fatalf("qs = % x, want 80 91 ... f8", b[2:18])
	}
	y, _ := Decode(Q4_0, b, 32)
	if y[0] != -16 || y[1] != -14 || y[31] != 14 {
		t.Fatalf("dequantised %v", y)
	}
}

// TestQ4_KDequantHand decodes a hand-packed block: d = 1, dmin = 0.5,
// sub-block 0 scale 3 min 2, sub-block 5 scale 33 (0b100001: low nibble 1
// in scales[9], high bits 10 in the top of scales[1]) min 17, others 0.
// Value 0 has level 7: 1·3·7 - 0.5·2 = 20. Value 5·32+1 (sub-block 5, an odd
// one, so the high nibble of qs[64+32*... ]) has level 9: 33·9 - 0.5·17 = 288.5.
func TestQ4_KDequantHand(t *testing.T) {
	b := make([]byte, 144)
	binary.LittleEndian.PutUint16(b[0:], 0x3c00) // 1.0
	binary.LittleEndian.PutUint16(b[2:], 0x3800) // 0.5
	sc := b[4:16]
	sc[0], sc[4] = 3, 2
	// j=5: scales[9] = ls&0xf | (lm&0xf)<<4; scales[1] |= (ls>>4)<<6; scales[5] |= (lm>>4)<<6
	sc[9] = 1 | 1<<4
	sc[1] |= 2 << 6
	sc[5] |= 1 << 6
	q := b[16:]
	q[0] = 7
	// sub-block 5 is the high nibbles of the third 32-byte group (values 160..191)
	q[64+1] = 9 << 4
	y, err := Decode(Q4_K, b, QK_K)
	if err != nil {
		t.Fatal(err)
	}
	if y[0] != 20 || y[161] != 288.5 {
		t.Fatalf("y[0] = %v (want 20), y[161] = %v (want 288.5)", y[0], y[161])
	}
	if y[1] != -1 { // level 0 of sub-block 0: -0.5*2
		t.Fatalf("y[1] = %v, want -1", y[1])
	}
}

// TestQ6_KDequantHand: d = 0.5, scale of sub-block 0 = 4, sub-block 2 = -2.
// Value 0: ql low nibble 5, qh bits 0-1 = 2 → q = 5|2<<4 = 37 → (37-32)·0.5·4 = 10.
// Value 32 (sub-block 2): ql[32] low nibble 0, qh[0] bits 2-3 = 0 → -32·0.5·-2 = 32.
func TestQ6_KDequantHand(t *testing.T) {
	b := make([]byte, 210)
	binary.LittleEndian.PutUint16(b[208:], 0x3800)
	b[192] = 4
	b[194] = byte(0xfe) // -2
	b[0] = 5
	b[128] = 2
	y, err := Decode(Q6_K, b, QK_K)
	if err != nil {
		t.Fatal(err)
	}
	if y[0] != 10 || y[32] != 32 {
		t.Fatalf("y[0] = %v (want 10), y[32] = %v (want 32)", y[0], y[32])
	}
}

// TestKQuantRequantStable: the k-quant reference re-derives each level from
// the stored fp16 scales, so quantising the dequantised values again must
// give values at least as close (a mis-packed scale breaks this badly).
func TestKQuantBoundPerValue(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	x := make([]float32, 16*QK_K)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	for _, typ := range []Type{Q4_K, Q5_K, Q6_K} {
		_, y := rmsRel(t, typ, x)
		// every value lies within the range its block can represent: the
		// worst error is bounded by the block's max magnitude / levels·2.
		for b := 0; b < len(x)/QK_K; b++ {
			var amax float32
			for _, v := range x[b*QK_K : (b+1)*QK_K] {
				amax = max(amax, abs32(v))
			}
			levels := map[Type]float32{Q4_K: 15, Q5_K: 31, Q6_K: 63}[typ]
			for i := b * QK_K; i < (b+1)*QK_K; i++ {
				if e := abs32(x[i] - y[i]); e > 2*amax/levels*1.5 {
					t.Fatalf("%s: value %d: %v -> %v (block max %v)", typ, i, x[i], y[i], amax)
				}
			}
		}
	}
}

func TestNearestInt(t *testing.T) {
	for _, c := range []struct {
		f    float32
		want int
	}{{0.5, 0}, {1.5, 2}, {2.5, 2}, {-0.5, 0}, {-1.5, -2}, {3.49, 3}, {-3.51, -4}, {4194303, 4194303}} {
		if got := nearestInt(c.f); got != c.want {
			t.Errorf("nearestInt(%v) = %d, want %d", c.f, got, c.want)
		}
	}
}

func TestReadErrors(t *testing.T) {
	w := NewWriter()
	w.Set("general.architecture", "llama")
	w.AddFloat32("x", F32, []int{4}, []float32{1, 2, 3, 4})
	var buf bytes.Buffer
	w.WriteTo(&buf)
	good := buf.Bytes()
	for name, c := range map[string]struct {
		b    []byte
		want string
	}{
		"magic":     {append([]byte("GGUX"), good[4:]...), "not a GGUF file"},
		"version":   {append(append([]byte("GGUF"), 9, 0, 0, 0), good[8:]...), "version 9"},
		"truncated": {good[:len(good)-20], "runs past the end"},
		"header":    {good[:30], "count"},
	} {
		_, err := Read(bytes.NewReader(c.b), int64(len(c.b)), "f.gguf")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "f.gguf") {
			t.Errorf("%s: error %v, want one naming f.gguf and %q", name, err, c.want)
		}
	}
	p := filepath.Join(t.TempDir(), "ok.gguf")
	os.WriteFile(p, good, 0o644)
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if v, _ := f.Get("general.architecture"); v != "llama" {
		t.Fatalf("architecture %v", v)
	}
}

func FuzzRead(f *testing.F) {
	w := NewWriter()
	w.Set("general.architecture", "llama")
	w.Set("tokenizer.ggml.tokens", []string{"a", "b"})
	w.AddFloat32("x", Q8_0, []int{32}, make([]float32, 32))
	var buf bytes.Buffer
	w.WriteTo(&buf)
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := Read(bytes.NewReader(b), int64(len(b)), "fuzz")
		if err != nil {
			return
		}
		for _, ti := range g.Tensors {
			if _, _, err := g.Float32(ti.Name); err != nil {
				t.Fatalf("tensor %q listed but unreadable: %v", ti.Name, err)
			}
		}
	})
}
