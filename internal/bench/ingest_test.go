package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/event"
)

// fakeServer is a hand-written stand-in for POST and GET /api/v1/event. It
// checks every request, refuses every refuseEvery-th event with 503, and
// answers the count with what it stored plus extra.
type fakeServer struct {
	t           testing.TB
	refuseEvery int
	extra       int64

	mu       sync.Mutex
	n        int
	ids      map[string]bool
	contexts map[string]bool
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/v1/event" {
		f.t.Errorf("request to %s; want /api/v1/event", r.URL.Path)
		http.NotFound(w, r)
		return
	}
	if got := r.Header.Get("X-Token"); got != "secret" {
		f.t.Errorf("x-token %q; want the run's token", got)
	}
	switch r.Method {
	case http.MethodPost:
		body, _ := io.ReadAll(r.Body)
		ev, err := event.Parse(body)
		if err != nil {
			f.t.Errorf("the generator sent an invalid event: %v\n%s", err, body)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.n++
		if f.refuseEvery > 0 && f.n%f.refuseEvery == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"code":503,"message":"busy"}`)
			return
		}
		if f.ids[ev.ID] {
			f.t.Errorf("event id %s sent twice", ev.ID)
		}
		f.ids[ev.ID] = true
		f.contexts[ev.KeptnContext] = true
		fmt.Fprintf(w, `{"keptnContext":%q}`, ev.KeptnContext)
	case http.MethodGet:
		q := r.URL.Query()
		f.mu.Lock()
		defer f.mu.Unlock()
		if !f.contexts[q.Get("keptnContext")] || q.Get("project") != "bench" {
			f.t.Errorf("count asked for %s; want the run's keptn context and project", r.URL.RawQuery)
		}
		fmt.Fprintf(w, `{"events":[],"pageSize":1,"totalCount":%d}`, int64(len(f.ids))+f.extra)
	default:
		f.t.Errorf("method %s", r.Method)
	}
}

func TestIngest(t *testing.T) {
	tests := []struct {
		name         string
		opts         IngestOptions
		refuseEvery  int
		extra        int64
		wantAccepted int64
		wantErrors   int64
		wantVerified bool
	}{
		{name: "closed loop to a count", opts: IngestOptions{Count: 200, Concurrency: 4}, wantAccepted: 200, wantVerified: true},
		{name: "open loop to a count", opts: IngestOptions{Count: 100, Rate: 2000, Concurrency: 4}, wantAccepted: 100, wantVerified: true},
		{name: "refused events are errors", opts: IngestOptions{Count: 100, Concurrency: 1}, refuseEvery: 10, wantAccepted: 90, wantErrors: 10, wantVerified: true},
		{name: "a log with a missing event fails", opts: IngestOptions{Count: 50, Concurrency: 2}, extra: -1, wantAccepted: 50, wantVerified: false},
		{name: "a log with an unexplained event fails", opts: IngestOptions{Count: 50, Concurrency: 2}, extra: 1, wantAccepted: 50, wantVerified: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeServer{t: t, refuseEvery: tt.refuseEvery, extra: tt.extra, ids: map[string]bool{}, contexts: map[string]bool{}}
			srv := httptest.NewServer(fake)
			defer srv.Close()
			opts := tt.opts
			opts.Endpoint, opts.Token, opts.Verify = srv.URL, "secret", true
			res, err := Ingest(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.Accepted != tt.wantAccepted || res.Errors != tt.wantErrors {
				t.Errorf("accepted %d, errors %d; want %d and %d", res.Accepted, res.Errors, tt.wantAccepted, tt.wantErrors)
			}
			if tt.wantErrors > 0 && (len(res.ErrorSamples) != 1 || !strings.Contains(res.ErrorSamples[0], "status 503")) {
				t.Errorf("error samples %q; want the one distinct 503 answer", res.ErrorSamples)
			}
			if got := res.Verified(); got != tt.wantVerified {
				t.Errorf("Verified() = %v with %d stored; want %v", got, res.Stored, tt.wantVerified)
			}
			if res.P50 <= 0 || res.P99 < res.P50 || res.Max < res.P99 {
				t.Errorf("latencies p50 %s, p99 %s, max %s are not ordered", res.P50, res.P99, res.Max)
			}
		})
	}
}

func TestIngestDurationEndsRun(t *testing.T) {
	fake := &fakeServer{t: t, ids: map[string]bool{}, contexts: map[string]bool{}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	var progress strings.Builder
	res, err := Ingest(context.Background(), IngestOptions{Endpoint: srv.URL, Token: "secret", Duration: 1100 * time.Millisecond, Concurrency: 2, Rate: 200, Progress: &progress, Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted == 0 || !res.Verified() {
		t.Errorf("accepted %d, stored %d; want events, all stored", res.Accepted, res.Stored)
	}
	if !strings.Contains(progress.String(), "events/s") {
		t.Errorf("no progress line in %q", progress.String())
	}
}

func TestIngestRefusesBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts IngestOptions
		want string
	}{
		{"no limit", IngestOptions{Endpoint: "http://127.0.0.1:1"}, "give a duration or a count"},
		{"negative rate", IngestOptions{Endpoint: "http://127.0.0.1:1", Count: 1, Rate: -1}, "rate -1 is negative"},
		{"not a URL", IngestOptions{Endpoint: "127.0.0.1:8080", Count: 1}, "is not a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Ingest(context.Background(), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v; want one saying %q", err, tt.want)
			}
		})
	}
}

func TestAppendEventIsAValidEvent(t *testing.T) {
	r := &run{opts: IngestOptions{Project: "sockshop"}, kctx: newUUID(), prefix: newRunID()}
	b := r.appendEvent(nil, 42)
	ev, err := event.Parse(b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	c, _ := ev.Common()
	if ev.ID != r.prefix+"-42" || ev.KeptnContext != r.kctx || c.Project != "sockshop" || c.Stage != "production" || c.Service != "carts" {
		t.Errorf("event id %q, context %q, data %+v; want the run's id and context and project sockshop", ev.ID, ev.KeptnContext, c)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
}

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 0.99, 0},
		{"one value", ms(7), 0.5, 7 * time.Millisecond},
		{"median of 1..100", ms(hundred...), 0.5, 50 * time.Millisecond},
		{"p99 of 1..100", ms(hundred...), 0.99, 99 * time.Millisecond},
		{"p90 of ten", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.9, 9 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(%v) = %s; want %s", tt.p, got, tt.want)
			}
		})
	}
}

func TestHistogramQuantile(t *testing.T) {
	var h histogram
	before := h.snapshot()
	for range 98 {
		h.record(time.Millisecond)
	}
	h.record(20 * time.Millisecond)
	h.record(time.Hour) // beyond the last bucket: counted there
	now := h.snapshot()
	tests := []struct {
		q        float64
		low, top time.Duration
	}{
		{0.5, time.Millisecond, 1080 * time.Microsecond},
		{0.99, 20 * time.Millisecond, 21600 * time.Microsecond},
		{1, 10 * time.Second, 11 * time.Second},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.q), func(t *testing.T) {
			// A bucket's upper bound is at most 8% above the value.
			if got := quantile(&now, &before, tt.q); got < tt.low || got > tt.top {
				t.Errorf("quantile %v = %s; want between %s and %s", tt.q, got, tt.low, tt.top)
			}
		})
	}
	if got := quantile(&now, &now, 0.99); got != 0 {
		t.Errorf("quantile of no new counts = %s; want 0", got)
	}
}
