package demo

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunLoadAgainstTheService(t *testing.T) {
	svc, srv, _ := newTestService(t, Options{})
	var posts, gets atomic.Int64
	counting := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/items"):
			posts.Add(1)
		case r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/carts/"):
			gets.Add(1)
		default:
			t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
		}
		svc.Handler().ServeHTTP(w, r)
	})
	srv.Config.Handler = counting

	var progress syncBuffer
	stats, err := RunLoad(context.Background(), LoadConfig{
		Target: srv.URL, Rate: 200, Concurrency: 8, Duration: 500 * time.Millisecond, Customers: 3, Progress: 100 * time.Millisecond,
	}, &progress)
	if err != nil {
		t.Fatalf("RunLoad: %v", err)
	}
	if stats.Sent == 0 || stats.Errors != 0 {
		t.Errorf("stats %+v, want requests and no errors\n%s", stats, progress.String())
	}
	if posts.Load() == 0 || gets.Load() == 0 {
		t.Errorf("%d adds and %d gets, want both kinds", posts.Load(), gets.Load())
	}
	if posts.Load()+gets.Load() != stats.Sent {
		t.Errorf("service saw %d requests, stats say %d", posts.Load()+gets.Load(), stats.Sent)
	}
	out := progress.String()
	for _, want := range []string{"load: sending 200.0 requests/s to " + srv.URL, " req/s, p50 ", "errors 0", "load: stopped after"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress lacks %q:\n%s", want, out)
		}
	}
}

func TestRunLoadCountsErrorsAndSkips(t *testing.T) {
	release := make(chan struct{})
	var arrivals atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrivals.Add(1)
		<-release
		http.Error(w, "broken", http.StatusInternalServerError)
	}))
	defer srv.Close()
	var progress syncBuffer
	done := make(chan LoadStats, 1)
	go func() {
		st, _ := RunLoad(context.Background(), LoadConfig{Target: srv.URL, Rate: 100, Concurrency: 2, Duration: 300 * time.Millisecond, Progress: time.Hour}, &progress)
		done <- st
	}()
	// Both slots hang until release, so requests due meanwhile are
	// skipped; after it every request is answered with 500.
	waitFor(t, 10*time.Second, "two requests in flight", func() bool { return arrivals.Load() >= 2 })
	time.Sleep(100 * time.Millisecond)
	close(release)
	st := <-done
	if st.Skipped == 0 {
		t.Errorf("stats %+v, want skipped requests while both slots were busy", st)
	}
	if st.Sent < 2 || st.Errors != st.Sent {
		t.Errorf("stats %+v: every answered request was a 500, want all counted as errors", st)
	}
	if !strings.Contains(progress.String(), "answered 500 Internal Server Error") {
		t.Errorf("progress does not name the error:\n%s", progress.String())
	}
}

func TestRunLoadRefusesBadFlags(t *testing.T) {
	tests := []struct {
		name string
		c    LoadConfig
		want string
	}{
		{"no scheme", LoadConfig{Target: "127.0.0.1:8081", Rate: 1, Concurrency: 1}, "--target"},
		{"zero rate", LoadConfig{Target: "http://x", Rate: 0, Concurrency: 1}, "--rate 0"},
		{"no concurrency", LoadConfig{Target: "http://x", Rate: 1, Concurrency: 0}, "--concurrency 0"},
		{"negative duration", LoadConfig{Target: "http://x", Rate: 1, Concurrency: 1, Duration: -1}, "--duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := RunLoad(context.Background(), tt.c, &bytes.Buffer{})
			if _, ok := errors.AsType[*UsageError](err); !ok || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %v, want a usage error containing %q", err, tt.want)
			}
		})
	}
}
