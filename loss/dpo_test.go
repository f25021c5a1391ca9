package loss

import (
	"encoding/json"
	"math"
	"math/rand"
	"os"
	"testing"
)

// One pair worked on paper. Summed log-probs π_c = −10, π_r = −20,
// ref_c = −12, ref_r = −18; so z = (−10+20) − (−12+18) = 4, β = 0.1, βz = 0.4,
// a := −log σ(0.4) = log(1+e^−0.4) = 0.51301525…, and −log σ(−0.4) = a + 0.4.
// Rewards: chosen 0.1·(−10+12) = 0.2, rejected 0.1·(−20+18) = −0.2.
func TestDPOHand(t *testing.T) {
	a := math.Log(1 + math.Exp(-0.4))
	s := 1 / (1 + math.Exp(0.4)) // σ(−0.4)
	one := PairBatch{
		PolicyChosen: []float64{-10}, PolicyRejected: []float64{-20},
		RefChosen: []float64{-12}, RefRejected: []float64{-18},
		ChosenTokens: []int{2}, RejectedTokens: []int{4},
	}
	cases := []struct {
		name   string
		cfg    DPOConfig
		loss   float64
		gc, gr float64
	}{
		// L = a; dL/dz = −β·σ(−βz)
		{"sigmoid", DPOConfig{LossType: "sigmoid", Beta: 0.1}, a, -0.1 * s, 0.1 * s},
		// cDPO ε = 0.1: 0.9·a + 0.1·(a+0.4) = a + 0.04; dL/dz = β(−0.9σ(−0.4) + 0.1σ(0.4))
		{"cdpo", DPOConfig{LossType: "sigmoid", Beta: 0.1, LabelSmoothing: 0.1}, a + 0.04,
			0.1 * (-0.9*s + 0.1*(1-s)), -0.1 * (-0.9*s + 0.1*(1-s))},
		// robust ε = 0.1: (0.9·a − 0.1·(a+0.4))/0.8 = a − 0.05; dL/dz = β(−0.9σ(−0.4) − 0.1σ(0.4))/0.8
		{"robust", DPOConfig{LossType: "robust", Beta: 0.1, LabelSmoothing: 0.1}, a - 0.05,
			0.1 * (-0.9*s - 0.1*(1-s)) / 0.8, -0.1 * (-0.9*s - 0.1*(1-s)) / 0.8},
		// hinge: relu(1 − 0.4) = 0.6, dL/dz = −β
		{"hinge", DPOConfig{LossType: "hinge", Beta: 0.1}, 0.6, -0.1, 0.1},
		// ipo on per-token means: π_c = −10/2 = −5, π_r = −20/4 = −5, ref −6, −4.5:
		// z = 0 − (−1.5) = 1.5; L = (1.5 − 1/0.2)² = 3.5² = 12.25; dL/dz = −7,
		// dL/dπ_c(sum) = −7/2, dL/dπ_r(sum) = +7/4
		{"ipo", DPOConfig{LossType: "ipo", Beta: 0.1}, 12.25, -3.5, 1.75},
		// simpo β = 2, γ = 1: Δ = −5 − (−5) = 0, z = −γ/β = −0.5, βz = −1:
		// L = log(1+e) = 1.3132616…; dL/dz = −2σ(1); per sums: /2 and /4
		{"simpo", DPOConfig{LossType: "simpo", Beta: 2, SimPOGamma: 1}, math.Log(1 + math.E),
			-2 / (1 + math.Exp(-1)) / 2, 2 / (1 + math.Exp(-1)) / 4},
		// RPO α = 0.5 on sigmoid: NLL = 10/2 = 5 → L = a + 2.5; ∂/∂π_c gains −0.5/2
		{"sigmoid+rpo", DPOConfig{LossType: "sigmoid", Beta: 0.1, RPOAlpha: 0.5}, a + 2.5, -0.1*s - 0.25, 0.1 * s},
	}
	for _, c := range cases {
		res, err := DPO(c.cfg, one)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !near(res.Loss, c.loss) || !near(res.GradChosen[0], c.gc) || !near(res.GradRejected[0], c.gr) {
			t.Errorf("%s: loss %.15g grads (%.15g, %.15g), want %.15g (%.15g, %.15g)",
				c.name, res.Loss, res.GradChosen[0], res.GradRejected[0], c.loss, c.gc, c.gr)
		}
	}

	res, _ := DPO(DPOConfig{LossType: "sigmoid", Beta: 0.1, RPOAlpha: 0.5}, one)
	want := map[string]float64{
		"rewards/chosen": 0.2, "rewards/rejected": -0.2, "rewards/accuracies": 1, "rewards/margins": 0.4,
		"logps/chosen": -10, "logps/rejected": -20, "nll_loss": 5,
	}
	for k, v := range want {
		if !near(res.Metrics[k], v) {
			t.Errorf("metric %s = %v, want %v", k, res.Metrics[k], v)
		}
	}
	// simpo rewards are β·(mean log-prob): 2·(−5) both, so accuracy 0 (not strictly greater)
	res, _ = DPO(DPOConfig{LossType: "simpo", Beta: 2, SimPOGamma: 1}, PairBatch{
		PolicyChosen: one.PolicyChosen, PolicyRejected: one.PolicyRejected, ChosenTokens: []int{2}, RejectedTokens: []int{4}})
	if res.Metrics["rewards/chosen"] != -10 || res.Metrics["rewards/accuracies"] != 0 || res.Metrics["logps/chosen"] != -5 {
		t.Errorf("simpo metrics %v", res.Metrics)
	}
}

