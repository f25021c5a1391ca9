package model

import "fmt"

// CopyRow makes row dst a copy of row src: its keys, values, mask and
// positions, so that dst continues exactly as src would. A server sampling
// several completions of one prompt prefills it once and copies the row.
func (c *KVCache) CopyRow(dst, src int) error {
	if dst < 0 || dst >= c.B || src < 0 || src >= c.B {
		return fmt.Errorf("kv cache copy: rows %d <- %d out of range [0,%d)", dst, src, c.B)
	}
	if dst == src {
		return nil
	}
	kv := c.cfg.KVHeads * c.cfg.HeadDim
	n := c.Len[src]
	for l := range c.K {
		copy(c.K[l][dst*c.Cap*kv:][:n*kv], c.K[l][src*c.Cap*kv:][:n*kv])
		copy(c.V[l][dst*c.Cap*kv:][:n*kv], c.V[l][src*c.Cap*kv:][:n*kv])
	}
	copy(c.Mask[dst*c.Cap:(dst+1)*c.Cap], c.Mask[src*c.Cap:(src+1)*c.Cap])
	c.Len[dst], c.pos[dst] = n, c.pos[src]
	return nil
}
