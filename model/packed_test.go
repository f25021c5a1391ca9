package model

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// segRow numbers documents of the given lengths 1, 2, ... and pads to T with 0.
func segRow(T int, lens ...int) []int32 {
	s := make([]int32, 0, T)
	for d, n := range lens {
		for i := 0; i < n; i++ {
			s = append(s, int32(d+1))
		}
	}
	return append(s, make([]int32, T-len(s))...)
}

// TestPackedEqualsSeparate: a packed batch gives every document the logits
// and (for Σ logits·R) the parameter gradients it gets when run alone — the
// proof that neither attention nor positions leak across documents.
func TestPackedEqualsSeparate(t *testing.T) {
	for _, tc := range []struct {
		mt   string
		T    int
		rows [][]int // document lengths per packed row
	}{
		{"gpt2", 16, [][]int{{5, 1, 6}, {9, 5}}},
		{"llama", 16, [][]int{{5, 1, 6}, {9, 5}}},
		{"qwen3", 16, [][]int{{1, 14, 1}, {16}}},
		{"llama", 40, [][]int{{1, 30, 9}, {33, 2}}}, // documents across 32-row attention blocks
	} {
		t.Run(tc.mt, func(t *testing.T) {
			m := New(tinyConfig(tc.mt))
			m.InitRandom(7)
			r := rand.New(rand.NewPCG(8, 9))
			B, T, V := len(tc.rows), tc.T, m.Cfg.Vocab
			ids := make([]int32, B*T)
			for i := range ids {
				ids[i] = int32(r.IntN(V))
			}
			var seg []int32
			for _, lens := range tc.rows {
				seg = append(seg, segRow(T, lens...)...)
			}
			R := make([]float32, B*T*V)
			for i := range R {
				if seg[i/V] != 0 {
					R[i] = float32(r.NormFloat64())
				}
			}
			lg, _, err := m.Forward(Batch{B: B, T: T, IDs: ids, Seg: seg}, true)
			if err != nil {
				t.Fatal(err)
			}
			packed := append([]float32(nil), lg...)
			m.EnableGrad()
			m.ZeroGrad()
			if err := m.Backward(R, nil); err != nil {
				t.Fatal(err)
			}
			gPacked := append([]float32(nil), m.Grad...)

			m.ZeroGrad()
			var worst float64
			for b, lens := range tc.rows {
				at := b * T
				for _, n := range lens {
					lg, _, err := m.Forward(Batch{B: 1, T: n, IDs: ids[at : at+n]}, true)
					if err != nil {
						t.Fatal(err)
					}
					for i, x := range lg {
						worst = math.Max(worst, math.Abs(float64(x-packed[at*V+i])))
					}
					if err := m.Backward(R[at*V:(at+n)*V], nil); err != nil {
						t.Fatal(err)
					}
					at += n
				}
			}
			if worst > 1e-5 {
				t.Errorf("logits differ from the documents run alone by %.3g", worst)
			}
			var gmax, gdiff float64
			for i, g := range m.Grad {
				gmax = math.Max(gmax, math.Abs(float64(g)))
				gdiff = math.Max(gdiff, math.Abs(float64(g-gPacked[i])))
			}
			if gdiff > 1e-5*math.Max(1, gmax) {
				t.Errorf("gradients differ from the documents run alone by %.3g (largest gradient %.3g)", gdiff, gmax)
			}
		})
	}
}

func TestPositionsSeg(t *testing.T) {
	pos := make([]int32, 10)
	PositionsSeg(pos, []int32{1, 1, 1, 2, 3, 3, 0, 0, 4, 4}, 2, 5)
	want := []int32{0, 1, 2, 0, 0, 0, 0, 0, 0, 1}
	for i := range want {
		if pos[i] != want[i] {
			t.Fatalf("positions %v, want %v", pos, want)
		}
	}
}

func TestPackedBatchErrors(t *testing.T) {
	m := New(tinyConfig("llama"))
	m.InitRandom(1)
	ids := make([]int32, 4)
	for _, tc := range []struct {
		name      string
		seg, mask []int32
		want      string
	}{
		{"short seg", []int32{1, 1, 1}, nil, "seg has 3 entries"},
		{"negative", []int32{1, -1, 2, 2}, nil, "negative"},
		{"resumed document", []int32{1, 2, 1, 0}, nil, "document 1 resumes at position 2"},
		{"mask disagrees", []int32{1, 1, 0, 0}, []int32{1, 1, 1, 0}, "mask 1 disagrees with seg 0"},
	} {
		_, _, err := m.Forward(Batch{B: 1, T: 4, IDs: ids, Seg: tc.seg, Mask: tc.mask}, true)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	if _, _, err := m.Forward(Batch{B: 1, T: 4, IDs: ids, Seg: []int32{1, 1, 2, 0}, Mask: []int32{1, 1, 1, 0}}, true); err != nil {
		t.Errorf("consistent seg and mask: %v", err)
	}
}
