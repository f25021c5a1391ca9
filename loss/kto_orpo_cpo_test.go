package loss

import (
	"math"
	"math/rand"
	"strings"
	"testing"
)

type ktoOrpoCpoCase struct {
	Kind              string             `json:"kind"`
	LossType          string             `json:"loss_type"`
	Beta              float64            `json:"beta"`
	DesirableWeight   float64            `json:"desirable_weight"`
	UndesirableWeight float64            `json:"undesirable_weight"`
	Policy            []float64          `json:"policy"`
	Ref               []float64          `json:"ref"`
	Desirable         []bool             `json:"desirable"`
	PolicyKL          []float64          `json:"policy_kl"`
	RefKL             []float64          `json:"ref_kl"`
	Grad              []float64          `json:"grad"`
	CPOAlpha          float64            `json:"cpo_alpha"`
	LabelSmoothing    float64            `json:"label_smoothing"`
	SimPOGamma        float64            `json:"simpo_gamma"`
	PolicyChosen      []float64          `json:"policy_chosen"`
	PolicyRejected    []float64          `json:"policy_rejected"`
	ChosenTokens      []int              `json:"chosen_tokens"`
	RejectedTokens    []int              `json:"rejected_tokens"`
	Loss              float64            `json:"loss"`
	GradChosen        []float64          `json:"grad_chosen"`
	GradRejected      []float64          `json:"grad_rejected"`
	Metrics           map[string]float64 `json:"metrics"`
}

// TestKTOORPOCPOMatchTorch replays testdata/kto_orpo_cpo_torch.json: the
// papers' and TRL's formulas evaluated with PyTorch autograd in float64
// (gen_kto_orpo_cpo.py), several β and weights, a KTO batch whose reference
// point clamps at 0 and an ORPO pair with a mean log-prob of −1e−12.
func TestKTOORPOCPOMatchTorch(t *testing.T) {
	cases := torchCases[ktoOrpoCpoCase](t, "testdata/kto_orpo_cpo_torch.json")
	kinds := map[string]int{}
	clamped := 0
	for k, c := range cases {
		kinds[c.Kind]++
		name := c.Kind + " " + c.LossType
		var loss float64
		var metrics map[string]float64
		var gots, wants [][]float64
		switch c.Kind {
		case "kto":
			res, err := KTO(KTOConfig{LossType: c.LossType, Beta: c.Beta, DesirableWeight: c.DesirableWeight, UndesirableWeight: c.UndesirableWeight},
				KTOBatch{Policy: c.Policy, Ref: c.Ref, Desirable: c.Desirable, PolicyKL: c.PolicyKL, RefKL: c.RefKL})
			if err != nil {
				t.Fatalf("case %d (%s): %v", k, name, err)
			}
			loss, metrics = res.Loss, res.Metrics
			gots, wants = [][]float64{res.Grad}, [][]float64{c.Grad}
			if c.LossType == "kto" && c.Metrics["kl"] == 0 {
				clamped++
			}
		case "orpo", "cpo":
			pb := PairBatch{PolicyChosen: c.PolicyChosen, PolicyRejected: c.PolicyRejected, ChosenTokens: c.ChosenTokens, RejectedTokens: c.RejectedTokens}
			var res PairResult
			var err error
			if c.Kind == "orpo" {
				res, err = ORPO(c.Beta, pb)
			} else {
				res, err = CPO(CPOConfig{LossType: c.LossType, Beta: c.Beta, LabelSmoothing: c.LabelSmoothing, SimPOGamma: c.SimPOGamma, Alpha: c.CPOAlpha}, pb)
			}
			if err != nil {
				t.Fatalf("case %d (%s): %v", k, name, err)
			}
			loss, metrics = res.Loss, res.Metrics
			gots, wants = [][]float64{res.GradChosen, res.GradRejected}, [][]float64{c.GradChosen, c.GradRejected}
		default:
			t.Fatalf("case %d: kind %q", k, c.Kind)
		}
		if !torchClose(loss, c.Loss) {
			t.Errorf("case %d (%s): loss %.15g, torch %.15g", k, name, loss, c.Loss)
		}
		for j := range wants {
			for i := range wants[j] {
				if !torchClose(gots[j][i], wants[j][i]) {
					t.Errorf("case %d (%s): grad %d[%d] %.12g, torch %.12g", k, name, j, i, gots[j][i], wants[j][i])
				}
			}
		}
		for m, v := range c.Metrics {
			if got, ok := metrics[m]; !ok || !torchClose(got, v) {
				t.Errorf("case %d (%s): metric %s = %v (present %v), torch %v", k, name, m, got, ok, v)
			}
		}
		for m := range metrics {
			if _, ok := c.Metrics[m]; !ok {
				t.Errorf("case %d (%s): metric %s not in torch's", k, name, m)
			}
		}
	}
	if kinds["kto"] < 5 || kinds["orpo"] < 3 || kinds["cpo"] < 6 || clamped == 0 {
		t.Errorf("fixture has %v cases, %d clamped KTO reference points", kinds, clamped)
	}
}

