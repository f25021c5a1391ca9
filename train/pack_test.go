package train

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

// TestPackFirstFitDecreasing checks the placement against first-fit
// decreasing worked by hand, and that labels and segment ids follow it.
func TestPackFirstFitDecreasing(t *testing.T) {
	// Lengths 3,9,6,1,5,7 into rows of 10. Longest first: 9 opens row 0
	// (room 1), 7 row 1 (room 3), 6 row 2, 5 row 3, 3 fills row 1, 1 fills row 0.
	rows := rowsOf(3, 9, 6, 1, 5, 7)
	labels := make([][]int32, len(rows))
	for i, r := range rows {
		labels[i] = make([]int32, len(r))
		for j := range r {
			labels[i][j] = int32(100*i + j)
		}
	}
	p, err := Pack(rows, labels, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]int{{1, 3}, {5, 0}, {2}, {4}}
	if len(p.Rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(p.Rows), len(want))
	}
	for b, docs := range want {
		var ids, lab, seg []int32
		for k, d := range docs {
			ids = append(ids, rows[d]...)
			lab = append(lab, labels[d]...)
			for range rows[d] {
				seg = append(seg, int32(k+1))
			}
		}
		if !reflect.DeepEqual(p.Rows[b], ids) || !reflect.DeepEqual(p.Labels[b], lab) || !reflect.DeepEqual(p.Segs[b], seg) {
			t.Errorf("row %d: got ids %v labels %v segs %v, want documents %v", b, p.Rows[b], p.Labels[b], p.Segs[b], docs)
		}
	}
	if p.Tokens != 31 || math.Abs(p.Efficiency()-31.0/40) > 1e-12 {
		t.Errorf("tokens %d, efficiency %v; want 31 and 0.775", p.Tokens, p.Efficiency())
	}
	if q, _ := Pack(rows, nil, 10); q.Labels != nil || !reflect.DeepEqual(q.Rows, p.Rows) {
		t.Error("packing without labels changed the placement or invented labels")
	}
}

func TestPackErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rows   [][]int32
		labels [][]int32
		cap    int
		want   string
	}{
		{"too long", rowsOf(4, 11), nil, 10, "row 1 has 11 tokens"},
		{"empty", [][]int32{{1}, {}}, nil, 10, "row 1 has 0 tokens"},
		{"labels", rowsOf(2, 3), [][]int32{{1, 2}, {1}}, 10, "row 1 has 3 tokens but 1 labels"},
		{"label rows", rowsOf(2, 3), [][]int32{{1, 2}}, 10, "1 label rows for 2 rows"},
		{"capacity", rowsOf(2), nil, 0, "capacity 0"},
	} {
		if _, err := Pack(tc.rows, tc.labels, tc.cap); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

// TestPackedLossEqualsUnpacked: one forward over packed rows gives the loss,
// the trained-token count and the gradient of the same documents unpacked —
// no token learns to predict the next document's first token, and no
// document sees another. Labels on documents' first tokens (which nothing
// can predict) must not count.
func TestPackedLossEqualsUnpacked(t *testing.T) {
	for _, mt := range []string{"gpt2", "llama"} {
		for _, labelled := range []bool{false, true} {
			m := tinyModel(t, mt)
			docs := rowsOf(3, 9, 1, 6, 12, 2, 7)
			var labels [][]int32
			if labelled {
				for _, r := range docs {
					l := append([]int32(nil), r...)
					if len(l) > 2 {
						l[1] = -100 // a masked prompt token
					}
					labels = append(labels, l)
				}
			}
			p, err := Pack(docs, labels, 16)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Rows) != 3 {
				t.Fatalf("%d packed rows, want 3", len(p.Rows))
			}
			lm := &CausalLM{Model: m}
			m.ZeroGrad()
			wantSum, wantN, err := lm.Run(docs, labels, 0.5, true)
			if err != nil {
				t.Fatal(err)
			}
			want := append([]float32(nil), m.Grad...)
			m.ZeroGrad()
			sum, n, err := lm.RunPacked(p.Rows, p.Labels, p.Segs, 0.5, true)
			if err != nil {
				t.Fatal(err)
			}
			if n != wantN || math.Abs(sum-wantSum) > 1e-5*wantSum {
				t.Errorf("%s labelled=%v: packed loss %v over %d tokens, unpacked %v over %d", mt, labelled, sum, n, wantSum, wantN)
			}
			if d, s := maxAbsDiff(want, m.Grad); d > 1e-5*s || s == 0 {
				t.Errorf("%s labelled=%v: packed gradient differs by %g (scale %g)", mt, labelled, d, s)
			}
			// The objective: same units, same evaluated loss.
			po := &LMObjective{LM: lm, Rows: p.Rows, Labels: p.Labels, Segs: p.Segs}
			uo := &LMObjective{LM: lm, Rows: docs, Labels: labels}
			pu, uu := po.Units([]int{0, 1, 2}), uo.Units([]int{0, 1, 2, 3, 4, 5, 6})
			if pu != uu || pu != wantN {
				t.Errorf("%s labelled=%v: units packed %d, unpacked %d, counted %d", mt, labelled, pu, uu, wantN)
			}
			pm, err := po.Eval([]int{0, 1, 2}, pu)
			if err != nil {
				t.Fatal(err)
			}
			um, _ := uo.Eval([]int{0, 1, 2, 3, 4, 5, 6}, uu)
			if math.Abs(pm["loss"]-um["loss"]) > 1e-5*um["loss"] {
				t.Errorf("%s labelled=%v: eval loss packed %v, unpacked %v", mt, labelled, pm["loss"], um["loss"])
			}
		}
	}
}

func TestRunPackedErrors(t *testing.T) {
	lm := &CausalLM{Model: tinyModel(t, "llama")}
	rows := rowsOf(3, 2)
	for _, tc := range []struct {
		name string
		segs [][]int32
		want string
	}{
		{"rows", [][]int32{{1, 1, 1}}, "1 segment rows for 2 rows"},
		{"length", [][]int32{{1, 1, 1}, {1}}, "row 1 has 2 tokens but 1 segment ids"},
		{"zero", [][]int32{{1, 0, 2}, {1, 1}}, "row 0: segment id 0 at position 1"},
		{"resumed", [][]int32{{1, 2, 1}, {1, 1}}, "document 1 resumes"},
	} {
		if _, _, err := lm.RunPacked(rows, nil, tc.segs, 1, false); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}
