package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tendhq/tend/internal/api"
	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/app"
	"github.com/tendhq/tend/internal/intake"
	"github.com/tendhq/tend/internal/remediation"
	"github.com/tendhq/tend/internal/resource"
	"github.com/tendhq/tend/internal/resource/pgstorer"
	"github.com/tendhq/tend/internal/store"
	"github.com/tendhq/tend/internal/store/postgres"
	"github.com/tendhq/tend/internal/testenv"
)

// remediationYAML is the tutorial's remediation file (format 0.1.4).
const remediationYAML = `apiVersion: spec.keptn.sh/0.1.4
kind: Remediation
metadata:
  name: carts-remediation
spec:
  remediations:
    - problemType: response_time_p90
      actionsOnOpen:
        - name: Scale up
          action: scaling
          value: "1"
        - name: Disable promotion
          action: toggle-feature
          value:
            EnablePromotion: "off"
    - problemType: default
      actionsOnOpen:
        - name: Escalate
          action: escalate
`

// alert is one alert of a test Alertmanager message.
type alert struct {
	status, fingerprint, project, stage, service, summary string
	// startsAt defaults to a fixed time.
	startsAt string
}

func firing(fp, project, stage, service string) alert {
	return alert{status: "firing", fingerprint: fp, project: project, stage: stage, service: service, summary: "response_time_p90"}
}

func resolved(fp, project, stage, service string) alert {
	a := firing(fp, project, stage, service)
	a.status = "resolved"
	return a
}

// amLabels are the labels of a test alert. The test's name for the alert
// (its fingerprint field) is the instance label, so alerts the test names
// differently are different alerts, as in Alertmanager, where the
// fingerprint is the labels' hash.
func amLabels(a alert) map[string]string {
	labels := map[string]string{"alertname": "response_time_p90", "instance": a.fingerprint}
	for k, v := range map[string]string{"project": a.project, "stage": a.stage, "service": a.service} {
		if v != "" {
			labels[k] = v
		}
	}
	return labels
}

// amFP is the fingerprint Alertmanager (and tend) give a test alert.
func amFP(a alert) string { return intake.Fingerprint(amLabels(a)) }

// amMessage builds an Alertmanager v4 webhook message.
func amMessage(alerts ...alert) []byte {
	type wireAlert struct {
		Status       string            `json:"status"`
		Labels       map[string]string `json:"labels"`
		Annotations  map[string]string `json:"annotations"`
		StartsAt     string            `json:"startsAt"`
		EndsAt       string            `json:"endsAt"`
		GeneratorURL string            `json:"generatorURL"`
		Fingerprint  string            `json:"fingerprint"`
	}
	msg := map[string]any{
		"version": "4", "groupKey": "{}:{alertname=\"response_time_p90\"}", "truncatedAlerts": 0, "status": "firing",
		"receiver": "tend", "groupLabels": map[string]string{}, "commonLabels": map[string]string{},
		"commonAnnotations": map[string]string{}, "externalURL": "http://alertmanager:9093",
	}
	var as []wireAlert
	for _, a := range alerts {
		labels := amLabels(a)
		start := a.startsAt
		if start == "" {
			start = "2025-03-01T10:00:00Z"
		}
		end := "0001-01-01T00:00:00Z"
		if a.status == "resolved" {
			end = "2025-03-01T10:30:00Z"
		}
		as = append(as, wireAlert{Status: a.status, Labels: labels, Annotations: map[string]string{"summary": a.summary},
			StartsAt: start, EndsAt: end, GeneratorURL: "http://prometheus:9090/graph", Fingerprint: intake.Fingerprint(labels)})
	}
	msg["alerts"] = as
	b, _ := json.Marshal(msg)
	return b
}

