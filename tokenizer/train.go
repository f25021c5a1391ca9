package tokenizer

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// Training follows HuggingFace's BpeTrainer (tokenizers 0.23) so that the
// same corpus gives the same merges in both:
//
//   - Input is read line by line, each line keeping its '\n', and every line
//     is pre-tokenized on its own, as Tokenizer.train_from_files does.
//   - Special tokens get ids 0..k-1, then come the 256 byte-level symbols in
//     code-point order of their spelling (ByteSymbol), then merges in order.
//   - Pairs are counted over words weighted by word frequency; an
//     overlapping run such as "aaa" counts (a, a) twice, as in HuggingFace.
//   - The most frequent pair is merged next. Ties go to the pair with the
//     smaller (left id, right id): HuggingFace orders its heap this way, and
//     since ids follow code-point order for the alphabet and creation order
//     for merged tokens, this is also independent of hash-map order.
//   - Training stops at the vocabulary size, when no pair is left, or when
//     the best pair is rarer than MinFrequency.
//
// One deliberate difference: text spelling a special token is cut out of
// the training text instead of being counted as ordinary characters, since
// the trained tokenizer always encodes it as the special token. HuggingFace
// counts it (special tokens are added to the tokenizer after training), so
// corpora containing special-token text train differently there.

// TrainOptions configures a Trainer.
type TrainOptions struct {
	// VocabSize is the target vocabulary size, special tokens included. It
	// must cover the special tokens and the 256 byte symbols.
	VocabSize int
	// MinFrequency stops training when the best pair occurs fewer times.
	MinFrequency int64
	// SpecialTokens get ids 0..len-1, in order, and are never split.
	SpecialTokens []string
	// Pattern is the pre-tokenizer regex: PatternGPT2 ("" means it),
	// PatternQwen2 or PatternCL100K.
	Pattern string
	NFC     bool // NFC-normalize the text before pre-tokenizing, as Qwen does

	// EOSToken overrides the choice of end-of-sequence token (see
	// Trainer.Train); it must be one of SpecialTokens.
	EOSToken string
	// ModelMaxLength is written to tokenizer_config.json when positive.
	ModelMaxLength int
}

// Trainer learns a byte-level BPE vocabulary from text. Feed it with
// AddText or AddFile, then call Train or TrainSpec.
type Trainer struct {
	opt      TrainOptions
	stage    *splitStage
	norm     []normStep
	specials []*AddedToken
	match    *matcher
	counts   map[string]int64 // pre-tokenized word (raw bytes) -> occurrences
}

// NewTrainer validates the options.
func NewTrainer(opt TrainOptions) (*Trainer, error) {
	if opt.Pattern == "" {
		opt.Pattern = PatternGPT2
	}
	switch opt.Pattern {
	case PatternGPT2, PatternQwen2, PatternCL100K:
	default:
		return nil, fmt.Errorf("train: unsupported pre-tokenizer pattern %q", opt.Pattern)
	}
	stage, err := newSplitStage(opt.Pattern, false, behaviorIsolated, false)
	if err != nil {
		return nil, err
	}
	tr := &Trainer{opt: opt, stage: stage, counts: map[string]int64{}}
	if opt.NFC {
		st, _ := newNormStep("NFC")
		tr.norm = []normStep{st}
	}
	seen := map[string]bool{}
	var contents []string
	for i, s := range opt.SpecialTokens {
		if s == "" {
			return nil, fmt.Errorf("train: special token %d is empty", i)
		}
		if seen[s] {
			return nil, fmt.Errorf("train: special token %q given twice", s)
		}
		seen[s] = true
		tr.specials = append(tr.specials, &AddedToken{ID: i, Content: s, Special: true})
		contents = append(contents, s)
	}
	if opt.EOSToken != "" && !seen[opt.EOSToken] {
		return nil, fmt.Errorf("train: eos token %q is not among the special tokens %q", opt.EOSToken, opt.SpecialTokens)
	}
	tr.match = newMatcher(contents)
	if base := 256 + len(opt.SpecialTokens); opt.VocabSize < base {
		return nil, fmt.Errorf("train: vocab size %d is smaller than the 256 byte symbols plus %d special tokens (%d)",
			opt.VocabSize, len(opt.SpecialTokens), base)
	}
	if opt.MinFrequency < 0 {
		return nil, fmt.Errorf("train: min frequency %d is negative", opt.MinFrequency)
	}
	return tr, nil
}

// AddFile counts the words of a text file. A missing or empty file is an
// error naming it.
func (tr *Trainer) AddFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err // *PathError names the file
	}
	if len(data) == 0 {
		return fmt.Errorf("%s: empty file: nothing to train on", path)
	}
	tr.AddText(string(data))
	return nil
}

