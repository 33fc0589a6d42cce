package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/app"
	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/event"
)

// The fixture is a whole tend server in this process (SQLite in a temp
// dir), with a project made through the API the way a user makes one:
// the sockshop project of Keptn's tutorials, the carts service, its SLO,
// SLI and remediation files, four quality-gate evaluations sent as
// Keptn's lighthouse-service sends them, and a remediation told by the
// events a Keptn remediation flow emits.

const (
	project = "sockshop"
	stage   = "production"
	service = "carts"
	// remCtx is the keptn context of the seeded remediation.
	remCtx = "8929e5e5-3826-488f-9257-708bfa974909"
)

const shipyard = `apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
metadata:
  name: shipyard-sockshop
spec:
  stages:
    - name: staging
      sequences:
        - name: evaluation
          tasks:
            - name: evaluation
        - name: delivery
          tasks:
            - name: deployment
            - name: approval
              properties:
                pass: manual
                warning: manual
            - name: release
    - name: production
      sequences:
        - name: evaluation
          tasks:
            - name: evaluation
        - name: delivery
          triggeredOn:
            - event: staging.delivery.finished
          tasks:
            - name: deployment
            - name: release
`

const sloFile = `---
spec_version: "1.0"
comparison:
  aggregate_function: avg
  compare_with: single_result
  include_result_with_score: pass
  number_of_comparison_results: 1
objectives:
  - sli: response_time_p95
    displayName: Response time P95
    pass:
      - criteria:
          - "<=+10%"
          - "<600"
    warning:
      - criteria:
          - "<=800"
  - sli: error_rate
    displayName: Error rate
    key_sli: true
    pass:
      - criteria:
          - "<=1"
total_score:
  pass: "90%"
  warning: "75%"
`

const sliFile = `---
spec_version: "1.0"
indicators:
  response_time_p95: histogram_quantile(0.95, sum(rate(http_response_time_milliseconds_bucket{job="$SERVICE-$PROJECT-$STAGE"}[$DURATION_SECONDS])) by (le))
  error_rate: sum(rate(http_requests_total{job="$SERVICE-$PROJECT-$STAGE",status!~"2.."}[$DURATION_SECONDS]))/sum(rate(http_requests_total{job="$SERVICE-$PROJECT-$STAGE"}[$DURATION_SECONDS]))*100
`

const remediationFile = `apiVersion: spec.keptn.sh/0.1.4
kind: Remediation
metadata:
  name: carts-remediation
spec:
  remediations:
    - problemType: Response time degradation
      actionsOnOpen:
        - action: scaling
          name: Scale up
          description: Scale up carts by one replica
          value: "1"
        - action: toggle-feature
          name: Turn off promotions
          description: Switch the promotion feature off
          value:
            EnablePromotion: "off"
`

type fixture struct {
	app    *app.App
	client *client.Client
	admin  string
	// evals are the keptn contexts of the seeded evaluations, oldest first.
	evals []string
	// evalIDs are their evaluation.finished event ids.
	evalIDs []string
	t0      time.Time
}

// newFixture starts a server and seeds it. With remediationSteps < 0 the
// whole remediation is seeded; otherwise only its first steps.
func newFixture(t testing.TB, remediationSteps int) *fixture {
	t.Helper()
	ctx := context.Background()
	a, err := app.New(ctx, app.Options{Listen: "127.0.0.1:0", DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	a.Start()
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = a.Shutdown(sctx)
	})
	c, err := client.New(a.URL(), a.AdminToken())
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{app: a, client: c, admin: a.AdminToken(), t0: time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Second)}
	if _, err := c.CreateProject(ctx, apitypes.CreateProjectRequest{Name: project, Shipyard: shipyard}); err != nil {
		t.Fatalf("create project: %v", err)
	}
	if _, err := c.CreateService(ctx, project, service); err != nil {
		t.Fatalf("create service: %v", err)
	}
	ref := client.ResourceRef{Project: project, Stage: stage, Service: service}
	for _, file := range []client.ResourceFile{
		{URI: "slo.yaml", Content: []byte(sloFile)},
		{URI: "prometheus/sli.yaml", Content: []byte(sliFile)},
		{URI: "remediation.yaml", Content: []byte(remediationFile)},
	} {
		if _, err := c.PutResources(ctx, ref, []client.ResourceFile{file}); err != nil {
			t.Fatalf("put %s: %v", file.URI, err)
		}
	}
	// A second version of the SLO, so it has a history.
	if _, err := c.PutResources(ctx, ref, []client.ResourceFile{{URI: "slo.yaml", Content: []byte(strings.Replace(sloFile, "<600", "<500", 1))}}); err != nil {
		t.Fatalf("put slo.yaml again: %v", err)
	}
	for i, e := range []struct {
		result     string
		score      float64
		rt, errs   float64
		rtStatus   string
		errsStatus string
	}{
		{"pass", 100, 245.3, 0.2, "pass", "pass"},
		{"pass", 100, 251.0, 0.4, "pass", "pass"},
		{"warning", 75, 702.5, 0.6, "warning", "pass"},
		{"fail", 25, 1204.8, 3.1, "fail", "fail"},
	} {
		kctx := event.NewUUID()
		id := event.NewUUID()
		f.evals = append(f.evals, kctx)
		f.evalIDs = append(f.evalIDs, id)
		f.send(t, evaluationFinished(id, kctx, f.t0.Add(time.Duration(i)*10*time.Minute), e.result, e.score,
			indicator("response_time_p95", "Response time P95", e.rt, 240, e.rtStatus, false),
			indicator("error_rate", "Error rate", e.errs, 0.2, e.errsStatus, true)))
	}
	f.seedRemediation(t, remediationSteps)
	return f
}