// postAlerts sends a message as Alertmanager does: Authorization: Bearer.
func (ts *testServer) postAlerts(t testing.TB, token string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, ts.URL+"/api/v1/integrations/alertmanager", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("post alerts: %v", err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, out
}

func (ts *testServer) wantAlerts(t testing.TB, token string, body []byte) apitypes.AlertmanagerAnswer {
	t.Helper()
	code, _, out := ts.postAlerts(t, token, body)
	if code != http.StatusOK {
		t.Fatalf("post alerts = %d %s; want 200", code, out)
	}
	return decode[apitypes.AlertmanagerAnswer](t, out)
}

func statuses(a apitypes.AlertmanagerAnswer) string {
	var s []string
	for _, r := range a.Results {
		s = append(s, r.Status)
	}
	return strings.Join(s, ",")
}

// setupSelfHealing creates project sockshop (stages dev and production,
// self-healing in production only) with services carts and orders, and the
// remediation file of carts in production.
func (ts *testServer) setupSelfHealing(t testing.TB) {
	t.Helper()
	ts.createProject(t, "sockshop", "carts", "orders")
	ts.wantStatus(t, http.StatusCreated, http.MethodPut, "/api/v1/project/sockshop/stage/production/service/carts/resource", ts.Admin,
		putBody(map[string]string{"remediation.yaml": remediationYAML}))
}

// stepJobs claims every remediation.step job and returns their payloads.
func stepJobs(t testing.TB, st store.Store) []remediation.Payload {
	t.Helper()
	jobs, err := st.ClaimJobs(context.Background(), store.Claim{Kinds: []string{remediation.JobKind}, Limit: 1000, Worker: "test"})
	if err != nil {
		t.Fatal(err)
	}
	var out []remediation.Payload
	for _, j := range jobs {
		out = append(out, decode[remediation.Payload](t, j.Payload))
	}
	return out
}

func TestProblemIntakeSQLite(t *testing.T) { runProblemSuite(t, sqliteBackend) }

func TestProblemIntakePostgres(t *testing.T) {
	testenv.PostgresServerURL(t)
	runProblemSuite(t, postgresBackend)
}

func runProblemSuite(t *testing.T, b backend) {
	tests := []struct {
		name string
		fn   func(*testing.T, backend)
	}{
		{"alertmanager lifecycle", testAlertmanagerLifecycle},
		{"intake tokens", testIntakeTokens},
		{"400 only for non-alertmanager bodies", testAlertmanagerBadBodies},
		{"problem events", testProblemEvents},
		{"dedupe under concurrency", testDedupeConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, b) })
	}
}

