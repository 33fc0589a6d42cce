package bench

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/tendhq/tend/internal/intake"
)

// keyServer stands in for tend's webhook: it reads every message with
// tend's own parser, refuses every refuseEvery-th with 503, and keeps the
// keys of the alerts it accepted and of those it refused.
type keyServer struct {
	t           testing.TB
	refuseEvery int

	mu       sync.Mutex
	n        int
	accepted map[string]bool
	refused  map[string]bool
}

func (k *keyServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/api/v1/integrations/alertmanager" {
		k.t.Errorf("%s %s; want POST /api/v1/integrations/alertmanager", r.Method, r.URL.Path)
	}
	if got := r.Header.Get("Authorization"); got != "Bearer secret" {
		k.t.Errorf("authorization %q; want the run's token", got)
	}
	body, _ := io.ReadAll(r.Body)
	msg, err := intake.ParseAlertmanager(body, intake.AlertmanagerOptions{})
	if err != nil {
		k.t.Errorf("the generator sent an invalid message: %v\n%s", err, body)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.n++
	refuse := k.refuseEvery > 0 && k.n%k.refuseEvery == 0
	into := k.accepted
	if refuse {
		into = k.refused
	}
	for _, n := range msg.Notifications {
		if !n.Matched() || n.Project != "p" || n.Stage != "production" || n.Service != "carts" {
			k.t.Errorf("alert placed at %s/%s/%s (unmatched: %q); want p/production/carts", n.Project, n.Stage, n.Service, n.Unmatched)
		}
		into[n.Key] = true
	}
	if refuse {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	_, _ = io.WriteString(w, "{}")
}

func TestIntakeBoundsMatchTheDistinctAlerts(t *testing.T) {
	tests := []struct {
		load   Load
		alerts int
		count  int64
	}{
		{LoadRepeats, 1, 200},
		{LoadRepeats, 10, 200},
		{LoadNew, 1, 150},
		{LoadNew, 10, 150},
		{LoadMix, 3, 151},
	}
	for _, tt := range tests {
		t.Run(string(tt.load)+"/"+strings.Repeat("a", tt.alerts), func(t *testing.T) {
			k := &keyServer{t: t, refuseEvery: 7, accepted: map[string]bool{}, refused: map[string]bool{}}
			srv := httptest.NewServer(k)
			defer srv.Close()
			res, err := Intake(context.Background(), IntakeOptions{
				Endpoint: srv.URL, Token: "secret", Project: "p", Stage: "production", Service: "carts",
				Alerts: tt.alerts, Load: tt.load, Groups: 20, Concurrency: 4, Count: tt.count,
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Accepted+res.Errors != tt.count {
				t.Errorf("accepted %d + errors %d; want %d messages", res.Accepted, res.Errors, tt.count)
			}
			onlyRefused := 0
			for key := range k.refused {
				if !k.accepted[key] {
					onlyRefused++
				}
			}
			if got := int64(len(k.accepted)); got != res.MinProblems {
				t.Errorf("MinProblems %d; the server accepted %d distinct alerts", res.MinProblems, got)
			}
			if got := int64(len(k.accepted) + onlyRefused); got != res.MaxProblems {
				t.Errorf("MaxProblems %d; the server saw %d distinct alerts", res.MaxProblems, got)
			}
			if tt.load == LoadRepeats && res.MinProblems > int64(20*tt.alerts) {
				t.Errorf("repeats made %d distinct alerts; want at most groups × alerts = %d", res.MinProblems, 20*tt.alerts)
			}
		})
	}
}

func TestTrivialHandler(t *testing.T) {
	m := &messages{opts: IntakeOptions{Project: "p", Stage: "s", Service: "c", RunID: "r", Alerts: 10, Groups: 5}}
	srv := httptest.NewServer(TrivialHandler())
	defer srv.Close()
	for _, tt := range []struct {
		name, body string
		want       int
	}{
		{"message of 10 alerts", string(m.appendMessage(nil, 1)), http.StatusOK},
		{"not JSON", "alerts", http.StatusBadRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Post(srv.URL+"/api/v1/integrations/alertmanager", "application/json", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tt.want, body)
			}
			if tt.want == http.StatusOK && !strings.Contains(string(body), `"accepted":10`) {
				t.Errorf("answer %s does not count the 10 alerts", body)
			}
		})
	}
}

func TestParseLoad(t *testing.T) {
	for _, s := range []string{"repeats", "new", "mix"} {
		if l, err := ParseLoad(s); err != nil || string(l) != s {
			t.Errorf("ParseLoad(%q) = %q, %v", s, l, err)
		}
	}
	if _, err := ParseLoad("old"); err == nil || !strings.Contains(err.Error(), "repeats, new or mix") {
		t.Errorf("ParseLoad(old) error %v does not name the loads", err)
	}
}
