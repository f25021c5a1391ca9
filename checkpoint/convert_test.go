package checkpoint

import (
	"math"
	"testing"
)

// torchFixture is written by testdata/gen/make_dtype_fixture.py: float32
// source values and torch's own float16/bfloat16/float64 conversions.
const torchFixture = "testdata/torch_dtypes.safetensors"

func sameFloat(a, b float32) bool {
	if a != a || b != b {
		return a != a && b != b
	}
	return math.Float32bits(a) == math.Float32bits(b)
}

func rawU16(t *testing.T, f *File, name string) []uint16 {
	t.Helper()
	b, err := f.Bytes(name)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]uint16, len(b)/2)
	for i := range out {
		out[i] = le.Uint16(b[2*i:])
	}
	return out
}

func mustF32(t *testing.T, f Reader, name string) []float32 {
	t.Helper()
	v, _, err := f.Float32(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestNarrowingMatchesTorch(t *testing.T) {
	f, err := Open(torchFixture)
	if err != nil {
		t.Fatal(err)
	}
	src := mustF32(t, f, "src")
	for _, tc := range []struct {
		name string
		conv func(float32) uint16
		inf  uint16
	}{{"f16", F32ToF16, 0x7c00}, {"bf16", F32ToBF16, 0x7f80}} {
		want := rawU16(t, f, tc.name)
		if len(want) != len(src) {
			t.Fatalf("%s: %d values, src has %d", tc.name, len(want), len(src))
		}
		bad := 0
		for i, v := range src {
			got := tc.conv(v)
			if v != v {
				// torch's NaN bits vary by kernel (bf16 gives 0xffff);
				// any NaN is right.
				if got&0x7fff <= tc.inf {
					t.Errorf("%s(NaN %#08x) = %#04x, not a NaN", tc.name, math.Float32bits(v), got)
				}
				continue
			}
			if got != want[i] {
				if bad++; bad <= 10 {
					t.Errorf("%s(%g = %#08x) = %#04x, torch %#04x", tc.name, v, math.Float32bits(v), got, want[i])
				}
			}
		}
		if bad > 0 {
			t.Errorf("%s: %d of %d conversions differ from torch", tc.name, bad, len(src))
		}
	}
}

func TestWideningMatchesTorch(t *testing.T) {
	f, err := Open(torchFixture)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"f16", "bf16", "f16_all", "bf16_some", "f64"} {
		got := mustF32(t, f, name)
		wantName := name + "_up"
		if name == "f64" {
			wantName = "f64_down"
		}
		want := mustF32(t, f, wantName)
		if len(got) != len(want) || len(got) == 0 {
			t.Fatalf("%s: %d values, %s has %d", name, len(got), wantName, len(want))
		}
		for i := range got {
			if !sameFloat(got[i], want[i]) {
				t.Errorf("%s[%d] = %g (%#08x), torch %g (%#08x)", name, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
				break
			}
		}
	}
}

func TestConversionTable(t *testing.T) {
	inf := float32(math.Inf(1))
	tests := []struct {
		f    float32
		f16  uint16
		bf16 uint16
	}{
		{0, 0x0000, 0x0000},
		{float32(math.Copysign(0, -1)), 0x8000, 0x8000},
		{1, 0x3c00, 0x3f80},
		{-2, 0xc000, 0xc000},
		{65504, 0x7bff, 0x4780},           // largest half; 2^16 in bf16
		{65520, 0x7c00, 0x4780},           // rounds to Inf in half
		{1.0 / (1 << 24), 0x0001, 0x3380}, // smallest half subnormal
		{1.0 / (1 << 25), 0x0000, 0x3300}, // tie: rounds to even (0)
		{3.0 / (1 << 25), 0x0002, 0x33c0}, // tie: 1.5 units → 2
		{1.0 / (1 << 14), 0x0400, 0x3880}, // smallest half normal
		{1 + 1.0/(1<<11), 0x3c00, 0x3f80}, // half tie to even (down)
		{1 + 3.0/(1<<11), 0x3c02, 0x3f80}, // half tie to even (up)
		{1 + 1.0/(1<<8), 0x3c04, 0x3f80},  // bf16 tie to even (down)
		{1 + 3.0/(1<<8), 0x3c0c, 0x3f82},  // bf16 tie to even (up)
		{inf, 0x7c00, 0x7f80},
		{-inf, 0xfc00, 0xff80},
		{math.MaxFloat32, 0x7c00, 0x7f80},
	}
	for _, tc := range tests {
		if got := F32ToF16(tc.f); got != tc.f16 {
			t.Errorf("F32ToF16(%g) = %#04x, want %#04x", tc.f, got, tc.f16)
		}
		if got := F32ToBF16(tc.f); got != tc.bf16 {
			t.Errorf("F32ToBF16(%g) = %#04x, want %#04x", tc.f, got, tc.bf16)
		}
		if tc.f16&0x7c00 != 0x7c00 || tc.f16&0x3ff == 0 {
			back := F16ToF32(tc.f16)
			if F32ToF16(back) != tc.f16 {
				t.Errorf("F16ToF32(%#04x) = %g does not round-trip", tc.f16, back)
			}
		}
	}
	nan := float32(math.NaN())
	if h := F32ToF16(nan); h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
		t.Errorf("F32ToF16(NaN) = %#04x, not a NaN", h)
	}
	if b := F32ToBF16(nan); b != 0x7fc0 {
		t.Errorf("F32ToBF16(NaN) = %#04x, want 0x7fc0", b)
	}
}

func TestFloat8(t *testing.T) {
	tests := []struct {
		v          uint8
		e4m3, e5m2 float64
	}{
		{0x00, 0, 0},
		{0x01, 1.0 / 512, 1.0 / (1 << 16)}, // smallest subnormals
		{0x08, 1.0 / 64, 1.0 / (1 << 13)},  // e4m3 smallest normal 2^-6
		{0x38, 1, 0.5},                     // e4m3: exp 7, e5m2: 0x3800 half = 0.5
		{0x3c, 1.5, 1},
		{0x7e, 448, math.NaN()}, // e4m3 max; e5m2 0x7e00 is NaN
		{0x7f, math.NaN(), math.NaN()},
		{0x7b, 352, 57344}, // e5m2 max
		{0x7c, 384, math.Inf(1)},
		{0xb8, -1, -0.5},
	}
	for _, tc := range tests {
		if got := f8e4m3ToF32(tc.v); !sameFloat(got, float32(tc.e4m3)) {
			t.Errorf("e4m3(%#02x) = %g, want %g", tc.v, got, tc.e4m3)
		}
		if got := f8e5m2ToF32(tc.v); !sameFloat(got, float32(tc.e5m2)) {
			t.Errorf("e5m2(%#02x) = %g, want %g", tc.v, got, tc.e5m2)
		}
	}
}

func TestIntegersFromTorch(t *testing.T) {
	f, err := Open(torchFixture)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		shape []int
		want  []int64
	}{
		{"i64", []int{2, 3}, []int64{0, 1, -1, 1 << 62, math.MinInt64, math.MaxInt64}},
		{"i32", []int{4}, []int64{0, -7, math.MaxInt32, math.MinInt32}},
		{"i16", []int{4}, []int64{0, -300, 32767, -32768}},
		{"i8", []int{4}, []int64{0, -1, 127, -128}},
		{"u8", []int{3}, []int64{0, 1, 255}},
		{"bool", []int{2, 2}, []int64{1, 0, 0, 1}},
	}
	for _, tc := range tests {
		got, shape, err := f.Int64(tc.name)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !equalInts(shape, tc.shape) || len(got) != len(tc.want) {
			t.Errorf("%s: shape %v, %d values; want %v", tc.name, shape, len(got), tc.shape)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s[%d] = %d, want %d", tc.name, i, got[i], tc.want[i])
			}
		}
	}
	if _, _, err := f.Int64("src"); err == nil {
		t.Error("Int64 of an F32 tensor: want error")
	}
	v, shape, err := f.Float32("i8")
	if err != nil || len(shape) != 1 || v[3] != -128 {
		t.Errorf("Float32(i8) = %v %v %v", v, shape, err)
	}
	v, shape, err = f.Float32("scalar")
	if err != nil || len(shape) != 0 || len(v) != 1 || v[0] != 2.5 {
		t.Errorf("Float32(scalar) = %v %v %v, want [2.5] []", v, shape, err)
	}
	v, shape, err = f.Float32("empty")
	if err != nil || !equalInts(shape, []int{0, 3}) || len(v) != 0 {
		t.Errorf("Float32(empty) = %v %v %v, want [] [0 3]", v, shape, err)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
