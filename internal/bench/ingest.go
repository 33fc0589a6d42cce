// Package bench is tend's load generator: it measures how many events a tend
// server takes through its HTTP API, and how fast it answers, with every
// answer counted only once the server says the event is durable. `tend bench
// ingest` and the Go benchmarks use it; the numbers go into
// docs/PERFORMANCE.md.
//
// The generator speaks plain HTTP/1.1 with keep-alive (one connection per
// concurrent client) and keeps its own cost per request small, since on a
// small machine it shares the CPUs with the server it measures.
package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// IngestOptions configure one ingestion run. Endpoint and Token are
// required, and Duration or Count.
type IngestOptions struct {
	// Endpoint is the server's base URL, e.g. http://127.0.0.1:8080.
	Endpoint string
	// Token is an API token with write scope on Project.
	Token string
	// Project is the data.project of every event; it need not exist.
	// Empty means "bench".
	Project string
	// Concurrency is the number of clients, each with its own connection;
	// 0 means 16.
	Concurrency int
	// Duration ends the run after this long; 0 means no time limit.
	Duration time.Duration
	// Count ends the run after this many requests; 0 means no count limit.
	Count int64
	// Rate, when above 0, sends events at this fixed rate (events per
	// second, open loop) instead of as fast as the server answers (closed
	// loop). Latency is then measured from when each event was due, so a
	// server that falls behind shows it in the latency.
	Rate float64
	// Progress receives one line per second while the run lasts; nil
	// prints nothing.
	Progress io.Writer
	// Verify counts the run's events in the server's log afterwards and
	// sets IngestResult.Stored.
	Verify bool
	// Transport replaces the HTTP transport, for tests; nil means one
	// tuned for the run.
	Transport http.RoundTripper
}

// IngestResult is what one run measured.
type IngestResult struct {
	// KeptnContext is the context every event of the run was sent with;
	// the server's log can be filtered by it.
	KeptnContext string `json:"keptnContext"`
	// Concurrency and Rate repeat the options (Rate 0 is closed loop).
	Concurrency int     `json:"concurrency"`
	Rate        float64 `json:"rate,omitempty"`
	// Accepted is the number of events the server answered with 200.
	Accepted int64 `json:"accepted"`
	// Errors counts every other answer and every failed request.
	Errors int64 `json:"errors"`
	// ErrorSamples holds the first distinct error messages.
	ErrorSamples []string `json:"errorSamples,omitempty"`
	// Elapsed is the time from the first request to the last answer.
	Elapsed time.Duration `json:"elapsedNanos"`
	// EventsPerSecond is Accepted divided by Elapsed.
	EventsPerSecond float64 `json:"eventsPerSecond"`
	// Latency of accepted events.
	P50 time.Duration `json:"p50Nanos"`
	P90 time.Duration `json:"p90Nanos"`
	P99 time.Duration `json:"p99Nanos"`
	Max time.Duration `json:"maxNanos"`
	// Stored is the number of the run's events in the server's log, when
	// Verify was set; -1 otherwise.
	Stored int64 `json:"stored"`
	// CPU is the CPU time this process used during the run: the load
	// generator's, plus the server's when it runs in this process. On a
	// shared machine, events per CPU second varies far less than events
	// per second. 0 when the system does not say.
	CPU time.Duration `json:"cpuNanos"`
	// EventsPerCPUSecond is Accepted divided by CPU.
	EventsPerCPUSecond float64 `json:"eventsPerCPUSecond,omitempty"`
}

// maxErrorSamples bounds IngestResult.ErrorSamples.
const maxErrorSamples = 5

// Ingest sends structured CloudEvents to POST /api/v1/event until the
// duration or count is reached or ctx ends, and reports what it measured.
// Only a canceled ctx or unusable options make it fail; failed requests are
// counted in the result.
func Ingest(ctx context.Context, opts IngestOptions) (*IngestResult, error) {
	if opts.Project == "" {
		opts.Project = "bench"
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 16
	}
	switch {
	case opts.Duration <= 0 && opts.Count <= 0:
		return nil, errors.New("bench ingest: give a duration or a count of events")
	case opts.Rate < 0:
		return nil, fmt.Errorf("bench ingest: rate %g is negative: give events per second, or 0 for as fast as possible", opts.Rate)
	}
	u, err := url.Parse(strings.TrimRight(opts.Endpoint, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("bench ingest: endpoint %q is not a URL like http://127.0.0.1:8080", opts.Endpoint)
	}
	target := u.JoinPath("api", "v1", "event").String()

	tr := opts.Transport
	if tr == nil {
		t := newTransport(opts.Concurrency)
		defer t.CloseIdleConnections()
		tr = t
	}
	hc := &http.Client{Transport: tr, Timeout: time.Minute}

	r := &run{
		opts:   opts,
		hc:     hc,
		target: target,
		kctx:   newUUID(),
		prefix: newRunID(),
		ctype:  "application/cloudevents+json",
		unit:   "events",
	}
	r.build = r.appendEvent
	r.authKey, r.authVal = "X-Token", opts.Token
	return r.do(ctx)
}

// newTransport returns a transport with a keep-alive connection for each of
// concurrency clients.
func newTransport(concurrency int) *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        concurrency * 2,
		MaxIdleConnsPerHost: concurrency * 2,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
}

