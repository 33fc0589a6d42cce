package storetest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/store"
)

// BenchmarkAppend appends b.N events, one per call, from many goroutines
// (GOMAXPROCS × 64, like many HTTP clients) and reports events/s and the
// p50/p99 latency of one durable append.
func BenchmarkAppend(b *testing.B, s store.Store) {
	b.Helper()
	c := context.Background()
	var n atomic.Int64
	body := []byte(`{"specversion":"1.0","id":"x","source":"bench","type":"sh.keptn.event.evaluation.finished","data":{"project":"p","stage":"s","service":"svc","result":"pass"}}`)
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(64)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 1024)
		for pb.Next() {
			i := n.Add(1)
			e := store.EventRecord{
				ID: fmt.Sprint("bench-", i), Source: "bench", Type: "sh.keptn.event.evaluation.finished",
				SpecVersion: "1.0", Time: time.Now(), KeptnContext: "ctx", Project: "p", Stage: "s", Service: "svc", JSON: body,
			}
			t0 := time.Now()
			if _, err := s.AppendEvents(c, e); err != nil {
				b.Error(err)
				return
			}
			local = append(local, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, local...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	if len(lat) > 0 {
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}
