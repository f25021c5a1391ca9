package loss

import (
	"math"
	"math/rand"
	"strings"
	"testing"
)

func TestBradleyTerryHand(t *testing.T) {
	sp := func(x float64) float64 { return math.Log(1 + math.Exp(x)) } // −log σ(−x)
	sig := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	cases := []struct {
		name               string
		c, r, m            []float64
		coef               float64
		loss               float64
		gc, gr             []float64
		acc, margin, meanC float64
	}{
		{
			// d = c − r = (1, −1): loss = [log(1+e⁻¹) + log(1+e)]/2 = 0.8132616875…
			// ∂/∂c_i = −σ(−d_i)/2 = (−0.1344707…, −0.3655293…), ∂/∂r = −∂/∂c
			name: "plain", c: []float64{2, 0}, r: []float64{1, 1},
			loss: (sp(-1) + sp(1)) / 2,
			gc:   []float64{-sig(-1) / 2, -sig(1) / 2}, gr: []float64{sig(-1) / 2, sig(1) / 2},
			acc: 0.5, margin: 0, meanC: 1,
		},
		{
			// margins (0.5, 0): d = (0.5, −1); centring 0.01·mean((c+r)²) = 0.01·(9+1)/2 = 0.05
			// ∂centre/∂c_i = ∂/∂r_i = 2·0.01·(c_i+r_i)/2 = (0.03, 0.01)
			name: "margin+centre", c: []float64{2, 0}, r: []float64{1, 1}, m: []float64{0.5, 0}, coef: 0.01,
			loss: (sp(-0.5)+sp(1))/2 + 0.05,
			gc:   []float64{-sig(-0.5)/2 + 0.03, -sig(1)/2 + 0.01}, gr: []float64{sig(-0.5)/2 + 0.03, sig(1)/2 + 0.01},
			acc: 0.5, margin: 0, meanC: 1,
		},
	}
	for _, c := range cases {
		res, err := BradleyTerry(c.c, c.r, c.m, c.coef)
		if err != nil {
			t.Fatal(err)
		}
		if !near(res.Loss, c.loss) {
			t.Errorf("%s: loss %.17g, want %.17g", c.name, res.Loss, c.loss)
		}
		for i := range c.gc {
			if !near(res.GradChosen[i], c.gc[i]) || !near(res.GradRejected[i], c.gr[i]) {
				t.Errorf("%s: grads (%v, %v), want (%v, %v)", c.name, res.GradChosen, res.GradRejected, c.gc, c.gr)
			}
		}
		if res.Metrics["accuracy"] != c.acc || !near(res.Metrics["margin"], c.margin) || !near(res.Metrics["rewards/chosen"], c.meanC) {
			t.Errorf("%s: metrics %v", c.name, res.Metrics)
		}
	}
}

func TestBradleyTerryFiniteDiff(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	B := 5
	c, rj, m := randVec(r, B, 0, 2), randVec(r, B, 0, 2), randVec(r, B, 0.3, 0.2)
	res, err := BradleyTerry(c, rj, m, 0.05)
	if err != nil {
		t.Fatal(err)
	}
	checkGrad(t, "chosen", func(x []float64) float64 { v, _ := BradleyTerry(x, rj, m, 0.05); return v.Loss }, c, res.GradChosen)
	checkGrad(t, "rejected", func(x []float64) float64 { v, _ := BradleyTerry(c, x, m, 0.05); return v.Loss }, rj, res.GradRejected)
}

func TestBradleyTerryErrors(t *testing.T) {
	if _, err := BradleyTerry(nil, nil, nil, 0); err == nil {
		t.Error("empty batch accepted")
	}
	if _, err := BradleyTerry([]float64{1, 2}, []float64{1}, nil, 0); err == nil {
		t.Error("length mismatch accepted")
	}
	if _, err := BradleyTerry([]float64{math.NaN()}, []float64{1}, nil, 0); err == nil {
		t.Error("NaN reward accepted")
	}
	if _, err := BradleyTerry([]float64{1}, []float64{1}, []float64{1, 2}, 0); err == nil {
		t.Error("margin length mismatch accepted")
	}
}

