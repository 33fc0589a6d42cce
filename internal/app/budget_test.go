package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/api"
	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/config"
	"github.com/tendhq/tend/internal/intake"
	"github.com/tendhq/tend/internal/slo"
)

// budgetSLO gates on the carts availability budget beside a Keptn
// objective.
const budgetSLO = `spec_version: "1.0"
objectives:
  - sli: response_time_p90
    pass: [{criteria: ["<1000"]}]
total_score: {pass: "90%"}
budget:
  - slo: availability
    remainingAtLeast: "25%"
    burnRateAtMost: 2
`

// budgetPrometheus is a fake Prometheus with Sloth's recording rules of
// one SLO of sockshop's production carts, whose series carry tend's labels
// under the names the server's intake reads: it answers the remaining
// budget, the burn rate over a window (the whole division, as Prometheus
// would), Sloth's listing series, and any other query with 300. It
// records the queries.
type budgetPrometheus struct {
	*httptest.Server
	mu              sync.Mutex
	remaining, burn string
	queries         []string
}

func newBudgetPrometheus(t testing.TB, project, stage, service string) *budgetPrometheus {
	p := &budgetPrometheus{remaining: "0.6", burn: "1"}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/api/v1/query" {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query().Get("query")
		p.mu.Lock()
		p.queries = append(p.queries, q)
		remaining, burn := p.remaining, p.burn
		p.mu.Unlock()
		labels := fmt.Sprintf(`{"sloth_id":"carts-availability","sloth_slo":"availability","sloth_service":"carts",%q:"sockshop",%q:"production",%q:"carts"}`, project, stage, service)
		value := "300"
		switch {
		case strings.HasPrefix(q, "slo:objective:ratio"):
			fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":%s,"value":[1714564800,"0.999"]}]}}`, labels)
			return
		case strings.HasPrefix(q, "max by (sloth_id, "+project+", "+stage+", "+service+") (slo:period_error_budget_remaining:ratio"):
			value = remaining
		case strings.HasPrefix(q, "max by (sloth_id, "+project+", "+stage+", "+service+") (slo:sli_error:ratio_rate5m"):
			value = burn
		case strings.HasPrefix(q, "max by (sloth_id"):
			fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[]}}`)
			return
		case strings.HasPrefix(q, "max(slo:period_error_budget_remaining:ratio{sloth_id='availability',"):
			value = remaining
		case strings.HasPrefix(q, "max(avg_over_time(slo:sli_error:ratio_rate5m{sloth_id='availability',") && strings.Contains(q, "}[300s])"):
			value = burn
		case strings.Contains(q, "slo:"):
			fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[]}}`)
			return
		}
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":%s,"value":[1714564800,%q]}]}}`, labels, value)
	}))
	t.Cleanup(p.Close)
	return p
}

// sent returns the queries that name metric.
func (p *budgetPrometheus) sent(metric string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, q := range p.queries {
		if strings.Contains(q, metric) {
			out = append(out, q)
		}
	}
	return out
}

func (p *budgetPrometheus) set(remaining, burn string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.remaining, p.burn = remaining, burn
}

func TestBudgetGateThroughTheAPI(t *testing.T) {
	testBudgetGate(t, Options{}, "project", "stage", "service")
}

// TestBudgetReadsUseTheIntakeLabels: a server whose intake reads other
// label names (tend.yaml intake.labels) generates its rules with them, so
// the gate and the listing find the series by those names.
func TestBudgetReadsUseTheIntakeLabels(t *testing.T) {
	opts := Options{Intake: api.IntakeOptions{Labels: intake.AlertmanagerOptions{ProjectLabel: "namespace", StageLabel: "env", ServiceLabel: "app"}}}
	prom := testBudgetGate(t, opts, "namespace", "env", "app")
	for _, metric := range []string{"slo:objective:ratio", "slo:period_error_budget_remaining:ratio"} {
		for _, q := range prom.sent(metric) {
			if !strings.Contains(q, "namespace=~'sockshop|'") || strings.Contains(q, "project") {
				t.Errorf("query %s does not find the project by intake.labels", q)
			}
		}
	}
}