// One KTO batch by hand: β = 0.5, rows (π − ref) = +2 desirable, −1
// undesirable; mismatched pairs (π − ref) = 1 and 3, so z₀ = 2. Desirable:
// x = 0.5·(2 − 2) = 0, loss 1 − σ(0) = ½, d/dπ = −β·¼ = −0.125. Undesirable:
// x = 0.5·(2 + 1) = 1.5, loss 1 − σ(1.5) = σ(−1.5) = 0.18242552380635635,
// d/dπ = +β·σ(1.5)σ(−1.5) = 0.07457470..., both over N = 2.
func TestKTOHand(t *testing.T) {
	b := KTOBatch{Policy: []float64{-8, -12}, Ref: []float64{-10, -11}, Desirable: []bool{true, false},
		PolicyKL: []float64{-20, -30}, RefKL: []float64{-21, -33}}
	s15 := 1 / (1 + math.Exp(1.5))
	res, err := KTO(KTOConfig{LossType: "kto", Beta: 0.5, DesirableWeight: 2, UndesirableWeight: 3}, b)
	if err != nil {
		t.Fatal(err)
	}
	wantLoss := (2*0.5 + 3*s15) / 2
	if !near(res.Loss, wantLoss) || !near(res.Grad[0], -2*0.125/2) || !near(res.Grad[1], 3*0.5*s15*(1-s15)/2) || res.KL != 2 {
		t.Errorf("loss %v grad %v kl %v, want %v [%v %v] 2", res.Loss, res.Grad, res.KL, wantLoss, -0.125, 3*0.5*s15*(1-s15)/2)
	}
	want := map[string]float64{"rewards/chosen": 1, "rewards/rejected": -0.5, "logps/chosen": -8, "logps/rejected": -12, "kl": 2,
		"count/chosen": 1, "count/rejected": 1}
	for k, v := range want {
		if !near(res.Metrics[k], v) {
			t.Errorf("%s = %v, want %v", k, res.Metrics[k], v)
		}
	}
	// apo_zero_unpaired ignores the mismatched pairs: desirable 1 − σ(1),
	// undesirable σ(−0.5).
	res, err = KTO(KTOConfig{LossType: "apo_zero_unpaired", Beta: 0.5, DesirableWeight: 1, UndesirableWeight: 1},
		KTOBatch{Policy: b.Policy, Ref: b.Ref, Desirable: b.Desirable})
	if err != nil {
		t.Fatal(err)
	}
	if w := (1/(1+math.Exp(1)) + 1/(1+math.Exp(0.5))) / 2; !near(res.Loss, w) || res.KL != 0 {
		t.Errorf("apo_zero_unpaired loss %v kl %v, want %v 0", res.Loss, res.KL, w)
	}
}

