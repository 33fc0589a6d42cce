// Package demo is the carts demo service of tend's self-healing tutorial
// and its load generator. The service is shaped like sockshop's carts (the
// service of Keptn's tutorials), exports the metrics Keptn's Prometheus
// SLIs read, and slows down in a modelled way: when load per replica
// exceeds capacity, and when the EnablePromotion feature flag is on. Its
// numbers are chosen so the tutorial's story is true; docs/demo.md explains
// the model.
package demo

import (
	"math"
	"sync"
	"time"
)

// Model is the latency model of the carts service. A request's latency is
//
//	base × max(1, load / (replicas × capacity)) + promotion
//
// where base is uniform in BaseLatency ± BaseJitter and promotion, only
// while EnablePromotion is on, is uniform in [PromotionLatency,
// PromotionLatency+PromotionJitter]. Scaling up helps the first term only:
// the promotion's cost is per request, so more replicas do not hide it.
// That is what makes the tutorial's first remediation action (scale up)
// insufficient and the second (switch the promotion off) succeed.
type Model struct {
	// BaseLatency is the mean latency of a request on an idle replica.
	BaseLatency time.Duration
	// BaseJitter spreads the base latency uniformly by ± this much.
	BaseJitter time.Duration
	// CapacityPerReplica is how many requests per second one replica
	// serves before it slows down.
	CapacityPerReplica float64
	// PromotionLatency is the least latency EnablePromotion adds.
	PromotionLatency time.Duration
	// PromotionJitter is the spread above PromotionLatency.
	PromotionJitter time.Duration
}

// DefaultModel returns the model whose numbers make the tutorial's story
// true at DefaultLoadRate requests per second (docs/demo.md; model_test.go
// checks it).
func DefaultModel() Model {
	return Model{
		BaseLatency:        350 * time.Millisecond,
		BaseJitter:         50 * time.Millisecond,
		CapacityPerReplica: 10,
		PromotionLatency:   1000 * time.Millisecond,
		PromotionJitter:    300 * time.Millisecond,
	}
}

// DefaultLoadRate is the load generator's default rate in requests per
// second: 1.5 times one replica's default capacity, so one replica is
// overloaded (but within the SLO) and two are not.
const DefaultLoadRate = 15.0

// LoadFactor is how much slower than idle a replica is at load requests
// per second spread over replicas replicas: 1 up to capacity, then
// proportional to the overload. Fewer than one replica counts as one (the
// model has no "down").
func (m Model) LoadFactor(load float64, replicas int) float64 {
	if replicas < 1 {
		replicas = 1
	}
	if m.CapacityPerReplica <= 0 || load <= 0 || math.IsNaN(load) {
		return 1
	}
	return max(1, load/(float64(replicas)*m.CapacityPerReplica))
}

// Latency is the model's latency of one request. u1 and u2 are uniform
// random numbers in [0, 1) that pick the base and promotion jitter; taking
// them as arguments keeps the model a pure function that tests can sample.
func (m Model) Latency(load float64, replicas int, promotion bool, u1, u2 float64) time.Duration {
	base := float64(m.BaseLatency) + (2*u1-1)*float64(m.BaseJitter)
	lat := max(0, base) * m.LoadFactor(load, replicas)
	if promotion {
		lat += float64(m.PromotionLatency) + u2*float64(m.PromotionJitter)
	}
	return time.Duration(lat)
}

// rateMeter measures the arrival rate of requests over a sliding window of
// whole seconds, which is the "load" of the model. It counts per second in
// a ring, so memory is fixed whatever the rate.
type rateMeter struct {
	mu      sync.Mutex
	window  int // seconds
	counts  []int64
	secs    []int64 // the unix second each slot counts
	first   time.Time
	started bool
}

func newRateMeter(window time.Duration) *rateMeter {
	n := int(window / time.Second)
	if n < 2 {
		n = 2
	}
	return &rateMeter{window: n, counts: make([]int64, n), secs: make([]int64, n)}
}

// add counts one request at now and returns the rate over the window,
// this request included.
func (r *rateMeter) add(now time.Time) float64 {
	sec := now.Unix()
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.started {
		r.first, r.started = now, true
	}
	i := int(sec % int64(r.window))
	if r.secs[i] != sec {
		r.secs[i], r.counts[i] = sec, 0
	}
	r.counts[i]++
	return r.rateLocked(now)
}

// rate returns the rate over the window ending at now without counting.
func (r *rateMeter) rate(now time.Time) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.started {
		return 0
	}
	return r.rateLocked(now)
}

// rateLocked divides the requests of the last window-1 whole seconds and
// the current part second by the time they span. Until the window has
// filled, the span is the time since the first request (at least one
// second), so a fresh service does not under-read its load for a whole
// window.
func (r *rateMeter) rateLocked(now time.Time) float64 {
	sec := now.Unix()
	var total int64
	for i, s := range r.secs {
		if s > sec-int64(r.window) && s <= sec {
			total += r.counts[i]
		}
	}
	frac := now.Sub(time.Unix(sec, 0))
	span := time.Duration(r.window-1)*time.Second + frac
	span = min(span, now.Sub(r.first))
	span = max(span, time.Second)
	return float64(total) / span.Seconds()
}
