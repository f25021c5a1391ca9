package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/align-go/align/gguf"
)

// ggufInfo prints a GGUF file's metadata (long arrays abbreviated) and its
// tensors with types and shapes.
func ggufInfo(out io.Writer, path string, asJSON bool) error {
	f, err := gguf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if asJSON {
		type tensor struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Shape []int  `json:"shape"`
			Bytes int64  `json:"bytes"`
		}
		meta := map[string]any{}
		for _, kv := range f.KV {
			meta[kv.Key] = abbreviate(kv.Value, 16)
		}
		ts := make([]tensor, len(f.Tensors))
		for i, t := range f.Tensors {
			ts[i] = tensor{t.Name, t.Type.String(), t.Shape, t.Size}
		}
		return json.NewEncoder(out).Encode(map[string]any{"version": f.Version, "metadata": meta, "tensors": ts})
	}
	fmt.Fprintf(out, "GGUF v%d, %d metadata entries, %d tensors, alignment %d\n", f.Version, len(f.KV), len(f.Tensors), f.Alignment)
	for _, kv := range f.KV {
		fmt.Fprintf(out, "  %-44s %s\n", kv.Key, formatValue(kv.Value))
	}
	var total int64
	counts := map[string]int{}
	for _, t := range f.Tensors {
		total += t.Size
		counts[t.Type.String()]++
	}
	var types []string
	for t, n := range counts {
		types = append(types, fmt.Sprintf("%s×%d", t, n))
	}
	sort.Strings(types)
	fmt.Fprintf(out, "tensors: %s; %.2f MB of data\n", strings.Join(types, ", "), float64(total)/1e6)
	for _, t := range f.Tensors {
		fmt.Fprintf(out, "  %-36s %-5s %v\n", t.Name, t.Type, t.Shape)
	}
	return nil
}

func arrayLen(v any) int {
	switch a := v.(type) {
	case []string:
		return len(a)
	case []int32:
		return len(a)
	case []float32:
		return len(a)
	case []uint32:
		return len(a)
	case []any:
		return len(a)
	}
	return -1
}

func abbreviate(v any, n int) any {
	switch a := v.(type) {
	case []string:
		if len(a) > n {
			return map[string]any{"len": len(a), "head": a[:n]}
		}
	case []int32:
		if len(a) > n {
			return map[string]any{"len": len(a), "head": a[:n]}
		}
	case []float32:
		if len(a) > n {
			return map[string]any{"len": len(a), "head": a[:n]}
		}
	case string:
		if len(a) > 4096 {
			return a[:4096] + "…"
		}
	}
	return v
}

func formatValue(v any) string {
	if n := arrayLen(v); n >= 0 {
		var head []string
		switch a := v.(type) {
		case []string:
			for _, x := range a[:min(n, 6)] {
				head = append(head, fmt.Sprintf("%q", x))
			}
		case []int32:
			for _, x := range a[:min(n, 6)] {
				head = append(head, fmt.Sprint(x))
			}
		case []float32:
			for _, x := range a[:min(n, 6)] {
				head = append(head, fmt.Sprint(x))
			}
		case []uint32:
			for _, x := range a[:min(n, 6)] {
				head = append(head, fmt.Sprint(x))
			}
		default:
			head = append(head, "…")
		}
		more := ""
		if n > len(head) {
			more = ", …"
		}
		return fmt.Sprintf("[%d] [%s%s]", n, strings.Join(head, ", "), more)
	}
	if s, ok := v.(string); ok {
		if len(s) > 80 {
			return fmt.Sprintf("%q… (%d bytes)", s[:80], len(s))
		}
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprint(v)
}
