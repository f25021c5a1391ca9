package nn

import "math"

// Float64 reference forwards, written from the textbook definitions and
// independently of the float32 ops: the gradient tests differentiate these
// numerically, and the forward tests compare against them.

func refEmbedding(w []float64, ids []int32, base []float64, C int) []float64 {
	out := append([]float64(nil), base...)
	for i, id := range ids {
		for j := 0; j < C; j++ {
			out[i*C+j] += w[int(id)*C+j]
		}
	}
	return out
}

func refLinear(inp, w, b []float64, N, IC, OC int) []float64 {
	out := make([]float64, N*OC)
	for i := 0; i < N; i++ {
		for o := 0; o < OC; o++ {
			s := 0.0
			if b != nil {
				s = b[o]
			}
			for c := 0; c < IC; c++ {
				s += inp[i*IC+c] * w[o*IC+c]
			}
			out[i*OC+o] = s
		}
	}
	return out
}

func refLayerNorm(inp, w, b []float64, N, C int, eps float64) []float64 {
	out := make([]float64, N*C)
	for i := 0; i < N; i++ {
		x := inp[i*C : (i+1)*C]
		m, v := 0.0, 0.0
		for _, a := range x {
			m += a
		}
		m /= float64(C)
		for _, a := range x {
			v += (a - m) * (a - m)
		}
		v /= float64(C)
		for j, a := range x {
			y := (a - m) / math.Sqrt(v+eps) * w[j]
			if b != nil {
				y += b[j]
			}
			out[i*C+j] = y
		}
	}
	return out
}

func refRMSNorm(inp, w []float64, N, C int, eps float64) []float64 {
	out := make([]float64, N*C)
	for i := 0; i < N; i++ {
		x := inp[i*C : (i+1)*C]
		ms := 0.0
		for _, a := range x {
			ms += a * a
		}
		ms /= float64(C)
		for j, a := range x {
			out[i*C+j] = a / math.Sqrt(ms+eps) * w[j]
		}
	}
	return out
}

func refGelu(inp []float64) []float64 {
	out := make([]float64, len(inp))
	for i, x := range inp {
		out[i] = 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
	}
	return out
}

func refSwiGLU(gate, up []float64) []float64 {
	out := make([]float64, len(gate))
	for i, g := range gate {
		out[i] = g / (1 + math.Exp(-g)) * up[i]
	}
	return out
}

// refRope rotates each head's halves by angle pos*theta^(-2i/HS), in float64.
func refRope(x []float64, pos []int32, N, H, HS int, theta float64) []float64 {
	out := make([]float64, len(x))
	half := HS / 2
	for r := 0; r < N; r++ {
		for h := 0; h < H; h++ {
			base := (r*H + h) * HS
			for i := 0; i < half; i++ {
				a := float64(pos[r]) * math.Pow(theta, -2*float64(i)/float64(HS))
				x1, x2 := x[base+i], x[base+half+i]
				out[base+i] = x1*math.Cos(a) - x2*math.Sin(a)
				out[base+half+i] = x2*math.Cos(a) + x1*math.Sin(a)
			}
		}
	}
	return out
}

// refAttention returns out [B,T,NH,HS] and the probabilities [B,NH,T,T].
func refAttention(q, k, v []float64, mask []int32, B, T, NH, NKV, HS int) (out, att []float64) {
	att = make([]float64, B*NH*T*T)
	return refAttentionAt(att, q, k, v, mask, B, T, NH, NKV, HS), att
}

// refAttentionAt is refAttention writing the probabilities into att, or not
// at all when att is nil (the finite differences call it thousands of times).
func refAttentionAt(att, q, k, v []float64, mask []int32, B, T, NH, NKV, HS int) []float64 {
	out := make([]float64, B*T*NH*HS)
	sc, p := make([]float64, T), make([]float64, T)
	scale := 1 / math.Sqrt(float64(HS))
	for b := 0; b < B; b++ {
		for h := 0; h < NH; h++ {
			kh := h / (NH / NKV)
			for t := 0; t < T; t++ {
				qv := q[((b*T+t)*NH+h)*HS:][:HS]
				clear(sc)
				mx := math.Inf(-1)
				for s := 0; s <= t; s++ {
					if mask != nil && mask[b*T+s] == 0 {
						continue
					}
					kv := k[((b*T+s)*NKV+kh)*HS:][:HS]
					d := 0.0
					for j := range qv {
						d += qv[j] * kv[j]
					}
					sc[s] = d * scale
					mx = math.Max(mx, sc[s])
				}
				if math.IsInf(mx, -1) {
					continue // nothing visible: zeros
				}
				clear(p)
				sum := 0.0
				for s := 0; s <= t; s++ {
					if mask != nil && mask[b*T+s] == 0 {
						continue
					}
					p[s] = math.Exp(sc[s] - mx)
					sum += p[s]
				}
				for s := 0; s <= t; s++ {
					p[s] /= sum
					if att != nil {
						att[((b*NH+h)*T+t)*T+s] = p[s]
					}
					vv := v[((b*T+s)*NKV+kh)*HS:][:HS]
					for j := 0; j < HS; j++ {
						out[((b*T+t)*NH+h)*HS+j] += p[s] * vv[j]
					}
				}
			}
		}
	}
	return out
}

func refLogSoftmax(x []float64, N, V int) []float64 {
	out := make([]float64, N*V)
	for i := 0; i < N; i++ {
		row := x[i*V : (i+1)*V]
		mx := math.Inf(-1)
		for _, a := range row {
			mx = math.Max(mx, a)
		}
		s := 0.0
		for _, a := range row {
			s += math.Exp(a - mx)
		}
		for j, a := range row {
			out[i*V+j] = a - mx - math.Log(s)
		}
	}
	return out
}

func refCrossEntropy(logits []float64, targets []int32, N, V int) []float64 {
	ls := refLogSoftmax(logits, N, V)
	out := make([]float64, N)
	for i, t := range targets {
		if t >= 0 {
			out[i] = -ls[i*V+int(t)]
		}
	}
	return out
}
