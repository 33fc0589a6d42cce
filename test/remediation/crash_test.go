// Package remediation tests that the real tend binary's remediation loop
// survives crashes: `tend serve` subprocesses are killed with SIGKILL at
// random points while about a hundred remediations run (on SQLite), or one
// of two replicas on one PostgreSQL is killed mid-remediation, and
// afterwards every remediation has ended and no action's effect happened
// twice, counted at the targets the actions change.
package remediation

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/testenv"
	"github.com/tendhq/tend/internal/testenv/tendapi"
	"github.com/tendhq/tend/internal/testenv/tendproc"
)

// tendBin is the tend binary TestMain builds once for every test.
var tendBin string

// soak raises the crash test's counts to `make soak`'s: at least 100 kills
// over at least 100 remediations, on SQLite and on PostgreSQL with two
// replicas. The default (`make test`) keeps the short counts.
var soak = flag.Bool("soak", os.Getenv("TEND_SOAK") != "", "run the crash tests at soak scale (make soak)")

func TestMain(m *testing.M) { os.Exit(tendproc.Main(m, "remediation", &tendBin)) }

const project = "crash"

// targets are the systems the actions change, counting real effects.
type targets struct {
	srv *httptest.Server
	mu  sync.Mutex
	// replicas is each service's replica count (HTTP scale target).
	replicas map[string]int
	// scaleEffects counts, per Idempotency-Key, the PUTs that changed a
	// replica count.
	scaleEffects map[string]int
	// hooks and escalations count deliveries per Idempotency-Key.
	hooks       map[string]int
	escalations map[string]int
}

func newTargets(t testing.TB) *targets {
	tg := &targets{replicas: map[string]int{}, scaleEffects: map[string]int{}, hooks: map[string]int{}, escalations: map[string]int{}}
	tg.srv = httptest.NewServer(http.HandlerFunc(tg.serve))
	t.Cleanup(tg.srv.Close)
	return tg
}

func (tg *targets) serve(w http.ResponseWriter, r *http.Request) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	key := r.Header.Get("Idempotency-Key")
	switch {
	case strings.HasPrefix(r.URL.Path, "/scale/"):
		svc := strings.TrimPrefix(r.URL.Path, "/scale/")
		if _, ok := tg.replicas[svc]; !ok {
			tg.replicas[svc] = 1
		}
		if r.Method == http.MethodPut {
			var body struct{ Replicas int }
			b, _ := io.ReadAll(r.Body)
			if err := json.Unmarshal(b, &body); err != nil || key == "" {
				http.Error(w, "want {replicas} and an Idempotency-Key", http.StatusBadRequest)
				return
			}
			if body.Replicas != tg.replicas[svc] {
				tg.scaleEffects[key]++
				tg.replicas[svc] = body.Replicas
			}
		}
		fmt.Fprintf(w, `{"replicas":%d}`, tg.replicas[svc])
	case r.URL.Path == "/hook":
		tg.hooks[key]++
		w.WriteHeader(http.StatusNoContent)
	case r.URL.Path == "/escalate":
		tg.escalations[key]++
		w.WriteHeader(http.StatusOK)
	case r.URL.Path == "/prom/api/v1/query":
		// Every verification fails: each remediation runs both actions
		// and escalates, the longest story.
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1714564800,"1500"]}]}}`)
	default:
		http.NotFound(w, r)
	}
}

// writeConfig writes the tend.yaml of the test: 1s settling, no cooldown
// or hourly limit (a hundred services remediate at once), a short lease so
// a killed server's jobs are taken over soon, and the escalation webhook.
func writeConfig(t testing.TB, dir string, tg *targets) string {
	t.Helper()
	urlFile := filepath.Join(dir, "escalation-url")
	if err := os.WriteFile(urlFile, []byte(tg.srv.URL+"/escalate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`remediation:
  settling: 1s
  limits: {cooldown: 0, maxActionsPerHour: 0}
escalation:
  url: file:%s
