// Package budget tests healing on error-budget burn end to end: the carts
// demo service fails 5% of its requests under load and is scraped by the
// real Prometheus of `make test`, which evaluates the rules a real
// `tend serve` generates from the service's stored Sloth spec (99.9%
// availability); Sloth's page alert goes through the real Alertmanager to
// tend's intake, which opens a problem whose remediation scales carts.
package budget

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/demo"
	"github.com/tendhq/tend/internal/testenv"
	"github.com/tendhq/tend/internal/testenv/tendapi"
	"github.com/tendhq/tend/internal/testenv/tendproc"
)

// tendBin is the tend binary TestMain builds once.
var tendBin string

func TestMain(m *testing.M) { os.Exit(tendproc.Main(m, "budget", &tendBin)) }

const (
	stage   = "production"
	service = "carts"
	// errorRate is the share of carts requests answered 500: a burn rate
	// of 50 against a 99.9% objective (0.05 / 0.001), far above the page
	// alert's 14.4.
	errorRate = 0.05
	// waitLimit bounds each wait so a broken setup fails instead of
	// hanging; nothing is asserted about how long a step takes.
	waitLimit = 5 * time.Minute
)

// spec is examples/slo/carts-availability.yaml with the job of the test:
// the Prometheus is shared, so the test's series must not mix with
// another test's carts.
const spec = `version: prometheus/v1
service: carts
labels:
  owner: sockshop
slos:
  - name: requests-availability
    objective: 99.9
    description: Carts requests answered without a server error.
    sli:
      events:
        error_query: sum(rate(http_requests_total{job="%[1]s",status=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total{job="%[1]s"}[{{.window}}]))
    alerting:
      name: CartsAvailability
`

// remediation answers the page alert's problem type by scaling carts up
// through its own PUT /scale.
const remediation = `apiVersion: spec.keptn.sh/0.1.4
kind: Remediation
metadata: {name: carts}
spec:
  remediations:
    - problemType: CartsAvailability-page
      actionsOnOpen:
        - {name: Scale up, action: scaling, value: "+1"}
`