// Soft labels worked by hand (sp(x) = log(1+eˣ) = −log σ(−x); values from
// python3's math module).
func TestBradleyTerrySoftHand(t *testing.T) {
	sp := func(x float64) float64 { return math.Log(1 + math.Exp(x)) }
	sig := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	cases := []struct {
		name      string
		c, r, m   []float64
		p         []float64
		coef      float64
		loss      float64
		gc, gr    []float64
		acc, marg float64
	}{
		{
			// d = c − r = (1, −1), p = (0.75, 0).
			// pair 0: 0.75·sp(−1) + 0.25·sp(1); ∂/∂c = (σ(1) − 0.75)/2
			// pair 1 (p = 0: the swapped pair, won by rejected): sp(−1); ∂/∂c = σ(−1)/2
			// loss = (0.75·0.3132617 + 0.25·1.3132617 + 0.3132617)/2 = 0.4382616875182228
			// grads c = (−0.009470710684997552, 0.13447071068499755); r = −c.
			// Both pairs agree with their labels: accuracy 1.
			name: "soft", c: []float64{2, 0}, r: []float64{1, 1}, p: []float64{0.75, 0},
			loss: 0.4382616875182228,
			gc:   []float64{-0.009470710684997552, 0.13447071068499755}, gr: []float64{0.009470710684997552, -0.13447071068499755},
			acc: 1, marg: 0,
		},
		{
			// margins (0.5, 0), p = (0.5, 0.25), centring 0.01.
			// pair 0: 0.5·sp(−(1−0.5)) + 0.5·sp(−(−1−0.5)) = 0.5·sp(−0.5) + 0.5·sp(1.5);
			//   ∂/∂c = (−0.5·σ(−0.5) + 0.5·σ(1.5))/2 = 0.11000845184887456
			// pair 1: 0.25·sp(1) + 0.75·sp(−1); ∂/∂c = (σ(−1) − 0.25)/2 = 0.009470710684997554
			// centring adds 0.05 to the loss and (0.03, 0.01) to both gradients.
			// loss = 0.8755034092998263. Accuracy: pair 0 (p = 0.5) counts ½, pair 1
			// (p < 0.5, r > c) 1: 0.75.
			name: "margin+centre+tie", c: []float64{2, 0}, r: []float64{1, 1}, m: []float64{0.5, 0}, p: []float64{0.5, 0.25}, coef: 0.01,
			loss: 0.8755034092998263,
			gc:   []float64{0.14000845184887456, 0.019470710684997554}, gr: []float64{-0.08000845184887456, 0.0005292893150024482},
			acc: 0.75, marg: 0,
		},
	}
	for _, c := range cases {
		res, err := BradleyTerrySoft(c.c, c.r, c.m, c.p, c.coef)
		if err != nil {
			t.Fatal(err)
		}
		if !near(res.Loss, c.loss) {
			t.Errorf("%s: loss %.17g, want %.17g", c.name, res.Loss, c.loss)
		}
		for i := range c.gc {
			if !near(res.GradChosen[i], c.gc[i]) || !near(res.GradRejected[i], c.gr[i]) {
				t.Errorf("%s: grads (%v, %v), want (%v, %v)", c.name, res.GradChosen, res.GradRejected, c.gc, c.gr)
			}
		}
		if !near(res.Metrics["accuracy"], c.acc) || !near(res.Metrics["margin"], c.marg) {
			t.Errorf("%s: metrics %v", c.name, res.Metrics)
		}
	}
	// The closed forms the numbers above came from.
	if want := (0.75*sp(-1) + 0.25*sp(1) + sp(-1)) / 2; !near(cases[0].loss, want) {
		t.Errorf("case 0 by formula: %.17g", want)
	}
	if want := (0.5*sp(-0.5)+0.5*sp(1.5)+0.25*sp(1)+0.75*sp(-1))/2 + 0.05; !near(cases[1].loss, want) {
		t.Errorf("case 1 by formula: %.17g", want)
	}
	if want := (-0.5*sig(-0.5)+0.5*sig(1.5))/2 + 0.03; !near(cases[1].gc[0], want) {
		t.Errorf("case 1 gradient by formula: %.17g", want)
	}
}

// p = 1 everywhere is BradleyTerry bit for bit, and p = 0 on the swapped
// pair is the hard pair bit for bit (the margin travels with the winner).
func TestBradleyTerrySoftLimits(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	B := 6
	c, rj, m := randVec(r, B, 0, 2), randVec(r, B, 0, 2), randVec(r, B, 0.3, 0.2)
	hard, _ := BradleyTerry(c, rj, m, 0.05)
	ones, zeros := make([]float64, B), make([]float64, B)
	for i := range ones {
		ones[i] = 1
	}
	soft, err := BradleyTerrySoft(c, rj, m, ones, 0.05)
	if err != nil {
		t.Fatal(err)
	}
	swapped, err := BradleyTerrySoft(rj, c, m, zeros, 0.05)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < B; i++ {
		if soft.GradChosen[i] != hard.GradChosen[i] || soft.GradRejected[i] != hard.GradRejected[i] ||
			swapped.GradChosen[i] != hard.GradRejected[i] || swapped.GradRejected[i] != hard.GradChosen[i] {
			t.Errorf("pair %d: grads hard (%v, %v), p=1 (%v, %v), swapped p=0 (%v, %v)", i, hard.GradChosen[i], hard.GradRejected[i],
				soft.GradChosen[i], soft.GradRejected[i], swapped.GradChosen[i], swapped.GradRejected[i])
		}
	}
	if soft.Loss != hard.Loss || swapped.Loss != hard.Loss || soft.Metrics["accuracy"] != hard.Metrics["accuracy"] ||
		swapped.Metrics["accuracy"] != hard.Metrics["accuracy"] || swapped.Metrics["margin"] != -hard.Metrics["margin"] {
		t.Errorf("hard %v %v, p=1 %v %v, swapped p=0 %v %v", hard.Loss, hard.Metrics, soft.Loss, soft.Metrics, swapped.Loss, swapped.Metrics)
	}
}

func TestBradleyTerrySoftFiniteDiff(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	B := 6
	c, rj, m := randVec(r, B, 0, 2), randVec(r, B, 0, 2), randVec(r, B, 0.3, 0.2)
	p := []float64{1, 0, 0.5, 0.9, 0.2, 0.61}
	for _, mg := range [][]float64{nil, m} {
		res, err := BradleyTerrySoft(c, rj, mg, p, 0.05)
		if err != nil {
			t.Fatal(err)
		}
		checkGrad(t, "soft chosen", func(x []float64) float64 { v, _ := BradleyTerrySoft(x, rj, mg, p, 0.05); return v.Loss }, c, res.GradChosen)
		checkGrad(t, "soft rejected", func(x []float64) float64 { v, _ := BradleyTerrySoft(c, x, mg, p, 0.05); return v.Loss }, rj, res.GradRejected)
	}
}

func TestBradleyTerrySoftErrors(t *testing.T) {
	for _, p := range [][]float64{{1.5}, {-0.1}, {math.NaN()}, {0.5, 0.5}} {
		if _, err := BradleyTerrySoft([]float64{1}, []float64{0}, nil, p, 0); err == nil || !strings.Contains(err.Error(), "p_chosen") {
			t.Errorf("p_chosen %v: %v", p, err)
		}
	}
}
