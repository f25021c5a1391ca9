package checkpoint

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Tensor is one tensor to write. Data is stored as DType: "F32" (the
// default), "BF16" or "F16", rounded to nearest even. DType "I64" stores Ints
// instead of Data.
//
// Fill, set instead of Data, produces a float tensor's values a chunk at a
// time while it is written: dst receives elements [off, off+len(dst)) in
// row-major order. A tensor larger than memory (a real-size embedding) is
// then written without ever being held whole.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
	DType string
	Ints  []int64
	Fill  func(dst []float32, off int)
}

func (t *Tensor) dtype() string {
	if t.DType == "" {
		return "F32"
	}
	return t.DType
}

// check validates t and returns its size in bytes.
func (t *Tensor) check(path string) (int64, error) {
	if t.Name == "" || t.Name == "__metadata__" {
		return 0, fmt.Errorf("checkpoint: %s: invalid tensor name %q", path, t.Name)
	}
	n := 1
	for _, d := range t.Shape {
		if d < 0 {
			return 0, fmt.Errorf("checkpoint: %s: tensor %q: negative dimension in shape %v", path, t.Name, t.Shape)
		}
		n *= d
	}
	have := len(t.Data)
	switch t.dtype() {
	case "F32", "F16", "BF16":
		if t.Ints != nil {
			return 0, fmt.Errorf("checkpoint: %s: tensor %q: Ints set for float dtype %s", path, t.Name, t.dtype())
		}
		if t.Fill != nil {
			if t.Data != nil {
				return 0, fmt.Errorf("checkpoint: %s: tensor %q: both Data and Fill set", path, t.Name)
			}
			have = n
		}
	case "I64":
		if t.Data != nil || t.Fill != nil {
			return 0, fmt.Errorf("checkpoint: %s: tensor %q: Data set for dtype I64 (use Ints)", path, t.Name)
		}
		have = len(t.Ints)
	default:
		return 0, fmt.Errorf("checkpoint: %s: tensor %q: cannot write dtype %q", path, t.Name, t.DType)
	}
	if have != n {
		return 0, fmt.Errorf("checkpoint: %s: tensor %q: shape %v needs %d elements, have %d", path, t.Name, t.Shape, n, have)
	}
	return int64(n) * dtypeSize[t.dtype()], nil
}

// Write stores tensors as a safetensors file at path, atomically (a
// temporary file renamed over path). Tensors are laid out like the reference
// implementation does: by descending dtype alignment, then by name, with the
// header padded with spaces to a multiple of 8 bytes.
func Write(path string, tensors []Tensor, meta map[string]string) error {
	order := make([]*Tensor, len(tensors))
	sizes := map[*Tensor]int64{}
	seen := map[string]bool{}
	for i := range tensors {
		t := &tensors[i]
		if seen[t.Name] {
			return fmt.Errorf("checkpoint: %s: duplicate tensor %q", path, t.Name)
		}
		seen[t.Name] = true
		n, err := t.check(path)
		if err != nil {
			return err
		}
		order[i], sizes[t] = t, n
	}
	sort.Slice(order, func(i, j int) bool {
		ri, rj := dtypeRank[order[i].dtype()], dtypeRank[order[j].dtype()]
		if ri != rj {
			return ri > rj
		}
		return order[i].Name < order[j].Name
	})
	hdr := header2JSON(order, sizes, meta)
	return WriteAtomic(path, func(w io.Writer) error {
		var prefix [8]byte
		le.PutUint64(prefix[:], uint64(len(hdr)))
		if _, err := w.Write(prefix[:]); err != nil {
			return err
		}
		if _, err := w.Write(hdr); err != nil {
			return err
		}
		buf := make([]byte, chunkBytes)
		for _, t := range order {
			if err := writeData(w, t, buf); err != nil {
				return err
			}
		}
		return nil
	})
}

