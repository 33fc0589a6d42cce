package bench

import (
	"math"
	"sync/atomic"
	"time"
)

// histogram counts latencies in buckets 8% wide from 50 µs up, without
// locks, so the progress line can show the last second's p99 while the
// workers record. The final result uses the exact latencies instead.
type histogram struct {
	counts [histBuckets]atomic.Int64
}

const (
	histBuckets = 160 // 50 µs × 1.08^159 ≈ 10 s; the last bucket takes the rest
	histBase    = 50 * time.Microsecond
	histGrowth  = 1.08
)

var logGrowth = math.Log(histGrowth)

func (h *histogram) record(d time.Duration) {
	i := 0
	if d > histBase {
		i = int(math.Log(float64(d)/float64(histBase))/logGrowth) + 1
	}
	h.counts[min(i, histBuckets-1)].Add(1)
}

// snapshot copies the counts.
func (h *histogram) snapshot() (s [histBuckets]int64) {
	for i := range h.counts {
		s[i] = h.counts[i].Load()
	}
	return s
}

// quantile returns the upper bound of the bucket holding the fraction q of
// the counts in now minus before, or 0 when there are none.
func quantile(now, before *[histBuckets]int64, q float64) time.Duration {
	var total int64
	for i := range now {
		total += now[i] - before[i]
	}
	if total == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(total)))
	var seen int64
	for i := range now {
		seen += now[i] - before[i]
		if seen >= rank {
			return time.Duration(float64(histBase) * math.Pow(histGrowth, float64(i)))
		}
	}
	return time.Duration(float64(histBase) * math.Pow(histGrowth, histBuckets-1))
}
