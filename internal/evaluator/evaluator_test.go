package evaluator_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tendhq/tend/internal/evaluation"
	"github.com/tendhq/tend/internal/evaluator"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/resource"
	"github.com/tendhq/tend/internal/resource/pgstorer"
	"github.com/tendhq/tend/internal/settings"
	"github.com/tendhq/tend/internal/sli"
	"github.com/tendhq/tend/internal/sli/prometheus"
	"github.com/tendhq/tend/internal/slo"
	"github.com/tendhq/tend/internal/store"
	"github.com/tendhq/tend/internal/store/postgres"
	"github.com/tendhq/tend/internal/store/sqlite"
	"github.com/tendhq/tend/internal/testenv"
	"github.com/tendhq/tend/internal/worker"
)

const (
	project = "sockshop"
	stage   = "production"
	service = "carts"
)

const shipyard = "stages:\n  - name: dev\n  - name: production\n"

const sloFile = `spec_version: "1.0"
filter: {handler: "ItemsController.addToCart"}
objectives:
  - sli: response_time_p90
    pass: [{criteria: ["<1000"]}]
total_score: {pass: "90%"}
`

// env is a store, resource repositories and a running worker with the
// evaluation handler, as the composition root wires them.
type env struct {
	st    store.Store
	repos *resource.Repos
}

// backends runs fn on SQLite, and on PostgreSQL when the test server is
// available.
func backends(t *testing.T, fn func(t *testing.T, open func(t *testing.T) (store.Store, resource.Storage))) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, func(t *testing.T) (store.Store, resource.Storage) {
			dir := t.TempDir()
			st, err := sqlite.Open(context.Background(), filepath.Join(dir, "tend.db"), sqlite.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			fs, err := resource.NewFSStorage(filepath.Join(dir, "projects"))
			if err != nil {
				t.Fatal(err)
			}
			return st, fs
		})
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, func(t *testing.T) (store.Store, resource.Storage) {
			url := testenv.PostgresURL(t)
			ctx := context.Background()
			st, err := postgres.Open(ctx, url, postgres.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			pool, err := pgxpool.New(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(pool.Close)
			gs := pgstorer.New(pool)
			if err := gs.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			return st, gs
		})
	})
}

