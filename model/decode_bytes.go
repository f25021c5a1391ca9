package model

// DecodeReadBytes is how many bytes one batch-1 decode step at context
// length T reads from memory: every block Linear (compact as stored, or
// f32), the LM head (the embedding table when tied), norms and biases, one
// row of each embedding table, and the cached keys and values of T
// positions. Divided into the machine's read bandwidth it bounds decoding's
// tokens/s (bench/decode). LoRA adapters and a SetDecodeDType bf16 copy are
// not counted.
func (m *Model) DecodeReadBytes(T int) int64 {
	c := m.Cfg
	n := 4 * int64(len(m.Data)) // f32 parameters (embeddings and head among them when not compact)
	for _, ws := range m.qlin {
		for _, w := range ws {
			if w != nil {
				n += w.Bytes()
			}
		}
	}
	if m.headQ != nil {
		n += m.headQ.Bytes()
	}
	emb := 4 * int64(c.Vocab) * int64(c.Dim)
	if m.embedQ != nil {
		n += m.embedQ.Bytes()
		emb = m.embedQ.Bytes()
	}
	if !c.Tied { // the table is not the head: one row of it is read
		n -= emb - emb/int64(c.Vocab)
	}
	if len(m.W.Wpe) > 0 { // GPT-2's position table: one row
		n -= 4 * int64(len(m.W.Wpe)-c.Dim)
	}
	return n + int64(c.Layers)*2*int64(T)*int64(c.KVHeads*c.HeadDim)*4
}