// TestPageAlertOnBurnRunsRemediation needs no short windows: Prometheus
// scrapes and evaluates every second (scripts/prometheus.sh), Sloth's
// alerts have no "for", and rate() over a window reaches only as far back
// as the series exist. So on a fresh series the 5m and 1h error ratios
// (and the 30m and 6h ones) are the ratio of the last seconds, about 5%,
// within a few scrapes of the load starting: the page condition
// "burn over 14.4 in 5m and 1h" holds long before an hour has passed,
// with the rules exactly as tend serves them.
func TestPageAlertOnBurnRunsRemediation(t *testing.T) {
	promURL := testenv.PrometheusURL(t)
	amURL := testenv.AlertmanagerURL(t)
	amConfig := testenv.AlertmanagerConfigPath(t)
	testenv.RequireAlso(t, testenv.Prometheus, testenv.PrometheusRulesDirEnv)
	project := "budget" + testenv.RandomHex(t, 4)
	job := service + "-" + project + "-" + stage
	began := time.Now()

	cartsURL := startCarts(t)
	testenv.PrometheusTarget(t, job, strings.TrimPrefix(cartsURL, "http://"))
	startLoad(t, cartsURL)

	srv := tendapi.Start(t, tendBin, "remediation:\n  settling: 1s\n  limits: {cooldown: 0, maxActionsPerHour: 0}\n")
	admin := srv.AdminClient(t)
	srv.CreateProject(t, project, tendapi.Shipyard, service)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ref := client.ResourceRef{Project: project, Stage: stage, Service: service}
	if _, err := admin.PutResources(ctx, ref, []client.ResourceFile{
		{URI: "slo/carts-availability.yaml", Content: []byte(fmt.Sprintf(spec, job))},
		{URI: "remediation.yaml", Content: []byte(remediation)},
	}); err != nil {
		t.Fatalf("store the budget spec and remediation.yaml: %v", err)
	}
	if _, err := admin.PutSetting(ctx, project, "kubernetes", apitypes.KubernetesConfig{ScaleURL: cartsURL + "/scale", Service: service}); err != nil {
		t.Fatalf("set the scale target: %v", err)
	}
	if _, err := admin.PutMonitoring(ctx, project, apitypes.MonitoringConfig{Provider: "prometheus", URL: promURL}); err != nil {
		t.Fatalf("set monitoring: %v", err)
	}
	token := srv.CreateToken(t, "alertmanager", string(apitypes.ScopeIntake), project)

	// Alertmanager: tend's route and receiver merged into its configuration.
	tokenFile := filepath.Join(t.TempDir(), "intake-token")
	testenv.WriteFileAtomic(t, tokenFile, token+"\n")
	original, err := os.ReadFile(amConfig)
	if err != nil {
		t.Fatalf("read the test Alertmanager's configuration: %v", err)
	}
	merged := tend(t, "generate", "alertmanager-config", "--project", project,
		"--intake-url", srv.URL, "--intake-token", "file:"+tokenFile,
		"--merge", amConfig, "--receiver-name", "tend-"+project)
	testenv.WriteFileAtomic(t, amConfig, merged)
	t.Cleanup(func() {
		testenv.WriteFileAtomic(t, amConfig, string(original))
		testenv.AlertmanagerReload(t)
	})
	testenv.AlertmanagerReload(t)

	// Prometheus: the rules the server generates from the stored spec.
	rules, err := admin.GetAlertRules(ctx, project, service, client.AlertRulesOptions{Stage: stage})
	if err != nil {
		t.Fatalf("get alert rules: %v", err)
	}
	if !strings.Contains(rules.RuleFile, "CartsAvailability-page") {
		t.Fatalf("the served rules have no page alert CartsAvailability-page: %+v\n%s", rules.Stages, rules.RuleFile)
	}
	testenv.PrometheusRules(t, project, rules.RuleFile)
	testenv.PrometheusAlertmanager(t)

	// Sloth's page alert fires in Prometheus.
	pageAlert := fmt.Sprintf(`ALERTS{alertname="CartsAvailability",alertstate="firing",sloth_severity="page",project=%q,stage=%q,service=%q}`, project, stage, service)
	waitFor(t, "Sloth's page alert to fire in Prometheus", func() (bool, string) {
		n, err := count(promURL, pageAlert)
		if err != nil {
			return false, err.Error()
		}
		burn, _ := testenv.Fetch(promURL + "/api/v1/query?query=" + queryEscape(fmt.Sprintf(`slo:sli_error:ratio_rate5m{project=%q}`, project)))
		return n > 0, "5m error ratio: " + string(burn)
	})
	fired := time.Since(began)

	// Alertmanager delivers it and tend opens a problem of the page type.
	var problem apitypes.Problem
	waitFor(t, "tend to open the problem CartsAvailability-page", func() (bool, string) {
		lctx, lcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer lcancel()
		ps, err := admin.ListProblems(lctx, client.ProblemFilter{Project: project})
		if err != nil {
			return false, err.Error()
		}
		for _, p := range ps {
			// The ticket alert fires too (5% burns above its factors as
			// well) and opens a problem of its own type, with no
			// remediation: the page problem is the one to follow.
			if p.State == "open" && p.Title == "CartsAvailability-page" {
				problem = p
				return true, ""
			}
		}
		return false, fmt.Sprintf("problems %+v; tend's stderr: %s; alertmanager alerts: %s", ps, srv.Stderr, testenv.Describe(amURL+"/api/v2/alerts"))
	})
	if problem.Title != "CartsAvailability-page" || problem.Source != "alertmanager" || problem.Stage != stage || problem.Service != service {
		t.Errorf("problem %q from %q in %s/%s, want CartsAvailability-page from alertmanager in %s/%s", problem.Title, problem.Source, problem.Stage, problem.Service, stage, service)
	}

	// The remediation runs its first action, the scaling of carts, and the
	// event log of the problem's context tells the story. An Alertmanager
	// problem is opened in the problem list (checked above); its context's
	// log starts with remediation.triggered.
	want := []string{"sh.keptn.event.production.remediation.triggered", "sh.keptn.event.action.triggered", "sh.keptn.event.action.finished"}
	var story []string
	waitFor(t, "the remediation to run its first action", func() (bool, string) {
		story = nil
		seen := map[string]bool{}
		for _, e := range events(t, srv, "keptnContext="+problem.KeptnContext) {
			seen[e.Type] = true
			story = append(story, e.Type)
		}
		for _, w := range want {
			if !seen[w] {
				var all []string
				for _, e := range events(t, srv, "project="+project) {
					all = append(all, e.Context+" "+e.Type)
				}
				return false, fmt.Sprintf("events of context %s: %v; of the project: %v", problem.KeptnContext, story, all)
			}
		}
		return true, ""
	})
	finished := time.Since(began)
	for _, e := range events(t, srv, "keptnContext="+problem.KeptnContext+"&type=sh.keptn.event.action.finished") {
		var d struct{ Result string }
		if err := json.Unmarshal(e.Data, &d); err != nil || d.Result != "pass" {
			t.Errorf("the scaling action's action.finished has result %q (%v), want pass: %s", d.Result, err, e.Data)
		}
	}
	if n := replicas(t, cartsURL); n != 2 {
		t.Errorf("carts runs %d replicas after the scaling action, want 2", n)
	}
	t.Logf("the page alert fired %s after the load began, the first action finished after %s; events: %v", fired.Round(time.Second), finished.Round(time.Second), story)
}

// startCarts runs the carts demo service failing errorRate of its
// requests, with a hundredth of the modelled latency really slept, until
// the test ends, and returns its base URL.
func startCarts(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	urls := make(chan string, 1)
	done := make(chan error, 1)
	cfg := demo.CartsConfig{
		Listen: "127.0.0.1:0", Model: demo.DefaultModel(), TimeScale: 0.01, LoadWindow: 10 * time.Second,
		Replicas: 1, ErrorRate: errorRate, OnListen: func(u string) { urls <- u },
	}
	go func() { done <- demo.RunCarts(ctx, cfg, io.Discard, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("carts: %v", err)
		}
	})
	select {
	case u := <-urls:
		return u
	case err := <-done:
		t.Fatalf("carts ended before serving: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("carts did not listen within a minute")
	}
	return ""
}

// startLoad sends carts 50 requests a second until the test ends.
func startLoad(t testing.TB, target string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = demo.RunLoad(ctx, demo.LoadConfig{Target: target, Rate: 50, Concurrency: 8, Customers: 5, Progress: time.Hour}, io.Discard)
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// replicas reads carts' replica count from GET /scale.
func replicas(t testing.TB, base string) int {
	t.Helper()
	body, err := testenv.Fetch(base + "/scale")
	if err != nil {
		t.Fatalf("read carts' replicas: %v", err)
	}
	var s struct{ Replicas int }
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatalf("read carts' replicas: %v: %s", err, body)
	}
	return s.Replicas
}

type storedEvent struct {
	Type    string          `json:"type"`
	Context string          `json:"shkeptncontext"`
	Data    json.RawMessage `json:"data"`
}

// events lists the server's stored events for query, newest first.
func events(t testing.TB, s *tendapi.Server, query string) []storedEvent {
	t.Helper()
	return tendapi.Events[storedEvent](t, s, query)
}
