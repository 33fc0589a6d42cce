package prometheus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/sli"
	"github.com/tendhq/tend/internal/slo"
	"github.com/tendhq/tend/internal/testenv"
)

// The tests in this file run against the real Prometheus of
// scripts/prometheus.sh; they skip without it (and fail under CI=true).

// bounds are the histogram's bucket upper bounds in milliseconds; 1000 and
// 1200 (the thresholds of Keptn's example SLO) are bracketed closely.
var bounds = []float64{100, 250, 500, 750, 1000, 1100, 1200, 1500, 2000, 5000}

// traffic is what the test service observes for one handler on every
// scrape: n requests, each taking latencyMS, of which errors answer 500.
type traffic struct {
	n, errors int
	latencyMS float64
}

// testService exports http_requests_total and the histogram
// http_response_time_milliseconds, both labelled handler and status, in
// Prometheus's text format. It observes synthetic requests itself, on
// every scrape, following the traffic the test set: counters then grow by
// a known amount per scrape, and a phase the test switches to shows up
// only in scrapes after the switch. Nothing sleeps.
type testService struct {
	mu      sync.Mutex
	traffic map[string]traffic // by handler
	series  map[[2]string]*series
}

type series struct {
	requests float64
	buckets  []float64 // cumulative, one per bound, then +Inf
	sum      float64
}

func newTestService() *testService {
	return &testService{traffic: map[string]traffic{}, series: map[[2]string]*series{}}
}

// set switches the traffic of the handlers given and returns when the
// switch happened: every scrape that starts later observes the new traffic.
func (s *testService) set(tr map[string]traffic) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.traffic = tr
	return time.Now()
}

// warmUp is how many 50 ms requests a series has seen before it is first
// exported. Counters of a long-running service are large; a bucket that is
// still 0 at the start of a short window makes rate() extrapolate that
// bucket less than the others (it never extrapolates below zero), which
// skews quantiles. Warm counters keep the extrapolation uniform; they do
// not change rates, which only see increases.
const warmUp = 100000

func (s *testService) observe(handler, status string, ms float64, n int) {
	k := [2]string{handler, status}
	se := s.series[k]
	if se == nil {
		se = &series{buckets: make([]float64, len(bounds)+1)}
		s.series[k] = se
		s.observe(handler, status, 50, warmUp)
	}
	se.requests += float64(n)
	se.sum += ms * float64(n)
	for i, b := range bounds {
		if ms <= b {
			se.buckets[i] += float64(n)
		}
	}
	se.buckets[len(bounds)] += float64(n)
}

func (s *testService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, tr := range s.traffic {
		if ok := tr.n - tr.errors; ok > 0 {
			s.observe(h, "200", tr.latencyMS, ok)
		}
		if tr.errors > 0 {
			s.observe(h, "500", tr.latencyMS, tr.errors)
		}
	}
	keys := make([][2]string, 0, len(s.series))
	for k := range s.series {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return strings.Compare(a[0]+a[1], b[0]+b[1]) })
	var b strings.Builder
	b.WriteString("# TYPE http_requests_total counter\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "http_requests_total{handler=%q,status=%q} %g\n", k[0], k[1], s.series[k].requests)
	}
	b.WriteString("# TYPE http_response_time_milliseconds histogram\n")
	for _, k := range keys {
		se := s.series[k]
		for i, c := range se.buckets {
			le := "+Inf"
			if i < len(bounds) {
				le = strconv.FormatFloat(bounds[i], 'g', -1, 64)
			}
			fmt.Fprintf(&b, "http_response_time_milliseconds_bucket{handler=%q,status=%q,le=%q} %g\n", k[0], k[1], le, c)
		}
		fmt.Fprintf(&b, "http_response_time_milliseconds_sum{handler=%q,status=%q} %g\n", k[0], k[1], se.sum)
		fmt.Fprintf(&b, "http_response_time_milliseconds_count{handler=%q,status=%q} %g\n", k[0], k[1], se.buckets[len(bounds)])
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	_, _ = w.Write([]byte(b.String()))
}

// scraped starts svc on 127.0.0.1 and has the test Prometheus scrape it as
// job <service>-<project>-<stage> with a project unique to the test. It
// returns the request template for that job.
func scraped(t testing.TB, svc *testService) sli.Request {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: svc, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	req := sli.Request{Project: "p" + hex.EncodeToString(b), Stage: "dev", Service: "carts"}
	testenv.PrometheusTarget(t, req.Service+"-"+req.Project+"-"+req.Stage, ln.Addr().String())
	return req
}

// waitForWindow polls Prometheus until every series of the job has at
// least n samples since start, and returns the time at which that held:
// the end of an evaluation window that starts at start. Only data
// readiness is polled; the values are asserted afterwards, once.
func waitForWindow(t testing.TB, job string, start time.Time, n int) time.Time {
	t.Helper()
	base := testenv.PrometheusURL(t)
	deadline := time.Now().Add(60 * time.Second)
	last := "no answer yet"
	for {
		end := time.Now()
		q := fmt.Sprintf("min(count_over_time(http_requests_total{job=%q}[%s]))", job, sli.DurationSeconds(start, end))
		v, err := instantValue(base, q, end)
		if err == nil && v >= float64(n) {
			return end
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("%v samples", v)
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus has not scraped %d samples of job %s since %s within 60s; last: %s", n, job, start.Format(time.RFC3339Nano), last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func instantValue(base, query string, at time.Time) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u := base + "/api/v1/query?" + url.Values{"query": {query}, "time": {strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64)}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	res, err := DecodeQuery(resp.StatusCode, body)
	return res.Value, err
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
	svc := newTestService()
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
	start := svc.set(map[string]traffic{addToCart: {n: 10, latencyMS: 1050}, getCart: {n: 10, latencyMS: 4000}})
	end := waitForWindow(t, job, start, 5)

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
	start = svc.set(map[string]traffic{addToCart: {n: 10, errors: 1, latencyMS: 300}, getCart: {n: 10, latencyMS: 4000}})
	end = waitForWindow(t, job, start, 5)

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
	svc := newTestService()
	base := scraped(b, svc)
	job := base.Service + "-" + base.Project + "-" + base.Stage
	start := svc.set(map[string]traffic{addToCart: {n: 10, errors: 1, latencyMS: 300}})
	end := waitForWindow(b, job, start, 3)
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
