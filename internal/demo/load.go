package demo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"
)

// LoadConfig is the load generator's command line (`tend demo load`).
type LoadConfig struct {
	// Target is the carts service's base URL.
	Target string
	// Rate is the requests per second sent, whatever the answers' speed.
	Rate float64
	// Concurrency bounds the requests in flight.
	Concurrency int
	// Duration stops the load after this long; 0 runs until ctx ends.
	Duration time.Duration
	// Customers is how many distinct carts the load spreads over.
	Customers int
	// Progress is the interval of the progress lines; default 5s.
	Progress time.Duration
	// Client sends the requests; nil means one sized for Concurrency.
	Client *http.Client
}

// AddFlags registers the load generator's flags on fs.
func (c *LoadConfig) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.Target, "target", "http://"+DefaultListen, "base URL of the carts service")
	fs.Float64Var(&c.Rate, "rate", DefaultLoadRate, "requests per second, sent on schedule whatever the latency (open loop)")
	fs.IntVar(&c.Concurrency, "concurrency", 64, "most requests in flight; a request due while all are busy is skipped and counted")
	fs.DurationVar(&c.Duration, "duration", 0, "stop after this long; 0 runs until interrupted")
	fs.IntVar(&c.Customers, "customers", 50, "distinct customers (carts) the requests spread over")
	fs.DurationVar(&c.Progress, "progress", 5*time.Second, "interval of the progress lines on stderr")
}

// LoadStats count what a load run did.
type LoadStats struct {
	// Sent requests got an answer or failed; Errors of them failed or
	// answered other than 2xx; Skipped were due while Concurrency
	// requests were in flight.
	Sent, Errors, Skipped int64
}

// loadRecorder collects the outcomes of one progress interval and of the
// whole run.
type loadRecorder struct {
	mu        sync.Mutex
	latencies []time.Duration
	errors    int64
	skipped   int64
	lastErr   string
	total     LoadStats
}

func (r *loadRecorder) record(lat time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.latencies = append(r.latencies, lat)
	r.total.Sent++
	if err != nil {
		r.errors++
		r.total.Errors++
		r.lastErr = err.Error()
	}
}

func (r *loadRecorder) skip() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.skipped++
	r.total.Skipped++
}

// flush writes one progress line for the interval of length d and starts
// the next interval.
func (r *loadRecorder) flush(w io.Writer, d time.Duration) {
	r.mu.Lock()
	lats, errs, skipped, lastErr := r.latencies, r.errors, r.skipped, r.lastErr
	r.latencies, r.errors, r.skipped, r.lastErr = nil, 0, 0, ""
	r.mu.Unlock()
	slices.Sort(lats)
	line := fmt.Sprintf("load: %.1f req/s, p50 %s, p90 %s (client side), errors %d, skipped %d",
		float64(len(lats))/d.Seconds(), ms(percentile(lats, 0.5)), ms(percentile(lats, 0.9)), errs, skipped)
	if lastErr != "" {
		line += ", last error: " + lastErr
	}
	fmt.Fprintln(w, line)
}

// percentile is the nearest-rank percentile of sorted values; 0 without
// values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }

// RunLoad sends load to the carts service until ctx ends or c.Duration has
// passed, and writes a progress line to progress every c.Progress. Requests
// alternate at random between adding an item to a cart and reading a cart.
// The schedule is fixed (open loop): a slow service gets the same rate, as
// real users would give it, so its latency shows in its metrics.
func RunLoad(ctx context.Context, c LoadConfig, progress io.Writer) (LoadStats, error) {
	u, err := url.Parse(c.Target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return LoadStats{}, usagef("--target %q is not an absolute http(s) URL such as http://127.0.0.1:8081", c.Target)
	}
	if !(c.Rate > 0 && c.Rate <= 10000) {
		return LoadStats{}, usagef("--rate %v is out of range; want more than 0 and at most 10000 requests per second", c.Rate)
	}
	if c.Concurrency < 1 || c.Concurrency > 10000 {
		return LoadStats{}, usagef("--concurrency %d is out of range; want 1 to 10000", c.Concurrency)
	}
	if c.Duration < 0 {
		return LoadStats{}, usagef("--duration %s is negative; 0 runs until interrupted", c.Duration)
	}
	if c.Customers < 1 {
		c.Customers = 1
	}
	if c.Progress <= 0 {
		c.Progress = 5 * time.Second
	}
	client := c.Client
	if client == nil {
		client = &http.Client{
			Timeout:   30 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: c.Concurrency, MaxConnsPerHost: c.Concurrency},
		}
	}
	base := strings.TrimSuffix(u.String(), "/")

	schedule := ctx
	if c.Duration > 0 {
		var cancel context.CancelFunc
		schedule, cancel = context.WithTimeout(ctx, c.Duration)
		defer cancel()
	}
	fmt.Fprintf(progress, "load: sending %.1f requests/s to %s with up to %d in flight\n", c.Rate, base, c.Concurrency)

	rec := &loadRecorder{}
	slots := make(chan struct{}, c.Concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	interval := time.Duration(float64(time.Second) / c.Rate)
	lastFlush := start
	timer := time.NewTimer(0)
	defer timer.Stop()
	for i := 0; ; i++ {
		due := start.Add(time.Duration(i) * interval)
		if late := time.Since(due); late > time.Second {
			// The generator itself was held up (a stopped process, a
			// starved machine): resume the rate from now rather than
			// firing the missed requests in one burst.
			start = start.Add(late)
			due = due.Add(late)
		}
		timer.Reset(time.Until(due))
		select {
		case <-schedule.Done():
			wg.Wait()
			rec.flush(progress, max(time.Since(lastFlush), time.Millisecond))
			fmt.Fprintf(progress, "load: stopped after %s: %d requests, %d errors, %d skipped\n",
				time.Since(start).Round(time.Second), rec.total.Sent, rec.total.Errors, rec.total.Skipped)
			return rec.total, nil
		case <-timer.C:
		}
		if now := time.Now(); now.Sub(lastFlush) >= c.Progress {
			rec.flush(progress, now.Sub(lastFlush))
			lastFlush = now
		}
		select {
		case slots <- struct{}{}:
		default:
			rec.skip()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			t0 := time.Now()
			err := oneRequest(ctx, client, base, c.Customers)
			if ctx.Err() != nil {
				// Stopped: not the service's fault.
				return
			}
			rec.record(time.Since(t0), err)
		}()
	}
}

// oneRequest sends one add-to-cart or get-cart request and reads the
// answer; an answer other than 2xx is an error.
func oneRequest(ctx context.Context, client *http.Client, base string, customers int) error {
	cust := fmt.Sprintf("customer-%d", rand.IntN(customers))
	var req *http.Request
	var err error
	if rand.IntN(2) == 0 {
		body := fmt.Sprintf(`{"itemId":"item-%d","quantity":1,"unitPrice":%.2f}`, rand.IntN(10), 5+float64(rand.IntN(2000))/100)
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, base+"/carts/"+cust+"/items", bytes.NewReader([]byte(body)))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, base+"/carts/"+cust, nil)
	}
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s answered %s", req.Method, req.URL.Path, resp.Status)
	}
	return nil
}
