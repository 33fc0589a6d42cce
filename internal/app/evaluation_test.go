package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/evaluation"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/testenv"
)

// The tests in this file drive whole evaluations through the HTTP API of an
// in-process server: trigger, the worker's steps, the event log.

const evalShipyard = "apiVersion: spec.keptn.sh/0.2.2\nkind: Shipyard\nmetadata: {name: s}\nspec:\n  stages:\n    - name: dev\n    - name: production\n"

const evalSLO = `spec_version: "1.0"
filter: {handler: "ItemsController.addToCart"}
comparison: {compare_with: single_result, include_result_with_score: pass, aggregate_function: avg}
objectives:
  - sli: response_time_p90
    pass: [{criteria: ["<=+10%", "<1000"]}]
    warning: [{criteria: ["<=1200"]}]
total_score: {pass: "90%", warning: "40%"}
`

// testApp is a started server with an admin client and its captured logs.
type testApp struct {
	*App
	c    *client.Client
	logs *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// databases runs fn on the embedded SQLite and, when the test server is
// available, on PostgreSQL.
func databases(t *testing.T, fn func(t *testing.T, database string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, "") })
	t.Run("postgres", func(t *testing.T) { fn(t, testenv.PostgresURL(t)) })
}

func startTestApp(t testing.TB, opts Options) *testApp {
	t.Helper()
	logs := &syncBuffer{}
	opts.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if opts.DataDir == "" {
		opts.DataDir = filepath.Join(t.TempDir(), "data")
	}
	a := newApp(t, opts)
	a.Start()
	c, err := client.New(a.URL(), a.AdminToken())
	if err != nil {
		t.Fatal(err)
	}
	return &testApp{App: a, c: c, logs: logs}
}

// setup creates project sockshop with service carts and its SLO, and points
// its monitoring at promURL.
func (ta *testApp) setup(t testing.TB, promURL string, cfg apitypes.MonitoringConfig) {
	t.Helper()
	ctx := context.Background()
	if _, err := ta.c.CreateProject(ctx, apitypes.CreateProjectRequest{Name: "sockshop", Shipyard: evalShipyard}); err != nil {
		t.Fatal(err)
	}
	if _, err := ta.c.CreateService(ctx, "sockshop", "carts"); err != nil {
		t.Fatal(err)
	}
	ref := client.ResourceRef{Project: "sockshop", Stage: "production", Service: "carts"}
	if _, err := ta.c.PutResources(ctx, ref, []client.ResourceFile{{URI: "slo.yaml", Content: []byte(evalSLO)}}); err != nil {
		t.Fatal(err)
	}
	if promURL != "" {
		cfg.Provider, cfg.URL = "prometheus", promURL
		if _, err := ta.c.PutMonitoring(ctx, "sockshop", cfg); err != nil {
			t.Fatal(err)
		}
	}
}

// finished is the evaluation.finished event of a context as the API
// returns it.
type finished struct {
	ID          string                  `json:"id"`
	Source      string                  `json:"source"`
	TriggeredID string                  `json:"triggeredid"`
	Data        evaluation.FinishedData `json:"data"`
}