worker:
  lease: 2s
  pollInterval: 100ms
  concurrency: 8
`, urlFile)
	return tendproc.WriteConfig(t, dir, cfg)
}

// startServer runs `tend serve` with the test's config and returns once it
// is ready; it is killed with SIGKILL when the test ends if still running.
func startServer(t testing.TB, dataDir, database, cfg string) *tendproc.Proc {
	t.Helper()
	return tendproc.Start(t, tendBin, tendproc.Options{DataDir: dataDir, Database: database, Config: cfg})
}

func service(i int) string { return fmt.Sprintf("svc-%03d", i) }

// setup creates the project with n services, each with an SLO, a
// remediation (scale up by one, then call a webhook) and its own HTTP
// scale target, and points monitoring at the targets' fake Prometheus.
func setup(t testing.TB, c *client.Client, tg *targets, n int) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.CreateProject(ctx, apitypes.CreateProjectRequest{Name: project, Shipyard: tendapi.Shipyard}); err != nil {
		t.Fatal(err)
	}
	rem := fmt.Sprintf(`apiVersion: spec.keptn.sh/0.1.4
kind: Remediation
metadata: {name: crash}
spec:
  remediations:
    - problemType: response_time_p90
      actionsOnOpen:
        - {name: Scale up, action: scaling, value: "+1"}
        - {name: Tell ops, action: webhook, value: {url: %q, method: POST}}