func testAlertmanagerLifecycle(t *testing.T, b backend) {
	ts := startServer(t, b)
	ts.setupSelfHealing(t)
	write := ts.mint(t, "am", "write", "")

	msg := amMessage(
		firing("aaaa000000000001", "sockshop", "production", "carts"),
		firing("aaaa000000000002", "sockshop", "production", "carts"),
		firing("aaaa000000000003", "sockshop", "dev", "orders"),
		firing("aaaa000000000004", "sockshop", "production", ""),
		firing("aaaa000000000005", "nowhere", "production", "carts"),
		firing("aaaa000000000006", "sockshop", "staging", "carts"),
		firing("aaaa000000000007", "sockshop", "production", "payment"),
	)
	first := ts.wantAlerts(t, write, msg)
	if got := statuses(first); got != "started,joined,recorded,unmatched,unmatched,unmatched,unmatched" {
		t.Fatalf("statuses = %s", got)
	}
	if first.Accepted != 3 || first.Duplicates != 0 || len(first.Unmatched) != 4 || len(first.Problems) != 3 {
		t.Errorf("first answer %+v", first)
	}
	rid := first.Results[0].RemediationID
	if rid == "" || first.Results[1].RemediationID != rid || first.Results[2].RemediationID != "" {
		t.Errorf("remediation ids %+v", first.Results)
	}
	if first.Results[2].Reason != intake.ReasonNotEnabled {
		t.Errorf("dev alert reason %q, want %q", first.Results[2].Reason, intake.ReasonNotEnabled)
	}
	wantReasons := map[string]string{
		amFP(firing("aaaa000000000004", "sockshop", "production", "")):        `no "service" label`,
		amFP(firing("aaaa000000000005", "nowhere", "production", "carts")):    `project "nowhere" does not exist`,
		amFP(firing("aaaa000000000006", "sockshop", "staging", "carts")):      `stage "staging" is not a stage of project sockshop (its stages: dev, production)`,
		amFP(firing("aaaa000000000007", "sockshop", "production", "payment")): `service "payment" does not exist in project sockshop`,
	}
	for _, u := range first.Unmatched {
		if want := wantReasons[u.Fingerprint]; want == "" || !strings.Contains(u.Reason, want) || u.ProblemID == "" {
			t.Errorf("unmatched %+v: want a reason containing %q and a problem id", u, want)
		}
	}

	// The same message again (a retry, or the HA peer's copy) changes
	// nothing.
	again := ts.wantAlerts(t, write, msg)
	if got := statuses(again); got != "duplicate,duplicate,duplicate,unmatched,unmatched,unmatched,unmatched" || again.Accepted != 0 || again.Duplicates != 3 {
		t.Errorf("repeat: %s %+v", got, again)
	}
	for i := range 3 {
		if again.Results[i].ProblemID != first.Results[i].ProblemID {
			t.Errorf("repeat of alert %d names problem %s, first %s", i, again.Results[i].ProblemID, first.Results[i].ProblemID)
		}
	}
	for i, u := range again.Unmatched {
		if u.ProblemID != first.Unmatched[i].ProblemID {
			t.Errorf("unmatched alert recorded twice: %s then %s", first.Unmatched[i].ProblemID, u.ProblemID)
		}
	}

	// The stored remediation waits for the loop, with the remediation
	// file's actions and both problems.
	rem := decode[apitypes.Remediation](t, ts.wantStatus(t, http.StatusOK, http.MethodGet, "/api/v1/remediation/"+rid, write, nil))
	if rem.State != "waiting" || !rem.Running || rem.Service != "carts" || rem.Stage != "production" || len(rem.Problems) != 2 ||
		len(rem.Actions) != 2 || rem.Actions[0].Action != "scaling" || rem.Actions[1].Action != "toggle-feature" || rem.Title != "response_time_p90" {
		t.Errorf("remediation %+v", rem)
	}
	if rem.Version != 2 {
		t.Errorf("remediation version %d, want 2 (created, then joined)", rem.Version)
	}
	list := decode[apitypes.RemediationList](t, ts.wantStatus(t, http.StatusOK, http.MethodGet, "/api/v1/remediation?project=sockshop&running=true", write, nil))
	if len(list.Remediations) != 1 || list.Remediations[0].ID != rid {
		t.Errorf("running remediations %+v", list)
	}
	if jobs := stepJobs(t, ts.Store); len(jobs) != 1 || jobs[0] != (remediation.Payload{RemediationID: rid}) {
		t.Errorf("remediation.step jobs %+v, want one start job", jobs)
	}

	// Resolved closes; a duplicate resolved is ignored; a resolved alert
	// never seen firing is recorded closed.
	closing := ts.wantAlerts(t, write, amMessage(
		resolved("aaaa000000000001", "sockshop", "production", "carts"),
		resolved("aaaa000000000001", "sockshop", "production", "carts"),
		resolved("aaaa0000000000ff", "sockshop", "production", "carts"),
	))
	if got := statuses(closing); got != "closed,duplicate,recorded-closed" {
		t.Errorf("closing statuses %s", got)
	}
	if jobs := stepJobs(t, ts.Store); len(jobs) != 1 || jobs[0] != (remediation.Payload{RemediationID: rid, ProblemClosed: first.Results[0].ProblemID}) {
		t.Errorf("remediation.step jobs after the close %+v, want one problem-closed job", jobs)
	}
	// A firing copy arriving after the resolved one does not reopen it.
	late := ts.wantAlerts(t, write, amMessage(firing("aaaa000000000001", "sockshop", "production", "carts")))
	if got := statuses(late); got != "duplicate" {
		t.Errorf("late firing: %s", got)
	}

	p := decode[apitypes.Problem](t, ts.wantStatus(t, http.StatusOK, http.MethodGet, "/api/v1/problem/"+first.Results[0].ProblemID, write, nil))
	if p.State != "closed" || p.ClosedAt == nil || p.RemediationID != rid || p.RemediationState != "waiting" || p.Title != "response_time_p90" ||
		p.Source != "alertmanager" || p.Labels["alertname"] != "response_time_p90" || p.URL != "http://prometheus:9090/graph" {
		t.Errorf("closed problem %+v", p)
	}
	for _, tt := range []struct {
		query string
		want  int
	}{
		{"project=sockshop", 7},
		{"project=sockshop&state=open", 2},
		{"project=sockshop&state=closed", 2},
		{"project=sockshop&state=unmatched", 3},
		{"state=unmatched", 4},
		{"project=sockshop&stage=production&service=carts", 3},
	} {
		list := decode[apitypes.ProblemList](t, ts.wantStatus(t, http.StatusOK, http.MethodGet, "/api/v1/problem?"+tt.query, write, nil))
		if len(list.Problems) != tt.want {
			t.Errorf("problems?%s: %d, want %d", tt.query, len(list.Problems), tt.want)
		}
	}
	msg404 := wantError(t, http.StatusNotFound, ts.wantStatus(t, http.StatusNotFound, http.MethodGet, "/api/v1/problem/nope", write, nil))
	if !strings.Contains(msg404, `problem "nope" not found`) {
		t.Errorf("404 message %q", msg404)
	}
	wantError(t, http.StatusBadRequest, ts.wantStatus(t, http.StatusBadRequest, http.MethodGet, "/api/v1/problem?state=fixed", write, nil))
	wantError(t, http.StatusBadRequest, ts.wantStatus(t, http.StatusBadRequest, http.MethodGet, "/api/v1/remediation?state=done", write, nil))
}