// With the policy equal to the reference every logit is 0 and the sigmoid
// loss is −log σ(0) = ln 2 exactly, whatever the log-probs and batch size.
func TestDPOPolicyEqualsReferenceIsLn2(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for B := 1; B <= 16; B++ {
		c, rj := randVec(r, B, -40, 15), randVec(r, B, -40, 15)
		res, err := DPO(DPOConfig{LossType: "sigmoid", Beta: 0.1 + r.Float64()}, PairBatch{
			PolicyChosen: c, PolicyRejected: rj, RefChosen: c, RefRejected: rj})
		if err != nil {
			t.Fatal(err)
		}
		if res.Loss != math.Ln2 {
			t.Errorf("B=%d: loss %.17g, want ln 2 = %.17g", B, res.Loss, math.Ln2)
		}
		if res.Metrics["rewards/margins"] != 0 || res.Metrics["rewards/accuracies"] != 0 {
			t.Errorf("B=%d: metrics %v", B, res.Metrics)
		}
	}
}

func TestDPOFiniteDiff(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	B := 4
	base := PairBatch{
		PolicyChosen: randVec(r, B, -30, 5), PolicyRejected: randVec(r, B, -32, 5),
		RefChosen: randVec(r, B, -31, 5), RefRejected: randVec(r, B, -31, 5),
		ChosenTokens: []int{3, 7, 12, 5}, RejectedTokens: []int{9, 4, 6, 11},
	}
	cfgs := []DPOConfig{
		{LossType: "sigmoid", Beta: 0.1},
		{LossType: "sigmoid", Beta: 0.3, LabelSmoothing: 0.2, RPOAlpha: 0.7},
		{LossType: "robust", Beta: 0.2, LabelSmoothing: 0.15},
		{LossType: "hinge", Beta: 0.05}, // β small: every pair sits on the sloped side
		{LossType: "ipo", Beta: 0.4, RPOAlpha: 0.1},
		{LossType: "simpo", Beta: 2, SimPOGamma: 1.2, LabelSmoothing: 0.05},
	}
	for _, cfg := range cfgs {
		res, err := DPO(cfg, base)
		if err != nil {
			t.Fatalf("%s: %v", cfg.LossType, err)
		}
		fc := func(x []float64) float64 {
			b := base
			b.PolicyChosen = x
			v, _ := DPO(cfg, b)
			return v.Loss
		}
		fr := func(x []float64) float64 {
			b := base
			b.PolicyRejected = x
			v, _ := DPO(cfg, b)
			return v.Loss
		}
		checkGrad(t, cfg.LossType+" chosen", fc, base.PolicyChosen, res.GradChosen)
		checkGrad(t, cfg.LossType+" rejected", fr, base.PolicyRejected, res.GradRejected)
	}
}

type prefCase struct {
	Kind           string             `json:"kind"`
	LossType       string             `json:"loss_type"`
	Beta           float64            `json:"beta"`
	LabelSmoothing float64            `json:"label_smoothing"`
	SimPOGamma     float64            `json:"simpo_gamma"`
	RPOAlpha       float64            `json:"rpo_alpha"`
	PolicyChosen   []float64          `json:"policy_chosen"`
	PolicyRejected []float64          `json:"policy_rejected"`
	RefChosen      []float64          `json:"ref_chosen"`
	RefRejected    []float64          `json:"ref_rejected"`
	ChosenTokens   []int              `json:"chosen_tokens"`
	RejectedTokens []int              `json:"rejected_tokens"`
	CenterCoef     float64            `json:"center_coef"`
	Chosen         []float64          `json:"chosen"`
	Rejected       []float64          `json:"rejected"`
	Margin         []float64          `json:"margin"`
	Loss           float64            `json:"loss"`
	GradChosen     []float64          `json:"grad_chosen"`
	GradRejected   []float64          `json:"grad_rejected"`
	Metrics        map[string]float64 `json:"metrics"`
}

