package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/slo"
	"github.com/tendhq/tend/internal/testenv"
	"github.com/tendhq/tend/internal/testenv/promservice"
)

// The tests in this file evaluate against the real Prometheus of
// scripts/prometheus.sh (they skip without it, and fail under CI=true).

const (
	addToCart = "ItemsController.addToCart"
	getCart   = "ItemsController.getCart"
)

// liveSLO gates on the built-in p90 (key SLI, relative and absolute) and
// error rate, and reports a built-in and two custom SLIs.
const liveSLO = `spec_version: "1.0"
filter: {handler: "` + addToCart + `"}
comparison: {compare_with: single_result, include_result_with_score: pass}
objectives:
  - sli: response_time_p90
    key_sli: true
    pass: [{criteria: ["<=+10%", "<1000"]}]
    warning: [{criteria: ["<=1200"]}]
  - sli: error_rate
    pass: [{criteria: ["<=0.05"]}]
  - sli: throughput
  - sli: throughput_per_minute
  - sli: p90_custom
total_score: {pass: "90%", warning: "40%"}
`

// liveSLI holds custom queries with placeholders of every kind: they only
// return data when $SERVICE, $PROJECT, $STAGE, $handler (the SLO filter),
// $DURATION_SECONDS and $LABEL.factor were all replaced.
const liveSLI = `spec_version: "1.0"
indicators:
  throughput_per_minute: "sum(rate(http_requests_total{job='$SERVICE-$PROJECT-$STAGE',handler='$handler'}[$DURATION_SECONDS])) * $LABEL.factor"
  p90_custom: "histogram_quantile(0.9, sum by (le) (rate(http_response_time_milliseconds_bucket{job='$service-$project-$stage',handler='$handler'}[$DURATION_SECONDS])))"
`