func newEnv(t *testing.T, open func(t *testing.T) (store.Store, resource.Storage), providers evaluator.ProviderFactory) *env {
	t.Helper()
	st, storage := open(t)
	repos, err := resource.New(resource.Options{Storage: storage})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := st.CreateProject(ctx, store.NewProject{Name: project, Shipyard: []byte(shipyard)}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateService(ctx, project, service); err != nil {
		t.Fatal(err)
	}
	if err := repos.Create(ctx, project, resource.InitOptions{Shipyard: []byte(shipyard), Stages: []string{"dev", stage}}); err != nil {
		t.Fatal(err)
	}
	if err := repos.EnsureService(ctx, project, service); err != nil {
		t.Fatal(err)
	}
	h, err := evaluator.New(evaluator.Options{Store: st, Resources: repos, Monitoring: monitoring, Providers: providers})
	if err != nil {
		t.Fatal(err)
	}
	r, err := worker.New(st, worker.Options{PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	r.Register(evaluation.JobKind, h.Handle)
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = r.Run(runCtx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return &env{st: st, repos: repos}
}

func (e *env) put(t *testing.T, ref resource.Ref, uri, content string) {
	t.Helper()
	if _, err := e.repos.Put(context.Background(), ref, uri, []byte(content), "test"); err != nil {
		t.Fatalf("put %s: %v", uri, err)
	}
}

// monitoring is the monitoring setting of these tests: Prometheus only.
var monitoring = sli.Monitoring(prometheus.ProviderKind)

// configure stores a Prometheus monitoring setting at sc.
func (e *env) configure(t *testing.T, sc store.Scope, url string) {
	t.Helper()
	b, err := monitoring.Normalize([]byte(fmt.Sprintf(`{"provider":"prometheus","url":%q}`, url)))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.PutSetting(context.Background(), store.Setting{Scope: sc, Key: monitoring.Key(), Value: b}); err != nil {
		t.Fatal(err)
	}
}

// evaluate plans an evaluation as the API does and waits until it finished.
func (e *env) evaluate(t *testing.T) evaluation.FinishedData {
	t.Helper()
	now := time.Now()
	p, err := evaluation.FromRequest(evaluation.Request{
		Project: project, Stage: stage, Service: service, Start: now.Add(-5 * time.Minute), End: now,
		Labels: map[string]string{"factor": "60"}, KeptnContext: event.NewUUID(),
	}, now)
	if err != nil {
		t.Fatal(err)
	}
	var recs []store.EventRecord
	for _, ev := range p.Events {
		b, _ := json.Marshal(ev)
		recs = append(recs, store.EventRecord{ID: ev.ID, Source: ev.Source, Type: ev.Type, Time: ev.Time, SpecVersion: ev.SpecVersion,
			KeptnContext: ev.KeptnContext, Project: project, Stage: stage, Service: service, JSON: b})
	}
	ctx := context.Background()
	err = e.st.WithTx(ctx, func(tx store.Tx) error {
		if _, err := tx.AppendEvents(ctx, recs...); err != nil {
			return err
		}
		_, err := tx.EnqueueJobs(ctx, store.JobSpec{Kind: p.Job.Kind, Payload: p.Job.Payload, UniqueKey: p.Job.UniqueKey, MaxAttempts: p.Job.MaxAttempts})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		pg, err := e.st.ListEvents(ctx, store.EventFilter{KeptnContext: p.State.KeptnContext, Type: event.TypeEvaluationFinished})
		if err != nil {
			t.Fatal(err)
		}
		if len(pg.Events) > 0 {
			var ev struct {
				Data evaluation.FinishedData `json:"data"`
			}
			if err := json.Unmarshal(pg.Events[0].JSON, &ev); err != nil {
				t.Fatal(err)
			}
			return ev.Data
		}
		if time.Now().After(deadline) {
			t.Fatalf("evaluation %s did not finish within 60s", p.State.KeptnContext)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fakePrometheus answers /api/v1/query with answer(query) and records the
// queries it was asked.
type fakePrometheus struct {
	*httptest.Server
	mu      sync.Mutex
	queries []string
	auth    []string
}

func newFakePrometheus(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, query string)) *fakePrometheus {
	f := &fakePrometheus{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/api/v1/query" {
			http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusNotFound)
			return
		}
		q := r.URL.Query().Get("query")
		f.mu.Lock()
		f.queries = append(f.queries, q)
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		f.mu.Unlock()
		answer(w, r, q)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakePrometheus) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.queries...)
}

func vector(values ...string) string {
	var rs []string
	for i, v := range values {
		rs = append(rs, fmt.Sprintf(`{"metric":{"series":"%d"},"value":[1714564800,%q]}`, i, v))
	}
	return `{"status":"success","data":{"resultType":"vector","result":[` + strings.Join(rs, ",") + `]}}`
}

func providers(timeout time.Duration) evaluator.ProviderFactory {
	return func(sel settings.Selection) (sli.Provider, error) {
		return prometheus.ProviderKind.New(sel.Value, sli.Options{Timeout: timeout})
	}
}

// TestProviderFaultsFailTheEvaluation checks that every fault of the SLI
// provider fails a quality gate (it fails closed), and that the faults
// where monitoring could not answer at all (down, timeout, 5xx) make the
// evaluation errored with the outage in its message, while those where it
// answered (4xx, no data, nonsense) are an ordinary failed evaluation. The
// in-process Evaluate the remediation uses returns the outage as an error.
func TestProviderFaultsFailTheEvaluation(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downURL := "http://" + closed.Addr().String()
	closed.Close()

	tests := []struct {
		name   string
		answer func(w http.ResponseWriter, r *http.Request, q string)
		down   bool
		want   string
		outage bool
	}{
		{name: "prometheus down", down: true, want: "unreachable", outage: true},
		{name: "slow beyond the timeout", want: "within", outage: true, answer: func(w http.ResponseWriter, r *http.Request, _ string) {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}},
		{name: "4xx", want: "parse error", answer: func(w http.ResponseWriter, _ *http.Request, _ string) {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"status":"error","errorType":"bad_data","error":"parse error at char 3"}`)
		}},
		{name: "5xx", want: "503", outage: true, answer: func(w http.ResponseWriter, _ *http.Request, _ string) {
			http.Error(w, "upstream overloaded", http.StatusServiceUnavailable)
		}},
		{name: "malformed JSON", want: "JSON", answer: func(w http.ResponseWriter, _ *http.Request, _ string) {
			fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[{`)
		}},
		{name: "NaN", want: "NaN", answer: func(w http.ResponseWriter, _ *http.Request, _ string) { fmt.Fprint(w, vector("NaN")) }},
		{name: "empty vector", want: "no data", answer: func(w http.ResponseWriter, _ *http.Request, _ string) { fmt.Fprint(w, vector()) }},
		{name: "two series", want: "2 series", answer: func(w http.ResponseWriter, _ *http.Request, _ string) { fmt.Fprint(w, vector("1", "2")) }},
	}
	backends(t, func(t *testing.T, open func(t *testing.T) (store.Store, resource.Storage)) {
		e := newEnv(t, open, providers(300*time.Millisecond))
		e.put(t, resource.Ref{Project: project, Stage: stage, Service: service}, "slo.yaml", sloFile)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				url := downURL
				if !tt.down {
					url = newFakePrometheus(t, tt.answer).URL
				}
				e.configure(t, store.Scope{Project: project}, url)
				d := e.evaluate(t)
				if d.Result != "fail" || d.Evaluation.Result != slo.Fail {
					t.Fatalf("result %s; want fail", d.Result)
				}
				wantStatus := map[bool]string{true: "errored", false: "succeeded"}[tt.outage]
				if d.Status != wantStatus || strings.Contains(d.Message, "monitoring unavailable") != tt.outage {
					t.Errorf("status %s, message %q; want status %s (outage: %t)", d.Status, d.Message, wantStatus, tt.outage)
				}
				h, err := evaluator.New(evaluator.Options{Store: e.st, Resources: e.repos, Monitoring: monitoring, Providers: providers(300 * time.Millisecond)})
				if err != nil {
					t.Fatal(err)
				}
				now := time.Now()
				ev, err := h.Evaluate(context.Background(), evaluator.Request{Project: project, Stage: stage, Service: service,
					Start: now.Add(-time.Minute), End: now, KeptnContext: event.NewUUID(), TriggeredID: event.NewUUID()})
				if errors.Is(err, sli.ErrUnavailable) != tt.outage || (err != nil && !tt.outage) || ev.Result != slo.Fail {
					t.Errorf("Evaluate = %s, %v; want fail with an outage error: %t", ev.Result, err, tt.outage)
				}
				v := d.Evaluation.IndicatorResults[0].Value
				if v.Success || !strings.Contains(v.Message, `SLI "response_time_p90"`) || !strings.Contains(v.Message, "histogram_quantile(0.9") || !strings.Contains(v.Message, tt.want) {
					t.Errorf("value = %+v; want success false naming the SLI, the query and %q", v, tt.want)
				}
			})
		}
	})
}