func testIntakeTokens(t *testing.T, b backend) {
	ts := startServer(t, b)
	ts.setupSelfHealing(t)
	ts.createProject(t, "other", "carts")

	// An intake token needs a project.
	body := ts.wantStatus(t, http.StatusBadRequest, http.MethodPost, "/api/v1/token", ts.Admin, apitypes.CreateTokenRequest{Name: "am", Scope: apitypes.ScopeIntake})
	if msg := wantError(t, http.StatusBadRequest, body); !strings.Contains(msg, "--scope intake --project") {
		t.Errorf("message %q", msg)
	}
	created := decode[apitypes.CreatedToken](t, ts.wantStatus(t, http.StatusCreated, http.MethodPost, "/api/v1/token", ts.Admin,
		apitypes.CreateTokenRequest{Name: "am", Scope: apitypes.ScopeIntake, Project: "sockshop"}))
	if created.Scope != apitypes.ScopeIntake || created.Project != "sockshop" {
		t.Errorf("created %+v", created)
	}
	tok := created.Token

	a := ts.wantAlerts(t, tok, amMessage(
		firing("bbbb000000000001", "sockshop", "production", "carts"),
		firing("bbbb000000000002", "other", "production", "carts"),
	))
	if got := statuses(a); got != "started,unmatched" || a.Unmatched[0].Reason != "intake token is for project sockshop, not other" {
		t.Errorf("intake token answer %s %+v", got, a.Unmatched)
	}
	// Nothing was started in the other project.
	rems := decode[apitypes.RemediationList](t, ts.wantStatus(t, http.StatusOK, http.MethodGet, "/api/v1/remediation?project=other", ts.Admin, nil))
	if len(rems.Remediations) != 0 {
		t.Errorf("remediations in project other: %+v", rems.Remediations)
	}

	// The intake token can do nothing else.
	for _, r := range []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, "/api/v1/problem?project=sockshop", nil},
		{http.MethodGet, "/api/v1/remediation?project=sockshop", nil},
		{http.MethodGet, "/api/v1/project/sockshop", nil},
		{http.MethodGet, "/api/v1/event?project=sockshop", nil},
		{http.MethodPost, "/api/v1/event", eventJSON("sh.keptn.event.evaluation.triggered", "sockshop", "")},
		{http.MethodPost, "/api/v1/token", apitypes.CreateTokenRequest{Name: "x", Scope: "read"}},
	} {
		code, _, out := ts.do(t, r.method, r.path, tok, r.body)
		if code != http.StatusForbidden {
			t.Errorf("intake token %s %s = %d %s; want 403", r.method, r.path, code, out)
		}
	}
	// A read token may not deliver alerts; a token restricted to a project
	// delivers for that project only.
	read := ts.mint(t, "reader", "read", "")
	if code, _, out := ts.postAlerts(t, read, amMessage(firing("bbbb000000000003", "sockshop", "production", "carts"))); code != http.StatusForbidden {
		t.Errorf("read token: %d %s", code, out)
	}
	if code, h, _ := ts.postAlerts(t, "", amMessage()); code != http.StatusUnauthorized || h.Get("WWW-Authenticate") == "" {
		t.Errorf("no token: %d", code)
	}
	restricted := ts.mint(t, "ci", "write", "other")
	r := ts.wantAlerts(t, restricted, amMessage(firing("bbbb000000000004", "sockshop", "production", "carts")))
	if len(r.Unmatched) != 1 || r.Unmatched[0].Reason != "token is for project other, not sockshop" {
		t.Errorf("restricted token answer %+v", r)
	}
	// Revoked at once.
	ts.wantStatus(t, http.StatusNoContent, http.MethodDelete, "/api/v1/token/am", ts.Admin, nil)
	if code, _, _ := ts.postAlerts(t, tok, amMessage()); code != http.StatusUnauthorized {
		t.Errorf("revoked intake token: %d", code)
	}
}