// waitFinished polls the event log until the context's evaluation.finished
// arrives.
func (ta *testApp) waitFinished(t testing.TB, kctx string) finished {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		page, err := ta.c.ListEvents(context.Background(), client.EventFilter{KeptnContext: kctx, Type: event.TypeEvaluationFinished})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Events) > 0 {
			var f finished
			if err := json.Unmarshal(page.Events[0], &f); err != nil {
				t.Fatal(err)
			}
			return f
		}
		if time.Now().After(deadline) {
			t.Fatalf("evaluation %s did not finish within 60s", kctx)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (ta *testApp) trigger(t testing.TB) string {
	t.Helper()
	kctx, err := ta.c.TriggerEvaluation(context.Background(), "sockshop", "production", "carts", apitypes.TriggerEvaluationRequest{Timeframe: "5m"})
	if err != nil {
		t.Fatal(err)
	}
	return kctx
}

// contextEvents returns the events of a context, oldest first.
func (ta *testApp) contextEvents(t testing.TB, filter client.EventFilter) []json.RawMessage {
	t.Helper()
	var out []json.RawMessage
	for e, err := range ta.c.Events(context.Background(), filter) {
		if err != nil {
			t.Fatal(err)
		}
		out = append([]json.RawMessage{e}, out...)
	}
	return out
}

// valuePrometheus is a fake Prometheus whose every query answers value.
type valuePrometheus struct {
	*httptest.Server
	mu    sync.Mutex
	value string
}

func newValuePrometheus(t testing.TB, value string) *valuePrometheus {
	p := &valuePrometheus{value: value}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		v := p.value
		p.mu.Unlock()
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1714564800,%q]}]}}`, v)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *valuePrometheus) set(v string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.value = v
}

func TestEvaluationThroughTheAPI(t *testing.T) {
	databases(t, func(t *testing.T, database string) {
		// One step at a time, so jobs run in the order they were
		// enqueued: the barrier below relies on it.
		ta := startTestApp(t, Options{Database: database, WorkerConcurrency: 1})
		prom := newValuePrometheus(t, "800")
		ta.setup(t, prom.URL, apitypes.MonitoringConfig{})
		ctx := context.Background()

		first := ta.trigger(t)
		f1 := ta.waitFinished(t, first)
		t.Run("events in order in one context", func(t *testing.T) {
			var got []string
			for _, raw := range ta.contextEvents(t, client.EventFilter{KeptnContext: first}) {
				var e struct{ Type, Source string }
				_ = json.Unmarshal(raw, &e)
				got = append(got, strings.TrimPrefix(e.Type, event.Prefix))
				if e.Source != evaluation.Source {
					t.Errorf("%s has source %q", e.Type, e.Source)
				}
			}
			want := "production.evaluation.triggered evaluation.triggered evaluation.started get-sli.triggered get-sli.started get-sli.finished evaluation.finished production.evaluation.finished"
			if strings.Join(got, " ") != want {
				t.Errorf("events = %s\nwant     %s", strings.Join(got, " "), want)
			}
		})
		t.Run("evaluation.finished in Keptn's shape", func(t *testing.T) {
			d := f1.Data
			ev := d.Evaluation
			if d.Result != "pass" || d.Status != "succeeded" || ev.Result != "pass" || ev.Score != 100 || len(ev.ComparedEvents) != 0 {
				t.Errorf("first evaluation = %+v", d)
			}
			if b, _ := base64.StdEncoding.DecodeString(ev.SLOFileContent); string(b) != evalSLO || len(ev.GitCommit) != 40 || ev.TimeStart == "" || ev.TimeEnd == "" {
				t.Errorf("sloFileContent, gitCommit, timeStart or timeEnd missing: %+v", ev)
			}
			if len(ev.IndicatorResults) != 1 || ev.IndicatorResults[0].Value.Value != 800 || len(ev.IndicatorResults[0].PassTargets) != 2 {
				t.Errorf("indicatorResults = %+v", ev.IndicatorResults)
			}
		})

		prom.set("850")
		second := ta.trigger(t)
		f2 := ta.waitFinished(t, second)
		t.Run("compared with the earlier passing evaluation", func(t *testing.T) {
			ev := f2.Data.Evaluation
			if ev.Result != "pass" || len(ev.ComparedEvents) != 1 || ev.ComparedEvents[0] != f1.ID || ev.IndicatorResults[0].Value.ComparedValue != 800 {
				t.Errorf("second evaluation = %+v; want pass compared with %s (800)", ev, f1.ID)
			}
		})

		t.Run("an invalidated evaluation leaves the baseline", func(t *testing.T) {
			if err := ta.c.InvalidateEvaluation(ctx, "sockshop", "production", "carts", second); err != nil {
				t.Fatal(err)
			}
			prom.set("950")
			f3 := ta.waitFinished(t, ta.trigger(t))
			ev := f3.Data.Evaluation
			// 950 against the first (800, +10% = 880) is a warning;
			// against the invalidated second (850, 935) too, so the
			// compared event says which one was used.
			if len(ev.ComparedEvents) != 1 || ev.ComparedEvents[0] != f1.ID || ev.Result != "warning" {
				t.Errorf("third evaluation = %s compared with %v; want warning compared with %s only", ev.Result, ev.ComparedEvents, f1.ID)
			}
		})

		t.Run("legacy start-evaluation triggers one evaluation", func(t *testing.T) {
			const kctx = "5d6e7f80-9c55-4f2b-8d7a-9e017c1e5a3a"
			now := time.Now().UTC()
			legacy := fmt.Sprintf(`{"specversion":"0.2","id":"legacy-1","source":"old-ci","type":"sh.keptn.event.start-evaluation","shkeptncontext":%q,"contenttype":"application/json","data":{"project":"sockshop","stage":"production","service":"carts","start":%q,"end":%q}}`,
				kctx, now.Add(-5*time.Minute).Format(time.RFC3339), now.Format(time.RFC3339))
			if _, err := ta.c.SendEvent(ctx, []byte(legacy)); err != nil {
				t.Fatal(err)
			}
			f := ta.waitFinished(t, kctx)
			if f.Data.Stage != "production" || f.Data.Evaluation.TimeEnd == "" {
				t.Errorf("legacy evaluation = %+v", f.Data)
			}
		})

		t.Run("tend's own events never trigger a second evaluation", func(t *testing.T) {
			// Post every event of the first evaluation back, as a
			// mirror or a confused integration would, under new ids.
			for i, raw := range ta.contextEvents(t, client.EventFilter{KeptnContext: first}) {
				var m map[string]any
				_ = json.Unmarshal(raw, &m)
				m["id"] = fmt.Sprintf("echo-%d", i)
				b, _ := json.Marshal(m)
				// The API refuses tend's own source from clients, the
				// first guard; the count below holds either way.
				if _, err := ta.c.SendEvent(ctx, b); err != nil && m["source"] != evaluation.Source {
					t.Fatal(err)
				}
			}
			// A job enqueued by the echo would run before this one.
			barrier := ta.trigger(t)
			ta.waitFinished(t, barrier)
			n := 0
			for _, raw := range ta.contextEvents(t, client.EventFilter{Project: "sockshop", Type: event.TypeEvaluationFinished}) {
				var e struct{ Source string }
				_ = json.Unmarshal(raw, &e)
				if e.Source == evaluation.Source && !strings.Contains(string(raw), `"id":"echo-`) {
					n++
				}
			}
			// first, second, third, legacy and the barrier.
			if n != 5 {
				t.Errorf("evaluation.finished events by tend = %d; want 5", n)
			}
			if got := len(ta.contextEvents(t, client.EventFilter{KeptnContext: first, Type: event.TypeEvaluationFinished})); got != 1 {
				t.Errorf("context %s holds %d evaluation.finished events; want 1 (the echo of tend's own is refused)", first, got)
			}
		})
	})
}