func TestQueriesAndLayeredSLIFiles(t *testing.T) {
	backends(t, func(t *testing.T, open func(t *testing.T) (store.Store, resource.Storage)) {
		var p90 = "500"
		f := newFakePrometheus(t, func(w http.ResponseWriter, _ *http.Request, q string) {
			fmt.Fprint(w, vector(p90))
		})
		e := newEnv(t, open, providers(5*time.Second))
		svc := resource.Ref{Project: project, Stage: stage, Service: service}
		e.put(t, svc, "slo.yaml", strings.Replace(sloFile, "total_score", "  - sli: custom\n  - sli: from_stage\ntotal_score", 1))

		t.Run("no provider configured fails", func(t *testing.T) {
			d := e.evaluate(t)
			if d.Result != "fail" || d.Status != "errored" || !strings.Contains(d.Message, "no SLI provider configured") {
				t.Errorf("evaluation = %+v", d)
			}
		})

		e.configure(t, store.Scope{Project: project, Stage: stage, Service: service}, f.URL)
		e.put(t, resource.Ref{Project: project}, "prometheus/sli.yaml", "spec_version: '1.0'\nindicators:\n  custom: project_level\n  from_stage: project_level\n")
		e.put(t, resource.Ref{Project: project, Stage: stage}, "prometheus/sli.yaml", "spec_version: '1.0'\nindicators:\n  from_stage: stage_level{svc='$SERVICE'}\n")
		e.put(t, svc, "prometheus/sli.yaml", "spec_version: '1.0'\nindicators:\n  custom: rate(x{job='$SERVICE-$PROJECT-$STAGE',handler='$handler'}[$DURATION_SECONDS]) * $LABEL.factor\n")
		d := e.evaluate(t)
		if d.Result != "pass" {
			t.Fatalf("evaluation = %+v; want pass", d)
		}
		q := strings.Join(f.seen(), "\n")
		for _, want := range []string{
			"histogram_quantile(0.9, sum by (le) (rate(http_response_time_milliseconds_bucket{job='carts-sockshop-production',handler='ItemsController.addToCart'}[300s])))",
			"rate(x{job='carts-sockshop-production',handler='ItemsController.addToCart'}[300s]) * 60",
			"stage_level{svc='carts'}",
		} {
			if !strings.Contains(q, want) {
				t.Errorf("queries sent:\n%s\nwant one with %s", q, want)
			}
		}
		if strings.Contains(q, "project_level") {
			t.Errorf("a later level must override the project's query:\n%s", q)
		}

		p90 = "1500"
		if d := e.evaluate(t); d.Result != "fail" {
			t.Errorf("p90 1500 against <1000: %s; want fail", d.Result)
		}
	})
}

func TestNoSLOFileFails(t *testing.T) {
	backends(t, func(t *testing.T, open func(t *testing.T) (store.Store, resource.Storage)) {
		e := newEnv(t, open, providers(time.Second))
		e.configure(t, store.Scope{Project: project}, "http://127.0.0.1:1")
		d := e.evaluate(t)
		if d.Result != "fail" || !strings.Contains(d.Message, "no SLO file") {
			t.Errorf("evaluation = %+v; want a fail saying there is no SLO file", d)
		}
	})
}