// The reference point is a constant of the loss: moving the mismatched
// pairs' log-probs changes the loss (through z₀) but never the gradient's
// form, and below the clamp it changes nothing at all.
func TestKTOReferencePoint(t *testing.T) {
	cfg := DefaultKTOConfig()
	b := KTOBatch{Policy: []float64{-8, -12, -9}, Ref: []float64{-10, -11, -9.5}, Desirable: []bool{true, false, true},
		PolicyKL: []float64{-25, -30}, RefKL: []float64{-21, -33}} // mean −0.5: clamps to 0
	a, _ := KTO(cfg, b)
	b.PolicyKL = []float64{-29, -31}
	c, _ := KTO(cfg, b)
	if a.KL != 0 || c.KL != 0 || a.Loss != c.Loss {
		t.Errorf("clamped reference points %v %v give losses %v %v", a.KL, c.KL, a.Loss, c.Loss)
	}
	b.PolicyKL = []float64{-15, -30}
	d, _ := KTO(cfg, b)
	if d.KL != 4.5 || d.Loss == a.Loss {
		t.Errorf("z₀ %v, loss %v (clamped %v)", d.KL, d.Loss, a.Loss)
	}
}

func TestKTOFiniteDiff(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	N := 6
	base := KTOBatch{Policy: randVec(r, N, -30, 4), Ref: randVec(r, N, -30, 4), Desirable: []bool{true, false, false, true, true, false},
		PolicyKL: randVec(r, 4, -38, 3), RefKL: randVec(r, 4, -40, 3)}
	for _, cfg := range []KTOConfig{
		{LossType: "kto", Beta: 0.1, DesirableWeight: 1, UndesirableWeight: 1},
		{LossType: "kto", Beta: 0.7, DesirableWeight: 1.33, UndesirableWeight: 0.5},
		{LossType: "apo_zero_unpaired", Beta: 0.3, DesirableWeight: 0.9, UndesirableWeight: 1.1},
	} {
		res, err := KTO(cfg, base)
		if err != nil {
			t.Fatal(err)
		}
		checkGrad(t, cfg.LossType, func(x []float64) float64 {
			b := base
			b.Policy = x
			v, _ := KTO(cfg, b)
			return v.Loss
		}, base.Policy, res.Grad)
	}
}

func TestORPOCPOFiniteDiff(t *testing.T) {
	r := rand.New(rand.NewSource(10))
	B := 4
	nc, nr := []int{3, 7, 12, 5}, []int{9, 4, 6, 11}
	base := PairBatch{PolicyChosen: make([]float64, B), PolicyRejected: make([]float64, B), ChosenTokens: nc, RejectedTokens: nr}
	for i := range B {
		base.PolicyChosen[i] = float64(nc[i]) * (-0.2 - r.Float64())
		base.PolicyRejected[i] = float64(nr[i]) * (-0.4 - r.Float64())
	}
	check := func(name string, f func(PairBatch) (PairResult, error)) {
		res, err := f(base)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checkGrad(t, name+" chosen", func(x []float64) float64 {
			b := base
			b.PolicyChosen = x
			v, _ := f(b)
			return v.Loss
		}, base.PolicyChosen, res.GradChosen)
		checkGrad(t, name+" rejected", func(x []float64) float64 {
			b := base
			b.PolicyRejected = x
			v, _ := f(b)
			return v.Loss
		}, base.PolicyRejected, res.GradRejected)
	}
	for _, beta := range []float64{0.1, 1} {
		check("orpo", func(b PairBatch) (PairResult, error) { return ORPO(beta, b) })
	}
	for _, cfg := range []CPOConfig{
		{LossType: "sigmoid", Beta: 0.1, Alpha: 1},
		{LossType: "hinge", Beta: 0.05, Alpha: 0.5},
		{LossType: "ipo", Beta: 0.3, Alpha: 1},
		{LossType: "simpo", Beta: 2, SimPOGamma: 0.5, Alpha: 0.2, LabelSmoothing: 0.1},
	} {
		check("cpo "+cfg.LossType, func(b PairBatch) (PairResult, error) { return CPO(cfg, b) })
	}
}

