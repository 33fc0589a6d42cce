package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/evaluation"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/store"
	"github.com/tendhq/tend/internal/testenv"
)

func TestEvaluationRoutesSQLite(t *testing.T) { runEvaluationSuite(t, sqliteBackend) }

func TestEvaluationRoutesPostgres(t *testing.T) {
	testenv.PostgresServerURL(t)
	runEvaluationSuite(t, postgresBackend)
}

func runEvaluationSuite(t *testing.T, b backend) {
	tests := []struct {
		name string
		fn   func(*testing.T, backend)
	}{
		{"monitoring configuration", testMonitoringConfig},
		{"trigger evaluation", testTriggerEvaluation},
		{"event intake triggers evaluations", testEvaluationIntake},
		{"invalidate evaluation", testInvalidateEvaluation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, b) })
	}
}

const testSecret = "pw-7f3c9d2e-never-shown"

func testMonitoringConfig(t *testing.T, b backend) {
	ts := startServer(t, b)
	ts.createProject(t, "sockshop", "carts")
	ts.createProject(t, "other")
	path := "/api/v1/project/sockshop/config/monitoring"

	body := ts.wantStatus(t, http.StatusOK, http.MethodPut, path, ts.Admin,
		apitypes.MonitoringConfig{Provider: "prometheus", URL: "http://prometheus:9090", User: "tend", Password: testSecret})
	if strings.Contains(string(body), testSecret) {
		t.Fatalf("PUT answer %s contains the secret", body)
	}
	got := decode[apitypes.ConfigSetting](t, body)
	if got.Key != "monitoring" || !got.Secrets["password"].Set || !strings.Contains(string(got.Value), `"password":"****"`) {
		t.Errorf("PUT answer = %s; want the password masked and marked set", body)
	}
	ts.wantStatus(t, http.StatusOK, http.MethodPut, path+"?stage=production&service=carts", ts.Admin,
		apitypes.MonitoringConfig{Provider: "dynatrace", URL: "https://abc.live.dynatrace.com", Token: "dt0c01." + testSecret})
	ts.wantStatus(t, http.StatusOK, http.MethodPut, path, ts.Admin,
		apitypes.MonitoringConfig{Provider: "prometheus", URL: "http://p:9090", BearerToken: testSecret, Service: "carts"})

	read := ts.mint(t, "reader", "read", "")
	body = ts.wantStatus(t, http.StatusOK, http.MethodGet, "/api/v1/project/sockshop/config", read, nil)
	if strings.Contains(string(body), testSecret) {
		t.Fatalf("GET config %s contains the secret", body)
	}
	cfg := decode[apitypes.ProjectConfig](t, body)
	if len(cfg.Settings) != 3 {
		t.Fatalf("settings = %s; want 3", body)
	}
	for _, s := range cfg.Settings {
		if len(s.Secrets) != 1 {
			t.Errorf("setting %+v: want exactly one secret marked set", s)
		}
	}

	for _, tt := range []struct {
		name   string
		status int
		path   string
		token  string
		body   any
		want   string
	}{
		{"read token cannot write", http.StatusForbidden, path, read, apitypes.MonitoringConfig{Provider: "prometheus", URL: "http://p"}, "scope"},
		{"other project's token", http.StatusForbidden, path, ts.mint(t, "other-writer", "write", "other"), apitypes.MonitoringConfig{Provider: "prometheus", URL: "http://p"}, "restricted"},
		{"unknown provider", http.StatusBadRequest, path, ts.Admin, apitypes.MonitoringConfig{Provider: "nagios", URL: "http://p"}, "unknown"},
		{"url with credentials", http.StatusBadRequest, path, ts.Admin, apitypes.MonitoringConfig{Provider: "prometheus", URL: "http://u:" + testSecret + "@p"}, "carries credentials"},
		{"unknown stage", http.StatusNotFound, path + "?stage=qa", ts.Admin, apitypes.MonitoringConfig{Provider: "prometheus", URL: "http://p"}, `stage "qa"`},
		{"unknown service", http.StatusNotFound, path, ts.Admin, apitypes.MonitoringConfig{Provider: "prometheus", URL: "http://p", Service: "orders"}, `service "orders"`},
		{"scope given twice differently", http.StatusBadRequest, path + "?stage=dev", ts.Admin, apitypes.MonitoringConfig{Provider: "prometheus", URL: "http://p", Stage: "production"}, "give it once"},
		{"unknown project", http.StatusNotFound, "/api/v1/project/nope/config/monitoring", ts.Admin, apitypes.MonitoringConfig{Provider: "prometheus", URL: "http://p"}, `project "nope"`},
		{"misspelt field", http.StatusBadRequest, path, ts.Admin, `{"provider":"prometheus","url":"http://p","passwd":"x"}`, "passwd"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, body := ts.do(t, http.MethodPut, tt.path, tt.token, tt.body)
			if code != tt.status {
				t.Fatalf("status %d %s; want %d", code, body, tt.status)
			}
			if msg := wantError(t, tt.status, body); !strings.Contains(msg, tt.want) {
				t.Errorf("message %q; want it to contain %q", msg, tt.want)
			}
			if strings.Contains(string(body), testSecret) {
				t.Errorf("error answer %s contains the secret", body)
			}
		})
	}

	ts.wantStatus(t, http.StatusNoContent, http.MethodDelete, path+"?stage=production&service=carts", ts.Admin, nil)
	ts.wantStatus(t, http.StatusNotFound, http.MethodDelete, path+"?stage=production&service=carts", ts.Admin, nil)
	cfg = decode[apitypes.ProjectConfig](t, ts.wantStatus(t, http.StatusOK, http.MethodGet, "/api/v1/project/sockshop/config", ts.Admin, nil))
	if len(cfg.Settings) != 2 {
		t.Errorf("after delete: %+v; want 2 settings", cfg.Settings)
	}
}

