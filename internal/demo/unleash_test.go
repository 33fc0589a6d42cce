package demo

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/testenv"
)

func TestParseClientFeatures(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    bool
		wantErr bool
	}{
		{"enabled with a default strategy", `{"version":2,"features":[{"name":"EnablePromotion","enabled":true,"strategies":[{"name":"default"}]}]}`, true, false},
		{"enabled without strategies", `{"features":[{"name":"EnablePromotion","enabled":true,"strategies":[]}]}`, true, false},
		{"enabled, strategies omitted", `{"features":[{"name":"EnablePromotion","enabled":true}]}`, true, false},
		{"disabled", `{"features":[{"name":"EnablePromotion","enabled":false,"strategies":[{"name":"default"}]}]}`, false, false},
		{"enabled but every strategy disabled", `{"features":[{"name":"EnablePromotion","enabled":true,"strategies":[{"name":"default","disabled":true}]}]}`, false, false},
		{"one strategy of two disabled", `{"features":[{"name":"EnablePromotion","enabled":true,"strategies":[{"name":"a","disabled":true},{"name":"b"}]}]}`, true, false},
		{"flag missing is off", `{"features":[{"name":"Other","enabled":true}]}`, false, false},
		{"no features", `{"features":[]}`, false, false},
		{"names are case-sensitive", `{"features":[{"name":"enablepromotion","enabled":true}]}`, false, false},
		{"not JSON", `<html>`, false, true},
		{"features not a list", `{"features":{}}`, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseClientFeatures([]byte(tt.body), "EnablePromotion")
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseClientFeatures = %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// fakeUnleash is an httptest Unleash client API that checks the path and
// the token and serves a flag whose state the test sets.
type fakeUnleash struct {
	t     testing.TB
	token string
	on    atomic.Bool
	down  atomic.Bool
	polls atomic.Int64
}

func (f *fakeUnleash) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.polls.Add(1)
	if f.down.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	if r.Method != http.MethodGet || r.URL.Path != "/api/client/features" {
		f.t.Errorf("request %s %s, want GET /api/client/features", r.Method, r.URL.Path)
		http.NotFound(w, r)
		return
	}
	if got := r.Header.Get("Authorization"); got != f.token {
		http.Error(w, `{"message":"invalid token"}`, http.StatusUnauthorized)
		return
	}
	if r.Header.Get("UNLEASH-APPNAME") != "carts" {
		f.t.Errorf("UNLEASH-APPNAME %q, want carts", r.Header.Get("UNLEASH-APPNAME"))
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"version":2,"features":[{"name":"EnablePromotion","enabled":`)
	if f.on.Load() {
		_, _ = io.WriteString(w, "true")
	} else {
		_, _ = io.WriteString(w, "false")
	}
	_, _ = io.WriteString(w, `,"strategies":[{"name":"default"}]}]}`)
}

// flagState records the states a poller reports.
type flagState struct {
	mu   sync.Mutex
	last *bool
	n    int
}

func (s *flagState) set(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = &on
	s.n++
}

func (s *flagState) get() (on, known bool, calls int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil {
		return false, false, s.n
	}
	return *s.last, true, s.n
}

// waitFor polls cond every 20 ms until it holds or the deadline passes.
func waitFor(t testing.TB, deadline time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("%s did not happen within %s", what, deadline)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestUnleashPollerAgainstFake(t *testing.T) {
	fake := &fakeUnleash{t: t, token: "default:production.secret"}
	srv := httptest.NewServer(fake)
	defer srv.Close()

	var logs bytes.Buffer
	var logMu sync.Mutex
	p := &UnleashPoller{URL: srv.URL + "/", Token: fake.token, AppName: "carts", Interval: 10 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &logMu}, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var st flagState
	go func() { defer close(done); p.Run(ctx, st.set) }()
	defer func() { cancel(); <-done }()

	waitFor(t, 10*time.Second, "the first poll reporting off", func() bool { on, known, _ := st.get(); return known && !on })
	fake.on.Store(true)
	waitFor(t, 10*time.Second, "the poller seeing the flag on", func() bool { on, _, _ := st.get(); return on })

	// An outage keeps the last state and is logged once.
	fake.down.Store(true)
	start := fake.polls.Load()
	// Polls run one after another: once a poll has started after the
	// outage began, the one before it has reported.
	waitFor(t, 10*time.Second, "a poll during the outage", func() bool { return fake.polls.Load() >= start+1 })
	_, _, callsBefore := st.get()
	waitFor(t, 10*time.Second, "five more polls during the outage", func() bool { return fake.polls.Load() >= start+6 })
	if on, _, calls := st.get(); !on || calls != callsBefore {
		t.Errorf("during the outage the state changed (on=%v, %d reports, %d before)", on, calls, callsBefore)
	}
	fake.on.Store(false)
	fake.down.Store(false)
	waitFor(t, 10*time.Second, "the poller seeing the flag off after the outage", func() bool { on, _, _ := st.get(); return !on })
	cancel()
	<-done // closed: the deferred receive returns at once too

	logMu.Lock()
	out := logs.String()
	logMu.Unlock()
	if n := strings.Count(out, "unleash unreachable"); n != 1 {
		t.Errorf("outage logged %d times, want once:\n%s", n, out)
	}
	if !strings.Contains(out, "unleash reachable again") {
		t.Errorf("end of outage not logged:\n%s", out)
	}
	if strings.Contains(out, fake.token) {
		t.Errorf("the token reached the log:\n%s", out)
	}
}

// lockedWriter serialises writes of concurrent goroutines to w.
type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func TestUnleashFetchErrors(t *testing.T) {
	fake := &fakeUnleash{t: t, token: "right"}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	tests := []struct {
		name string
		p    UnleashPoller
		want string
	}{
		{"wrong token", UnleashPoller{URL: srv.URL, Token: "wrong", AppName: "carts"}, "401 Unauthorized (is --unleash-token a client token"},
		{"not a URL", UnleashPoller{URL: "127.0.0.1:4242", Token: "x"}, "not an absolute http(s) URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.p.Fetch(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Fetch error %v, want one containing %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "right") {
				t.Errorf("the token is in the error: %v", err)
			}
		})
	}
}

// unleashClientToken creates a client token for the production
// environment of the test Unleash through its admin API.
func unleashClientToken(t testing.TB, base, admin string) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	body := `{"tokenName":"carts-test-` + hex.EncodeToString(b) + `","type":"client","environment":"production","projects":["*"]}`
	req, err := http.NewRequest(http.MethodPost, base+"/api/admin/api-tokens", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", admin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("create Unleash client token: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var tok struct {
		Secret string `json:"secret"`
	}
	if resp.StatusCode/100 != 2 || json.Unmarshal(raw, &tok) != nil || tok.Secret == "" {
		t.Fatalf("create Unleash client token: %s %s", resp.Status, raw)
	}
	return tok.Secret
}

// switchUnleash switches flag on or off in production through the admin API.
func switchUnleash(t testing.TB, base, admin, flag string, on bool) {
	t.Helper()
	state := "off"
	if on {
		state = "on"
	}
	req, err := http.NewRequest(http.MethodPost, base+"/api/admin/projects/default/features/"+flag+"/environments/production/"+state, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("switch %s %s: %v", flag, state, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		raw, _ := io.ReadAll(resp.Body)
		t.Fatalf("switch %s %s: %s %s", flag, state, resp.Status, raw)
	}
}

// TestUnleashPollerAgainstRealUnleash switches a flag through the real
// Unleash's admin API and checks that the service's promotion state
// follows through the client API within a polling deadline.
func TestUnleashPollerAgainstRealUnleash(t *testing.T) {
	base := testenv.UnleashURL(t)
	admin := testenv.UnleashAdminToken(t)
	flag := testenv.UnleashFeature(t) // off everywhere
	token := unleashClientToken(t, base, admin)

	svc, err := NewService(Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := &UnleashPoller{URL: base, Token: token, AppName: "carts", Flag: flag, Interval: 200 * time.Millisecond}
	if on, err := p.Fetch(context.Background()); err != nil || on {
		t.Fatalf("first fetch: on=%v, %v; want off and no error", on, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx, svc.SetPromotion) }()
	defer func() { cancel(); <-done }()

	const deadline = 30 * time.Second
	switchUnleash(t, base, admin, flag, true)
	waitFor(t, deadline, "promotion on after switching "+flag+" on", svc.Promotion)
	switchUnleash(t, base, admin, flag, false)
	waitFor(t, deadline, "promotion off after switching "+flag+" off", func() bool { return !svc.Promotion() })
}

// newFakeUnleashServer serves fake on a test server and returns its URL.
func newFakeUnleashServer(t testing.TB, fake *fakeUnleash) string {
	t.Helper()
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return srv.URL
}
