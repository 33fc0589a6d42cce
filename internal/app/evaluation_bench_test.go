package app

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/settings"
	"github.com/tendhq/tend/internal/sli"
	"github.com/tendhq/tend/internal/slo"
	"github.com/tendhq/tend/internal/store"
	"github.com/tendhq/tend/internal/testenv"
	"github.com/tendhq/tend/internal/testenv/promservice"
)

// Benchmarks of whole evaluations through the API (docs/PERFORMANCE.md,
// "Evaluations (issue 4)"). Each iteration triggers a batch of evaluations
// through the HTTP API and waits until all have finished, so the number
// reported, evaluations/s, is end-to-end throughput: trigger, three
// durable worker steps, SLI queries, baseline read, eight events.
//
//	go test -run '^$' -bench Evaluations -benchtime 5x ./internal/app/

// batch is how many evaluations one iteration triggers.
const batch = 40

// triggerers is how many clients trigger a batch's evaluations at once, as
// the stages of several deliveries would. One client alone measures the
// latency of a trigger (a group commit with its fsync) forty times over,
// not the throughput.
const triggerers = 8

// instantProvider answers every SLI at once, so a benchmark measures tend's
// own overhead with the monitoring system's time excluded.
type instantProvider struct{}

func (instantProvider) GetSLIs(_ context.Context, req sli.Request) ([]slo.SLIResult, error) {
	out := make([]slo.SLIResult, len(req.Indicators))
	for i, name := range req.Indicators {
		out[i] = slo.SLIResult{Metric: name, Value: 500, Success: true}
	}
	return out, nil
}

// runBatches triggers batch evaluations per iteration and waits for them.
func runBatches(b *testing.B, ta *testApp, project string, req apitypes.TriggerEvaluationRequest) {
	ctx := context.Background()
	events := ta.Store().SubscribeEvents(ctx)
	// The wait reads only the evaluation.finished events stored since its
	// last read (AfterSeq; sequence numbers follow commit order), so each
	// event is read once. It counted all the project's finished events
	// after every stored event, a count that grows with the run and was a
	// fifth of the process's CPU, taken from the evaluations it measures.
	var lastSeq int64
	finished := 0
	countFinished := func() int {
		f := store.EventFilter{Project: project, Type: event.TypeEvaluationFinished, AfterSeq: lastSeq, PageSize: store.MaxPageSize}
		for {
			pg, err := ta.Store().ListEvents(ctx, f)
			if err != nil {
				b.Fatal(err)
			}
			if len(pg.Events) > 0 && f.PageKey == "" {
				lastSeq = max(lastSeq, pg.Events[0].Seq) // newest first
			}
			finished += len(pg.Events)
			if pg.NextPageKey == "" {
				return finished
			}
			f.PageKey = pg.NextPageKey
		}
	}
	done := countFinished()
	triggered := 0
	var total time.Duration
	for b.Loop() {
		started := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, batch)
		for c := range triggerers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := c; i < batch; i += triggerers {
					if _, err := ta.c.TriggerEvaluation(ctx, project, "production", "carts", req); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		done += batch
		triggered += batch
		for countFinished() < done {
			select {
			case <-events:
			case <-time.After(time.Second):
			}
		}
		total += time.Since(started)
	}
	b.ReportMetric(float64(triggered)/total.Seconds(), "evaluations/s")
	b.ReportMetric(0, "ns/op")
}

func benchApp(b *testing.B, database string, providers func(settings.Selection) (sli.Provider, error)) *testApp {
	ta := startTestApp(b, Options{Database: database, SLIProviders: providers})
	return ta
}

func BenchmarkEvaluationsOverhead(b *testing.B) {
	for _, db := range []string{"sqlite", "postgres"} {
		b.Run(db, func(b *testing.B) {
			database := ""
			if db == "postgres" {
				database = testenv.PostgresURL(b)
			}
			ta := benchApp(b, database, func(settings.Selection) (sli.Provider, error) { return instantProvider{}, nil })
			ta.setup(b, "http://127.0.0.1:1", apitypes.MonitoringConfig{})
			runBatches(b, ta, "sockshop", apitypes.TriggerEvaluationRequest{Timeframe: "5m"})
		})
	}
}

func BenchmarkEvaluationsRealPrometheus(b *testing.B) {
	testenv.PrometheusURL(b)
	ta := benchApp(b, "", nil)
	svc := promservice.New()
	project := liveProject(b, ta, svc)
	start := svc.Set(map[string]promservice.Traffic{addToCart: {N: 10, LatencyMS: 300}, getCart: {N: 10, LatencyMS: 4000}})
	end := promservice.WaitForWindow(b, "carts-"+project+"-production", start, 5)
	req := apitypes.TriggerEvaluationRequest{Start: start.UTC().Format(time.RFC3339Nano), End: end.UTC().Format(time.RFC3339Nano), Labels: map[string]string{"factor": "60"}}
	// One evaluation first, to check the setup passes.
	kctx, err := ta.c.TriggerEvaluation(context.Background(), project, "production", "carts", req)
	if err != nil {
		b.Fatal(err)
	}
	if f := ta.waitFinished(b, kctx); f.Data.Result != "pass" {
		b.Fatalf("setup evaluation = %s: %s", f.Data.Result, f.Data.Message)
	}
	b.ResetTimer()
	runBatches(b, ta, project, req)
}
