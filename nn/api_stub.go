package nn

// This file fixes the op signatures the model is written against. Each function
// is implemented (and this file deleted) by the ops work; see nn/doc.go for the
// shared conventions.

// EmbeddingForward: out[N,C] = w[ids[i],:]. When add is true the row is added to out
// (learned positions on top of token embeddings).
func EmbeddingForward(out []float32, ids []int32, w []float32, N, C int, add bool) { panic("todo") }

// EmbeddingBackward: dw[ids[i],:] += dout[i,:].
func EmbeddingBackward(dw []float32, dout []float32, ids []int32, N, C int) { panic("todo") }

// LinearForward: out[N,OC] = inp[N,IC]·w[OC,IC]ᵀ + b[OC] (b may be nil). w is torch's Linear layout.
func LinearForward(out, inp, w, b []float32, N, IC, OC int) { panic("todo") }

// LinearBackward: dinp[N,IC] += dout·w; dw[OC,IC] += doutᵀ·inp; db[OC] += Σ_rows dout.
// Any of dinp, dw, db may be nil.
func LinearBackward(dinp, dw, db, dout, inp, w []float32, N, IC, OC int) { panic("todo") }

// LayerNormForward: out[N,C] = (inp-mean)*rstd*w + b; saves mean[N], rstd[N].
func LayerNormForward(out, mean, rstd, inp, w, b []float32, N, C int, eps float32) { panic("todo") }

// LayerNormBackward accumulates into dinp, dw, db (any may be nil).
func LayerNormBackward(dinp, dw, db, dout, inp, w, mean, rstd []float32, N, C int) { panic("todo") }

// RMSNormForward: out[N,C] = inp*rstd*w with rstd = 1/sqrt(mean(inp²)+eps) (HF Llama); saves rstd[N].
// Used per head (N = tokens*heads, C = HS) for Qwen3's q_norm/k_norm.
func RMSNormForward(out, rstd, inp, w []float32, N, C int, eps float32) { panic("todo") }

// RMSNormBackward accumulates into dinp and dw (either may be nil).
func RMSNormBackward(dinp, dw, dout, inp, w, rstd []float32, N, C int) { panic("todo") }

// GeluForward: out = GELU(inp), tanh approximation (HF "gelu_new"). len(out) == len(inp).
func GeluForward(out, inp []float32) { panic("todo") }

// GeluBackward: dinp += GELU'(inp)*dout.
func GeluBackward(dinp, inp, dout []float32) { panic("todo") }

// SwiGLUForward: out = silu(gate)*up, elementwise.
func SwiGLUForward(out, gate, up []float32) { panic("todo") }

// SwiGLUBackward: dgate += dout*up*silu'(gate); dup += dout*silu(gate).
func SwiGLUBackward(dgate, dup, dout, gate, up []float32) { panic("todo") }

// RopeTable fills cos[T,HS/2] and sin[T,HS/2] with angle pos*theta^(-2i/HS), HF rotate_half convention.
func RopeTable(cos, sin []float32, T, HS int, theta float64) { panic("todo") }

// RopeForward rotates x[N,H,HS] in place: for each row r with position pos[r],
// x1=x[:HS/2], x2=x[HS/2:]: x1' = x1*c - x2*s; x2' = x2*c + x1*s.
func RopeForward(x []float32, pos []int32, cos, sin []float32, N, H, HS int) { panic("todo") }

// RopeBackward rotates dx[N,H,HS] in place by the inverse rotation (the transpose).
func RopeBackward(dx []float32, pos []int32, cos, sin []float32, N, H, HS int) { panic("todo") }

// AttentionForward is causal scaled-dot-product attention with grouped-query heads.
//
//	q [B,T,NH,HS], k,v [B,T,NKV,HS] (NH % NKV == 0; head h reads kv head h/(NH/NKV))
//	out [B,T,NH,HS]; att [B,NH,T,T] receives the softmax probabilities (saved for backward)
//	mask [B,T] (nil = all real): 1 for a real token, 0 for padding (left or right).
//
// Query t of sequence b sees keys s <= t with mask[b,s] == 1. A query with no
// visible key (a padding position) gets out = 0 and att row = 0.
func AttentionForward(out, att, q, k, v []float32, mask []int32, B, T, NH, NKV, HS int) { panic("todo") }

// AttentionBackward accumulates into dq, dk, dv. scratch must hold B*NH*T*T floats.
func AttentionBackward(dq, dk, dv, scratch, dout, q, k, v, att []float32, B, T, NH, NKV, HS int) { panic("todo") }

// CrossEntropyForward: losses[i] = -log softmax(logits[i,:])[targets[i]]; targets[i] < 0 means
// ignored (loss 0). logits [N,V].
func CrossEntropyForward(losses, logits []float32, targets []int32, N, V int) { panic("todo") }

// CrossEntropyBackward: dlogits[i,:] += dloss[i]*(softmax(logits[i,:]) - onehot(targets[i])),
// skipping ignored rows. dloss[N] is the weight of each row's loss (e.g. 1/numTokens).
func CrossEntropyBackward(dlogits, logits []float32, targets []int32, dloss []float32, N, V int) { panic("todo") }

// LogSoftmaxForward: out[N,V] = log softmax(inp) row-wise.
func LogSoftmaxForward(out, inp []float32, N, V int) { panic("todo") }

// SoftmaxForward: out[N,V] = softmax(inp) row-wise.
func SoftmaxForward(out, inp []float32, N, V int) { panic("todo") }
