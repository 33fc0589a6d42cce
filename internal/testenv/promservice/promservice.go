// Package promservice is a test HTTP service for integration tests against
// the real Prometheus of scripts/prometheus.sh: it exports the counter
// http_requests_total and the histogram http_response_time_milliseconds
// (labels handler and status), the metrics of Keptn's example services that
// tend's built-in SLIs query, with traffic and latency the test controls.
//
// The service observes synthetic requests itself, on every scrape, following
// the traffic the test set, so counters grow by a known amount per scrape
// and a phase the test switches to shows up only in scrapes after the
// switch. Nothing sleeps.
package promservice

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/testenv"
)

// Bounds are the histogram's bucket upper bounds in milliseconds; 1000 and
// 1200 (the thresholds of Keptn's example SLO) are bracketed closely.
var Bounds = []float64{100, 250, 500, 750, 1000, 1100, 1200, 1500, 2000, 5000}

// Traffic is what the service observes for one handler on every scrape: N
// requests, each taking LatencyMS, of which Errors answer 500.
type Traffic struct {
	N, Errors int
	LatencyMS float64
}

// Service is the test service; it is an http.Handler serving the metrics.
type Service struct {
	mu      sync.Mutex
	traffic map[string]Traffic // by handler
	series  map[[2]string]*series
}

type series struct {
	requests float64
	buckets  []float64 // cumulative, one per bound, then +Inf
	sum      float64
}

// New returns a service without traffic.
func New() *Service {
	return &Service{traffic: map[string]Traffic{}, series: map[[2]string]*series{}}
}

// Set switches the traffic of the handlers given and returns when the
// switch happened: every scrape that starts later observes the new traffic.
func (s *Service) Set(tr map[string]Traffic) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.traffic = tr
	return time.Now()
}

// warmUp is how many 50 ms requests a series has seen before it is first
// exported. A bucket still at 0 at the start of a short window makes rate()
// extrapolate it less than the others (it never extrapolates below zero),
// which skews quantiles; warm counters, as in a long-running service, keep
// the extrapolation uniform and do not change rates.
const warmUp = 100000

func (s *Service) observe(handler, status string, ms float64, n int) {
	k := [2]string{handler, status}
	se := s.series[k]
	if se == nil {
		se = &series{buckets: make([]float64, len(Bounds)+1)}
		s.series[k] = se
		s.observe(handler, status, 50, warmUp)
	}
	se.requests += float64(n)
	se.sum += ms * float64(n)
	for i, b := range Bounds {
		if ms <= b {
			se.buckets[i] += float64(n)
		}
	}
	se.buckets[len(Bounds)] += float64(n)
}

// ServeHTTP observes one scrape's traffic and writes the metrics in
// Prometheus's text format.
func (s *Service) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, tr := range s.traffic {
		if ok := tr.N - tr.Errors; ok > 0 {
			s.observe(h, "200", tr.LatencyMS, ok)
		}
		if tr.Errors > 0 {
			s.observe(h, "500", tr.LatencyMS, tr.Errors)
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
			if i < len(Bounds) {
				le = strconv.FormatFloat(Bounds[i], 'g', -1, 64)
			}
			fmt.Fprintf(&b, "http_response_time_milliseconds_bucket{handler=%q,status=%q,le=%q} %g\n", k[0], k[1], le, c)
		}
		fmt.Fprintf(&b, "http_response_time_milliseconds_sum{handler=%q,status=%q} %g\n", k[0], k[1], se.sum)
		fmt.Fprintf(&b, "http_response_time_milliseconds_count{handler=%q,status=%q} %g\n", k[0], k[1], se.buckets[len(Bounds)])
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	_, _ = w.Write([]byte(b.String()))
}

// Scrape serves svc on 127.0.0.1 at a port chosen now and has the test
// Prometheus scrape it as job (Keptn's built-ins expect
// <service>-<project>-<stage>); it returns once the target is up. The test
// is skipped without the test Prometheus.
func Scrape(t testing.TB, svc *Service, job string) {
	t.Helper()
	testenv.PrometheusURL(t) // skip early without Prometheus
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: svc, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	testenv.PrometheusTarget(t, job, ln.Addr().String())
}

// WaitForWindow polls Prometheus until every series of job has at least n
// samples since start, and returns the time at which that held: the end of
// an evaluation window that starts at start. Only data readiness is polled.
func WaitForWindow(t testing.TB, job string, start time.Time, n int) time.Time {
	t.Helper()
	base := testenv.PrometheusURL(t)
	deadline := time.Now().Add(60 * time.Second)
	last := "no answer yet"
	for {
		end := time.Now()
		secs := int64(end.Sub(start)/time.Second) + 1
		q := fmt.Sprintf("min(count_over_time(http_requests_total{job=%q}[%ds]))", job, secs)
		v, err := instant(base, q, end)
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

// instant runs one instant query and returns its single sample's value.
func instant(base, query string, at time.Time) (float64, error) {
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
	var answer struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &answer) != nil || len(answer.Data.Result) != 1 {
		return 0, fmt.Errorf("query %s: status %d: %.200s", query, resp.StatusCode, body)
	}
	v, _ := answer.Data.Result[0].Value[1].(string)
	return strconv.ParseFloat(v, 64)
}
