package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tendhq/tend/internal/api"
	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/app"
	"github.com/tendhq/tend/internal/auth"
	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/remediator"
	"github.com/tendhq/tend/internal/resource"
	"github.com/tendhq/tend/internal/resource/pgstorer"
	sliprometheus "github.com/tendhq/tend/internal/sli/prometheus"
	"github.com/tendhq/tend/internal/spec"
	"github.com/tendhq/tend/internal/store"
	"github.com/tendhq/tend/internal/store/postgres"
	"github.com/tendhq/tend/internal/store/sqlite"
	"github.com/tendhq/tend/internal/testenv"
)

// backend opens a fresh store and resource storage for one test.
type backend func(t testing.TB) (store.Store, resource.Storage)

func sqliteBackend(t testing.TB) (store.Store, resource.Storage) {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "tend.db"), sqlite.Options{})
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	fs, err := resource.NewFSStorage(filepath.Join(dir, "projects"))
	if err != nil {
		t.Fatalf("open repositories: %v", err)
	}
	return st, fs
}

func postgresBackend(t testing.TB) (store.Store, resource.Storage) {
	t.Helper()
	url := testenv.PostgresURL(t)
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

// testServer is one API server on an httptest listener with an admin token.
type testServer struct {
	URL    string
	Admin  string
	API    *api.Server
	Store  store.Store
	Client *client.Client
}

type serverOption func(*api.Options)

// withSelfHealing fills what app hands the API of the self-healing runner,
// unless a test set its own: the recorder and the answer routing over the
// options' final store and resources, as app builds them.
func withSelfHealing(t testing.TB, o *api.Options) {
	t.Helper()
	if o.Problems == nil {
		rec, err := remediator.NewRecorder(remediator.RecorderOptions{Store: o.Store, Resources: o.Resources, Logger: o.Logger, Now: o.Now,
			Specs: spec.NewCache(16)})
		if err != nil {
			t.Fatalf("remediator.NewRecorder: %v", err)
		}
		o.Problems = rec
	}
	if o.ActionAnswers == nil {
		o.ActionAnswers = remediator.NewAnswers(o.Store)
	}
	if o.Cancel == nil {
		o.Cancel = remediator.Canceller{}
	}
}

func withMaxBody(n int64) serverOption { return func(o *api.Options) { o.MaxBodyBytes = n } }

func startServer(t testing.TB, b backend, opts ...serverOption) *testServer {
	t.Helper()
	st, storage := b(t)
	repos, err := resource.New(resource.Options{
		Storage: storage,
		Upstream: func(ctx context.Context, project string) (*resource.Upstream, error) {
			p, err := st.GetProject(ctx, project)
			if err != nil || p.UpstreamURL == "" {
				return nil, err
			}
			tok, err := st.ProjectUpstreamToken(ctx, project)
			if err != nil {
				return nil, err
			}
			return &resource.Upstream{URL: p.UpstreamURL, User: p.UpstreamUser, Token: tok}, nil
		},
	})
	if err != nil {
		t.Fatalf("resource.New: %v", err)
	}
	o := api.Options{Store: st, Resources: repos, Registry: prometheus.NewRegistry(), AlertQueries: sliprometheus.QueryBuilder{}, Settings: app.Settings()}
	for _, f := range opts {
		f(&o)
	}
	withSelfHealing(t, &o)
	srv, err := api.New(o)
	if err != nil {
		t.Fatalf("api.New: %v", err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.Close()
		hs.Close()
	})
	ts := &testServer{URL: hs.URL, API: srv, Store: st}
	ts.Admin = ts.mint(t, "admin", "admin", "")
	ts.Client, err = client.New(hs.URL, ts.Admin, client.WithStreamRetry(10*time.Millisecond))
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	return ts
}

// mint stores a token directly and returns its secret.
func (ts *testServer) mint(t testing.TB, name, scope, project string) string {
	t.Helper()
	tok, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Store.CreateToken(context.Background(), store.NewToken{Name: name, Scope: scope, Project: project, Hash: auth.Sum(tok)}); err != nil {
		t.Fatalf("create token %s: %v", name, err)
	}
	return tok
}

// do sends a request; body is sent as is when it is a string or []byte and
// as JSON otherwise. token "" sends no credential.
func (ts *testServer) do(t testing.TB, method, path, token string, body any) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("x-token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read answer: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, out
}

// wantStatus sends a request and fails unless it answers status; it returns
// the body.
func (ts *testServer) wantStatus(t testing.TB, status int, method, path, token string, body any) []byte {
	t.Helper()
	got, _, b := ts.do(t, method, path, token, body)
	if got != status {
		t.Fatalf("%s %s = %d %s; want %d", method, path, got, b, status)
	}
	return b
}

// wantError checks that an answer is the JSON error format with status and
// returns its message.
func wantError(t testing.TB, status int, body []byte) string {
	t.Helper()
	var e apitypes.Error
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("answer %q is not the JSON error format: %v", body, err)
	}
	if e.Code != status || e.Message == "" {
		t.Fatalf("error answer %q: want code %d and a message", body, status)
	}
	return e.Message
}

func decode[T any](t testing.TB, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %T from %s: %v", v, b, err)
	}
	return v
}

const shipyardV02 = `apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
metadata:
  name: shipyard-sockshop
spec:
  stages:
    - name: dev
      sequences:
        - name: delivery
          tasks:
            - name: deployment
    - name: production
      sequences:
        - name: remediation
          tasks:
            - name: get-action
            - name: action
            - name: evaluation
              triggeredAfter: "10m"
`

const sloYAML = `spec_version: "1.0"
comparison:
  compare_with: "single_result"
  include_result_with_score: "pass"
  aggregate_function: avg
objectives:
  - sli: response_time_p90
    pass:
      - criteria:
          - "<=+10%"
          - "<1000"
    warning:
      - criteria:
          - "<=1200"
total_score:
  pass: "90%"
  warning: "40%"
`

// createProject makes project with shipyardV02 and the given services.
func (ts *testServer) createProject(t testing.TB, project string, services ...string) {
	t.Helper()
	ts.wantStatus(t, http.StatusCreated, http.MethodPost, "/api/v1/project", ts.Admin,
		apitypes.CreateProjectRequest{Name: project, Shipyard: shipyardV02})
	for _, s := range services {
		ts.wantStatus(t, http.StatusCreated, http.MethodPost, "/api/v1/project/"+project+"/service", ts.Admin,
			apitypes.CreateServiceRequest{ServiceName: s})
	}
}

func putBody(files map[string]string) apitypes.PutResourcesRequest {
	var req apitypes.PutResourcesRequest
	for uri, content := range files {
		req.Resources = append(req.Resources, apitypes.Resource{ResourceURI: uri, ResourceContent: base64.StdEncoding.EncodeToString([]byte(content))})
	}
	return req
}

func eventJSON(typ, project, keptnContext string) string {
	ctx := ""
	if keptnContext != "" {
		ctx = `,"shkeptncontext":"` + keptnContext + `"`
	}
	return `{"specversion":"1.0","source":"test","type":"` + typ + `"` + ctx +
		`,"data":{"project":"` + project + `","stage":"production","service":"carts"}}`
}
