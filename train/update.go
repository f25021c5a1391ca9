package train

import (
	"fmt"
	"math"

	"github.com/align-go/align/optim"
	"github.com/align-go/align/tensor"
)

// update takes one optimizer update on the micro-batches micro: the loss
// over all of them (normalised by their total units), its gradients, global
// clipping and every set's AdamW step at the schedule's rate, advancing
// st.SchedulerStep. It returns the summed metrics, the gradient norm before
// clipping, the rate used and the units.
func (r *runner) update(st *trainerState, stepNo int, micro [][]int) (Metrics, float64, float64, int, error) {
	units := 0
	for _, mb := range micro {
		units += r.obj.Units(mb)
	}
	for i := range r.sets {
		clear(r.sets[i].Grad)
	}
	sum := Metrics{}
	for _, mb := range micro {
		m, err := r.obj.Accumulate(mb, max(units, 1))
		if err != nil {
			return nil, 0, 0, 0, fmt.Errorf("train: step %d: %w", stepNo, err)
		}
		sum.Add(m)
	}
	loss, ok := sum["loss"]
	if !ok {
		return nil, 0, 0, 0, fmt.Errorf("train: step %d: the objective reported no \"loss\" metric", stepNo)
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return nil, 0, 0, 0, &NonFiniteError{Step: stepNo, What: fmt.Sprintf("loss is %v", loss), LastCheckpoint: r.last}
	}
	norm := r.gradNorm()
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		what := fmt.Sprintf("gradient norm is %v", norm)
		for _, ps := range r.sets {
			if err := optim.CheckFinite(ps.Grad, ps.Spans); err != nil {
				what = fmt.Sprintf("non-finite gradient in parameter set %q: %v", ps.Name, err)
				break
			}
		}
		return nil, 0, 0, 0, &NonFiniteError{Step: stepNo, What: what, LastCheckpoint: r.last}
	}
	r.clip(norm)
	lr := r.s.LR * r.sched.Factor(st.SchedulerStep)
	for i, o := range r.opts {
		if o == nil {
			continue
		}
		if err := o.Step(r.sets[i].Data, r.sets[i].Grad, lr); err != nil {
			return nil, 0, 0, 0, fmt.Errorf("train: step %d: %w", stepNo, err)
		}
	}
	st.SchedulerStep++
	return sum, norm, lr, units, nil
}

// rolloutStep takes one step of a RolloutObjective: its rollout, then every
// update of the rollout's plan.
func (r *runner) rolloutStep(st *trainerState) error {
	stepNo := st.GlobalStep + 1
	ctx := &StepContext{Step: stepNo, Epoch: st.DataEpoch, RNG: r.rng}
	plan, rm, err := r.rollout.Rollout(ctx)
	if err != nil {
		return fmt.Errorf("train: step %d: %w", stepNo, err)
	}
	if len(plan) == 0 {
		return fmt.Errorf("train: step %d: the rollout planned no updates", stepNo)
	}
	upd := Metrics{}
	var norm, lr float64
	tokens := 0
	for _, micro := range plan {
		m, n, l, units, err := r.update(st, stepNo, micro)
		if err != nil {
			return err
		}
		upd.Add(m)
		norm, lr, tokens = n, l, tokens+units
	}
	sum := Metrics{}
	for k, v := range upd {
		sum[k] = v / float64(len(plan))
	}
	sum.Add(rm)
	st.GlobalStep = stepNo
	st.DataStep++
	st.Epoch = float64(stepNo*r.rolloutSize) / float64(r.n)
	if h, ok := r.obj.(StepHook); ok {
		if err := h.AfterStep(ctx); err != nil {
			return fmt.Errorf("train: step %d: %w", stepNo, err)
		}
	}
	st.Window.Steps++
	st.Window.Metrics.Add(sum)
	st.Window.Metrics["learning_rate"] = lr // the last update's; see logRow
	st.Window.Metrics["lr"] = lr            // TRL's PPOTrainer name for it
	st.Window.Metrics["grad_norm"] = norm
	r.winTokens += tokens
	r.prog.update(stepNo, sum["loss"], r.tokensPerSecond())
	return nil
}

// gradNorm is the L2 norm of every trainable gradient of every set.
func (r *runner) gradNorm() float64 {
	if len(r.sets) == 1 {
		return optim.GradNorm(r.sets[0].Grad, r.sets[0].Spans)
	}
	s := 0.0
	for _, ps := range r.sets {
		g := optim.GradNorm(ps.Grad, ps.Spans)
		s += g * g
	}
	return math.Sqrt(s)
}

// clip applies torch's clip_grad_norm_ rule across all sets.
func (r *runner) clip(norm float64) {
	if r.s.MaxGradNorm <= 0 {
		return
	}
	coef := r.s.MaxGradNorm / (norm + 1e-6)
	if coef >= 1 {
		return
	}
	c := float32(coef)
	for _, ps := range r.sets {
		for _, sp := range ps.Spans {
			if sp.Frozen {
				continue
			}
			g := ps.Grad[sp.Offset : sp.Offset+sp.Size]
			tensor.ParallelFor(len(g), 1<<14, func(lo, hi int) {
				for j := lo; j < hi; j++ {
					g[j] *= c
				}
			})
		}
	}
}