// log1mexp is exact where 1 − eˣ cancels: log(1 − e^−1e−12) = log(1e−12 − 5e−25)
// = log(1e−12) − 5e−13 = −27.631021115928547 − 5e−13 (python3:
// math.log(-math.expm1(-1e-12)) = −27.631021115929048); log(1 − math.exp(x))
// gives −27.63104323789336 there.
func TestLog1mexp(t *testing.T) {
	for _, c := range []struct{ x, want float64 }{
		{-1e-12, -27.631021115929048},
		{-math.Ln2, -math.Ln2},
		{-1, math.Log(1 - math.Exp(-1))},
		{-50, -1.9287498479639178e-22},
	} {
		if got := log1mexp(c.x); math.Abs(got-c.want) > 1e-15*math.Abs(c.want) {
			t.Errorf("log1mexp(%v) = %.17g, want %.17g", c.x, got, c.want)
		}
	}
}

func TestKTOORPOCPOErrors(t *testing.T) {
	kb := KTOBatch{Policy: []float64{-1}, Ref: []float64{-1}, Desirable: []bool{true}, PolicyKL: []float64{-1}, RefKL: []float64{-1}}
	for name, c := range map[string]struct {
		cfg KTOConfig
		b   KTOBatch
	}{
		"loss type":       {KTOConfig{LossType: "sigmoid", Beta: 0.1, DesirableWeight: 1, UndesirableWeight: 1}, kb},
		"beta":            {KTOConfig{LossType: "kto", DesirableWeight: 1, UndesirableWeight: 1}, kb},
		"negative weight": {KTOConfig{LossType: "kto", Beta: 0.1, DesirableWeight: -1, UndesirableWeight: 1}, kb},
		"no KL pairs":     {DefaultKTOConfig(), KTOBatch{Policy: kb.Policy, Ref: kb.Ref, Desirable: kb.Desirable}},
		"labels":          {DefaultKTOConfig(), KTOBatch{Policy: kb.Policy, Ref: kb.Ref, PolicyKL: kb.PolicyKL, RefKL: kb.RefKL}},
		"empty":           {DefaultKTOConfig(), KTOBatch{}},
	} {
		if _, err := KTO(c.cfg, c.b); err == nil {
			t.Errorf("KTO %s: accepted", name)
		}
	}
	pb := PairBatch{PolicyChosen: []float64{-1}, PolicyRejected: []float64{-2}, ChosenTokens: []int{1}, RejectedTokens: []int{1}}
	if _, err := CPO(CPOConfig{LossType: "robust", Beta: 0.1}, pb); err == nil || !strings.Contains(err.Error(), "CPO loss type") {
		t.Errorf("cpo robust: %v", err)
	}
	withRef := pb
	withRef.RefChosen, withRef.RefRejected = []float64{-1}, []float64{-1}
	if _, err := CPO(DefaultCPOConfig(), withRef); err == nil {
		t.Error("cpo with reference log-probs accepted")
	}
	if _, err := ORPO(0.1, PairBatch{PolicyChosen: []float64{-1}, PolicyRejected: []float64{-2}}); err == nil {
		t.Error("orpo without token counts accepted")
	}
	if _, err := ORPO(-1, pb); err == nil {
		t.Error("orpo with negative beta accepted")
	}
	// A response the model is certain of (mean log-prob 0) keeps the loss finite.
	res, err := ORPO(0.1, PairBatch{PolicyChosen: []float64{0}, PolicyRejected: []float64{-2}, ChosenTokens: []int{1}, RejectedTokens: []int{1}})
	if err != nil || math.IsNaN(res.Loss) || math.IsInf(res.Loss, 0) || math.IsNaN(res.GradChosen[0]) || math.IsInf(res.GradChosen[0], 0) {
		t.Errorf("orpo at log-prob 0: %v %v", res, err)
	}
}
