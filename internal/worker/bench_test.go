package worker_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/store"
	"github.com/tendhq/tend/internal/worker"
)

// BenchmarkRunnerThroughput runs b.N no-op jobs through one runner on a
// durable SQLite store and reports jobs/s: the cost of the queue itself
// (claim, lease, durable completion), which every step of a remediation or
// an evaluation pays once.
func BenchmarkRunnerThroughput(b *testing.B) {
	for _, conc := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			st := openStore(b, "sqlite", filepath.Join(b.TempDir(), "tend.db"), nil)
			const batch = 500
			for i := 0; i < b.N; i += batch {
				specs := make([]store.JobSpec, min(batch, b.N-i))
				for k := range specs {
					specs[k] = store.JobSpec{Kind: "noop"}
				}
				enqueue(b, st, specs...)
			}
			w, err := worker.New(st, worker.Options{Concurrency: conc})
			if err != nil {
				b.Fatal(err)
			}
			w.Register("noop", func(context.Context, store.Job) worker.Result { return worker.Done() })
			var done atomic.Int64
			all := make(chan struct{})
			worker.SetRecorded(w, func(_ store.Job, outcome string) {
				if outcome != "done" {
					b.Errorf("a no-op job ended %s", outcome)
				}
				if done.Add(1) == int64(b.N) {
					close(all)
				}
			})
			ctx, cancel := context.WithCancel(context.Background())
			stopped := make(chan error, 1)
			b.ResetTimer()
			t0 := time.Now()
			go func() { stopped <- w.Run(ctx) }()
			<-all
			elapsed := time.Since(t0)
			b.StopTimer()
			cancel()
			if err := <-stopped; err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "jobs/s")
		})
	}
}