func testAlertmanagerBadBodies(t *testing.T, b backend) {
	ts := startServer(t, b)
	ts.setupSelfHealing(t)
	for _, body := range []string{``, `not json`, `[]`, `{"version":"3","alerts":[]}`, `{"version":"4","alerts":{}}`, `{"version":"4"}`} {
		code, _, out := ts.postAlerts(t, ts.Admin, []byte(body))
		if code != http.StatusBadRequest {
			t.Errorf("body %q: %d %s; want 400", body, code, out)
			continue
		}
		if msg := wantError(t, http.StatusBadRequest, out); !strings.Contains(msg, "Alertmanager") {
			t.Errorf("body %q: message %q does not say what was expected", body, msg)
		}
	}
	// Alerts that cannot be read are recorded unmatched, not refused.
	a := ts.wantAlerts(t, ts.Admin, []byte(`{"version":"4","alerts":[42,{"status":"pending","labels":{"project":"sockshop"}}]}`))
	if a.Accepted != 0 || len(a.Unmatched) != 2 {
		t.Errorf("unreadable alerts: %+v", a)
	}
	// The real prometheus-service payload (Alertmanager 0.2x).
	real, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "keptn-examples", "prometheus-service", "0.7.2", "prometheus_alert.json"))
	if err != nil {
		t.Skipf("keptn examples not available: %v", err)
	}
	if got := statuses(ts.wantAlerts(t, ts.Admin, real)); got != "started" {
		t.Errorf("prometheus-service alert: %s", got)
	}
}

// examplesDir is /work/shared/keptn-examples as seen from this package.
func exampleFile(t testing.TB, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"..", "..", "..", "shared", "keptn-examples"}, parts...)...))
	if err != nil {
		t.Skipf("keptn example not available: %v", err)
	}
	return b
}