// send posts one CloudEvent through the API.
func (f *fixture) send(t testing.TB, ev map[string]any) {
	t.Helper()
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.client.SendEvent(context.Background(), b); err != nil {
		t.Fatalf("send %s: %v", ev["type"], err)
	}
}

func cloudEvent(id, typ, source, kctx, triggeredID string, at time.Time, data map[string]any) map[string]any {
	ev := map[string]any{
		"specversion": "1.0", "id": id, "type": typ, "source": source, "time": at.Format(time.RFC3339Nano),
		"datacontenttype": "application/json", "shkeptncontext": kctx, "data": data,
	}
	if triggeredID != "" {
		ev["triggeredid"] = triggeredID
	}
	return ev
}

func common(extra map[string]any) map[string]any {
	d := map[string]any{"project": project, "stage": stage, "service": service}
	for k, v := range extra {
		d[k] = v
	}
	return d
}

// indicator is one indicatorResult as Keptn's lighthouse wrote it, with
// the targets of the fixture's SLO: response time "<=+10%" and "<600" to
// pass, "<=800" for a warning; error rate "<=1" to pass.
func indicator(metric, name string, value, compared float64, status string, key bool) map[string]any {
	pass := []map[string]any{{"criteria": "<=1", "targetValue": 1, "violated": value > 1}}
	warning := []map[string]any{}
	if metric == "response_time_p95" {
		pass = []map[string]any{
			{"criteria": "<=+10%", "targetValue": compared * 1.1, "violated": value > compared*1.1},
			{"criteria": "<600", "targetValue": 600, "violated": value >= 600},
		}
		warning = []map[string]any{{"criteria": "<=800", "targetValue": 800, "violated": value > 800}}
	}
	return map[string]any{
		"score": map[string]float64{"pass": 1, "warning": 0.5, "fail": 0}[status], "status": status, "displayName": name, "keySli": key,
		"value":       map[string]any{"metric": metric, "value": value, "comparedValue": compared, "success": true},
		"passTargets": pass, "warningTargets": warning,
	}
}

func evaluationFinished(id, kctx string, at time.Time, result string, score float64, indicators ...map[string]any) map[string]any {
	return cloudEvent(id, event.TypeEvaluationFinished, "lighthouse-service", kctx, event.NewUUID(), at, common(map[string]any{
		"status": "succeeded", "result": result,
		"evaluation": map[string]any{
			"result": result, "score": score,
			"timeStart": at.Add(-5 * time.Minute).Format(time.RFC3339), "timeEnd": at.Format(time.RFC3339),
			"indicatorResults": indicators, "comparedEvents": []string{"4bd6ad4c-e4be-4b45-8b5b-70f1b4e5b5a2"},
		},
	}))
}

