package loss

import (
	"math"
	"math/rand"
	"strings"
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
		checkDPOGrad(t, cfg.LossType, cfg, base)
	}
}

// checkDPOGrad compares DPO's gradients in the policy's chosen and rejected
// log-probs with central finite differences of its loss.
func checkDPOGrad(t *testing.T, name string, cfg DPOConfig, base PairBatch) {
	t.Helper()
	res, err := DPO(cfg, base)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
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
	checkGrad(t, name+" chosen", fc, base.PolicyChosen, res.GradChosen)
	checkGrad(t, name+" rejected", fr, base.PolicyRejected, res.GradRejected)
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
	cases := torchCases[prefCase](t, "testdata/pref_torch.json")
	for k, c := range cases {
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
		if !torchClose(res.Loss, c.Loss) {
			t.Errorf("case %d (%s %s): loss %.15g, torch %.15g", k, c.Kind, c.LossType, res.Loss, c.Loss)
		}
		for i := range c.GradChosen {
			if !torchClose(res.GradChosen[i], c.GradChosen[i]) || !torchClose(res.GradRejected[i], c.GradRejected[i]) {
				t.Errorf("case %d (%s %s): grad[%d] (%.12g, %.12g), torch (%.12g, %.12g)", k, c.Kind, c.LossType, i,
					res.GradChosen[i], res.GradRejected[i], c.GradChosen[i], c.GradRejected[i])
			}
		}
		for name, v := range c.Metrics {
			got, ok := res.Metrics[name]
			if !ok || !torchClose(got, v) {
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

// Soft labels on the pair of TestDPOHand: z = 4, β = 0.1, βz = 0.4,
// a = −log σ(0.4) = 0.5130152523999526, −log σ(−0.4) = a + 0.4,
// s = σ(−0.4) = 0.401312339887548 (python3 math).
func TestDPOSoftLabelHand(t *testing.T) {
	one := PairBatch{
		PolicyChosen: []float64{-10}, PolicyRejected: []float64{-20},
		RefChosen: []float64{-12}, RefRejected: []float64{-18},
		ChosenTokens: []int{2}, RejectedTokens: []int{4},
	}
	const a, s = 0.5130152523999526, 0.401312339887548
	cases := []struct {
		name   string
		cfg    DPOConfig
		p      float64
		loss   float64
		gc, gr float64
		acc    float64
	}{
		// cDPO with ε_i = 1 − p = 0.25: 0.75·a + 0.25·(a+0.4) = a + 0.1;
		// dL/dz = β(−0.75·s + 0.25·(1−s)) = 0.1·(0.25 − s) = −0.015131233988754801
		{"sigmoid p=0.75", DPOConfig{LossType: "sigmoid", Beta: 0.1}, 0.75, a + 0.1, 0.1 * (0.25 - s), -0.1 * (0.25 - s), 1},
		// with --label-smoothing 0.1: ε_i = 0.1·0.75 + 0.9·0.25 = 0.3: a + 0.12;
		// dL/dz = 0.1·(0.3 − s) = −0.010131233988754802. Also = 0.75·cDPO(z) + 0.25·cDPO(−z).
		{"sigmoid p=0.75 eps=0.1", DPOConfig{LossType: "sigmoid", Beta: 0.1, LabelSmoothing: 0.1}, 0.75, a + 0.12, 0.1 * (0.3 - s), -0.1 * (0.3 - s), 1},
		// p = 0: the label says rejected wins: −log σ(−0.4) = a + 0.4, dL/dz = β·σ(0.4);
		// the chosen reward is the larger, so the pair does not agree: accuracy 0.
		{"sigmoid p=0", DPOConfig{LossType: "sigmoid", Beta: 0.1}, 0, a + 0.4, 0.1 * (1 - s), -0.1 * (1 - s), 0},
		// p = 0.5: ln 2 + 0.2 (= ½a + ½(a+0.4)), dL/dz = 0.1·(0.5 − s); accuracy ½.
		{"sigmoid p=0.5", DPOConfig{LossType: "sigmoid", Beta: 0.1}, 0.5, a + 0.2, 0.1 * (0.5 - s), -0.1 * (0.5 - s), 0.5},
		// robust ε = 0.1, p = 0.75: [0.65·a + 0.15·(a+0.4)]/0.8 = a + 0.075
		// (= 0.75·(a − 0.05) + 0.25·(a + 0.45), the robust losses at z and −z);
		// dL/dz = 0.1·(−0.65·s + 0.15·(1−s))/0.8 = 0.1·(0.15 − 0.8·s)/0.8 = −0.021381233988754803
		{"robust p=0.75", DPOConfig{LossType: "robust", Beta: 0.1, LabelSmoothing: 0.1}, 0.75, a + 0.075,
			0.1 * (0.15 - 0.8*s) / 0.8, -0.1 * (0.15 - 0.8*s) / 0.8, 1},
		// ipo (per-token means, z = 1.5) p = 0.75: target (2·0.75 − 1)/(2·0.1) = 2.5;
		// L = (1.5 − 2.5)² = 1, dL/dz = −2; per sums −2/2 and +2/4
		{"ipo p=0.75", DPOConfig{LossType: "ipo", Beta: 0.1}, 0.75, 1, -1, 0.5, 1},
		// ipo p = 0: target −5; L = 6.5² = 42.25, dL/dz = 13 → 6.5, −3.25
		{"ipo p=0", DPOConfig{LossType: "ipo", Beta: 0.1}, 0, 42.25, 6.5, -3.25, 0},
	}
	for _, c := range cases {
		b := one
		b.PChosen = []float64{c.p}
		res, err := DPO(c.cfg, b)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !near(res.Loss, c.loss) || !near(res.GradChosen[0], c.gc) || !near(res.GradRejected[0], c.gr) {
			t.Errorf("%s: loss %.15g grads (%.15g, %.15g), want %.15g (%.15g, %.15g)",
				c.name, res.Loss, res.GradChosen[0], res.GradRejected[0], c.loss, c.gc, c.gr)
		}
		// rewards/margins stay chosen minus rejected whatever p says: 0.4, or
		// 0.1·1.5 = 0.15 on ipo's per-token means.
		margin := 0.4
		if c.cfg.LossType == "ipo" {
			margin = 0.15
		}
		if res.Metrics["rewards/accuracies"] != c.acc || !near(res.Metrics["rewards/margins"], margin) {
			t.Errorf("%s: metrics %v", c.name, res.Metrics)
		}
	}
	// The expectation form the sigmoid and robust rows state, checked directly.
	cd := func(x, e float64) float64 { return -(1-e)*logSigmoid(x) - e*logSigmoid(-x) }
	rb := func(x, e float64) float64 { return (-(1-e)*logSigmoid(x) + e*logSigmoid(-x)) / (1 - 2*e) }
	if got := 0.75*cd(0.4, 0.1) + 0.25*cd(-0.4, 0.1); !near(got, a+0.12) {
		t.Errorf("cDPO expectation %.17g, want a + 0.12", got)
	}
	if got := 0.75*rb(0.4, 0.1) + 0.25*rb(-0.4, 0.1); math.Abs(got-(a+0.075)) > 1e-15 {
		t.Errorf("robust expectation %.17g, want a + 0.075", got)
	}
}

// Swapping every pair's sides (policy, reference and token counts) and
// replacing p by 1 − p describes the same preference: the loss and the
// accuracy are unchanged, the gradients swap and the margins change sign.
// p = 1 everywhere is the nil label bit for bit.
func TestDPOSoftLabelSymmetry(t *testing.T) {
	r := rand.New(rand.NewSource(8))
	B := 5
	base := PairBatch{
		PolicyChosen: randVec(r, B, -30, 5), PolicyRejected: randVec(r, B, -32, 5),
		RefChosen: randVec(r, B, -31, 5), RefRejected: randVec(r, B, -31, 5),
		ChosenTokens: []int{3, 7, 12, 5, 8}, RejectedTokens: []int{9, 4, 6, 11, 2},
		PChosen: []float64{1, 0, 0.5, 0.8, 0.3},
	}
	sw := PairBatch{PolicyChosen: base.PolicyRejected, PolicyRejected: base.PolicyChosen, RefChosen: base.RefRejected, RefRejected: base.RefChosen,
		ChosenTokens: base.RejectedTokens, RejectedTokens: base.ChosenTokens, PChosen: make([]float64, B)}
	for i, p := range base.PChosen {
		sw.PChosen[i] = 1 - p
	}
	for _, cfg := range []DPOConfig{
		{LossType: "sigmoid", Beta: 0.1},
		{LossType: "sigmoid", Beta: 0.3, LabelSmoothing: 0.2},
		{LossType: "robust", Beta: 0.2, LabelSmoothing: 0.15},
		{LossType: "ipo", Beta: 0.4},
	} {
		a, err := DPO(cfg, base)
		if err != nil {
			t.Fatal(err)
		}
		b, err := DPO(cfg, sw)
		if err != nil {
			t.Fatal(err)
		}
		// IPO's target form drops the constant 4τ²p(1−p), which is symmetric too.
		if !near(a.Loss, b.Loss) || a.Metrics["rewards/accuracies"] != b.Metrics["rewards/accuracies"] ||
			!near(a.Metrics["rewards/margins"], -b.Metrics["rewards/margins"]) {
			t.Errorf("%+v: loss %v vs %v, metrics %v vs %v", cfg, a.Loss, b.Loss, a.Metrics, b.Metrics)
		}
		for i := 0; i < B; i++ {
			if !near(a.GradChosen[i], b.GradRejected[i]) || !near(a.GradRejected[i], b.GradChosen[i]) {
				t.Errorf("%+v pair %d: grads (%v, %v) vs swapped (%v, %v)", cfg, i, a.GradChosen[i], a.GradRejected[i], b.GradChosen[i], b.GradRejected[i])
			}
		}
	}
	ones := base
	ones.PChosen = []float64{1, 1, 1, 1, 1}
	none := base
	none.PChosen = nil
	for _, lt := range PreferenceLossNames() {
		cfg := DPOConfig{LossType: lt, Beta: 0.2, SimPOGamma: 0.5}
		a, err := DPO(cfg, ones)
		if err != nil {
			t.Fatalf("%s with p = 1: %v", lt, err)
		}
		b, _ := DPO(cfg, none)
		if a.Loss != b.Loss || a.GradChosen[2] != b.GradChosen[2] || a.Metrics["rewards/accuracies"] != b.Metrics["rewards/accuracies"] {
			t.Errorf("%s: p = 1 gives %v, no labels %v", lt, a.Loss, b.Loss)
		}
	}
}

func TestDPOSoftLabelFiniteDiff(t *testing.T) {
	r := rand.New(rand.NewSource(6))
	B := 5
	base := PairBatch{
		PolicyChosen: randVec(r, B, -30, 5), PolicyRejected: randVec(r, B, -32, 5),
		RefChosen: randVec(r, B, -31, 5), RefRejected: randVec(r, B, -31, 5),
		ChosenTokens: []int{3, 7, 12, 5, 8}, RejectedTokens: []int{9, 4, 6, 11, 2},
		PChosen: []float64{1, 0, 0.5, 0.85, 0.3},
	}
	for _, cfg := range []DPOConfig{
		{LossType: "sigmoid", Beta: 0.1},
		{LossType: "sigmoid", Beta: 0.3, LabelSmoothing: 0.2, RPOAlpha: 0.7},
		{LossType: "robust", Beta: 0.2, LabelSmoothing: 0.15},
		{LossType: "robust", Beta: 0.2},
		{LossType: "ipo", Beta: 0.4, RPOAlpha: 0.1},
	} {
		checkDPOGrad(t, cfg.LossType+" soft", cfg, base)
	}
}

// hinge and simpo have no soft-label form: a pair with p < 1 is an error
// naming the losses that have one; p = 1 labels are fine.
func TestDPOSoftLabelErrors(t *testing.T) {
	b := PairBatch{PolicyChosen: []float64{-1, -3}, PolicyRejected: []float64{-2, -2}, RefChosen: []float64{-1, -2}, RefRejected: []float64{-2, -2},
		ChosenTokens: []int{1, 2}, RejectedTokens: []int{1, 1}}
	for _, cfg := range []DPOConfig{{LossType: "hinge", Beta: 0.1}, {LossType: "simpo", Beta: 2, SimPOGamma: 0.5}} {
		b.PChosen = []float64{1, 0.9}
		_, err := DPO(cfg, b)
		if err == nil || !strings.Contains(err.Error(), "no soft-label form") || !strings.Contains(err.Error(), "pair 1 has p_chosen 0.9") ||
			!strings.Contains(err.Error(), "ipo, robust, sigmoid") {
			t.Errorf("%s: %v", cfg.LossType, err)
		}
		b.PChosen = []float64{1, 1}
		if _, err := DPO(cfg, b); err != nil {
			t.Errorf("%s with p = 1: %v", cfg.LossType, err)
		}
	}
	for _, p := range [][]float64{{1, 1.5}, {-0.5, 1}, {math.NaN(), 1}, {1}} {
		b.PChosen = p
		if _, err := DPO(DPOConfig{Beta: 0.1}, b); err == nil || !strings.Contains(err.Error(), "p_chosen") {
			t.Errorf("p_chosen %v: %v", p, err)
		}
	}
	if got := SoftLabelLossNames(); strings.Join(got, ",") != "ipo,robust,sigmoid" {
		t.Errorf("soft-label losses %v", got)
	}
}
