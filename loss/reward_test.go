package loss

import (
	"math"
	"math/rand"
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