// liveProject creates a project with a name unique to the test (the
// Prometheus is shared), scraped as carts-<project>-production.
func liveProject(t testing.TB, ta *testApp, svc *promservice.Service) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	project := "p" + hex.EncodeToString(b)
	promservice.Scrape(t, svc, "carts-"+project+"-production")
	ctx := context.Background()
	if _, err := ta.c.CreateProject(ctx, apitypes.CreateProjectRequest{Name: project, Shipyard: evalShipyard}); err != nil {
		t.Fatal(err)
	}
	if _, err := ta.c.CreateService(ctx, project, "carts"); err != nil {
		t.Fatal(err)
	}
	ref := client.ResourceRef{Project: project, Stage: "production", Service: "carts"}
	if _, err := ta.c.PutResources(ctx, ref, []client.ResourceFile{
		{URI: "slo.yaml", Content: []byte(liveSLO)},
		{URI: "prometheus/sli.yaml", Content: []byte(liveSLI)},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := ta.c.PutMonitoring(ctx, project, apitypes.MonitoringConfig{Provider: "prometheus", URL: testenv.PrometheusURL(t), Service: "carts"}); err != nil {
		t.Fatal(err)
	}
	return project
}

// evaluateWindow evaluates the window [start, end] and waits for the result.
func (ta *testApp) evaluateWindow(t testing.TB, project string, start, end time.Time) finished {
	t.Helper()
	kctx, err := ta.c.TriggerEvaluation(context.Background(), project, "production", "carts", apitypes.TriggerEvaluationRequest{
		Start: start.UTC().Format(time.RFC3339Nano), End: end.UTC().Format(time.RFC3339Nano),
		Labels: map[string]string{"factor": "60"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return ta.waitFinished(t, kctx)
}

func values(t testing.TB, f finished) map[string]slo.SLIResult {
	t.Helper()
	m := map[string]slo.SLIResult{}
	for _, ir := range f.Data.Evaluation.IndicatorResults {
		m[ir.Value.Metric] = ir.Value
		t.Logf("%-22s %-7s success=%-5v value=%-10.4g compared=%-10.4g %s", ir.Value.Metric, ir.Status, ir.Value.Success, ir.Value.Value, ir.Value.ComparedValue, ir.Value.Message)
	}
	return m
}

func within(t testing.TB, m map[string]slo.SLIResult, name string, lo, hi float64) {
	t.Helper()
	v, ok := m[name]
	switch {
	case !ok:
		t.Errorf("%s: no value", name)
	case !v.Success:
		t.Errorf("%s failed: %s", name, v.Message)
	case !(v.Value > lo && v.Value <= hi):
		t.Errorf("%s = %v; want in (%v, %v]", name, v.Value, lo, hi)
	}
}

func TestEvaluationAgainstRealPrometheus(t *testing.T) {
	testenv.PrometheusURL(t)
	ta := startTestApp(t, Options{})
	svc := promservice.New()
	project := liveProject(t, ta, svc)
	job := "carts-" + project + "-production"

	// getCart is always slow: only the SLO's handler filter keeps it out.
	phase := func(ms float64) (time.Time, time.Time) {
		start := svc.Set(map[string]promservice.Traffic{addToCart: {N: 10, LatencyMS: ms}, getCart: {N: 10, LatencyMS: 4000}})
		return start, promservice.WaitForWindow(t, job, start, 5)
	}

	// 300 ms falls in the bucket (250, 500]: p90 = 250 + 250 × 0.9 = 475.
	start, end := phase(300)
	first := ta.evaluateWindow(t, project, start, end)
	t.Run("low latency passes", func(t *testing.T) {
		m := values(t, first)
		if first.Data.Result != "pass" {
			t.Errorf("result %s (%s); want pass", first.Data.Result, first.Data.Message)
		}
		within(t, m, "response_time_p90", 465, 485)
		within(t, m, "p90_custom", 465, 485)
		within(t, m, "throughput", 5, 20)
		if r := m["error_rate"]; !r.Success || r.Value != 0 {
			t.Errorf("error_rate = %+v; want 0 (no error series at all)", r)
		}
		if a, b := m["throughput"].Value*60, m["throughput_per_minute"].Value; math.Abs(a-b) > 1e-6*math.Abs(a) {
			t.Errorf("throughput_per_minute = %v; want 60 × throughput = %v: the label placeholder did not reach the query", b, a)
		}
	})

	t.Run("a comparison against the earlier passing evaluation", func(t *testing.T) {
		start, end := phase(300)
		second := ta.evaluateWindow(t, project, start, end)
		ev := second.Data.Evaluation
		if second.Data.Result != "pass" || len(ev.ComparedEvents) != 1 || ev.ComparedEvents[0] != first.ID {
			t.Fatalf("second = %s compared with %v; want pass compared with %s", second.Data.Result, ev.ComparedEvents, first.ID)
		}
		p90 := ev.IndicatorResults[0]
		base := values(t, first)["response_time_p90"].Value
		if p90.Value.ComparedValue != base || len(p90.PassTargets) != 2 || math.Abs(p90.PassTargets[0].TargetValue-base*1.1) > 1e-9 {
			t.Errorf("p90 = %+v; want compared with %v and the relative target %v", p90, base, base*1.1)
		}
	})

	t.Run("medium latency warns", func(t *testing.T) {
		// 1050 ms is in (1000, 1100]: p90 = 1090, above <1000, within <=1200.
		start, end := phase(1050)
		f := ta.evaluateWindow(t, project, start, end)
		within(t, values(t, f), "response_time_p90", 1080, 1100)
		if f.Data.Result != "warning" {
			t.Errorf("result %s (%s); want warning", f.Data.Result, f.Data.Message)
		}
	})

	t.Run("high latency fails", func(t *testing.T) {
		// 1600 ms is in (1500, 2000]: p90 = 1900, above every threshold.
		start, end := phase(1600)
		f := ta.evaluateWindow(t, project, start, end)
		within(t, values(t, f), "response_time_p90", 1850, 2000)
		if f.Data.Result != "fail" || !strings.Contains(f.Data.Message, "response_time_p90") {
			t.Errorf("result %s (%s); want fail naming the key SLI", f.Data.Result, f.Data.Message)
		}
	})
}
