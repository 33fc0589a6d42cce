package app

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/action"
	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/config"
)

// BenchmarkRemediationFirstAction measures the time from an Alertmanager
// notification sent to tend's webhook until the first action's executor
// is called to apply its plan (docs/PERFORMANCE.md, "Remediation (issue
// 5)"): the intake's transaction, then three durable steps (admit,
// prepare, apply), each a claim and a commit, on SQLite. One alert at a
// time, each for a service of its own, so every alert starts a
// remediation and nothing queues behind it.
//
//	go test -run '^$' -bench RemediationFirstAction -benchtime 300x ./internal/app/
func BenchmarkRemediationFirstAction(b *testing.B) {
	rec := &recordingExec{applied: map[string]time.Time{}, signal: make(chan struct{}, 1)}
	cfg := config.Default()
	cfg.Remediation.Limits.Cooldown = 0
	cfg.Remediation.Limits.MaxActionsPerHour = 0
	cfg.Worker.PollInterval = time.Second
	ta := startTestApp(b, Options{Config: &cfg, Remediation: RemediationOptions{Executors: map[string]action.Executor{"scaling": rec}}})
	ctx := context.Background()
	if _, err := ta.c.CreateProject(ctx, apitypes.CreateProjectRequest{Name: "bench", Shipyard: "stages:\n  - name: production\n    remediation_strategy: automated\n"}); err != nil {
		b.Fatal(err)
	}
	n := b.N
	file := []byte(healRemediation("        - {name: Scale up, action: scaling, value: \"1\"}\n"))
	for i := range n {
		svc := fmt.Sprintf("svc-%05d", i)
		if _, err := ta.c.CreateService(ctx, "bench", svc); err != nil {
			b.Fatal(err)
		}
		if _, err := ta.c.PutResources(ctx, client.ResourceRef{Project: "bench", Stage: "production", Service: svc}, []client.ResourceFile{{URI: "remediation.yaml", Content: file}}); err != nil {
			b.Fatal(err)
		}
	}
	lat := make([]time.Duration, 0, n)
	b.ResetTimer()
	for i := 0; i < n; i++ {
		svc := fmt.Sprintf("svc-%05d", i)
		body := fmt.Sprintf(`{"version":"4","status":"firing","receiver":"tend","groupKey":"{}:{}","alerts":[{"status":"firing",
			"labels":{"alertname":"response_time_p90","project":"bench","stage":"production","service":%q},
			"annotations":{"summary":"response_time_p90"},"startsAt":"2024-05-01T12:00:00Z","fingerprint":"b%05d"}]}`, svc, i)
		sent := time.Now()
		if status, raw, err := ta.c.Raw(ctx, http.MethodPost, "/api/v1/integrations/alertmanager", nil, []byte(body)); err != nil || status != http.StatusOK {
			b.Fatalf("alert %d: %d %s %v", i, status, raw, err)
		}
		at := rec.wait(b, "bench", svc)
		lat = append(lat, at.Sub(sent))
	}
	b.StopTimer()
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	b.ReportMetric(float64(q(0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(q(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
}

// recordingExec plans instantly and records when each service's plan was
// applied.
type recordingExec struct {
	mu      sync.Mutex
	applied map[string]time.Time
	signal  chan struct{}
}

func (r *recordingExec) Prepare(_ context.Context, req action.Request) (action.Plan, error) {
	return action.Plan{Action: req.Action, Summary: "scale " + req.Service}, nil
}

func (r *recordingExec) Apply(_ context.Context, req action.Request, _ action.Plan) (action.Result, error) {
	now := time.Now()
	r.mu.Lock()
	if _, ok := r.applied[req.Project+"/"+req.Service]; !ok {
		r.applied[req.Project+"/"+req.Service] = now
	}
	r.mu.Unlock()
	select {
	case r.signal <- struct{}{}:
	default:
	}
	return action.Result{Message: "scaled"}, nil
}

func (r *recordingExec) wait(b *testing.B, project, svc string) time.Time {
	deadline := time.After(time.Minute)
	for {
		r.mu.Lock()
		at, ok := r.applied[project+"/"+svc]
		r.mu.Unlock()
		if ok {
			return at
		}
		select {
		case <-r.signal:
		case <-deadline:
			b.Fatalf("no action was applied for %s within a minute", svc)
		}
	}
}
