package tensor

import (
	"testing"

	"github.com/align-go/align/internal/gctest"
)

// TestMain collects garbage less often (internal/gctest): the kernel tests
// allocate fresh operands for every case.
func TestMain(m *testing.M) { gctest.Main(m) }
