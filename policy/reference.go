package policy

import "github.com/align-go/align/model"

// Reference returns the frozen reference model that DPO's log-ratios and
// PPO's and GRPO's KL penalties compare the policy with. With LoRA adapters
// on m it is m itself: the trainer switches the adapters off for reference
// passes (m.UseLoRA("")), so the frozen base is the reference and no second
// copy of the weights exists. Otherwise it is a clone of m taken now —
// before training, and before a resumed run restores trained weights, so it
// is the starting policy — that works in m's activation buffer: a reference
// pass always completes before the policy's next forward.
func Reference(m *model.Model, lora bool) *model.Model {
	if lora {
		return m
	}
	ref := m.Clone()
	ref.BorrowActivations(m)
	return ref
}