// AddText counts the words of text, splitting the work across CPUs.
func (tr *Trainer) AddText(text string) {
	const minChunk = 1 << 18
	workers := min(runtime.GOMAXPROCS(0), len(text)/minChunk+1)
	if workers <= 1 {
		tr.countLines(text, tr.counts)
		return
	}
	// Cut at line ends so that every line goes whole to one worker.
	var chunks []string
	rest := text
	for w := workers; w > 1 && len(rest) > 0; w-- {
		cut := len(rest) / w
		if nl := strings.IndexByte(rest[cut:], '\n'); nl >= 0 {
			cut += nl + 1
		} else {
			cut = len(rest)
		}
		chunks = append(chunks, rest[:cut])
		rest = rest[cut:]
	}
	if len(rest) > 0 {
		chunks = append(chunks, rest)
	}
	maps := make([]map[string]int64, len(chunks))
	var wg sync.WaitGroup
	for i, c := range chunks {
		wg.Go(func() {
			maps[i] = map[string]int64{}
			tr.countLines(c, maps[i])
		})
	}
	wg.Wait()
	for _, m := range maps {
		for w, n := range m {
			tr.counts[w] += n
		}
	}
}

// countLines pre-tokenizes text one line (with its '\n') at a time.
func (tr *Trainer) countLines(text string, counts map[string]int64) {
	var spans []int
	var segs []segment
	for len(text) > 0 {
		end := strings.IndexByte(text, '\n') + 1
		if end == 0 {
			end = len(text)
		}
		line := text[:end]
		text = text[end:]
		if tr.match.empty() {
			spans = tr.countPiece(line, counts, spans)
			continue
		}
		segs = tr.match.findAdded(segs[:0], line, tr.specials, nil)
		for _, sg := range segs {
			if sg.tok < 0 {
				spans = tr.countPiece(line[sg.a:sg.b], counts, spans)
			}
		}
	}
}

func (tr *Trainer) countPiece(s string, counts map[string]int64, spans []int) []int {
	if len(tr.norm) > 0 {
		s, _ = normalize(tr.norm, s)
	}
	spans = tr.stage.appendSplits(spans[:0], s, 0)
	for k := 0; k < len(spans); k += 2 {
		counts[s[spans[k]:spans[k+1]]]++
	}
	return spans
}

// Words returns the number of distinct pre-tokenized words counted so far.
func (tr *Trainer) Words() int { return len(tr.counts) }

// TrainSpec learns the merges and returns the vocabulary, merges and
// special tokens. Pattern and NFC are set; Config is left to Train.
func (tr *Trainer) TrainSpec() (BPESpec, error) {
	if len(tr.counts) == 0 {
		return BPESpec{}, errors.New("train: no training text")
	}
	l := newLearner(tr.opt.SpecialTokens)
	l.addWords(tr.counts)
	if len(l.tokens) > tr.opt.VocabSize {
		return BPESpec{}, fmt.Errorf("train: vocab size %d is smaller than the %d special tokens and byte symbols",
			tr.opt.VocabSize, len(l.tokens))
	}
	l.run(tr.opt.VocabSize, tr.opt.MinFrequency)
	spec := BPESpec{Vocab: l.tokens, Merges: l.finalMerges(), Pattern: tr.opt.Pattern, NFC: tr.opt.NFC}
	for _, a := range tr.specials {
		spec.Added = append(spec.Added, *a)
	}
	return spec, nil
}

// learner holds the state of HuggingFace's BpeTrainer.do_train. Words are
// the distinct pre-tokenized words as id sequences in one flat buffer,
// merged in place.
type learner struct {
	tokens []string         // id -> spelling
	index  map[string]int32 // spelling -> id
	byteID [256]int32

	syms   []int32 // all words' symbols
	start  []int32 // word -> offset in syms
	length []int32 // word -> current number of symbols
	counts []int64 // word -> occurrences

	pairCount map[uint64]int64
	where     map[uint64][]int32 // pairs that gained occurrences this step -> words, ascending
	queue     pairQueue
	merges    []learnedMerge
	pairBuf   []uint64
}

type learnedMerge struct {
	pair  uint64
	newID int32
}

func newLearner(specials []string) *learner {
	l := &learner{index: map[string]int32{}, pairCount: map[uint64]int64{}, where: map[uint64][]int32{}}
	for _, s := range specials {
		l.addToken(s)
	}
	// The alphabet in code-point order of the byte-level spellings, as
	// HuggingFace sorts it; a special token that spells a byte symbol
	// stands for that byte, as there.
	order := make([]int, 256)
	for b := range order {
		order[b] = b
	}
	slices.SortFunc(order, func(a, b int) int { return int(byteToRune[a]) - int(byteToRune[b]) })
	for _, b := range order {
		l.byteID[b] = l.addToken(ByteSymbol(byte(b)))
	}
	return l
}

// addToken returns the id of a spelling, adding it if new.
func (l *learner) addToken(s string) int32 {
	if id, ok := l.index[s]; ok {
		return id
	}
	id := int32(len(l.tokens))
	l.tokens = append(l.tokens, s)
	l.index[s] = id
	return id
}

