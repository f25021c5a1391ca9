package loss

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

// torchCases reads the "cases" of a PyTorch fixture (testdata/*_torch.json,
// written by the scripts beside it).
func torchCases[T any](t *testing.T, path string) []T {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		Cases []T `json:"cases"`
	}
	if err := json.Unmarshal(b, &fx); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return fx.Cases
}

// torchClose compares with a float64 PyTorch value: 1e-10 relative, absolute
// below 1.
func torchClose(a, b float64) bool { return math.Abs(a-b) <= 1e-10*math.Max(1, math.Abs(b)) }