`, tg.srv.URL+"/hook")
	for i := range n {
		svc := service(i)
		if _, err := c.CreateService(ctx, project, svc); err != nil {
			t.Fatal(err)
		}
		ref := client.ResourceRef{Project: project, Stage: "production", Service: svc}
		if _, err := c.PutResources(ctx, ref, []client.ResourceFile{{URI: "slo.yaml", Content: []byte(tendapi.SLO)}, {URI: "remediation.yaml", Content: []byte(rem)}}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.PutSetting(ctx, project, "kubernetes", apitypes.KubernetesConfig{ScaleURL: tg.srv.URL + "/scale/" + svc, Service: svc}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.PutMonitoring(ctx, project, apitypes.MonitoringConfig{Provider: "prometheus", URL: tg.srv.URL + "/prom"}); err != nil {
		t.Fatal(err)
	}
}

// alerts returns an Alertmanager message firing one alert for each
// service in [from, to).
func alerts(from, to int) []byte {
	var as []string
	for i := from; i < to; i++ {
		as = append(as, fmt.Sprintf(`{"status":"firing","labels":{"alertname":"response_time_p90","project":%q,"stage":"production","service":%q},
			"annotations":{"summary":"response_time_p90"},"startsAt":"2024-05-01T12:00:00Z","fingerprint":"fp-%03d"}`, project, service(i), i))
	}
	return []byte(`{"version":"4","status":"firing","receiver":"tend","groupKey":"{}:{}","alerts":[` + strings.Join(as, ",") + `]}`)
}

// fire delivers the alerts of the services in [from, to); false when the
// server did not take them (it was killed), so the caller sends them
// again, as Alertmanager would.
func fire(c *client.Client, from, to int) bool {
	status, _, err := c.Raw(context.Background(), http.MethodPost, "/api/v1/integrations/alertmanager", nil, alerts(from, to))
	return err == nil && status == http.StatusOK
}

// remediations lists the project's remediations.
func remediations(t testing.TB, c *client.Client) ([]apitypes.Remediation, error) {
	t.Helper()
	return c.ListRemediations(context.Background(), client.ProblemFilter{Project: project})
}

func allEnded(rs []apitypes.Remediation, n int) bool {
	if len(rs) < n {
		return false
	}
	for _, r := range rs {
		if r.Running {
			return false
		}
	}
	return true
}

// verify checks the end state: every remediation ended escalated after
// both actions, each service scaled from 1 to exactly 2 by one effective
// PUT, each webhook and escalation delivered (at least once, one key).
func verify(t *testing.T, rs []apitypes.Remediation, tg *targets, n int) (lost, twice, redeliveries int) {
	t.Helper()
	if len(rs) != n {
		t.Fatalf("%d remediations, want %d (one per service)", len(rs), n)
	}
	defer func() {
		// lost: a remediation that did not end as planned; twice: an
		// effect that happened more than once.
		tg.mu.Lock()
		defer tg.mu.Unlock()
		for _, r := range rs {
			if r.State != "escalated" || len(r.Actions) != 2 || r.Actions[0].State != "finished" || r.Actions[1].State != "finished" {
				lost++
			}
		}
		for _, v := range tg.scaleEffects {
			twice += max(0, v-1)
		}
		for _, v := range tg.replicas {
			twice += max(0, v-2)
		}
	}()
	tg.mu.Lock()
	defer tg.mu.Unlock()
	for _, r := range rs {
		if r.State != "escalated" || len(r.Actions) != 2 || r.Actions[0].State != "finished" || r.Actions[1].State != "finished" {
			t.Errorf("remediation %s of %s: %s (%s), actions %+v", r.ID, r.Service, r.State, r.Reason, r.Actions)
			continue
		}
		scaleKey, hookKey := r.ID+"/action/0", r.ID+"/action/1"
		if got := tg.scaleEffects[scaleKey]; got != 1 {
			t.Errorf("%s: the scaling action changed the replicas %d times, want once", r.Service, got)
		}
		if got := tg.replicas[r.Service]; got != 2 {
			t.Errorf("%s has %d replicas, want 2 (1 -> 2 once)", r.Service, got)
		}
		if tg.hooks[hookKey] < 1 {
			t.Errorf("%s: the webhook was never called", r.Service)
		}
		if tg.escalations[r.ID+"/escalate"] < 1 {
			t.Errorf("%s: no escalation was sent", r.Service)
		}
	}
	if len(tg.hooks) != n || len(tg.escalations) != n {
		t.Errorf("%d webhook keys and %d escalation keys, want %d each", len(tg.hooks), len(tg.escalations), n)
	}
	for _, v := range tg.hooks {
		redeliveries += v - 1
	}
	t.Logf("%d remediations ended; webhook redeliveries after crashes (at-least-once, same key): %d", n, redeliveries)
	return lost, twice, redeliveries
}

// TestCrashDuringRemediations kills tend with SIGKILL at random points
// while 100 remediations with 1s settling run, restarting it each time:
// 12 kills, or under -soak at least 100.
func TestCrashDuringRemediations(t *testing.T) {
	crashRun(t, "sqlite", "", 1)
}

// TestSoakTwoReplicasKilled is the PostgreSQL half of `make soak`: two
// replicas on one database, one of them killed with SIGKILL and restarted
// at random points, at least 100 times over at least 100 remediations.
func TestSoakTwoReplicasKilled(t *testing.T) {
	if !*soak {
		t.Skip("runs under make soak (-soak or TEND_SOAK=1); TestTwoReplicasOneKilled is the short PostgreSQL case")
	}
	crashRun(t, "postgres", testenv.PostgresURL(t), 2)
}

// crashRun delivers one alert per service to `replicas` servers on
// database ("" for SQLite, then replicas must be 1) and kills one of them
// at random points, restarting it, until every remediation ended, then
// checks that nothing was lost or done twice.
func crashRun(t *testing.T, backend, database string, replicas int) {
	n, wantKills, perCycle, maxSleep, limit := 100, 12, 100, 1500, 8*time.Minute
	if *soak {
		// Alerts arrive two per kill, so that work starts all through
		// the run rather than only before the first kill.
		n, wantKills, perCycle, maxSleep, limit = 100, 100, 2, 800, 30*time.Minute
	}
	began := time.Now()
	dir := t.TempDir()
	tg := newTargets(t)
	cfg := writeConfig(t, dir, tg)
	dataDirs := make([]string, replicas)
	srvs := make([]*tendproc.Proc, replicas)
	clients := make([]*client.Client, replicas)
	for i := range replicas {
		dataDirs[i] = filepath.Join(dir, fmt.Sprintf("data-%d", i))
		srvs[i] = startServer(t, dataDirs[i], database, cfg)
		// The first replica created the admin token; the others share
		// its database.
		clients[i] = tendproc.AdminClient(t, srvs[i].URL, dataDirs[0])
	}
	setup(t, clients[0], tg, n)

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5))
	delivered := 0
	kills := 0
	deadline := time.Now().Add(limit)
	for {
		// Deliver the alerts in batches of ten, at most perCycle a
		// round; a batch the server did not take is sent again after
		// the restart.
		c := clients[rng.IntN(replicas)]
		for round := 0; delivered < n && round < perCycle; {
			to := min(delivered+min(10, perCycle), n)
			if !fire(c, delivered, to) {
				break
			}
			round += to - delivered
			delivered = to
		}
		rs, err := remediations(t, c)
		if err == nil && delivered == n && allEnded(rs, n) && kills >= wantKills {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not every remediation ended within %s (%d kills); last list error %v; stderr:\n%s", limit, kills, err, srvs[0].Stderr)
		}
		if kills < wantKills {
			running := 0
			for _, r := range rs {
				if r.Running {
					running++
				}
			}
			if kills%10 == 0 || !*soak {
				t.Logf("kill %d: %d alerts delivered, %d remediations, %d running", kills+1, delivered, len(rs), running)
			}
			time.Sleep(time.Duration(100+rng.IntN(maxSleep)) * time.Millisecond)
			i := rng.IntN(replicas)
			srvs[i].Kill()
			kills++
			srvs[i] = startServer(t, dataDirs[i], database, cfg)
			clients[i] = tendproc.AdminClient(t, srvs[i].URL, dataDirs[0])
			continue
		}
		time.Sleep(200 * time.Millisecond)
	}
	rs, err := remediations(t, clients[0])
	if err != nil {
		t.Fatal(err)
	}
	lost, twice, redeliveries := verify(t, rs, tg, n)
	load, _ := os.ReadFile("/proc/loadavg")
	t.Logf("soak result: backend=%s replicas=%d kills=%d remediations=%d lost=%d executed_twice=%d webhook_keys=%d webhook_redeliveries=%d duration=%s loadavg=%q",
		backend, replicas, kills, len(rs), lost, twice, len(tg.hooks), redeliveries, time.Since(began).Round(time.Second), strings.TrimSpace(string(load)))
}

// TestTwoReplicasOneKilled runs two replicas on one PostgreSQL; one is
// killed mid-remediation and never comes back; the other finishes every
// remediation, and each action's effect still happens once.
func TestTwoReplicasOneKilled(t *testing.T) {
	const n = 20
	database := testenv.PostgresURL(t)
	dir := t.TempDir()
	tg := newTargets(t)
	cfg := writeConfig(t, dir, tg)
	dataA, dataB := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	a := startServer(t, dataA, database, cfg)
	b := startServer(t, dataB, database, cfg)
	ca := tendproc.AdminClient(t, a.URL, dataA)
	cb := tendproc.AdminClient(t, b.URL, dataA)
	setup(t, ca, tg, n)
	if !fire(ca, 0, n/2) || !fire(cb, n/2, n) {
		t.Fatal("the replicas did not take the alerts")
	}
	// Kill replica A once some actions have run and none has finished:
	// it holds some of the work in flight.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		tg.mu.Lock()
		started := len(tg.scaleEffects)
		tg.mu.Unlock()
		if started >= n/4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no scaling happened within a minute")
		}
	}
	a.Kill()
	var (
		rs  []apitypes.Remediation
		err error
	)
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		rs, err = remediations(t, cb)
		if err == nil && allEnded(rs, n) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica B did not finish the remediations (%v); stderr:\n%s", err, b.Stderr)
		}
	}
	verify(t, rs, tg, n)
}
