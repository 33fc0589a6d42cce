// Package monitoring tests the monitoring setup end to end against a real
// Prometheus and a real Alertmanager and an in-process tend server: the
// rules and the Alertmanager receiver come from `tend generate`, a test
// service's latency crosses the SLO's threshold, and the alert has to reach
// tend's Alertmanager intake with the project's intake token and open a
// problem for the right project, stage, service and title; when the latency
// recovers, the resolution closes it.
package monitoring

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tendhq/tend/internal/alertrules"
	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/app"
	"github.com/tendhq/tend/internal/cli"
	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/testenv"
)

const (
	stage   = "production"
	service = "carts"
	// The tutorial SLO passes below 1000 ms; the service answers in
	// fastMS, then slowMS.
	fastMS = 200
	slowMS = 3000
	// waitLimit bounds each wait so a broken setup fails instead of
	// hanging; nothing is asserted about how long a step takes.
	waitLimit = 2 * time.Minute
)

func TestSLOViolationOpensProblem(t *testing.T) {
	promURL := testenv.PrometheusURL(t)
	amURL := testenv.AlertmanagerURL(t)
	amConfig := testenv.AlertmanagerConfigPath(t)
	testenv.RequireAlso(t, testenv.Prometheus, testenv.PrometheusRulesDirEnv)
	// The Prometheus and Alertmanager are shared: a project name of its
	// own keeps this test's job, rules, route and alerts apart.
	project := "mon" + testenv.RandomHex(t, 4)
	job := service + "-" + project + "-" + stage

	svc := startService(t, fastMS)
	testenv.PrometheusTarget(t, job, svc.addr)

	tendURL, admin, token := startTend(t, project)

	// Alertmanager: tend's route and receiver merged into its configuration.
	tokenFile := filepath.Join(t.TempDir(), "intake-token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	original, err := os.ReadFile(amConfig)
	if err != nil {
		t.Fatalf("read the test Alertmanager's configuration: %v", err)
	}
	merged := tend(t, "generate", "alertmanager-config", "--project", project,
		"--intake-url", tendURL, "--intake-token", "file:"+tokenFile,
		"--merge", amConfig, "--receiver-name", "tend-"+project)
	testenv.WriteFileAtomic(t, amConfig, merged)
	t.Cleanup(func() {
		testenv.WriteFileAtomic(t, amConfig, string(original))
		testenv.AlertmanagerReload(t)
	})
	testenv.AlertmanagerReload(t)

	// Prometheus: the tutorial's rules over a short window, so the test
	// does not wait minutes for rates to move.
	rules := tend(t, "generate", "alert-rules", "--slo", "../../examples/slo.yaml", "--sli", "../../examples/prometheus/sli.yaml",
		"--project", project, "--stage", stage, "--service", service, "--window", "10s", "--for", "1s")
	testenv.PrometheusRules(t, project, rules)
	// After the reload, which rebuilds Prometheus's notifier.
	testenv.PrometheusAlertmanager(t)

	// Below the threshold: the rule is evaluated on data and stays
	// inactive, and no problem opens.
	group := alertrules.GroupName(project, stage, service)
	waitFor(t, "the rule to evaluate the fast service as inactive", func() (bool, string) {
		st, err := ruleState(promURL, group, "response_time_p90")
		if err != nil {
			return false, err.Error()
		}
		if st.Health != "ok" || st.LastEvaluation.IsZero() || st.State != "inactive" {
			return false, fmt.Sprintf("%+v", st)
		}
		v, err := instant(promURL, fmt.Sprintf("histogram_quantile(0.9, sum by(le) (rate(http_response_time_milliseconds_bucket{job='%s'}[10s])))", job))
		if err != nil {
			return false, err.Error()
		}
		return v > 0 && v < 1000, fmt.Sprintf("p90 %v ms", v)
	})
	if ps := problems(t, admin, project); len(ps) != 0 {
		t.Fatalf("problems opened while the SLO held: %+v", ps)
	}

	// Above the threshold: the alert fires through Alertmanager into tend.
	svc.latency.Store(slowMS)
	opened := waitProblem(t, admin, project, "open", func() string {
		st, err := ruleState(promURL, group, "response_time_p90")
		return fmt.Sprintf("rule %+v %v; alertmanager alerts: %s", st, err, testenv.Describe(amURL+"/api/v2/alerts"))
	})
	if opened.Source != "alertmanager" || opened.Stage != stage || opened.Service != service || opened.Title != "response_time_p90" {
		t.Errorf("problem opened from %q for project %q stage %q service %q title %q; want alertmanager, %s, %s, %s, response_time_p90",
			opened.Source, opened.Project, opened.Stage, opened.Service, opened.Title, project, stage, service)
	}
	if !strings.Contains(opened.Details, "violating the pass criteria <1000") {
		t.Errorf("details %q do not name the violated criterion", opened.Details)
	}

	// Back below: send_resolved closes the problem.
	svc.latency.Store(fastMS)
	closed := waitProblem(t, admin, project, "closed", func() string {
		st, err := ruleState(promURL, group, "response_time_p90")
		return fmt.Sprintf("rule %+v %v; problems: %+v", st, err, problems(t, admin, project))
	})
	if closed.ID != opened.ID {
		t.Errorf("closed problem %s, want the opened one %s", closed.ID, opened.ID)
	}
}

// shipyard has the stage the rules watch and no remediation, so a problem
// opens without actions running.
const shipyard = `apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
metadata:
  name: monitoring-test
spec:
  stages:
    - name: production
`

// startTend runs a tend server in process on SQLite, creates project with
// service carts and an intake token for it, and returns its URL, a client
// with the admin token, and the intake token.
func startTend(t testing.TB, project string) (string, *client.Client, string) {
	t.Helper()
	a, err := app.New(context.Background(), app.Options{Listen: "127.0.0.1:0", DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("start tend: %v", err)
	}
	a.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Errorf("stop tend: %v", err)
		}
	})
	admin, err := client.New(a.URL(), a.AdminToken())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.CreateProject(ctx, apitypes.CreateProjectRequest{Name: project, Shipyard: shipyard}); err != nil {
		t.Fatalf("create project: %v", err)
	}
	if _, err := admin.CreateService(ctx, project, service); err != nil {
		t.Fatalf("create service: %v", err)
	}
	tok, err := admin.CreateToken(ctx, apitypes.CreateTokenRequest{Name: "alertmanager", Scope: apitypes.ScopeIntake, Project: project})
	if err != nil {
		t.Fatalf("create intake token: %v", err)
	}
	return a.URL(), admin, tok.Token
}