// addWords lays out the words (sorted, for reproducible memory layout and
// queue order) and counts their pairs.
func (l *learner) addWords(counts map[string]int64) {
	words := make([]string, 0, len(counts))
	total := 0
	for w := range counts {
		words = append(words, w)
		total += len(w)
	}
	slices.Sort(words)
	l.syms = make([]int32, 0, total)
	l.start = make([]int32, len(words))
	l.length = make([]int32, len(words))
	l.counts = make([]int64, len(words))
	for i, w := range words {
		l.start[i] = int32(len(l.syms))
		l.length[i] = int32(len(w))
		l.counts[i] = counts[w]
		for j := 0; j < len(w); j++ {
			l.syms = append(l.syms, l.byteID[w[j]])
		}
	}
	for i := range words {
		s := l.word(int32(i))
		for j := 0; j+1 < len(s); j++ {
			l.bump(pairKey(s[j], s[j+1]), l.counts[i], int32(i))
		}
	}
	l.flushWhere()
}

func (l *learner) word(w int32) []int32 {
	return l.syms[l.start[w] : l.start[w]+l.length[w]]
}

// bump adds delta to a pair's count and, for a gain, records the word as a
// place to look when the pair is merged.
func (l *learner) bump(pair uint64, delta int64, w int32) {
	l.pairCount[pair] += delta
	if delta > 0 {
		ws := l.where[pair]
		if len(ws) == 0 || ws[len(ws)-1] != w {
			l.where[pair] = append(ws, w)
		}
	}
}

// flushWhere queues every pair that gained occurrences, with the words it
// gained them in, if its total count is positive. Pairs are queued in
// sorted order so that runs are reproducible even when equal entries meet
// in the queue.
func (l *learner) flushWhere() {
	pairs := l.pairBuf[:0]
	for pair := range l.where {
		pairs = append(pairs, pair)
	}
	slices.Sort(pairs)
	for _, pair := range pairs {
		if c := l.pairCount[pair]; c > 0 {
			l.queue.push(&queued{count: c, pair: pair, pos: l.where[pair]})
		}
	}
	l.pairBuf = pairs
	clear(l.where)
}

// run merges until the vocabulary has size tokens, no pair is left or the
// best pair is rarer than minFreq.
func (l *learner) run(size int, minFreq int64) {
	for len(l.index) < size && len(l.queue) > 0 {
		top := l.queue.pop()
		// Counts in the queue go stale as neighbours merge: re-queue with
		// the current count, which is never larger, and look again.
		if c := l.pairCount[top.pair]; c != top.count {
			top.count = c
			l.queue.push(top)
			continue
		}
		if top.count < 1 || top.count < minFreq {
			break
		}
		a, b := int32(top.pair>>32), int32(uint32(top.pair))
		rep := l.addToken(l.tokens[a] + l.tokens[b])
		l.merges = append(l.merges, learnedMerge{top.pair, rep})
		for _, w := range top.pos {
			l.mergeIn(w, a, b, rep)
		}
		l.flushWhere()
	}
}

// mergeIn replaces the pair (a, b) by rep in word w, left to right without
// overlaps, and updates the pair counts exactly as HuggingFace's
// Word::merge reports changes: the merged pair's own count is left alone.
func (l *learner) mergeIn(w, a, b, rep int32) {
	s := l.word(w)
	c := l.counts[w]
	out := 0
	for r := 0; r < len(s); {
		if r+1 < len(s) && s[r] == a && s[r+1] == b {
			if out > 0 {
				p := s[out-1]
				l.bump(pairKey(p, a), -c, w)
				l.bump(pairKey(p, rep), c, w)
			}
			if r+2 < len(s) {
				n := s[r+2]
				l.bump(pairKey(b, n), -c, w)
				l.bump(pairKey(rep, n), c, w)
			}
			s[out] = rep
			out++
			r += 2
			continue
		}
		s[out] = s[r]
		out++
		r++
	}
	l.length[w] = int32(out)
}

// finalMerges returns the merges in rank order. A pair learned twice (which
// happens only when two pairs spell the same token) keeps its last rank, as
// HuggingFace's merge map does.
func (l *learner) finalMerges() [][2]string {
	last := make(map[uint64]int, len(l.merges))
	for i, m := range l.merges {
		last[m.pair] = i
	}
	out := make([][2]string, 0, len(last))
	for i, m := range l.merges {
		if last[m.pair] == i {
			out = append(out, [2]string{l.tokens[int32(m.pair>>32)], l.tokens[int32(uint32(m.pair))]})
		}
	}
	return out
}

// queued is a candidate merge: a pair, its count when queued and the words
// it may occur in.
type queued struct {
	count int64
	pair  uint64
	pos   []int32
}

// pairQueue is a binary max-heap on (count, then smaller pair first).
type pairQueue []*queued

func (q pairQueue) before(i, j int) bool {
	if q[i].count != q[j].count {
		return q[i].count > q[j].count
	}
	return q[i].pair < q[j].pair
}

func (q *pairQueue) push(e *queued) {
	*q = append(*q, e)
	h := *q
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.before(i, p) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (q *pairQueue) pop() *queued {
	h := *q
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h[n] = nil
	h = h[:n]
	for i := 0; ; {
		c := 2*i + 1
		if c >= n {
			break
		}
		if c+1 < n && h.before(c+1, c) {
			c++
		}
		if !h.before(c, i) {
			break
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
	*q = h
	return top
}