// jobs claims the pending evaluation jobs, so a test can see what was
// enqueued.
func jobs(t *testing.T, st store.Store) []evaluation.State {
	t.Helper()
	js, err := st.ClaimJobs(context.Background(), store.Claim{Kinds: []string{evaluation.JobKind}, Worker: "test", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []evaluation.State
	for _, j := range js {
		s, err := evaluation.DecodeState(j.Payload)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func contextTypes(t *testing.T, ts *testServer, kctx string) []string {
	t.Helper()
	pg, err := ts.Store.ListEvents(context.Background(), store.EventFilter{KeptnContext: kctx, PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(pg.Events) - 1; i >= 0; i-- {
		out = append(out, strings.TrimPrefix(pg.Events[i].Type, event.Prefix))
	}
	return out
}

func testTriggerEvaluation(t *testing.T, b backend) {
	ts := startServer(t, b)
	ts.createProject(t, "sockshop", "carts")
	path := "/api/v1/project/sockshop/stage/production/service/carts/evaluation"

	for _, tt := range []struct {
		name   string
		status int
		path   string
		token  string
		body   any
		want   string
	}{
		{"end with timeframe", http.StatusBadRequest, path, ts.Admin, apitypes.TriggerEvaluationRequest{Start: "2024-05-01T11:00:00Z", End: "2024-05-01T11:05:00Z", Timeframe: "5m"}, "cannot be combined"},
		{"start not RFC 3339", http.StatusBadRequest, path, ts.Admin, apitypes.TriggerEvaluationRequest{Start: "yesterday"}, "RFC 3339"},
		{"end before start", http.StatusBadRequest, path, ts.Admin, apitypes.TriggerEvaluationRequest{Start: "2024-05-01T11:05:00Z", End: "2024-05-01T11:00:00Z"}, "not after the start"},
		{"bad timeframe", http.StatusBadRequest, path, ts.Admin, apitypes.TriggerEvaluationRequest{Timeframe: "five minutes"}, "positive duration"},
		{"unknown stage", http.StatusNotFound, "/api/v1/project/sockshop/stage/qa/service/carts/evaluation", ts.Admin, apitypes.TriggerEvaluationRequest{Timeframe: "5m"}, `stage "qa"`},
		{"unknown service", http.StatusNotFound, "/api/v1/project/sockshop/stage/production/service/orders/evaluation", ts.Admin, apitypes.TriggerEvaluationRequest{Timeframe: "5m"}, `service "orders"`},
		{"read token", http.StatusForbidden, path, ts.mint(t, "reader", "read", ""), apitypes.TriggerEvaluationRequest{Timeframe: "5m"}, "scope"},
		{"other project's token", http.StatusForbidden, path, ts.mint(t, "other", "write", "other"), apitypes.TriggerEvaluationRequest{Timeframe: "5m"}, "restricted"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, body := ts.do(t, http.MethodPost, tt.path, tt.token, tt.body)
			if code != tt.status {
				t.Fatalf("status %d %s; want %d", code, body, tt.status)
			}
			if msg := wantError(t, tt.status, body); !strings.Contains(msg, tt.want) {
				t.Errorf("message %q; want it to contain %q", msg, tt.want)
			}
		})
	}
	if got := jobs(t, ts.Store); len(got) != 0 {
		t.Fatalf("refused triggers enqueued %d jobs", len(got))
	}

	writer := ts.mint(t, "sockshop-writer", "write", "sockshop")
	for _, p := range []string{path, "/api/controlPlane/v1/project/sockshop/stage/production/service/carts/evaluation"} {
		ans := decode[apitypes.EventContext](t, ts.wantStatus(t, http.StatusOK, http.MethodPost, p, writer,
			apitypes.TriggerEvaluationRequest{Timeframe: "10m", Labels: map[string]string{"buildId": "42"}}))
		if !event.IsUUID(ans.KeptnContext) {
			t.Fatalf("keptnContext %q is not a UUID", ans.KeptnContext)
		}
		if got := strings.Join(contextTypes(t, ts, ans.KeptnContext), " "); got != "production.evaluation.triggered evaluation.triggered" {
			t.Errorf("%s: events %s; want the sequence and task triggered events", p, got)
		}
		js := jobs(t, ts.Store)
		if len(js) != 1 || js[0].KeptnContext != ans.KeptnContext || js[0].Labels["buildId"] != "42" || js[0].End.Sub(js[0].Start).Minutes() != 10 {
			t.Errorf("%s: jobs = %+v; want one 10-minute evaluation in the new context", p, js)
		}
	}
	// An empty body is the default window.
	ts.wantStatus(t, http.StatusOK, http.MethodPost, path, ts.Admin, nil)
	if js := jobs(t, ts.Store); len(js) != 1 || js[0].End.Sub(js[0].Start) != evaluation.DefaultTimeframe {
		t.Errorf("default window jobs = %+v", js)
	}
}

func testEvaluationIntake(t *testing.T, b backend) {
	ts := startServer(t, b)
	ts.createProject(t, "sockshop", "carts")
	post := func(js string) (int, []byte) {
		code, _, body := ts.do(t, http.MethodPost, "/api/v1/event", ts.Admin, js)
		return code, body
	}
	const kctx = "7c1e5a3a-1f0e-4d6a-9c55-3f2b7d7a9e01"
	for _, tt := range []struct {
		name      string
		event     string
		wantJobs  int
		wantTypes string
	}{
		{"outside sequence trigger", `{"specversion":"1.0","id":"a1","source":"ci","type":"sh.keptn.event.production.evaluation.triggered","shkeptncontext":"` + kctx + `","data":{"project":"sockshop","service":"carts","evaluation":{"timeframe":"5m"}}}`,
			1, "production.evaluation.triggered evaluation.triggered"},
		{"the same event again", `{"specversion":"1.0","id":"a1","source":"ci","type":"sh.keptn.event.production.evaluation.triggered","shkeptncontext":"` + kctx + `","data":{"project":"sockshop","service":"carts","evaluation":{"timeframe":"5m"}}}`,
			0, "production.evaluation.triggered evaluation.triggered"},
		{"tend's own source is refused", `{"specversion":"1.0","id":"a2","source":"tend","type":"sh.keptn.event.evaluation.triggered","shkeptncontext":"` + kctx + `","data":{"project":"sockshop","stage":"production","service":"carts"}}`,
			0, "production.evaluation.triggered evaluation.triggered"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want := http.StatusOK
			if strings.Contains(tt.event, `"source":"tend"`) {
				want = http.StatusForbidden
			}
			if code, body := post(tt.event); code != want {
				t.Fatalf("post = %d %s; want %d", code, body, want)
			}
			if got := jobs(t, ts.Store); len(got) != tt.wantJobs {
				t.Errorf("jobs = %d; want %d", len(got), tt.wantJobs)
			}
			if got := strings.Join(contextTypes(t, ts, kctx), " "); got != tt.wantTypes {
				t.Errorf("events = %s; want %s", got, tt.wantTypes)
			}
		})
	}

	t.Run("legacy start-evaluation", func(t *testing.T) {
		const legacy = "1f0e4d6a-9c55-4f2b-8d7a-9e017c1e5a3a"
		code, body := post(`{"specversion":"0.2","id":"l1","source":"old-ci","type":"sh.keptn.event.start-evaluation","shkeptncontext":"` + legacy + `","contenttype":"application/json","data":{"project":"sockshop","stage":"production","service":"carts","start":"2024-05-01T11:00:00Z","end":"2024-05-01T11:10:00Z"}}`)
		if code != http.StatusOK {
			t.Fatalf("post = %d %s", code, body)
		}
		js := jobs(t, ts.Store)
		if len(js) != 1 || js[0].SequenceID == "" || js[0].End.Sub(js[0].Start).Minutes() != 10 {
			t.Errorf("jobs = %+v; want one sequence evaluation of 10 minutes", js)
		}
		if got := strings.Join(contextTypes(t, ts, legacy), " "); got != "start-evaluation production.evaluation.triggered evaluation.triggered" {
			t.Errorf("events = %s", got)
		}
	})

	t.Run("a trigger that cannot run is refused and not stored", func(t *testing.T) {
		const bad = "2a3b4c5d-9c55-4f2b-8d7a-9e017c1e5a3a"
		code, body := post(`{"specversion":"1.0","id":"b1","source":"ci","type":"sh.keptn.event.evaluation.triggered","shkeptncontext":"` + bad + `","data":{"project":"sockshop","stage":"production","service":"carts","evaluation":{"end":"2024-05-01T11:10:00Z","timeframe":"5m"}}}`)
		if code != http.StatusBadRequest || !strings.Contains(wantError(t, http.StatusBadRequest, body), "cannot be combined") {
			t.Fatalf("post = %d %s; want 400 naming the window problem", code, body)
		}
		if got := contextTypes(t, ts, bad); len(got) != 0 {
			t.Errorf("refused event stored: %v", got)
		}
	})
}

func testInvalidateEvaluation(t *testing.T, b backend) {
	ts := startServer(t, b)
	ts.createProject(t, "sockshop", "carts")
	const kctx = "3b4c5d6e-9c55-4f2b-8d7a-9e017c1e5a3a"
	path := "/api/v1/project/sockshop/stage/production/service/carts/evaluation/" + kctx + "/invalidate"
	msg := wantError(t, http.StatusNotFound, ts.wantStatus(t, http.StatusNotFound, http.MethodPost, path, ts.Admin, nil))
	if !strings.Contains(msg, "no finished evaluation") {
		t.Errorf("message %q", msg)
	}
	fin := `{"specversion":"1.0","id":"f1","source":"lighthouse","type":"sh.keptn.event.evaluation.finished","shkeptncontext":"` + kctx + `","triggeredid":"t1","data":{"project":"sockshop","stage":"production","service":"carts","result":"pass","evaluation":{"result":"pass","score":100}}}`
	ts.wantStatus(t, http.StatusOK, http.MethodPost, "/api/v1/event", ts.Admin, fin)
	ts.wantStatus(t, http.StatusForbidden, http.MethodPost, path, ts.mint(t, "reader", "read", ""), nil)
	for range 2 {
		ts.wantStatus(t, http.StatusOK, http.MethodPost, path, ts.Admin, nil)
	}
	pg, err := ts.Store.ListEvents(context.Background(), store.EventFilter{KeptnContext: kctx, Type: event.TypeEvaluationInvalidated})
	if err != nil {
		t.Fatal(err)
	}
	if len(pg.Events) != 1 || pg.Events[0].TriggeredID != "t1" || pg.Events[0].Source != evaluation.Source {
		t.Errorf("invalidated events = %+v; want one answering t1", pg.Events)
	}
}