// problems lists the problems of project.
func problems(t testing.TB, c *client.Client, project string) []apitypes.Problem {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, body, err := c.Raw(ctx, http.MethodGet, "/api/v1/problem", url.Values{"project": {project}}, nil)
	if err != nil {
		t.Fatalf("list problems: %v", err)
	}
	var list apitypes.ProblemList
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatalf("read problem list: %v\n%s", err, body)
	}
	return list.Problems
}

// waitProblem waits for a problem of project in state and returns it.
func waitProblem(t testing.TB, c *client.Client, project, state string, diagnose func() string) apitypes.Problem {
	t.Helper()
	var found apitypes.Problem
	waitFor(t, "a "+state+" problem of project "+project, func() (bool, string) {
		for _, p := range problems(t, c, project) {
			if p.State == state {
				found = p
				return true, ""
			}
		}
		return false, diagnose()
	})
	return found
}

// testService is the test service: Keptn's example metrics with a latency
// the test sets.
type testService struct {
	addr    string
	latency atomic.Int64
}

// startService serves /metrics with http_requests_total and the
// http_response_time_milliseconds histogram, and records a request of the
// current latency every 10 ms until the test ends.
func startService(t testing.TB, ms int64) *testService {
	t.Helper()
	reg := prometheus.NewRegistry()
	hist := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "http_response_time_milliseconds",
		Help:    "Response time of the test service.",
		Buckets: []float64{50, 100, 250, 500, 1000, 2500, 5000},
	}, []string{"status", "handler"})
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total", Help: "Requests of the test service."}, []string{"status", "handler"})
	reg.MustRegister(hist, reqs)

	s := &testService{}
	s.latency.Store(ms)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	s.addr = ln.Addr().String()

	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				hist.WithLabelValues("200", "ItemsController.addToCart").Observe(float64(s.latency.Load()))
				reqs.WithLabelValues("200", "ItemsController.addToCart").Inc()
			}
		}
	}()
	t.Cleanup(func() {
		close(done)
		<-stopped
		_ = srv.Close()
	})
	return s
}

type ruleStatus struct {
	State          string    `json:"state"`
	Health         string    `json:"health"`
	LastError      string    `json:"lastError"`
	LastEvaluation time.Time `json:"lastEvaluation"`
}

// ruleState returns what Prometheus says about the alerting rule alert of
// group.
func ruleState(base, group, alert string) (ruleStatus, error) {
	body, err := testenv.Fetch(base + "/api/v1/rules?type=alert")
	if err != nil {
		return ruleStatus{}, err
	}
	var answer struct {
		Data struct {
			Groups []struct {
				Name  string `json:"name"`
				Rules []struct {
					Name string `json:"name"`
					ruleStatus
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return ruleStatus{}, fmt.Errorf("read /api/v1/rules: %w", err)
	}
	for _, g := range answer.Data.Groups {
		for _, r := range g.Rules {
			if g.Name == group && r.Name == alert {
				return r.ruleStatus, nil
			}
		}
	}
	return ruleStatus{}, fmt.Errorf("rule %s of group %s not loaded", alert, group)
}

// instant runs an instant query that returns one number.
func instant(base, query string) (float64, error) {
	body, err := testenv.Fetch(base + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		return 0, err
	}
	var answer struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return 0, fmt.Errorf("read query answer: %w", err)
	}
	if len(answer.Data.Result) != 1 {
		return 0, fmt.Errorf("query returned %d series: %s", len(answer.Data.Result), body)
	}
	var v float64
	s, _ := answer.Data.Result[0].Value[1].(string)
	if _, err := fmt.Sscan(s, &v); err != nil {
		return 0, fmt.Errorf("query value %q: %w", s, err)
	}
	return v, nil
}

// waitFor polls cond until it holds, failing with its last word after
// waitLimit.
func waitFor(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	testenv.WaitFor(t, waitLimit, 200*time.Millisecond, what, cond)
}

// tend runs the tend command line in process and returns its stdout.
func tend(t testing.TB, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := cli.Run(context.Background(), args, strings.NewReader(""), &out, &errOut); code != cli.ExitOK {
		t.Fatalf("tend %s: exit %d\n%s", strings.Join(args, " "), code, errOut.String())
	}
	return out.String()
}
