package train

import (
	"sort"

	"github.com/align-go/align/data"
)

// bucketWindow is how many optimizer steps' worth of examples are sorted by
// length together: wide enough that neighbours have similar lengths, narrow
// enough that the order stays random at the scale of an epoch.
const bucketWindow = 50

// Independent RNG streams of one seed (data.EpochOrder uses its own).
const (
	bucketStream = 0x6275636b6574 << 16 // "bucket" + epoch
	runStream    = 0x72756e             // "run": the objective's RNG
)

// plan is one epoch's batches: steps[s] lists the micro-batches of step s,
// each a list of example indices.
type plan struct {
	epoch int
	steps [][][]int
}

// microBatches is ceil(n/batch): the micro-batches in every epoch.
func microBatches(n, batch int) int { return (n + batch - 1) / batch }

// stepsPerEpoch is the optimizer steps in every epoch; a last partial
// accumulation group still makes a step (its loss is normalised by its own
// unit count, so it is a smaller batch, not a biased one).
func stepsPerEpoch(n, batch, accum int) int {
	return (microBatches(n, batch) + accum - 1) / accum
}

// epochPlan orders the examples of epoch: a permutation that depends only on
// (seed, epoch); with grouping, each window of bucketWindow steps' examples is
// sorted by length (longest first, ties in permutation order) and cut into
// micro-batches, and the micro-batches of the epoch are shuffled so that step
// order does not follow length. Nothing here depends on earlier epochs, so
// resuming needs only (epoch, step within epoch).
func epochPlan(lengths []int, batch, accum int, seed uint64, epoch int, group bool) *plan {
	n := len(lengths)
	perm := data.EpochOrder(n, seed, epoch)
	var micro [][]int
	if group {
		win := bucketWindow * batch * accum
		for lo := 0; lo < n; lo += win {
			w := perm[lo:min(lo+win, n)]
			sort.SliceStable(w, func(i, j int) bool { return lengths[w[i]] > lengths[w[j]] })
		}
	}
	for lo := 0; lo < n; lo += batch {
		micro = append(micro, perm[lo:min(lo+batch, n):min(lo+batch, n)])
	}
	if group {
		data.Shuffle(micro, data.NewRNG(seed, bucketStream+uint64(epoch)))
	}
	p := &plan{epoch: epoch}
	for lo := 0; lo < len(micro); lo += accum {
		p.steps = append(p.steps, micro[lo:min(lo+accum, len(micro))])
	}
	return p
}