// header2JSON builds the header by hand because encoding/json sorts map
// keys, while the format wants __metadata__ first and tensors in data order.
func header2JSON(order []*Tensor, sizes map[*Tensor]int64, meta map[string]string) []byte {
	var sb strings.Builder
	sb.WriteByte('{')
	if meta != nil {
		m, _ := json.Marshal(meta) // map[string]string always marshals
		sb.WriteString(`"__metadata__":`)
		sb.Write(m)
	}
	var off int64
	for i, t := range order {
		if i > 0 || meta != nil {
			sb.WriteByte(',')
		}
		name, _ := json.Marshal(t.Name)
		sb.Write(name)
		sb.WriteString(`:{"dtype":"` + t.dtype() + `","shape":[`)
		for j, d := range t.Shape {
			if j > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(strconv.Itoa(d))
		}
		sb.WriteString(`],"data_offsets":[` + strconv.FormatInt(off, 10) + "," + strconv.FormatInt(off+sizes[t], 10) + "]}")
		off += sizes[t]
	}
	sb.WriteByte('}')
	for sb.Len()%8 != 0 {
		sb.WriteByte(' ')
	}
	return []byte(sb.String())
}

// writeData encodes t through buf (chunkBytes long) a chunk at a time.
func writeData(w io.Writer, t *Tensor, buf []byte) error {
	const per = chunkBytes / 8
	n := len(t.Data)
	var scratch []float32
	switch {
	case t.dtype() == "I64":
		n = len(t.Ints)
	case t.Fill != nil:
		n = 1
		for _, d := range t.Shape {
			n *= d
		}
		scratch = make([]float32, min(per, n))
	}
	for i := 0; i < n; i += per {
		m := min(per, n-i)
		var src []float32
		switch {
		case t.Fill != nil:
			src = scratch[:m]
			t.Fill(src, i)
		case t.Data != nil:
			src = t.Data[i : i+m]
		}
		var b []byte
		switch t.dtype() {
		case "F32":
			b = buf[:4*m]
			for j, v := range src {
				le.PutUint32(b[4*j:], math.Float32bits(v))
			}
		case "F16":
			b = buf[:2*m]
			for j, v := range src {
				le.PutUint16(b[2*j:], F32ToF16(v))
			}
		case "BF16":
			b = buf[:2*m]
			for j, v := range src {
				le.PutUint16(b[2*j:], F32ToBF16(v))
			}
		case "I64":
			b = buf[:8*m]
			for j, v := range t.Ints[i : i+m] {
				le.PutUint64(b[8*j:], uint64(v))
			}
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// WriteAtomic writes path via a synced temporary file in the same directory
// and a rename, so readers never see a half-written file and a crash leaves
// the previous one intact. Every file a run leaves (checkpoints, metrics,
// reports) is written this way.
func WriteAtomic(path string, fill func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err = fill(bw); err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if err != nil {
		return fmt.Errorf("checkpoint: writing %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("checkpoint: writing %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// WriteSharded stores tensors in dir the way save_pretrained does: a single
// model.safetensors when they fit in maxShardBytes, else shards
// model-0000i-of-0000n.safetensors (filled in name order) plus
// model.safetensors.index.json. meta goes into every shard's header.
func WriteSharded(dir string, tensors []Tensor, meta map[string]string, maxShardBytes int64) error {
	sorted := make([]Tensor, len(tensors))
	copy(sorted, tensors)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	var shards [][]Tensor
	var cur []Tensor
	var curSize, total int64
	for i := range sorted {
		n, err := sorted[i].check(dir)
		if err != nil {
			return err
		}
		if len(cur) > 0 && curSize+n > maxShardBytes {
			shards = append(shards, cur)
			cur, curSize = nil, 0
		}
		cur = append(cur, sorted[i])
		curSize += n
		total += n
	}
	shards = append(shards, cur)
	// A leftover file of the other layout would shadow or contradict the new
	// one (OpenDir prefers model.safetensors), so it goes.
	if len(shards) == 1 {
		if err := Write(filepath.Join(dir, SingleFile), tensors, meta); err != nil {
			return err
		}
		return removeIfExists(filepath.Join(dir, IndexFile))
	}
	if err := removeIfExists(filepath.Join(dir, SingleFile)); err != nil {
		return err
	}
	weightMap := map[string]string{}
	for i, sh := range shards {
		name := fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, len(shards))
		if err := Write(filepath.Join(dir, name), sh, meta); err != nil {
			return err
		}
		for _, t := range sh {
			weightMap[t.Name] = name
		}
	}
	index := map[string]any{
		"metadata":   map[string]any{"total_size": total},
		"weight_map": weightMap,
	}
	return WriteJSON(filepath.Join(dir, IndexFile), index)
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}
