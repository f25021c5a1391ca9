package model

import "github.com/align-go/align/nn"

// LMHead returns the model's output layer as a fused head (nn.LMHead): the
// head weight (the embedding when tied) and, when it is trainable and
// gradients are on, its gradient. Callers run Forward(b, false) and give
// the head the final hidden state instead of asking for [N,V] logits, then
// pass its d(hidden) to Backward(nil, dhidden). The head keeps its chunk
// scratch between calls; it is the model's, like the activations.
func (m *Model) LMHead() *nn.LMHead {
	if m.head == nil {
		m.head = &nn.LMHead{}
	}
	h := m.head
	h.W, h.DW, h.V, h.C = m.W.LMHead, m.G.LMHead, m.Cfg.Vocab, m.Cfg.Dim
	h.Q = m.headTable() // a compact head (W nil): read in its own dtype
	h.Prec = m.prec
	return h
}
