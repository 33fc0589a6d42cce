package prometheus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/sli"
	"github.com/tendhq/tend/internal/slo"
	"github.com/tendhq/tend/internal/testenv"
	"github.com/tendhq/tend/internal/testenv/promservice"
)

// The tests in this file run against the real Prometheus of
// scripts/prometheus.sh; they skip without it (and fail under CI=true).

// scraped starts svc on 127.0.0.1 and has the test Prometheus scrape it as
// job <service>-<project>-<stage> with a project unique to the test. It
// returns the request template for that job.
func scraped(t testing.TB, svc *promservice.Service) sli.Request {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	req := sli.Request{Project: "p" + hex.EncodeToString(b), Stage: "dev", Service: "carts"}
	promservice.Scrape(t, svc, req.Service+"-"+req.Project+"-"+req.Stage)
	return req
}

func byName(t testing.TB, results []slo.SLIResult) map[string]slo.SLIResult {
	t.Helper()
	m := map[string]slo.SLIResult{}
	for _, r := range results {
		m[r.Metric] = r
		t.Logf("%-22s success=%-5v value=%-10.4g %s", r.Metric, r.Success, r.Value, r.Message)
	}
	return m
}

// within checks that an SLI succeeded with a value in (lo, hi].
func within(t testing.TB, got map[string]slo.SLIResult, name string, lo, hi float64) {
	t.Helper()
	r, ok := got[name]
	if !ok {
		t.Errorf("%s: no result", name)
		return
	}
	if !r.Success {
		t.Errorf("%s failed: %s", name, r.Message)
		return
	}
	if !(r.Value > lo && r.Value <= hi) {
		t.Errorf("%s = %v, want in (%v, %v]", name, r.Value, lo, hi)
	}
}

const (
	addToCart = "ItemsController.addToCart"
	getCart   = "ItemsController.getCart"
)

