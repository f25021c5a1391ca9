package loss

import (
	"math"
	"testing"
)

// Hand-computed: target 6, horizon 100, 10 episodes per batch.
func TestKLControllerAdaptive(t *testing.T) {
	c := KLController{Coef: 0.2, Target: 6, Horizon: 100}
	// kl 9: error 9/6−1 = 0.5, clipped to 0.2; ×(1 + 0.2·10/100) = ×1.02.
	if got := c.Update(9, 10); math.Abs(got-0.204) > 1e-12 {
		t.Fatalf("over target: coef %v, want 0.204", got)
	}
	// kl 4.5: error −0.25 → −0.2; ×0.98.
	if got := c.Update(4.5, 10); math.Abs(got-0.204*0.98) > 1e-12 {
		t.Fatalf("under target: coef %v, want %v", got, 0.204*0.98)
	}
	// kl 6.6: error 0.1 (unclipped); ×1.01.
	want := 0.204 * 0.98 * 1.01
	if got := c.Update(6.6, 10); math.Abs(got-want) > 1e-12 {
		t.Fatalf("near target: coef %v, want %v", got, want)
	}
	fixed := KLController{Coef: 0.05}
	if got := fixed.Update(100, 64); got != 0.05 {
		t.Fatalf("fixed controller moved to %v", got)
	}
	if err := (&KLController{Coef: 0.1, Target: 1}).Validate(); err == nil {
		t.Fatal("adaptive controller without a horizon passed validation")
	}
}