// TestPreferenceLossesMatchTorch replays testdata/pref_torch.json: TRL's
// formulas evaluated with PyTorch autograd in float64 (gen_pref.py).
func TestPreferenceLossesMatchTorch(t *testing.T) {
	b, err := os.ReadFile("testdata/pref_torch.json")
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		Cases []prefCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &fx); err != nil {
		t.Fatalf("testdata/pref_torch.json: %v", err)
	}
	close := func(a, b float64) bool { return math.Abs(a-b) <= 1e-10*math.Max(1, math.Abs(b)) }
	for k, c := range fx.Cases {
		var res PairResult
		var err error
		if c.Kind == "bt" {
			res, err = BradleyTerry(c.Chosen, c.Rejected, c.Margin, c.CenterCoef)
		} else {
			res, err = DPO(DPOConfig{LossType: c.LossType, Beta: c.Beta, LabelSmoothing: c.LabelSmoothing,
				SimPOGamma: c.SimPOGamma, RPOAlpha: c.RPOAlpha}, PairBatch{
				PolicyChosen: c.PolicyChosen, PolicyRejected: c.PolicyRejected,
				RefChosen: c.RefChosen, RefRejected: c.RefRejected,
				ChosenTokens: c.ChosenTokens, RejectedTokens: c.RejectedTokens,
			})
		}
		if err != nil {
			t.Fatalf("case %d (%s %s): %v", k, c.Kind, c.LossType, err)
		}
		if !close(res.Loss, c.Loss) {
			t.Errorf("case %d (%s %s): loss %.15g, torch %.15g", k, c.Kind, c.LossType, res.Loss, c.Loss)
		}
		for i := range c.GradChosen {
			if !close(res.GradChosen[i], c.GradChosen[i]) || !close(res.GradRejected[i], c.GradRejected[i]) {
				t.Errorf("case %d (%s %s): grad[%d] (%.12g, %.12g), torch (%.12g, %.12g)", k, c.Kind, c.LossType, i,
					res.GradChosen[i], res.GradRejected[i], c.GradChosen[i], c.GradRejected[i])
			}
		}
		for name, v := range c.Metrics {
			got, ok := res.Metrics[name]
			if !ok || !close(got, v) {
				t.Errorf("case %d (%s %s): metric %s = %v, torch %v", k, c.Kind, c.LossType, name, got, v)
			}
		}
	}
}

func TestDPOErrors(t *testing.T) {
	ok := PairBatch{PolicyChosen: []float64{-1}, PolicyRejected: []float64{-2}, RefChosen: []float64{-1}, RefRejected: []float64{-2}}
	bad := []struct {
		name string
		cfg  DPOConfig
		b    PairBatch
	}{
		{"unknown loss", DPOConfig{LossType: "kto", Beta: 0.1}, ok},
		{"zero beta", DPOConfig{Beta: 0}, ok},
		{"robust eps 0.5", DPOConfig{LossType: "robust", Beta: 0.1, LabelSmoothing: 0.5}, ok},
		{"ipo with smoothing", DPOConfig{LossType: "ipo", Beta: 0.1, LabelSmoothing: 0.1}, ok},
		{"ipo without counts", DPOConfig{LossType: "ipo", Beta: 0.1}, ok},
		{"rpo without counts", DPOConfig{Beta: 0.1, RPOAlpha: 1}, ok},
		{"missing reference", DPOConfig{Beta: 0.1}, PairBatch{PolicyChosen: []float64{-1}, PolicyRejected: []float64{-2}}},
		{"zero token count", DPOConfig{LossType: "simpo", Beta: 2}, PairBatch{PolicyChosen: []float64{-1}, PolicyRejected: []float64{-2},
			ChosenTokens: []int{0}, RejectedTokens: []int{1}}},
		{"inf logp", DPOConfig{Beta: 0.1}, PairBatch{PolicyChosen: []float64{math.Inf(-1)}, PolicyRejected: []float64{-2},
			RefChosen: []float64{-1}, RefRejected: []float64{-2}}},
		{"empty", DPOConfig{Beta: 0.1}, PairBatch{}},
	}
	for _, c := range bad {
		if _, err := DPO(c.cfg, c.b); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
	if _, err := DPO(DefaultDPOConfig(), ok); err != nil {
		t.Errorf("default config rejected: %v", err)
	}
	if err := RegisterPreferenceLoss(PreferenceLoss{Name: "sigmoid", Loss: sigmoidLoss}); err == nil {
		t.Error("duplicate registration accepted")
	}
	if n := PreferenceLossNames(); len(n) != 5 {
		t.Errorf("registered losses %v", n)
	}
}