// testBudgetGate runs the budget gate and the listing of a server with
// opts against series whose tend labels have the names given.
func testBudgetGate(t *testing.T, opts Options, project, stage, service string) *budgetPrometheus {
	ta := startTestApp(t, opts)
	prom := newBudgetPrometheus(t, project, stage, service)
	ctx := context.Background()
	if _, err := ta.c.CreateProject(ctx, apitypes.CreateProjectRequest{Name: "sockshop", Shipyard: evalShipyard}); err != nil {
		t.Fatal(err)
	}
	if _, err := ta.c.CreateService(ctx, "sockshop", "carts"); err != nil {
		t.Fatal(err)
	}
	ref := client.ResourceRef{Project: "sockshop", Stage: "production", Service: "carts"}
	if _, err := ta.c.PutResources(ctx, ref, []client.ResourceFile{{URI: "slo.yaml", Content: []byte(budgetSLO)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ta.c.PutMonitoring(ctx, "sockshop", apitypes.MonitoringConfig{Provider: "prometheus", URL: prom.URL}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, remaining, burn string
		result                string
		message               string
	}{
		{"budget left and a slow burn pass", "0.6", "1", "pass", "reached the pass threshold"},
		{"too little budget left fails", "0.1", "1", "fail", "error budget availability: remaining 10% is below 25%"},
		{"a fast burn over the window fails", "0.9", "3.5", "fail", "error budget availability: burn rate 3.5 is above 2"},
		{"an overspent budget fails", "-0.2", "0.5", "fail", "remaining -20% is below 25%"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			prom.set(tt.remaining, tt.burn)
			f := ta.waitFinished(t, ta.trigger(t))
			d := f.Data
			if d.Result != tt.result || string(d.Evaluation.Result) != tt.result || !strings.Contains(d.Evaluation.Message, tt.message) {
				t.Fatalf("evaluation %s (%s) %q; want %s with %q", d.Result, d.Evaluation.Result, d.Evaluation.Message, tt.result, tt.message)
			}
			ev := d.Evaluation
			// Keptn's part is intact: the one Keptn objective passed.
			if len(ev.IndicatorResults) != 1 || ev.IndicatorResults[0].Status != "pass" || ev.Score != 100 {
				t.Errorf("indicatorResults = %+v, score %v", ev.IndicatorResults, ev.Score)
			}
			if len(ev.Budget) != 1 || ev.Budget[0].Remaining == nil || ev.Budget[0].BurnRate == nil {
				t.Fatalf("budget = %+v", ev.Budget)
			}
			if want := map[string]string{"pass": "pass", "fail": "fail"}[tt.result]; string(ev.Budget[0].Status) != want {
				t.Errorf("budget status %s, want %s", ev.Budget[0].Status, want)
			}
		})
	}
	t.Run("get slos", func(t *testing.T) {
		prom.set("0.42", "3")
		got, err := ta.c.GetBudgetSLOs(ctx, "sockshop", "production", "carts")
		if err != nil {
			t.Fatal(err)
		}
		if len(got.SLOs) != 1 || got.SLOs[0].ID != "carts-availability" || *got.SLOs[0].Remaining != 0.42 || got.SLOs[0].BurnRates["5m"] != 3 ||
			got.SLOs[0].Project != "sockshop" || got.SLOs[0].Stage != "production" || got.SLOs[0].TendService != "carts" {
			t.Errorf("slos = %+v", got)
		}
	})
	return prom
}

// burnPrometheus is a fake Prometheus with Sloth's recording rules of the
// carts availability SLO whose error ratio the test decides.
func burnPrometheus(t testing.TB, errorRatio func() float64) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query().Get("query")
		// The alert's SLO, in the problem's project, stage and service.
		const sel = "{sloth_id='carts-availability',project=~'sockshop|',stage=~'production|',service=~'carts|'})"
		var v float64
		switch q {
		case "max(slo:sli_error:ratio_rate5m" + sel, "max(slo:sli_error:ratio_rate30m" + sel:
			v = errorRatio()
		case "max(slo:error_budget:ratio" + sel:
			v = 0.001
		case "max(slo:time_period:days" + sel:
			v = 30
		default:
			t.Errorf("unexpected query %q", q)
			fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[]}}`)
			return
		}
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1714564800,"%g"]}]}}`, v)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestHealingOnBurnThroughTheAPI(t *testing.T) {
	var replicas, puts atomic.Int32
	replicas.Store(1)
	scale := newScaleTarget(t, &replicas, &puts)
	// The SLO file's latency stays bad: only the burn may resolve it.
	ta := healApp(t, Options{}, "apiVersion: spec.keptn.sh/0.1.4\nkind: Remediation\nmetadata: {name: carts}\nspec:\n  remediations:\n    - problemType: CartsAvailability-page\n      actionsOnOpen:\n"+
		"        - {name: Scale up, action: scaling, value: \"+1\"}\n        - {name: Scale up again, action: scaling, value: \"+1\"}\n",
		func() float64 { return 1500 })
	ctx := context.Background()
	// Two replicas stop the burn: 5% errors (50x) before, 0.01% after.
	prom := burnPrometheus(t, func() float64 {
		if replicas.Load() >= 2 {
			return 0.0001
		}
		return 0.05
	})
	if _, err := ta.c.PutMonitoring(ctx, "sockshop", apitypes.MonitoringConfig{Provider: "prometheus", URL: prom}); err != nil {
		t.Fatal(err)
	}
	if _, err := ta.c.PutSetting(ctx, "sockshop", "kubernetes", apitypes.KubernetesConfig{ScaleURL: scale, Service: "carts"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ta.c.PutSetting(ctx, "sockshop", "remediation", apitypes.RemediationConfig{MaxReplicas: ptr(5), Cooldown: "0"}); err != nil {
		t.Fatal(err)
	}
	// Sloth's page alert as tend's budget rules make it (docs/error-budgets.md):
	// tend's labels, Sloth's, and the problem type as summary.
	body := fmt.Sprintf(`{"version":"4","status":"firing","receiver":"tend","groupKey":"{}:{}","alerts":[{"status":"firing",
		"labels":{"alertname":"CartsAvailability","project":"sockshop","stage":"production","service":"carts",
			"sloth_id":"carts-availability","sloth_slo":"availability","sloth_service":"carts","sloth_severity":"page"},
		"annotations":{"summary":"CartsAvailability-page","description":"carts availability SLO error budget burn rate is over expected."},"startsAt":%q}]}`, time.Now().UTC().Format(time.RFC3339Nano))
	_, raw, err := ta.c.Raw(ctx, http.MethodPost, "/api/v1/integrations/alertmanager", nil, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	var ans apitypes.AlertmanagerAnswer
	if err := json.Unmarshal(raw, &ans); err != nil || len(ans.Results) != 1 || ans.Results[0].RemediationID == "" {
		t.Fatalf("alertmanager answer %s (%v) started no remediation", raw, err)
	}
	r := ta.waitRemediation(t, ans.Results[0].RemediationID, ended)
	if r.State != "resolved" || replicas.Load() != 2 || puts.Load() != 1 {
		t.Fatalf("remediation %s (%s), replicas %d after %d scale calls; want resolved after one", r.State, r.Reason, replicas.Load(), puts.Load())
	}
	if !strings.Contains(r.Reason, "pass") {
		t.Errorf("reason %q", r.Reason)
	}
	// The SLO file (latency 1500 against <1000) would have failed: the
	// verification read the burn, and the event log says so.
	var said bool
	for _, e := range ta.contextEvents(t, client.EventFilter{KeptnContext: r.KeptnContext}) {
		if strings.Contains(string(e), "burn of budget carts-availability stopped") {
			said = true
		}
	}
	if !said {
		t.Errorf("no event of context %s says the burn stopped; story: %v", r.KeptnContext, ta.story(t, r.KeptnContext))
	}
}

// TestBudgetSLOsOfAServiceMonitoredAlone: monitoring configured for one
// service only (tend configure monitoring prometheus --service carts, as
// docs/error-budgets.md does) is the Prometheus a listing of that service
// reads; the project's listing has none to read.
func TestBudgetSLOsOfAServiceMonitoredAlone(t *testing.T) {
	ta := startTestApp(t, Options{})
	prom := newBudgetPrometheus(t, "project", "stage", "service")
	ctx := context.Background()
	if _, err := ta.c.CreateProject(ctx, apitypes.CreateProjectRequest{Name: "sockshop", Shipyard: evalShipyard}); err != nil {
		t.Fatal(err)
	}
	if _, err := ta.c.CreateService(ctx, "sockshop", "carts"); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`{"provider":"prometheus","url":%q}`, prom.URL)
	if status, raw, err := ta.c.Raw(ctx, http.MethodPut, "/api/v1/project/sockshop/config/monitoring", url.Values{"service": {"carts"}}, []byte(body)); err != nil || status != http.StatusOK {
		t.Fatalf("put the service's monitoring: %d %s %v", status, raw, err)
	}
	got, err := ta.c.GetBudgetSLOs(ctx, "sockshop", "", "carts")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.SLOs) != 1 || got.SLOs[0].ID != "carts-availability" {
		t.Errorf("carts's slos = %+v", got)
	}
	_, err = ta.c.GetBudgetSLOs(ctx, "sockshop", "", "")
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusConflict || !strings.Contains(apiErr.Message, "no monitoring configured") {
		t.Errorf("the project's listing = %v; want 409, no monitoring configured", err)
	}
}

// TestBudgetHistoryStaysInItsProject: the charts' reader refuses an SLO
// that another project's series place, before it asks any Prometheus, so
// a caller can never draw another project's budget under this one's read
// access.
func TestBudgetHistoryStaysInItsProject(t *testing.T) {
	ta := startTestApp(t, Options{})
	prom := newBudgetPrometheus(t, "project", "stage", "service")
	ctx := context.Background()
	if _, err := ta.c.CreateProject(ctx, apitypes.CreateProjectRequest{Name: "sockshop", Shipyard: evalShipyard}); err != nil {
		t.Fatal(err)
	}
	if _, err := ta.c.PutMonitoring(ctx, "sockshop", apitypes.MonitoringConfig{Provider: "prometheus", URL: prom.URL}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	_, err := budgets{ta.App}.History(ctx, "sockshop", "", "", slo.BudgetStatus{ID: "carts-availability", Project: "other"}, now.Add(-time.Hour), now, time.Minute)
	if err == nil || !strings.Contains(err.Error(), "another project") {
		t.Errorf("History of another project's SLO = %v; want it refused", err)
	}
	if q := prom.sent("slo:"); len(q) != 0 {
		t.Errorf("queries sent for another project's SLO: %q", q)
	}
}

// TestBudgetReadsKeepToTheOutboundPolicy: the budget reads connect to the
// monitoring's Prometheus through the outbound policy, as evaluations do:
// a URL stored by a host name that resolves to a denied address is refused
// when tend connects, and Prometheus never sees a query.
func TestBudgetReadsKeepToTheOutboundPolicy(t *testing.T) {
	cfg := config.Default()
	cfg.Outbound.Deny = []string{"127.0.0.0/8", "::1"}
	ta := startTestApp(t, Options{Config: &cfg})
	prom := newBudgetPrometheus(t, "project", "stage", "service")
	ctx := context.Background()
	if _, err := ta.c.CreateProject(ctx, apitypes.CreateProjectRequest{Name: "sockshop", Shipyard: evalShipyard}); err != nil {
		t.Fatal(err)
	}
	byName := strings.Replace(prom.URL, "127.0.0.1", "localhost", 1)
	if _, err := ta.c.PutMonitoring(ctx, "sockshop", apitypes.MonitoringConfig{Provider: "prometheus", URL: byName}); err != nil {
		t.Fatalf("a host name is checked when tend connects, not when stored: %v", err)
	}
	_, err := ta.c.GetBudgetSLOs(ctx, "sockshop", "", "")
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadGateway || !strings.Contains(apiErr.Message, "denied by tend's outbound policy") {
		t.Errorf("listing through a denied address = %v; want 502 naming the outbound policy", err)
	}
	if q := prom.sent("slo:"); len(q) != 0 {
		t.Errorf("the denied Prometheus received %d queries", len(q))
	}
}
