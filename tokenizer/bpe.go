package tokenizer

import (
	"strings"
	"sync"
	"sync/atomic"
)

// merge is what a pair of adjacent ids turns into, and how early.
type merge struct {
	rank  int32
	newID int32
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// bpeModel is a byte-level BPE: ids are looked up by raw bytes, so words are
// merged starting from one symbol per byte without re-spelling them in the
// byte-level alphabet.
type bpeModel struct {
	tokens       []string         // id -> vocabulary spelling ("" for holes)
	vocab        map[string]int32 // spelling -> id
	raw          []string         // id -> raw bytes
	rawVocab     map[string]int32 // raw bytes -> id (byte-level tokens only)
	merges       [][2]int32       // rank -> pair, kept for Save
	mergeMap     mergeTable
	byteID       [256]int32 // -1 where the byte's symbol is not in the vocab
	unkID        int32      // -1 when the model has no unk_token
	unkToken     string
	ignoreMerges bool
	fuseUnk      bool
	cache        wordCache
}

// longWord is the length above which the merge loop switches from rescanning
// all pairs (fast for ordinary words) to a priority queue (linear-log for
// pathological runs such as a thousand repeated letters).
const longWord = 48

// encodeWord appends the ids of one pre-tokenized word (raw bytes).
func (m *bpeModel) encodeWord(dst []int, word string) []int {
	if len(word) == 1 {
		if id := m.byteID[word[0]]; id >= 0 {
			return append(dst, int(id))
		}
	}
	if ids, ok := m.cache.get(word); ok {
		for _, id := range ids {
			dst = append(dst, int(id))
		}
		return dst
	}
	var ids []int32
	if m.ignoreMerges {
		if id, ok := m.rawVocab[word]; ok {
			ids = []int32{id}
		}
	}
	if ids == nil {
		ids = m.mergeWord(word)
	}
	m.cache.put(word, ids)
	for _, id := range ids {
		dst = append(dst, int(id))
	}
	return dst
}

// initialSymbols returns one id per byte. A byte outside the vocabulary
// (possible only in a vocabulary trained without the full byte alphabet)
// becomes unk, fused with a preceding unk under fuse_unk, or is dropped
// when the model has no unk token, as in HuggingFace's BPE.
func (m *bpeModel) initialSymbols(word string) []int32 {
	syms := make([]int32, 0, len(word))
	prevUnk := false
	for i := 0; i < len(word); i++ {
		id := m.byteID[word[i]]
		if id >= 0 {
			syms = append(syms, id)
			prevUnk = false
			continue
		}
		if m.unkID >= 0 && !(prevUnk && m.fuseUnk) {
			syms = append(syms, m.unkID)
		}
		prevUnk = true
	}
	return syms
}

const noRank = int32(1<<31 - 1)

func (m *bpeModel) rankOf(a, b int32) merge {
	return m.mergeMap.get(pairKey(a, b))
}

// mergeTable is an open-addressing hash table from id pairs to merges. The
// merge loop looks up every adjacent pair after every merge, and this is
// several times cheaper than a general-purpose map for that.
type mergeTable struct {
	keys []uint64 // 0 = empty; stored keys have bit 63 set
	vals []merge
	mask uint64
}

const usedBit = 1 << 63

func newMergeTable(n int) mergeTable {
	size := 16
	for size < 2*n {
		size <<= 1
	}
	return mergeTable{keys: make([]uint64, size), vals: make([]merge, size), mask: uint64(size - 1)}
}

func hashPair(k uint64) uint64 {
	k *= 0x9E3779B97F4A7C15
	return k ^ k>>29
}

// put inserts or overwrites.
func (t *mergeTable) put(k uint64, v merge) {
	k |= usedBit
	for i := hashPair(k) & t.mask; ; i = (i + 1) & t.mask {
		if t.keys[i] == 0 || t.keys[i] == k {
			t.keys[i], t.vals[i] = k, v
			return
		}
	}
}

func (t *mergeTable) get(k uint64) merge {
	k |= usedBit
	for i := hashPair(k) & t.mask; ; i = (i + 1) & t.mask {
		switch t.keys[i] {
		case k:
			return t.vals[i]
		case 0:
			return merge{rank: noRank, newID: -1}
		}
	}
}

// mergeWord applies merges lowest rank first, leftmost first among equal
// ranks, which is the order HuggingFace's priority queue produces.
func (m *bpeModel) mergeWord(word string) []int32 {
	syms := m.initialSymbols(word)
	if len(syms) > longWord {
		return m.mergeWordHeap(syms)
	}
	if len(syms) < 2 {
		return syms
	}
	pairs := make([]merge, len(syms)-1)
	for k := range pairs {
		pairs[k] = m.rankOf(syms[k], syms[k+1])
	}
	for {
		best := -1
		bestRank := noRank
		for k, p := range pairs {
			if p.rank < bestRank {
				best, bestRank = k, p.rank
			}
		}
		if best < 0 {
			return syms
		}
		syms[best] = pairs[best].newID
		syms = append(syms[:best+1], syms[best+2:]...)
		pairs = append(pairs[:best], pairs[best+1:]...)
		if best > 0 {
			pairs[best-1] = m.rankOf(syms[best-1], syms[best])
		}
		if best < len(pairs) {
			pairs[best] = m.rankOf(syms[best], syms[best+1])
		}
	}
}

type heapItem struct {
	rank, pos, newID int32
}

func heapLess(a, b heapItem) bool {
	return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos)
}