// run is the state of one Ingest or Intake call.
type run struct {
	opts   IngestOptions
	hc     *http.Client
	target string
	kctx   string
	prefix string

	// build appends request n's body; ctype is its content type and
	// authKey: authVal the credential header (none when authVal is "").
	build            func(b []byte, n int64) []byte
	ctype            string
	unit             string // what a request is called in the progress line
	authKey, authVal string
	// done, when set, learns each request's end: accepted or not.
	done func(n int64, accepted bool)

	issued   atomic.Int64 // requests started (closed loop) or scheduled (open loop)
	accepted atomic.Int64
	errs     atomic.Int64

	hist histogram

	mu      sync.Mutex
	samples []string
}

// ticket is one event due at a time (open loop).
type ticket struct {
	n   int64
	due time.Time
}

func (r *run) do(ctx context.Context) (*IngestResult, error) {
	// issue ends when no more requests may start; requests already sent
	// run to their answer (under ctx only), so that every event the
	// server stored was either accepted or counted as an error.
	issue := ctx
	cpu0 := processCPU()
	start := time.Now()
	if r.opts.Duration > 0 {
		var stop context.CancelFunc
		issue, stop = context.WithDeadline(ctx, start.Add(r.opts.Duration))
		defer stop()
	}

	stopProgress := r.progress(start)
	lat := make([][]time.Duration, r.opts.Concurrency)
	var wg sync.WaitGroup
	var tickets chan ticket
	if r.opts.Rate > 0 {
		tickets = make(chan ticket, max(int(r.opts.Rate), 1024))
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(tickets)
			r.pace(issue, start, tickets)
		}()
	}
	for w := range r.opts.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if tickets != nil {
				lat[w] = r.openWorker(ctx, tickets)
			} else {
				lat[w] = r.closedWorker(issue, ctx)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := processCPU() - cpu0
	stopProgress()

	all := slices.Concat(lat...)
	slices.Sort(all)
	res := &IngestResult{
		KeptnContext: r.kctx,
		Concurrency:  r.opts.Concurrency,
		Rate:         r.opts.Rate,
		Accepted:     r.accepted.Load(),
		Errors:       r.errs.Load(),
		ErrorSamples: r.samples,
		Elapsed:      elapsed,
		P50:          percentile(all, 0.50),
		P90:          percentile(all, 0.90),
		P99:          percentile(all, 0.99),
		Stored:       -1,
	}
	if len(all) > 0 {
		res.Max = all[len(all)-1]
	}
	if elapsed > 0 {
		res.EventsPerSecond = float64(res.Accepted) / elapsed.Seconds()
	}
	if cpu > 0 {
		res.CPU = cpu
		res.EventsPerCPUSecond = float64(res.Accepted) / cpu.Seconds()
	}
	if err := ctx.Err(); err != nil {
		// Requests cut off mid-way may or may not be stored: the log
		// cannot be checked against the count.
		return res, fmt.Errorf("bench ingest: interrupted: %w", err)
	}
	if r.opts.Verify {
		vctx, vcancel := context.WithTimeout(ctx, 5*time.Minute)
		defer vcancel()
		n, err := r.count(vctx)
		if err != nil {
			return res, fmt.Errorf("bench ingest: verify the event log: %w", err)
		}
		res.Stored = n
	}
	return res, nil
}

// Verified reports whether the server's log holds exactly the events the
// run saw accepted. A request that failed without an answer (a timeout, a
// cut connection) may still have been stored, so each error allows one
// event more; an accepted event missing from the log is never allowed.
func (res *IngestResult) Verified() bool {
	return res.Stored >= res.Accepted && res.Stored <= res.Accepted+res.Errors
}

// percentile returns the value below which the fraction p of the sorted
// values lie (nearest rank).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// take claims the next request number, or false when the count is reached.
func (r *run) take() (int64, bool) {
	n := r.issued.Add(1)
	if r.opts.Count > 0 && n > r.opts.Count {
		return 0, false
	}
	return n, true
}

func (r *run) closedWorker(issue, ctx context.Context) []time.Duration {
	lat := make([]time.Duration, 0, 4096)
	body := make([]byte, 0, 1024)
	for issue.Err() == nil {
		n, ok := r.take()
		if !ok {
			break
		}
		t0 := time.Now()
		body = r.build(body[:0], n)
		ok = r.send(ctx, body)
		if ok {
			d := time.Since(t0)
			lat = append(lat, d)
			r.hist.record(d)
		}
		if r.done != nil {
			r.done(n, ok)
		}
	}
	return lat
}

