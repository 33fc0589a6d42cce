package httpcheck

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/delivery"
)

// service is an httptest server that answers status per path and counts
// the requests it saw.
type service struct {
	*httptest.Server
	mu   sync.Mutex
	seen map[string]int
}

func newService(t *testing.T, status map[string]int) *service {
	t.Helper()
	s := &service{seen: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.Header.Get("User-Agent") != "tend-test" {
			t.Errorf("request %s with agent %q", r.Method, r.Header.Get("User-Agent"))
		}
		s.mu.Lock()
		s.seen[r.URL.RequestURI()]++
		s.mu.Unlock()
		code, ok := status[r.URL.Path]
		if !ok {
			code = http.StatusNotFound
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(s.Close)
	return s
}

func TestFunctional(t *testing.T) {
	for _, tc := range []struct {
		name         string
		paths        []string
		expected     int
		wantFailures int
		wantProblem  string
	}{
		{name: "every path answers 2xx", paths: []string{"/", "/health"}},
		{name: "expected status", paths: []string{"/created"}, expected: 201},
		{name: "a path answers 500", paths: []string{"/", "/broken"}, wantFailures: 2, wantProblem: "/broken answered 500, want 2xx"},
		{name: "a path answers another status than expected", paths: []string{"/"}, expected: 201, wantFailures: 2, wantProblem: "answered 200, want 201"},
		{name: "a redirect is not followed", paths: []string{"/moved"}, wantFailures: 2, wantProblem: "answered 302"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := newService(t, map[string]int{"/": 200, "/health": 204, "/created": 201, "/broken": 500, "/moved": 302})
			r, err := New(nil).Check(context.Background(), delivery.CheckRequest{Kind: delivery.Functional, URL: svc.URL,
				Paths: tc.paths, Requests: 2, ExpectedStatus: tc.expected})
			if err != nil {
				t.Fatal(err)
			}
			if r.Requests != 2*len(tc.paths) || r.Failures != tc.wantFailures {
				t.Errorf("requests %d failures %d, want %d and %d (%v)", r.Requests, r.Failures, 2*len(tc.paths), tc.wantFailures, r.Problems)
			}
			if tc.wantProblem != "" && (len(r.Problems) == 0 || !strings.Contains(r.Problems[0], tc.wantProblem)) {
				t.Errorf("problems %v, want one with %q", r.Problems, tc.wantProblem)
			}
			if !r.End.After(r.Start) || r.P95 < r.P90 {
				t.Errorf("window %s..%s, p90 %s p95 %s", r.Start, r.End, r.P90, r.P95)
			}
			for _, p := range tc.paths {
				if svc.seen[p] != 2 {
					t.Errorf("%s requested %d times, want 2", p, svc.seen[p])
				}
			}
		})
	}
}

func TestUnreachable(t *testing.T) {
	svc := newService(t, nil)
	url := svc.URL
	svc.Close()
	r, err := New(nil).Check(context.Background(), delivery.CheckRequest{Kind: delivery.Functional, URL: url, Paths: []string{"/"}, Requests: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Failures != 1 || len(r.Problems) != 1 || !strings.Contains(r.Problems[0], "GET "+url+"/") {
		t.Errorf("report %+v", r)
	}
}

func TestPerformance(t *testing.T) {
	svc := newService(t, map[string]int{"/": 200, "/a": 200})
	r, err := New(nil).Check(context.Background(), delivery.CheckRequest{Kind: delivery.Performance, URL: svc.URL,
		Paths: []string{"/", "/a"}, Rate: 20, Duration: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests != 10 || r.Failures != 0 {
		t.Errorf("requests %d failures %d (%v), want 10 and 0", r.Requests, r.Failures, r.Problems)
	}
	if r.P90 <= 0 || r.P95 < r.P90 {
		t.Errorf("p90 %s p95 %s", r.P90, r.P95)
	}
}

func TestCheckErrors(t *testing.T) {
	for _, req := range []delivery.CheckRequest{
		{Kind: delivery.Functional, URL: "ftp://host/"},
		{Kind: delivery.Functional, URL: "http://user:pw@host/"},
		{Kind: delivery.Functional, URL: "http://host", Paths: []string{"relative"}},
		{Kind: "chaos", URL: "http://127.0.0.1:1"},
		{Kind: delivery.Performance, URL: "http://127.0.0.1:1", Paths: []string{"/"}},
	} {
		if _, err := New(nil).Check(context.Background(), req); err == nil {
			t.Errorf("%+v: no error", req)
		}
	}
}

func TestTargets(t *testing.T) {
	got, err := Targets("http://carts.sockshop-staging:80/api/", []string{"/", "/health?full=1", "/a%20b"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"http://carts.sockshop-staging:80/api/", "http://carts.sockshop-staging:80/api/health?full=1", "http://carts.sockshop-staging:80/api/a%20b"}
	if !slices.Equal(got, want) {
		t.Errorf("targets %v, want %v", got, want)
	}
}

func TestPercentile(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 100; i++ {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	if p := Percentile(lat, 90); p != 90*time.Millisecond {
		t.Errorf("p90 %s", p)
	}
	if p := Percentile(lat[:1], 95); p != time.Millisecond {
		t.Errorf("p95 of one %s", p)
	}
	if p := Percentile(nil, 95); p != 0 {
		t.Errorf("p95 of none %s", p)
	}
}

func FuzzTargets(f *testing.F) {
	f.Add("http://carts.sockshop-staging:80", "/health")
	f.Add("https://h/x/", "/a?b=c#d")
	f.Add("http://[::1]:8080", "//evil.example/")
	f.Fuzz(func(t *testing.T, base, path string) {
		out, err := Targets(base, []string{path})
		if err != nil {
			return
		}
		if len(out) != 1 || !(strings.HasPrefix(out[0], "http://") || strings.HasPrefix(out[0], "https://")) {
			t.Fatalf("targets %v of %q %q", out, base, path)
		}
	})
}
