package nn

import (
	"sync/atomic"
	"time"
)

// DecodeRegion is one LinearDecodeMany call as a profiling hook sees it:
// the Linears of one input, computed as one parallel region.
type DecodeRegion struct {
	N, IC int    // input rows and in-width
	OC    int    // out-widths summed over the Linears
	DType string // the first Linear's weight dtype ("f32", "bf16", "int8", "nf4", ...)
	Bytes int64  // weight bytes the region reads
}

var decodeHook atomic.Pointer[func(DecodeRegion, time.Time)]

// SetDecodeHook has fn called at the end of every LinearDecodeMany with the
// region and its start time (nil: no hook). It is for benchmarks (bench/decode's
// -regions table: where a decode step's time goes, Linear by Linear); fn
// runs on the decoding goroutine, inside its step.
func SetDecodeHook(fn func(r DecodeRegion, start time.Time)) {
	if fn == nil {
		decodeHook.Store(nil)
		return
	}
	decodeHook.Store(&fn)
}

func decodeRegion(N, IC int, outs []DecodeOut) DecodeRegion {
	r := DecodeRegion{N: N, IC: IC, DType: "f32"}
	for i, o := range outs {
		r.OC += o.OC
		dt, b := "f32", int64(o.OC)*int64(IC)*4
		switch {
		case o.Q != nil && o.W == nil && o.W16 == nil:
			dt, b = o.Q.DType.String(), o.Q.Bytes()
		case o.W16 != nil:
			dt, b = "bf16", int64(o.OC)*int64(IC)*2
		}
		if i == 0 {
			r.DType = dt
		}
		r.Bytes += b
	}
	return r
}