func (r *run) openWorker(ctx context.Context, tickets <-chan ticket) []time.Duration {
	lat := make([]time.Duration, 0, 4096)
	body := make([]byte, 0, 1024)
	for t := range tickets {
		if ctx.Err() != nil {
			continue // drain
		}
		body = r.build(body[:0], t.n)
		ok := r.send(ctx, body)
		if ok {
			d := time.Since(t.due)
			lat = append(lat, d)
			r.hist.record(d)
		}
		if r.done != nil {
			r.done(t.n, ok)
		}
	}
	return lat
}

// pace schedules one ticket every 1/Rate seconds from start. When it wakes
// late it issues every ticket that fell due meanwhile, each with its own due
// time, so the schedule never drifts.
func (r *run) pace(ctx context.Context, start time.Time, tickets chan<- ticket) {
	interval := time.Duration(float64(time.Second) / r.opts.Rate)
	for i := int64(0); ; i++ {
		due := start.Add(time.Duration(i) * interval)
		if wait := time.Until(due); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		n, ok := r.take()
		if !ok {
			return
		}
		select {
		case tickets <- ticket{n: n, due: due}:
		case <-ctx.Done():
			return
		}
	}
}

// send posts one event and reports whether the server accepted it.
func (r *run) send(ctx context.Context, body []byte) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.target, bytes.NewReader(body))
	if err != nil {
		r.fail(err.Error())
		return false
	}
	req.Header["Content-Type"] = []string{r.ctype}
	if r.authVal != "" {
		req.Header[r.authKey] = []string{r.authVal}
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			// Cut off by the end of the run: neither accepted nor an
			// error of the server.
			return false
		}
		r.fail(err.Error())
		return false
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		r.fail(fmt.Sprintf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(msg))))
		return false
	}
	r.accepted.Add(1)
	return true
}

func (r *run) fail(msg string) {
	r.errs.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.samples) < maxErrorSamples && !slices.Contains(r.samples, msg) {
		r.samples = append(r.samples, msg)
	}
}

// appendEvent appends event n of the run: an evaluation.finished event
// shaped as Keptn's quality gates send it, about 600 bytes, with an id
// unique to the run so the server's deduplication by (source, id) never
// drops one.
func (r *run) appendEvent(b []byte, n int64) []byte {
	b = append(b, `{"specversion":"1.0","id":"`...)
	b = append(b, r.prefix...)
	b = append(b, '-')
	b = strconv.AppendInt(b, n, 10)
	b = append(b, `","source":"tend-bench","type":"sh.keptn.event.evaluation.finished","time":"`...)
	b = time.Now().UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","datacontenttype":"application/json","shkeptncontext":"`...)
	b = append(b, r.kctx...)
	b = append(b, `","triggeredid":"`...)
	b = append(b, r.prefix...)
	b = append(b, `-t","data":{"project":"`...)
	b = append(b, r.opts.Project...)
	b = append(b, `","stage":"production","service":"carts","labels":{"buildId":"bench"},"status":"succeeded","result":"pass",`+
		`"message":"","evaluation":{"start":"2024-05-01T10:00:00Z","end":"2024-05-01T10:10:00Z","result":"pass","score":100,`+
		`"sloFileContent":"","indicatorResults":[{"score":1,"status":"pass","value":{"metric":"response_time_p90","value":820.5,`+
		`"success":true},"passTargets":[{"criteria":"<1000","targetValue":1000,"violated":false}],"keySli":false}]}}}`...)
	return b
}

// count asks the server how many events of the run's keptn context it has.
func (r *run) count(ctx context.Context) (int64, error) {
	u, err := url.Parse(r.target)
	if err != nil {
		return 0, err
	}
	u.RawQuery = url.Values{"keptnContext": {r.kctx}, "project": {r.opts.Project}, "pageSize": {"1"}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("X-Token", r.opts.Token)
	resp, err := r.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: status %d: %s", req.URL.Path, resp.StatusCode, strings.TrimSpace(string(data)))
	}
	var page struct {
		TotalCount *int64 `json:"totalCount"`
	}
	if err := json.Unmarshal(data, &page); err != nil || page.TotalCount == nil {
		return 0, fmt.Errorf("GET %s: the answer has no totalCount: %s", req.URL.Path, data)
	}
	return *page.TotalCount, nil
}

// progress prints a line per second until the returned function is called.
func (r *run) progress(start time.Time) (stop func()) {
	if r.opts.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		var last int64
		var lastHist [histBuckets]int64
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				n := r.accepted.Load()
				h := r.hist.snapshot()
				el := now.Sub(start)
				fmt.Fprintf(r.opts.Progress, "%6.1fs %9d %s %7.0f %s/s | last second: %6d %s, p99 %7.1f ms | errors %d\n",
					el.Seconds(), n, r.unit, float64(n)/el.Seconds(), r.unit, n-last, r.unit,
					float64(quantile(&h, &lastHist, 0.99).Microseconds())/1000, r.errs.Load())
				last, lastHist = n, h
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// newUUID returns a random (version 4) UUID for the run's keptn context.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// newRunID returns a short random prefix for the run's event ids.
func newRunID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "bench-" + hex.EncodeToString(b[:])
}
