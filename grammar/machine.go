package grammar

import (
	"fmt"
	"slices"
	"unsafe"
)

// checkLeftRecursion refuses a rule that can reach itself without consuming
// a byte: the matcher would expand it forever (llama.cpp refuses these too).
func (g *Grammar) checkLeftRecursion() error {
	nullable := make([]bool, len(g.rules))
	for changed := true; changed; {
		changed = false
		for r, alts := range g.rules {
			if nullable[r] {
				continue
			}
			for _, a := range alts {
				if g.nullableFrom(a, nullable) {
					nullable[r], changed = true, true
					break
				}
			}
		}
	}
	// first[r]: rules r may start with (after nullable elements).
	const (
		unseen = iota
		active
		finished
	)
	mark := make([]uint8, len(g.rules))
	var visit func(r int32) error
	visit = func(r int32) error {
		mark[r] = active
		for _, a := range g.rules[r] {
			for p := a; g.elems[p].kind == kRef; p++ {
				s := g.elems[p].arg
				switch mark[s] {
				case active:
					return fmt.Errorf("grammar: rule %d is left-recursive (it can reach itself without consuming input)", s)
				case unseen:
					if err := visit(s); err != nil {
						return err
					}
				}
				if !nullable[s] {
					break
				}
			}
		}
		mark[r] = finished
		return nil
	}
	for r := range g.rules {
		if mark[r] == unseen {
			if err := visit(int32(r)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (g *Grammar) nullableFrom(p int32, nullable []bool) bool {
	for ; ; p++ {
		switch e := g.elems[p]; e.kind {
		case kEnd:
			return true
		case kTerm:
			return false
		case kRef:
			if !nullable[e.arg] {
				return false
			}
		}
	}
}

// A stack is an interned list of grammar positions: its top is the terminal
// to match next, the rest are where to continue after each open rule. The
// stack -1 is empty: a whole sentence has been matched.
type node struct{ pos, parent int32 }

const (
	dead    = -1 // no state: the input is rejected
	unknown = -2 // transition not computed yet
)

// machine is the lazily built DFA of one grammar: a state is a set of
// stacks, and trans caches state × byte → state.
type machine struct {
	g      *Grammar
	nodes  []node
	nodeID map[node]int32
	adv    map[int32]advance // per terminal-topped stack: after its terminal
	states []dstate
	byKey  map[string]int32
	trans  []int32 // [state*256 + byte]
	buf    []int32
}

type advance struct {
	stacks []int32
	accept bool
}

type dstate struct {
	stacks []int32 // sorted ids of terminal-topped stacks
	accept bool    // the empty stack is among them: a sentence ends here
}

func newMachine(g *Grammar) *machine {
	m := &machine{g: g, nodeID: map[node]int32{}, adv: map[int32]advance{}, byKey: map[string]int32{}}
	var stacks []int32
	acc := false
	for _, a := range g.rules[g.root] {
		m.expand(a, -1, &stacks, &acc)
	}
	m.intern(stacks, acc) // state 0: the start
	return m
}

func (m *machine) node(pos, parent int32) int32 {
	k := node{pos, parent}
	if id, ok := m.nodeID[k]; ok {
		return id
	}
	m.nodes = append(m.nodes, k)
	m.nodeID[k] = int32(len(m.nodes) - 1)
	return int32(len(m.nodes) - 1)
}

// expand adds the terminal-topped stacks that position pos over stack
// parent stands for (rule references expanded into their alternatives, ends
// of alternatives popped), and sets acc when the stack empties.
func (m *machine) expand(pos, parent int32, out *[]int32, acc *bool) {
	g := m.g
	for {
		e := g.elems[pos]
		switch e.kind {
		case kTerm:
			*out = append(*out, m.node(pos, parent))
			return
		case kEnd:
			if parent < 0 {
				*acc = true
				return
			}
			p := m.nodes[parent]
			pos, parent = p.pos, p.parent
			continue
		case kRef:
			np := parent
			if g.elems[pos+1].kind != kEnd { // no frame for a tail call
				np = m.node(pos+1, parent)
			}
			for _, a := range g.rules[e.arg] {
				m.expand(a, np, out, acc)
			}
			return
		}
	}
}

func (m *machine) intern(stacks []int32, acc bool) int32 {
	slices.Sort(stacks)
	stacks = slices.Compact(stacks)
	key := make([]byte, 0, 4*len(stacks)+1)
	if acc {
		key = append(key, 1)
	} else {
		key = append(key, 0)
	}
	key = append(key, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(stacks))), 4*len(stacks))...)
	if id, ok := m.byKey[string(key)]; ok {
		return id
	}
	id := int32(len(m.states))
	m.states = append(m.states, dstate{stacks: slices.Clone(stacks), accept: acc})
	m.byKey[string(key)] = id
	for range 256 {
		m.trans = append(m.trans, unknown)
	}
	return id
}

// step is the state after byte b from state st, or dead.
func (m *machine) step(st int32, b byte) int32 {
	if t := m.trans[int(st)<<8|int(b)]; t != unknown {
		return t
	}
	out := m.buf[:0]
	acc := false
	for _, s := range m.states[st].stacks {
		n := m.nodes[s]
		if !m.g.sets[m.g.elems[n.pos].arg].has(b) {
			continue
		}
		a, ok := m.adv[s]
		if !ok {
			var next []int32
			m.expand(n.pos+1, n.parent, &next, &a.accept)
			a.stacks = next
			m.adv[s] = a
		}
		out = append(out, a.stacks...)
		acc = acc || a.accept
	}
	m.buf = out
	t := int32(dead)
	if len(out) > 0 || acc {
		t = m.intern(out, acc)
	}
	m.trans[int(st)<<8|int(b)] = t
	return t
}

// walk feeds bs from st and returns the state reached, or dead.
func (m *machine) walk(st int32, bs []byte) int32 {
	for _, b := range bs {
		if st = m.step(st, b); st < 0 {
			return dead
		}
	}
	return st
}

// finished reports that st accepts and can take no more bytes.
func (m *machine) finished(st int32) bool {
	return m.states[st].accept && len(m.states[st].stacks) == 0
}