func TestSecretsNeverLeak(t *testing.T) {
	const password = "pw-3d9f1c7a-do-not-leak"
	basic := base64.StdEncoding.EncodeToString([]byte("tend:" + password))
	databases(t, func(t *testing.T, database string) {
		ta := startTestApp(t, Options{Database: database})
		// A misbehaving proxy that quotes the credentials back.
		echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, p, _ := r.BasicAuth()
			http.Error(w, "denied: "+r.Header.Get("Authorization")+" user="+u+" password="+p, http.StatusBadGateway)
		}))
		t.Cleanup(echo.Close)
		ta.setup(t, echo.URL, apitypes.MonitoringConfig{User: "tend", Password: password})
		ctx := context.Background()
		f := ta.waitFinished(t, ta.trigger(t))
		if f.Data.Result != "fail" || !strings.Contains(f.Data.Evaluation.IndicatorResults[0].Value.Message, "<redacted>") {
			t.Errorf("evaluation = %+v; want a fail whose message shows the redaction", f.Data)
		}

		cfg, err := ta.c.GetConfig(ctx, "sockshop")
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := json.Marshal(cfg)
		var all []json.RawMessage
		for e, err := range ta.c.Events(ctx, client.EventFilter{Project: "sockshop"}) {
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, e)
		}
		if len(all) < 8 {
			t.Fatalf("only %d events", len(all))
		}
		events, _ := json.Marshal(all)
		for what, text := range map[string]string{"the event log": string(events), "the logs": ta.logs.String(), "GET config": string(answer)} {
			for _, secret := range []string{password, basic} {
				if strings.Contains(text, secret) {
					t.Errorf("%s contains the secret %q", what, secret)
				}
			}
		}
		if !cfg.Settings[0].Secrets["password"].Set {
			t.Errorf("GET config = %s; want the password marked set", answer)
		}
	})
}