func TestRealPrometheus(t *testing.T) {
	svc := promservice.New()
	base := scraped(t, svc)
	job := base.Service + "-" + base.Project + "-" + base.Stage
	p := newProvider(t, Config{URL: testenv.PrometheusURL(t), Timeout: 10 * time.Second})

	custom := map[string]string{
		// Placeholders of every kind: they must resolve for data to come back.
		"throughput_per_minute": "sum(rate(http_requests_total{job='$SERVICE-$PROJECT-$STAGE',handler='$handler'}[$DURATION_SECONDS])) * $LABEL.factor",
		"p90_custom":            "histogram_quantile(0.9, sum by (le) (rate(http_response_time_milliseconds_bucket{job='$service-$project-$stage',handler='$handler'}[$DURATION_SECONDS])))",
		"no_data":               "sum(rate(http_requests_total{job='$SERVICE-$PROJECT-$STAGE',handler='nope'}[$DURATION_SECONDS]))",
		"no_data_means_zero":    "sum(rate(http_requests_total{job='$SERVICE-$PROJECT-$STAGE',handler='nope'}[$DURATION_SECONDS])) or vector(0)",
		"per_handler":           "sum by (handler) (rate(http_requests_total{job='$SERVICE-$PROJECT-$STAGE'}[$DURATION_SECONDS]))",
	}
	request := func(start, end time.Time, filters map[string]string) sli.Request {
		r := base
		r.Start, r.End = start, end
		r.Indicators = append(slices.Clone(Builtins), "throughput_per_minute", "p90_custom", "no_data", "no_data_means_zero", "per_handler")
		r.Queries = custom
		r.Filters = filters
		r.Labels = map[string]string{"factor": "60"}
		return r
	}
	onlyAddToCart := map[string]string{"handler": addToCart}

	// Phase 1: addToCart takes 1050 ms, getCart 4000 ms, no errors.
	start := svc.Set(map[string]promservice.Traffic{addToCart: {N: 10, LatencyMS: 1050}, getCart: {N: 10, LatencyMS: 4000}})
	end := promservice.WaitForWindow(t, job, start, 5)

	t.Run("slow phase, filtered to one handler", func(t *testing.T) {
		got, err := p.GetSLIs(context.Background(), request(start, end, onlyAddToCart))
		if err != nil {
			t.Fatal(err)
		}
		m := byName(t, got)
		// All observations fall in the bucket (1000, 1100]; linear
		// interpolation inside it puts p50 at 1050, p90 at 1090 and p95 at
		// 1095. The margin allows for rate() extrapolating buckets a
		// little differently; the bucket bounds are the hard limit.
		within(t, m, "response_time_p50", 1040, 1060)
		within(t, m, "response_time_p90", 1080, 1100)
		within(t, m, "response_time_p95", 1085, 1100)
		within(t, m, "p90_custom", 1080, 1100)
		// About 10 requests per 1 s scrape.
		within(t, m, "throughput", 5, 20)
		if a, b := m["throughput"].Value*60, m["throughput_per_minute"].Value; math.Abs(a-b) > 1e-6*math.Abs(a) {
			t.Errorf("throughput_per_minute = %v, want 60 × throughput = %v", b, a)
		}
		// No error series exists at all: 0 through "or vector(0)".
		if r := m["error_rate"]; !r.Success || r.Value != 0 {
			t.Errorf("error_rate = %+v, want success with 0", r)
		}
		if r := m["no_data"]; r.Success || !strings.Contains(r.Message, "no data") || !strings.Contains(r.Message, "handler='nope'") {
			t.Errorf("no_data = %+v, want a failure naming the query and the lack of data", r)
		}
		if r := m["no_data_means_zero"]; !r.Success || r.Value != 0 {
			t.Errorf("no_data_means_zero = %+v, want success with 0", r)
		}
		if r := m["per_handler"]; r.Success || !strings.Contains(r.Message, "2 series") || !strings.Contains(r.Message, addToCart) {
			t.Errorf("per_handler = %+v, want a several-series failure naming the series", r)
		}
	})

	t.Run("slow phase, both handlers", func(t *testing.T) {
		got, err := p.GetSLIs(context.Background(), request(start, end, nil))
		if err != nil {
			t.Fatal(err)
		}
		m := byName(t, got)
		// Half the requests take 4000 ms, in the bucket (2000, 5000]
		// which holds the upper half: p90 = 2000 + 3000 × 0.4/0.5 = 4400.
		within(t, m, "response_time_p90", 4300, 4500)
		within(t, m, "throughput", 10, 40)
	})

	// Phase 2: addToCart gets fast (300 ms) and one request in ten fails.
	start = svc.Set(map[string]promservice.Traffic{addToCart: {N: 10, Errors: 1, LatencyMS: 300}, getCart: {N: 10, LatencyMS: 4000}})
	end = promservice.WaitForWindow(t, job, start, 5)

	t.Run("fast phase with errors", func(t *testing.T) {
		got, err := p.GetSLIs(context.Background(), request(start, end, onlyAddToCart))
		if err != nil {
			t.Fatal(err)
		}
		m := byName(t, got)
		// 300 ms is in the bucket (250, 500]: p90 = 250 + 250 × 0.9 = 475.
		within(t, m, "response_time_p90", 465, 485)
		// 1 in 10 fails; rate extrapolation of the new 500 series blurs it.
		within(t, m, "error_rate", 0.03, 0.2)
	})

	t.Run("a window without traffic fails, it does not pass", func(t *testing.T) {
		r := request(start, end, map[string]string{"handler": "=~'nothing.*'"})
		r.Indicators = Builtins
		got, err := p.GetSLIs(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range got {
			if g.Success {
				t.Errorf("%s succeeded with %v although no series matches", g.Metric, g.Value)
			}
		}
	})
}

// BenchmarkPrometheusGetSLIs measures one get-sli step of the five built-in
// SLIs end to end against the real Prometheus, over a 30 s window of live
// data.
func BenchmarkPrometheusGetSLIs(b *testing.B) {
	svc := promservice.New()
	base := scraped(b, svc)
	job := base.Service + "-" + base.Project + "-" + base.Stage
	start := svc.Set(map[string]promservice.Traffic{addToCart: {N: 10, Errors: 1, LatencyMS: 300}})
	end := promservice.WaitForWindow(b, job, start, 3)
	p := newProvider(b, Config{URL: testenv.PrometheusURL(b)})
	r := base
	r.Start, r.End = start, end
	r.Indicators = Builtins
	r.Filters = map[string]string{"handler": addToCart}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		got, err := p.GetSLIs(ctx, r)
		if err != nil {
			b.Fatal(err)
		}
		for _, g := range got {
			if !g.Success {
				b.Fatalf("%s failed: %s", g.Metric, g.Message)
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "getslis/s")
}