// mergeWordHeap is HuggingFace's BPE merge loop: a queue of candidate pairs
// over a linked list of symbols; stale entries are skipped when popped.
func (m *bpeModel) mergeWordHeap(ids []int32) []int32 {
	n := len(ids)
	next := make([]int32, n)
	prev := make([]int32, n)
	alive := make([]bool, n)
	for i := range ids {
		next[i], prev[i], alive[i] = int32(i+1), int32(i-1), true
	}
	next[n-1] = -1
	var h []heapItem
	push := func(it heapItem) {
		h = append(h, it)
		for i := len(h) - 1; i > 0; {
			p := (i - 1) / 2
			if !heapLess(h[i], h[p]) {
				break
			}
			h[i], h[p] = h[p], h[i]
			i = p
		}
	}
	pop := func() heapItem {
		top := h[0]
		last := len(h) - 1
		h[0] = h[last]
		h = h[:last]
		for i := 0; ; {
			l, r, s := 2*i+1, 2*i+2, i
			if l < len(h) && heapLess(h[l], h[s]) {
				s = l
			}
			if r < len(h) && heapLess(h[r], h[s]) {
				s = r
			}
			if s == i {
				break
			}
			h[i], h[s] = h[s], h[i]
			i = s
		}
		return top
	}
	for i := 0; i+1 < n; i++ {
		if mg := m.rankOf(ids[i], ids[i+1]); mg.newID >= 0 {
			push(heapItem{mg.rank, int32(i), mg.newID})
		}
	}
	for len(h) > 0 {
		top := pop()
		p := top.pos
		if !alive[p] || next[p] < 0 {
			continue
		}
		q := next[p]
		if m.rankOf(ids[p], ids[q]).newID != top.newID {
			continue
		}
		ids[p] = top.newID
		alive[q] = false
		next[p] = next[q]
		if next[q] >= 0 {
			prev[next[q]] = p
		}
		if pp := prev[p]; pp >= 0 {
			if mg := m.rankOf(ids[pp], ids[p]); mg.newID >= 0 {
				push(heapItem{mg.rank, pp, mg.newID})
			}
		}
		if nq := next[p]; nq >= 0 {
			if mg := m.rankOf(ids[p], ids[nq]); mg.newID >= 0 {
				push(heapItem{mg.rank, p, mg.newID})
			}
		}
	}
	out := make([]int32, 0, n)
	for i := int32(0); i >= 0; i = next[i] {
		out = append(out, ids[i])
	}
	return out
}

// wordCache memoizes word -> ids. Natural text repeats a small set of words,
// so after warm-up most words skip the merge loop. It is sharded to keep
// concurrent encoders apart and cleared per shard when full to bound memory.
type wordCache struct {
	shards [16]cacheShard
	limit  atomic.Int64 // max entries per shard; 0 means the default
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[string][]int32
}

const defaultCacheShardEntries = 1 << 16

func shardOf(word string) int {
	h := uint(len(word)) * 0x9E3779B1
	h ^= uint(word[0]) * 31
	h ^= uint(word[len(word)-1]) << 7
	h ^= uint(word[len(word)/2]) << 3
	return int(h>>4) & 15
}

func (c *wordCache) get(word string) ([]int32, bool) {
	s := &c.shards[shardOf(word)]
	s.mu.RLock()
	ids, ok := s.m[word]
	s.mu.RUnlock()
	return ids, ok
}

func (c *wordCache) put(word string, ids []int32) {
	limit := int(c.limit.Load())
	if limit == 0 {
		limit = defaultCacheShardEntries
	}
	if limit < 0 || len(word) > 256 {
		return
	}
	s := &c.shards[shardOf(word)]
	s.mu.Lock()
	if s.m == nil || len(s.m) >= limit {
		s.m = make(map[string][]int32)
	}
	s.m[strings.Clone(word)] = ids
	s.mu.Unlock()
}

func (c *wordCache) clear() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.m = nil
		s.mu.Unlock()
	}
}
