// Package httpcheck is tend's built-in test executor: it checks a deployed
// service over HTTP. A functional check sends a few requests to each path
// and wants the expected status from each; a performance check sends
// requests at a fixed rate for a duration and measures their latency. It
// implements the Checker that internal/deliverer declares; the composition
// root hands it the HTTP client of the outbound policy, so a test reaches
// only what tend may connect to.
package httpcheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tendhq/tend/internal/delivery"
)

// maxProblems bounds the failures a report describes.
const maxProblems = 5

// maxBody is how much of an answer is read (and thrown away), so a
// connection can be reused without a large body holding the test up.
const maxBody = 64 << 10

// Checker runs checks with an HTTP client.
type Checker struct {
	client *http.Client
	now    func() time.Time
}

// New returns a Checker on client (nil: http.DefaultClient). Redirects are
// not followed: the status the service answers is what is checked.
func New(client *http.Client) *Checker {
	if client == nil {
		client = http.DefaultClient
	}
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Checker{client: &c, now: time.Now}
}

// Check runs req. It returns an error only when the check cannot run (a URL
// that is not http(s), a kind it does not know); failing requests are
// counted and described in the report.
func (c *Checker) Check(ctx context.Context, req delivery.CheckRequest) (delivery.CheckReport, error) {
	targets, err := Targets(req.URL, req.Paths)
	if err != nil {
		return delivery.CheckReport{}, err
	}
	timeout := req.RequestTimeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	r := &run{c: c, expected: req.ExpectedStatus, timeout: timeout}
	start := c.now()
	switch req.Kind {
	case delivery.Functional:
		n := max(req.Requests, 1)
		for _, u := range targets {
			for range n {
				if ctx.Err() != nil {
					return delivery.CheckReport{}, context.Cause(ctx)
				}
				r.one(ctx, u)
			}
		}
	case delivery.Performance:
		if err := r.load(ctx, targets, req.Rate, req.Duration); err != nil {
			return delivery.CheckReport{}, err
		}
	default:
		return delivery.CheckReport{}, fmt.Errorf("httpcheck: unknown check kind %q", req.Kind)
	}
	end := c.now()
	if !end.After(start) {
		end = start.Add(time.Millisecond) // a window must have a length
	}
	return r.report(start, end), nil
}

// Targets joins a base URL and paths into the URLs to request. The base
// must be an http(s) URL with a host; paths are appended to its path.
func Targets(base string, paths []string) ([]string, error) {
	u, err := url.Parse(strings.TrimSpace(base))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("httpcheck: %q is not an http(s) URL with a host", base)
	}
	if u.User != nil {
		return nil, fmt.Errorf("httpcheck: %s carries credentials", u.Redacted())
	}
	if len(paths) == 0 {
		paths = []string{"/"}
	}
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		ref, err := url.Parse(p)
		if err != nil || ref.Scheme != "" || ref.Host != "" || !strings.HasPrefix(p, "/") {
			return nil, fmt.Errorf("httpcheck: path %q is not an absolute path", p)
		}
		t := *u
		t.Path = strings.TrimSuffix(u.Path, "/") + ref.Path
		t.RawPath = ""
		t.RawQuery = ref.RawQuery
		t.Fragment = ""
		out = append(out, t.String())
	}
	return out, nil
}

// run collects the outcomes of one check.
type run struct {
	c        *Checker
	expected int
	timeout  time.Duration

	mu        sync.Mutex
	latencies []time.Duration
	failures  int
	problems  []string
}

// one sends one request and records its outcome.
func (r *run) one(ctx context.Context, target string) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	start := time.Now()
	status, err := r.get(ctx, target)
	took := time.Since(start)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.latencies = append(r.latencies, took)
	var problem string
	switch {
	case err != nil:
		problem = fmt.Sprintf("GET %s: %v", redact(target), err)
	case r.expected != 0 && status != r.expected:
		problem = fmt.Sprintf("GET %s answered %d, want %d", redact(target), status, r.expected)
	case r.expected == 0 && (status < 200 || status > 299):
		problem = fmt.Sprintf("GET %s answered %d, want 2xx", redact(target), status)
	}
	if problem != "" {
		r.failures++
		if len(r.problems) < maxProblems {
			r.problems = append(r.problems, problem)
		}
	}
}

func (r *run) get(ctx context.Context, target string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("User-Agent", "tend-test")
	resp, err := r.c.client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the URL is in the message already
		}
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// load sends rate requests per second, spread over the targets in turn,
// for d. Each request runs on its own goroutine, so a slow answer does not
// lower the rate; at most rate*timeout requests are outstanding.
func (r *run) load(ctx context.Context, targets []string, rate int, d time.Duration) error {
	if rate <= 0 || d <= 0 {
		return fmt.Errorf("httpcheck: a performance check needs a rate and a duration")
	}
	total := int(d.Seconds() * float64(rate))
	total = max(total, 1)
	interval := time.Second / time.Duration(rate)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := 0; i < total; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return context.Cause(ctx)
			case <-tick.C:
			}
		}
		target := targets[i%len(targets)]
		wg.Go(func() { r.one(ctx, target) })
	}
	return nil
}

// report sums the run up.
func (r *run) report(start, end time.Time) delivery.CheckReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	lat := slices.Clone(r.latencies)
	slices.Sort(lat)
	return delivery.CheckReport{Start: start, End: end, Requests: len(lat), Failures: r.failures,
		P90: Percentile(lat, 90), P95: Percentile(lat, 95), Problems: slices.Clone(r.problems)}
}

// Percentile returns the p-th percentile (nearest rank) of sorted
// latencies; 0 for none.
func Percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 * n)
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// redact drops a query string, which may carry tokens, from a URL in a
// message.
func redact(target string) string {
	if i := strings.IndexByte(target, '?'); i >= 0 {
		return target[:i] + "?..."
	}
	return target
}