// remediationEvents is a whole remediation as Keptn's remediation flow
// tells it: the problem, scaling (which does not help), switching a feature
// flag off (which does), each verified by an evaluation, and the end. The
// verifications are sent as their evaluation.finished events only: an
// evaluation.triggered from outside would make tend run the evaluation
// itself, as Keptn's lighthouse did.
func (f *fixture) remediationEvents() []map[string]any {
	at := f.t0.Add(time.Hour)
	step := func(n int) time.Time { return at.Add(time.Duration(n) * time.Minute) }
	problem := map[string]any{"problemTitle": "Response time degradation", "rootCause": "Response time of carts is above 600 ms", "state": "OPEN"}
	trig, a1, a2 := event.NewUUID(), event.NewUUID(), event.NewUUID()
	scale := map[string]any{"name": "Scale up", "action": "scaling", "description": "Scale up carts by one replica", "value": "1"}
	toggle := map[string]any{"name": "Turn off promotions", "action": "toggle-feature", "description": "Switch the promotion feature off", "value": map[string]any{"EnablePromotion": "off"}}
	withChanges := func(a map[string]any, plan string, target, from, to string) map[string]any {
		out := map[string]any{"plan": plan, "changes": []map[string]string{{"target": target, "from": from, "to": to}}}
		for k, v := range a {
			out[k] = v
		}
		return out
	}
	return []map[string]any{
		cloudEvent(trig, event.SequenceType(stage, "remediation", "triggered"), "dynatrace", remCtx, "", step(0), common(map[string]any{"problem": problem})),
		cloudEvent(event.NewUUID(), event.SequenceType(stage, "remediation", "started"), "shipyard-controller", remCtx, trig, step(0), common(nil)),
		cloudEvent(a1, event.TypeActionTriggered, "shipyard-controller", remCtx, "", step(1), common(map[string]any{"action": scale, "problem": problem})),
		cloudEvent(event.NewUUID(), event.TypeActionStarted, "helm-service", remCtx, a1, step(1), common(map[string]any{"status": "succeeded"})),
		cloudEvent(event.NewUUID(), event.TypeActionFinished, "helm-service", remCtx, a1, step(2), common(map[string]any{"status": "succeeded", "result": "pass",
			"message": "scaled deployment sockshop-production/carts-primary", "action": withChanges(scale, "scale deployment sockshop-production/carts-primary from 1 to 2 replicas", "deployment/carts-primary replicas", "1", "2")})),
		evaluationFinished(event.NewUUID(), remCtx, step(13), "fail", 25,
			indicator("response_time_p95", "Response time P95", 910, 251, "fail", false),
			indicator("error_rate", "Error rate", 2.2, 0.4, "fail", true)),
		cloudEvent(a2, event.TypeActionTriggered, "shipyard-controller", remCtx, "", step(14), common(map[string]any{"action": toggle, "problem": problem})),
		cloudEvent(event.NewUUID(), event.TypeActionStarted, "unleash-service", remCtx, a2, step(14), common(map[string]any{"status": "succeeded"})),
		cloudEvent(event.NewUUID(), event.TypeActionFinished, "unleash-service", remCtx, a2, step(15), common(map[string]any{"status": "succeeded", "result": "pass",
			"message": "feature EnablePromotion switched off", "action": withChanges(toggle, "switch feature EnablePromotion off in production", "feature EnablePromotion (production)", "on", "off")})),
		evaluationFinished(event.NewUUID(), remCtx, step(26), "pass", 100,
			indicator("response_time_p95", "Response time P95", 262, 251, "pass", false),
			indicator("error_rate", "Error rate", 0.3, 0.4, "pass", true)),
		cloudEvent(event.NewUUID(), event.SequenceType(stage, "remediation", "finished"), "shipyard-controller", remCtx, trig, step(27), common(map[string]any{"status": "succeeded", "result": "pass", "message": "the problem is resolved"})),
	}
}

// seedRemediation sends the first n remediation events (all when n < 0)
// and remembers the rest for sendRest.
func (f *fixture) seedRemediation(t testing.TB, n int) {
	t.Helper()
	evs := f.remediationEvents()
	if n < 0 || n > len(evs) {
		n = len(evs)
	}
	for _, ev := range evs[:n] {
		f.send(t, ev)
	}
	pending = evs[n:]
}

// pending holds the remediation events not sent yet; each test builds its
// own fixture and tests of this package do not run in parallel.
var pending []map[string]any

// sendRest sends the remaining remediation events.
func (f *fixture) sendRest(t testing.TB) {
	t.Helper()
	for _, ev := range pending {
		f.send(t, ev)
	}
	pending = nil
}

// newToken creates a token through the API and returns its secret.
func (f *fixture) newToken(t testing.TB, name string, scope apitypes.Scope, project string) string {
	t.Helper()
	tok, err := f.client.CreateToken(context.Background(), apitypes.CreateTokenRequest{Name: name, Scope: scope, Project: project})
	if err != nil {
		t.Fatalf("create token %s: %v", name, err)
	}
	return tok.Token
}

// browser drives the app's handler in process with httptest, keeping
// cookies like a browser and following no redirects.
type browser struct {
	t       testing.TB
	h       http.Handler
	cookies map[string]*http.Cookie
	// csrf is the form token of the last page that had one.
	csrf string
	// seen collects every URL requested and every body and header read,
	// for the test that the token never appears in them.
	seen strings.Builder
}

func newBrowser(t testing.TB, f *fixture) *browser {
	return &browser{t: t, h: f.app.Handler(), cookies: map[string]*http.Cookie{}}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(method, target string, form url.Values, header ...string) page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, target, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	for _, c := range b.cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	b.h.ServeHTTP(rec, req)
	res := rec.Result()
	for _, c := range res.Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	p := page{status: res.StatusCode, header: res.Header, body: rec.Body.String()}
	if m := csrfRE.FindStringSubmatch(p.body); m != nil {
		b.csrf = m[1]
	}
	fmt.Fprintf(&b.seen, "%s %s\n%v\n%s\n", method, target, res.Header, p.body)
	return p
}

func (b *browser) get(target string) page { b.t.Helper(); return b.do(http.MethodGet, target, nil) }

// login signs in with token through the login form.
func (b *browser) login(token string) page {
	b.t.Helper()
	b.get("/login")
	return b.do(http.MethodPost, "/login", url.Values{"token": {token}, "csrf": {b.csrf}, "next": {"/"}})
}

func (b *browser) mustLogin(token string) {
	b.t.Helper()
	p := b.login(token)
	if p.status != http.StatusSeeOther || b.cookies["tend_session"] == nil {
		b.t.Fatalf("login answered %d without a session cookie:\n%s", p.status, p.body)
	}
}