func testProblemEvents(t *testing.T, b backend) {
	ts := startServer(t, b)
	ts.createProject(t, "shop", "carts")
	ts.createProject(t, "self-healing-project", "frontend")
	write := ts.mint(t, "dt", "write", "")

	problems := func(project, state string) []apitypes.Problem {
		t.Helper()
		return decode[apitypes.ProblemList](t, ts.wantStatus(t, http.StatusOK, http.MethodGet, "/api/v1/problem?project="+project+"&state="+state, write, nil)).Problems
	}

	// A Dynatrace problem notification opens a problem and a remediation.
	open := exampleFile(t, "dynatrace-service", "0.27.2", "internal", "problem", "testdata", "open_problem", "received_ce.json")
	ts.wantStatus(t, http.StatusOK, http.MethodPost, "/api/v1/event", write, string(open))
	ps := problems("shop", "open")
	if len(ps) != 1 || ps[0].Key != "dynatrace/shop/99999" || ps[0].RemediationID == "" || ps[0].Source != "dynatrace" || ps[0].ImpactedEntity != "Myhost1, Myservice1" {
		t.Fatalf("open problems %+v", ps)
	}
	// The event is in the log, filed under the project its fields name.
	evs := decode[apitypes.EventList](t, ts.wantStatus(t, http.StatusOK, http.MethodGet, "/api/v1/event?project=shop&type=sh.keptn.events.problem", write, nil))
	if len(evs.Events) != 1 {
		t.Errorf("problem events in the log: %d, want 1", len(evs.Events))
	}
	// Sent again, and re-sent as a new notification of the same PID: one
	// problem, one remediation.
	ts.wantStatus(t, http.StatusOK, http.MethodPost, "/api/v1/event", write, string(open))
	renotified := strings.Replace(string(open), "343cd015-72ac-4e10-b241-1136a22e4cd0", "343cd015-72ac-4e10-b241-1136a22e4cd1", 1)
	ts.wantStatus(t, http.StatusOK, http.MethodPost, "/api/v1/event", write, renotified)
	if ps2 := problems("shop", ""); len(ps2) != 1 {
		t.Errorf("after duplicates: %d problems, want 1", len(ps2))
	}
	// RESOLVED closes it and tells the remediation.
	resolvedEv := strings.Replace(strings.Replace(renotified, `"State": "OPEN"`, `"State": "RESOLVED"`, 1), "b241-1136a22e4cd1", "b241-1136a22e4cd2", 1)
	ts.wantStatus(t, http.StatusOK, http.MethodPost, "/api/v1/event", write, resolvedEv)
	if ps := problems("shop", "closed"); len(ps) != 1 || ps[0].Key != "dynatrace/shop/99999" {
		t.Errorf("closed problems %+v", ps)
	}
	jobs := stepJobs(t, ts.Store)
	if len(jobs) != 2 {
		t.Errorf("remediation.step jobs %+v, want the start and the close", jobs)
	}
	// A closed notification of a problem never seen open is recorded.
	closedEv := exampleFile(t, "dynatrace-service", "0.27.2", "internal", "problem", "testdata", "closed_problem", "received_ce.json")
	ts.wantStatus(t, http.StatusOK, http.MethodPost, "/api/v1/event", write, string(closedEv))
	if ps := problems("shop", "closed"); len(ps) != 2 {
		t.Errorf("closed problems after the closed notification: %d, want 2", len(ps))
	}

	// A remediation.triggered from outside starts a remediation answered in
	// its own context; Keptn 0.6's problem.open for the same service then
	// joins it.
	trig := exampleFile(t, "keptn", "0.8.3", "test", "assets", "self_healing_remediation_triggered_event.json")
	ec := decode[apitypes.EventContext](t, ts.wantStatus(t, http.StatusOK, http.MethodPost, "/api/v1/event", write, string(trig)))
	rems := decode[apitypes.RemediationList](t, ts.wantStatus(t, http.StatusOK, http.MethodGet, "/api/v1/remediation?project=self-healing-project", write, nil))
	if len(rems.Remediations) != 1 || rems.Remediations[0].KeptnContext != ec.KeptnContext || rems.Remediations[0].Title != "Response time degradation" {
		t.Fatalf("remediations %+v (context %s)", rems.Remediations, ec.KeptnContext)
	}
	st, err := ts.Store.GetRemediation(context.Background(), rems.Remediations[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	rem, err := remediation.Decode(st.ID, st.Doc)
	if err != nil {
		t.Fatal(err)
	}
	if rem.Settings.TriggerEventID != "f2b878d3-03c0-4e8f-bc3f-454bc1b3d79d" {
		t.Errorf("trigger event id %q", rem.Settings.TriggerEventID)
	}
	legacy := exampleFile(t, "keptn", "b7f5b7486bed", "test", "assets", "self_healing_problem_open_event.json")
	// Same id and source as the remediation.triggered example: give it its
	// own id, as a real sender would.
	legacy = bytes.Replace(legacy, []byte("f2b878d3-03c0-4e8f-bc3f-454bc1b3d79d"), []byte("f2b878d3-03c0-4e8f-bc3f-454bc1b3d7a0"), 1)
	ts.wantStatus(t, http.StatusOK, http.MethodPost, "/v1/event", write, string(legacy))
	joined := decode[apitypes.Remediation](t, ts.wantStatus(t, http.StatusOK, http.MethodGet, "/api/v1/remediation/"+rem.ID, write, nil))
	if len(joined.Problems) != 2 {
		t.Errorf("problems of the remediation after problem.open: %+v", joined.Problems)
	}

	// An intake token delivers problem events for its project only.
	tok := ts.mint(t, "dt-intake", "intake", "shop")
	other := strings.Replace(renotified, `"KeptnProject": "shop"`, `"KeptnProject": "self-healing-project"`, 1)
	other = strings.Replace(other, "b241-1136a22e4cd1", "b241-1136a22e4cd9", 1)
	if code, _, out := ts.do(t, http.MethodPost, "/api/v1/event", tok, other); code != http.StatusForbidden {
		t.Errorf("intake token, other project: %d %s", code, out)
	}
	again := strings.Replace(renotified, "b241-1136a22e4cd1", "b241-1136a22e4cd8", 1)
	ts.wantStatus(t, http.StatusOK, http.MethodPost, "/api/v1/event", tok, again)
	// A problem event that cannot be read is refused.
	bad := strings.Replace(string(open), `"State": "OPEN"`, `"State": "MAYBE"`, 1)
	ts.wantStatus(t, http.StatusBadRequest, http.MethodPost, "/api/v1/event", write, bad)
}

// testDedupeConcurrent floods the intake with duplicate and interleaved
// notifications of a handful of problems from concurrent senders: every
// problem is recorded once, and every service gets exactly one remediation
// (the other problems join it).
func testDedupeConcurrent(t *testing.T, b backend) {
	ts := startServer(t, b, withLogger(t))
	ts.setupSelfHealing(t)
	floodAndCheck(t, []*testServer{ts}, 2000)
}

// floodAndCheck sends about total alerts, spread over the servers (replicas
// of one database), and checks the outcome.
func floodAndCheck(t *testing.T, servers []*testServer, total int) {
	t.Helper()
	const (
		perService = 4
		perMessage = 10
		senders    = 16
	)
	services := []string{"carts", "orders"}
	type key struct {
		service string
		n       int
	}
	var keys []key
	for _, svc := range services {
		for n := range perService {
			keys = append(keys, key{svc, n})
		}
	}
	fp := func(k key) string { return fmt.Sprintf("%s%012d", k.service[:4], k.n) }
	// Phase 1: only firing (duplicates, HA copies, retries); phase 2:
	// firing mixed with the resolved notifications of the even problems.
	phase := func(withResolved bool) {
		var wg sync.WaitGroup
		errs := make(chan error, senders)
		messages := total / perMessage / 2
		for s := range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ts := servers[s%len(servers)]
				for m := s; m < messages; m += senders {
					var as []alert
					for i := range perMessage {
						k := keys[(m*7+i*3)%len(keys)]
						a := firing(fp(k), "sockshop", "production", k.service)
						if withResolved && k.n%2 == 0 && (m+i)%2 == 0 {
							a = resolved(fp(k), "sockshop", "production", k.service)
						}
						as = append(as, a)
					}
					code, _, out := ts.postAlerts(t, ts.Admin, amMessage(as...))
					if code != http.StatusOK {
						errs <- fmt.Errorf("sender %d message %d: %d %s", s, m, code, out)
						return
					}
					// The HA peer delivers the same message too.
					if m%3 == 0 {
						peer := servers[(s+1)%len(servers)]
						if code, _, out := peer.postAlerts(t, ts.Admin, amMessage(as...)); code != http.StatusOK {
							errs <- fmt.Errorf("peer copy of message %d: %d %s", m, code, out)
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	phase(false)
	phase(true)

	st := servers[0].Store
	ctx := context.Background()
	page, err := st.ListProblems(ctx, store.ProblemFilter{Project: "sockshop", PageSize: store.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Problems) != len(keys) {
		t.Fatalf("%d problems stored, want %d (one per alert)", len(page.Problems), len(keys))
	}
	rems, err := st.ListRemediations(ctx, store.RemediationFilter{Project: "sockshop", PageSize: store.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	perSvc := map[string][]string{}
	for _, r := range rems.Remediations {
		perSvc[r.Service] = append(perSvc[r.Service], r.ID)
	}
	for _, svc := range services {
		if len(perSvc[svc]) != 1 {
			t.Errorf("service %s: remediations %v, want exactly one", svc, perSvc[svc])
		}
	}
	closedByRem := map[string][]string{}
	for _, p := range page.Problems {
		var k key
		for _, kk := range keys {
			if "alertmanager/sockshop/"+amFP(firing(fp(kk), "sockshop", "production", kk.service))+"/2025-03-01T10:00:00Z" == p.Key {
				k = kk
			}
		}
		if k.service == "" {
			t.Errorf("unexpected problem key %s", p.Key)
			continue
		}
		if want := perSvc[k.service]; len(want) != 1 || p.RemediationID != want[0] {
			t.Errorf("problem %s names remediation %q, want the service's %v", p.Key, p.RemediationID, want)
		}
		wantState := store.ProblemOpen
		if k.n%2 == 0 {
			wantState = store.ProblemClosed
			closedByRem[p.RemediationID] = append(closedByRem[p.RemediationID], p.ID)
		}
		if p.State != wantState {
			t.Errorf("problem %s is %s, want %s", p.Key, p.State, wantState)
		}
		rec, err := st.GetRemediation(ctx, p.RemediationID)
		if err != nil {
			t.Fatal(err)
		}
		rem, err := remediation.Decode(rec.ID, rec.Doc)
		if err != nil {
			t.Fatal(err)
		}
		if !rem.HasProblem(p.ID) || len(rem.Problems) != perService {
			t.Errorf("remediation %s problems %+v: want all %d problems of its service, %s among them", rem.ID, rem.Problems, perService, p.ID)
		}
	}
	// One start job per remediation and one close job per closed problem.
	jobs := stepJobs(t, st)
	var got, want []string
	for _, j := range jobs {
		got = append(got, j.RemediationID+"/"+j.ProblemClosed)
	}
	for _, ids := range perSvc {
		want = append(want, ids[0]+"/")
		for _, pid := range closedByRem[ids[0]] {
			want = append(want, ids[0]+"/"+pid)
		}
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("remediation.step jobs\n got %v\nwant %v", got, want)
	}
}

// TestDedupeTwoReplicasPostgres runs the flood against two API servers on
// two stores of one PostgreSQL database, as two tend replicas would.
func TestDedupeTwoReplicasPostgres(t *testing.T) {
	url := testenv.PostgresURL(t)
	first := startServer(t, sharedPostgres(url), withLogger(t))
	second := startReplica(t, sharedPostgres(url), first.Admin)
	first.setupSelfHealing(t)
	floodAndCheck(t, []*testServer{first, second}, 3000)
}

// withLogger sends the server's error logs to the test log.
func withLogger(t testing.TB) serverOption {
	return func(o *api.Options) {
		o.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelError}))
	}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// startReplica starts another API server on b (the same database as a
// running one), using that one's admin token.
func startReplica(t testing.TB, b backend, admin string) *testServer {
	t.Helper()
	st, storage := b(t)
	repos, err := resource.New(resource.Options{Storage: storage})
	if err != nil {
		t.Fatal(err)
	}
	o := api.Options{Store: st, Resources: repos, Registry: prometheus.NewRegistry(), Settings: app.Settings()}
	withSelfHealing(t, &o)
	srv, err := api.New(o)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.Close()
		hs.Close()
	})
	return &testServer{URL: hs.URL, API: srv, Store: st, Admin: admin}
}

// sharedPostgres opens stores on one given database, so that several
// servers act as replicas.
func sharedPostgres(url string) backend {
	return func(t testing.TB) (store.Store, resource.Storage) {
		t.Helper()
		ctx := context.Background()
		st, err := postgres.Open(ctx, url, postgres.Options{})
		if err != nil {
			t.Fatalf("open postgres: %v", err)
		}
		t.Cleanup(func() { st.Close() })
		pool, err := pgxpool.New(ctx, url)
		if err != nil {
			t.Fatalf("connect git storage: %v", err)
		}
		t.Cleanup(pool.Close)
		gs := pgstorer.New(pool)
		if err := gs.Migrate(ctx); err != nil {
			t.Fatalf("migrate git storage: %v", err)
		}
		return st, gs
	}
}

// busyStore is a store whose writes fail as an overloaded or unreachable
// database's do.
type busyStore struct {
	api.Store
	err error
}

func (b busyStore) WithTx(ctx context.Context, fn func(tx store.Tx) error) error { return b.err }

// blockingRecorder holds every delivery until release is closed.
type blockingRecorder struct {
	entered chan struct{}
	release chan struct{}
}

func (b *blockingRecorder) Record(ctx context.Context, _ intake.Batch, _ ...store.EventRecord) ([]intake.Outcome, error) {
	b.entered <- struct{}{}
	<-b.release
	return nil, nil
}

type errRecorder struct{ err error }

func (e errRecorder) Record(context.Context, intake.Batch, ...store.EventRecord) ([]intake.Outcome, error) {
	return nil, e.err
}

func TestIntakeOverloadAnswers503(t *testing.T) {
	msg := amMessage(firing("cccc000000000001", "sockshop", "production", "carts"))
	t.Run("store unavailable", func(t *testing.T) {
		ts := startServer(t, sqliteBackend, func(o *api.Options) {
			o.Store = busyStore{Store: o.Store, err: fmt.Errorf("begin write: %w", store.ErrUnavailable)}
		})
		code, h, out := ts.postAlerts(t, ts.Admin, msg)
		if code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
			t.Fatalf("%d %s; want 503 with Retry-After", code, out)
		}
		wantError(t, http.StatusServiceUnavailable, out)
	})
	for _, tt := range []struct {
		name string
		err  error
		want int
	}{
		{"database unavailable", fmt.Errorf("record: %w", store.ErrUnavailable), http.StatusServiceUnavailable},
		{"write deadline", fmt.Errorf("record: %w", context.DeadlineExceeded), http.StatusServiceUnavailable},
		{"conflicts exhausted", fmt.Errorf("record: %w", intake.ErrBusy), http.StatusServiceUnavailable},
		{"shutting down", store.ErrClosed, http.StatusServiceUnavailable},
		{"a bug", errors.New("boom"), http.StatusInternalServerError},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, sqliteBackend, func(o *api.Options) { o.Problems = errRecorder{tt.err} })
			code, h, out := ts.postAlerts(t, ts.Admin, msg)
			if code != tt.want {
				t.Fatalf("%d %s; want %d", code, out, tt.want)
			}
			wantError(t, tt.want, out)
			if tt.want == http.StatusServiceUnavailable && h.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
		})
	}
	t.Run("no free turn", func(t *testing.T) {
		rec := &blockingRecorder{entered: make(chan struct{}), release: make(chan struct{})}
		ts := startServer(t, sqliteBackend, func(o *api.Options) {
			o.Problems, o.Intake.MaxInFlight, o.Intake.QueueWait = rec, 1, -1
		})
		done := make(chan int)
		go func() {
			code, _, _ := ts.postAlerts(t, ts.Admin, msg)
			done <- code
		}()
		<-rec.entered // the first delivery holds the only turn
		code, h, out := ts.postAlerts(t, ts.Admin, msg)
		if code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
			t.Errorf("second delivery: %d %s; want 503 with Retry-After", code, out)
		}
		close(rec.release)
		if code := <-done; code != http.StatusOK {
			t.Errorf("first delivery: %d", code)
		}
		// With the turn free again, deliveries go through.
		go func() { <-rec.entered }()
		if code, _, out := ts.postAlerts(t, ts.Admin, msg); code != http.StatusOK {
			t.Errorf("after release: %d %s", code, out)
		}
	})
}
