package kubernetes

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/tendhq/tend/internal/action"
)

// scaleEndpoint is a fake of the carts demo service's /scale endpoint.
type scaleEndpoint struct {
	mu       sync.Mutex
	replicas int32
	puts     int
	keys     []string
	status   int    // when non-zero, every request answers it
	answer   string // when non-empty, GET answers it verbatim
}

func (s *scaleEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.URL.Path != "/scale" {
		http.NotFound(w, r)
		return
	}
	if s.status != 0 {
		http.Error(w, "scale endpoint is unhappy", s.status)
		return
	}
	switch r.Method {
	case http.MethodGet:
		if s.answer != "" {
			_, _ = w.Write([]byte(s.answer))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]int32{"replicas": s.replicas})
	case http.MethodPut:
		var body struct {
			Replicas int32 `json:"replicas"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		s.replicas = body.Replicas
		s.puts++
		s.keys = append(s.keys, r.Header.Get("Idempotency-Key"))
		_ = json.NewEncoder(w).Encode(map[string]int32{"replicas": s.replicas})
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

func httpExecutor(url string, max int32) *Executor {
	return New(nil, Options{Target: func(context.Context, action.Request) (Target, error) {
		return Target{HTTP: &HTTPTarget{URL: url}, MaxReplicas: max}, nil
	}})
}

func TestHTTPTarget(t *testing.T) {
	ctx := context.Background()
	ep := &scaleEndpoint{replicas: 1}
	srv := httptest.NewServer(ep)
	defer srv.Close()
	e := httpExecutor(srv.URL+"/scale", 0)
	req := scaleRequest("+1")

	plan, err := e.Prepare(ctx, req)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	want := action.Change{Target: "http " + srv.URL + "/scale replicas", From: "1", To: "2"}
	if len(plan.Changes) != 1 || plan.Changes[0] != want {
		t.Errorf("changes = %+v, want %+v", plan.Changes, want)
	}
	if ep.puts != 0 {
		t.Fatal("Prepare wrote to the scale endpoint")
	}
	for i := 0; i < 2; i++ {
		if _, err := e.Apply(ctx, req, plan); err != nil {
			t.Fatalf("Apply #%d: %v", i+1, err)
		}
	}
	if ep.replicas != 2 || ep.puts != 1 {
		t.Errorf("after two Applies: replicas %d with %d PUTs, want 2 with 1", ep.replicas, ep.puts)
	}
	if len(ep.keys) != 1 || ep.keys[0] != "rem-1/0" {
		t.Errorf("Idempotency-Key headers = %q, want [rem-1/0]", ep.keys)
	}
}

func TestHTTPTargetErrors(t *testing.T) {
	tests := []struct {
		name     string
		ep       *scaleEndpoint
		path     string
		max      int32
		value    any
		final    bool
		contains string
	}{
		{"at the limit", &scaleEndpoint{replicas: 4}, "/scale", 4, "+1", true, "already at the limit of 4 replicas"},
		{"at the minimum", &scaleEndpoint{replicas: 1}, "/scale", 0, "-1", true, "already at the minimum"},
		{"not found", &scaleEndpoint{replicas: 1}, "/nope", 0, "+1", true, "404 Not Found"},
		{"server error is retryable", &scaleEndpoint{status: http.StatusServiceUnavailable}, "/scale", 0, "+1", false, "503 Service Unavailable: scale endpoint is unhappy"},
		{"answer without replicas", &scaleEndpoint{answer: `{"count": 2}`}, "/scale", 0, "+1", false, `no "replicas" field`},
		{"answer not JSON", &scaleEndpoint{answer: `<html>`}, "/scale", 0, "+1", false, `not {"replicas": N}`},
		{"negative answer", &scaleEndpoint{answer: `{"replicas": -3}`}, "/scale", 0, "+1", false, "negative replica count -3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.ep)
			defer srv.Close()
			_, err := httpExecutor(srv.URL+tc.path, tc.max).Prepare(context.Background(), scaleRequest(tc.value))
			if err == nil || errors.Is(err, action.ErrInvalid) != tc.final || !strings.Contains(err.Error(), tc.contains) {
				t.Fatalf("Prepare = %v; want an error (final %v) saying %q", err, tc.final, tc.contains)
			}
		})
	}
	t.Run("not an http URL", func(t *testing.T) {
		_, err := httpExecutor("ftp://example.com/scale", 0).Prepare(context.Background(), scaleRequest("+1"))
		if !errors.Is(err, action.ErrInvalid) || !strings.Contains(err.Error(), "not an absolute http(s) URL") {
			t.Fatalf("Prepare = %v", err)
		}
	})
}

func FuzzDecodeScale(f *testing.F) {
	for _, s := range []string{`{"replicas": 2}`, `{"replicas": -1}`, `{}`, `[]`, `{"replicas": 1e99}`, `{"replicas": "2"}`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := decodeScale(b)
		if err == nil && n < 0 {
			t.Fatalf("decodeScale(%q) = %d without an error", b, n)
		}
	})
}

func TestHTTPTargetChangedSincePlan(t *testing.T) {
	ep := &scaleEndpoint{replicas: 1}
	srv := httptest.NewServer(ep)
	defer srv.Close()
	ctx := context.Background()
	e := httpExecutor(srv.URL+"/scale", 10)
	req := scaleRequest("+1")
	plan, err := e.Prepare(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	ep.mu.Lock()
	ep.replicas = 5
	ep.mu.Unlock()
	_, err = e.Apply(ctx, req, plan)
	var ce *action.ConflictError
	if !errors.As(err, &ce) || ce.Found != "5" {
		t.Fatalf("Apply after a change = %v, want an *action.ConflictError finding 5", err)
	}
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if ep.replicas != 5 || ep.puts != 0 {
		t.Errorf("endpoint at %d replicas after %d PUTs, want 5 and none", ep.replicas, ep.puts)
	}
}
