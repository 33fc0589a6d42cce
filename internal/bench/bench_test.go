package bench_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/app"
	"github.com/tendhq/tend/internal/auth"
	"github.com/tendhq/tend/internal/bench"
	"github.com/tendhq/tend/internal/store"
	"github.com/tendhq/tend/internal/testenv"
)

// startServer runs a tend server in this process on a free loopback port
// and returns it with a write token.
func startServer(b *testing.B, database string) (*app.App, string) {
	b.Helper()
	ctx := context.Background()
	a, err := app.New(ctx, app.Options{Listen: "127.0.0.1:0", DataDir: filepath.Join(b.TempDir(), "data"), Database: database})
	if err != nil {
		b.Fatal(err)
	}
	a.Start()
	b.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := a.Shutdown(sctx); err != nil {
			b.Errorf("shut down: %v", err)
		}
	})
	tok, err := auth.NewToken()
	if err != nil {
		b.Fatal(err)
	}
	if _, err := a.Store().CreateToken(ctx, store.NewToken{Name: "bench", Scope: string(auth.ScopeWrite), Hash: auth.Sum(tok)}); err != nil {
		b.Fatal(err)
	}
	return a, tok
}

// BenchmarkIngestHTTP posts b.N structured CloudEvents over HTTP from 32
// keep-alive clients to an in-process server and reports durable events
// per second (each answered only after its commit), the p99 latency, and
// events per CPU second of the process. Record the numbers in
// docs/PERFORMANCE.md.
func BenchmarkIngestHTTP(b *testing.B) {
	backends := []struct {
		name     string
		database func(b *testing.B) string
	}{
		{"sqlite", func(*testing.B) string { return "" }},
		{"postgres", func(b *testing.B) string { return testenv.PostgresURL(b) }},
	}
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			a, tok := startServer(b, be.database(b))
			// One round trip first, so connection setup and the first
			// statements are outside the measurement.
			if _, err := bench.Ingest(context.Background(), bench.IngestOptions{Endpoint: a.URL(), Token: tok, Count: 64, Concurrency: 32}); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			res, err := bench.Ingest(context.Background(), bench.IngestOptions{
				Endpoint: a.URL(), Token: tok, Count: int64(b.N), Concurrency: 32, Verify: true,
			})
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			if res.Errors > 0 || !res.Verified() {
				b.Fatalf("accepted %d, errors %d (%v), stored %d: want every event accepted and stored", res.Accepted, res.Errors, res.ErrorSamples, res.Stored)
			}
			b.ReportMetric(res.EventsPerSecond, "events/s")
			b.ReportMetric(float64(res.P99.Microseconds())/1000, "p99-ms")
			if res.EventsPerCPUSecond > 0 {
				b.ReportMetric(res.EventsPerCPUSecond, "events/cpu-s")
			}
		})
	}
}
