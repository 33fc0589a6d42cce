package api_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/eventlog"
	"github.com/tendhq/tend/internal/testenv"
)

// The suite runs on SQLite always and on PostgreSQL when
// TEND_TEST_POSTGRES_URL is set (make test sets it; CI=true requires it).

func TestAPISQLite(t *testing.T) { runSuite(t, sqliteBackend) }

func TestAPIPostgres(t *testing.T) {
	// Skip (or, with CI=true, fail) before any subtest runs.
	testenv.PostgresServerURL(t)
	runSuite(t, postgresBackend)
}

func runSuite(t *testing.T, b backend) {
	tests := []struct {
		name string
		fn   func(*testing.T, backend)
	}{
		{"every route needs a credential", testEveryRouteNeedsCredential},
		{"read token cannot write", testReadTokenCannotWrite},
		{"project scoping", testProjectScoping},
		{"bad input answers 400", testBadInput},
		{"oversized body answers 413", testOversizedBody},
		{"mux errors are JSON", testMuxErrors},
		{"projects and services", testProjectsAndServices},
		{"resources", testResources},
		{"shipyard update adds stages", testShipyardUpdate},
		{"events", testEvents},
		{"event contexts", testEventContexts},
		{"event stream", testEventStream},
		{"triggered events", testTriggeredEvents},
		{"tokens", testTokens},
		{"metrics and health", testMetricsAndHealth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, b) })
	}
}

var wildcardRE = regexp.MustCompile(`\{([A-Za-z]+)(\.\.\.)?\}`)

var sampleValues = map[string]string{
	"id":      "0d6f2a52-0c9e-4a39-8d0c-2f8a3b7c5e11",
	"project": "sockshop", "stage": "production", "service": "carts",
	"resourceURI": "slo.yaml", "name": "someone", "type": "sh.keptn.event.action.triggered",
	"keptnContext": "7c1e5a3a-1f0e-4d6a-9c55-3f2b7d7a9e01", "subscriptionID": "5b0c3f7e-2d1a-4c8b-9e6f-1a2b3c4d5e6f",
}

// concrete turns a mux pattern into a method and a path with sample values.
func concrete(pattern string) (string, string) {
	method, path, _ := strings.Cut(pattern, " ")
	path = wildcardRE.ReplaceAllStringFunc(path, func(m string) string {
		return sampleValues[wildcardRE.FindStringSubmatch(m)[1]]
	})
	return method, path
}

var publicPaths = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

func testEveryRouteNeedsCredential(t *testing.T, b backend) {
	ts := startServer(t, b)
	ts.createProject(t, "sockshop", "carts")
	patterns := ts.API.Patterns()
	if len(patterns) < 30 {
		t.Fatalf("only %d patterns registered: %v", len(patterns), patterns)
	}
	for _, p := range patterns {
		method, path := concrete(p)
		t.Run(p, func(t *testing.T) {
			if publicPaths[path] {
				ts.wantStatus(t, http.StatusOK, method, path, "", nil)
				return
			}
			for _, cred := range []string{"", "tend_not-a-token-that-exists-anywhere-0123456789"} {
				code, h, body := ts.do(t, method, path, cred, "{}")
				if code != http.StatusUnauthorized {
					t.Fatalf("credential %q: %d %s; want 401", cred, code, body)
				}
				if msg := wantError(t, http.StatusUnauthorized, body); msg != "missing or invalid API token: send it as x-token or Authorization: Bearer" {
					t.Errorf("message = %q", msg)
				}
				if h.Get("WWW-Authenticate") == "" {
					t.Error("no WWW-Authenticate header")
				}
			}
		})
	}
}

func testReadTokenCannotWrite(t *testing.T, b backend) {
	ts := startServer(t, b)
	ts.createProject(t, "sockshop", "carts")
	read := ts.mint(t, "reader", "read", "")
	writes := []struct {
		method, path string
		body         any
	}{
		{"POST", "/api/v1/project", apitypes.CreateProjectRequest{Name: "other", Shipyard: shipyardV02}},
		{"DELETE", "/api/v1/project/sockshop", nil},
		{"POST", "/api/v1/project/sockshop/service", apitypes.CreateServiceRequest{ServiceName: "orders"}},
		{"DELETE", "/api/v1/project/sockshop/service/carts", nil},
		{"POST", "/api/v1/project/sockshop/resource", putBody(map[string]string{"a.txt": "a"})},
		{"PUT", "/api/v1/project/sockshop/stage/production/resource", putBody(map[string]string{"a.txt": "a"})},
		{"PUT", "/api/v1/project/sockshop/stage/production/service/carts/resource", putBody(map[string]string{"slo.yaml": sloYAML})},
		{"DELETE", "/api/v1/project/sockshop/resource/shipyard.yaml", nil},
		{"POST", "/api/v1/event", eventJSON("sh.keptn.event.evaluation.triggered", "sockshop", "")},
		{"POST", "/v1/event", eventJSON("sh.keptn.event.evaluation.triggered", "sockshop", "")},
		{"POST", "/api/v1/token", apitypes.CreateTokenRequest{Name: "x", Scope: "read"}},
		{"GET", "/api/v1/token", nil},
		{"DELETE", "/api/v1/token/admin", nil},
	}
	for _, w := range writes {
		t.Run(w.method+" "+w.path, func(t *testing.T) {
			wantError(t, http.StatusForbidden, ts.wantStatus(t, http.StatusForbidden, w.method, w.path, read, w.body))
		})
	}
	// Nothing changed, and reading works.
	pr := decode[apitypes.Project](t, ts.wantStatus(t, http.StatusOK, "GET", "/api/v1/project/sockshop", read, nil))
	if len(pr.Stages) != 2 || len(pr.Stages[0].Services) != 1 {
		t.Errorf("project changed: %+v", pr)
	}
	// A write token may write but not manage tokens.
	write := ts.mint(t, "writer", "write", "")
	ts.wantStatus(t, http.StatusCreated, "POST", "/api/v1/project/sockshop/service", write, apitypes.CreateServiceRequest{ServiceName: "orders"})
	ts.wantStatus(t, http.StatusForbidden, "GET", "/api/v1/token", write, nil)
}

func testProjectScoping(t *testing.T, b backend) {
	ts := startServer(t, b)
	ts.createProject(t, "alpha", "carts")
	ts.createProject(t, "beta", "carts")
	tok := ts.mint(t, "alpha-writer", "write", "alpha")
	for _, p := range []string{"alpha", "beta"} {
		ts.wantStatus(t, http.StatusOK, "POST", "/api/v1/event", ts.Admin, eventJSON("sh.keptn.event.evaluation.triggered", p, ""))
	}

	list := decode[apitypes.ProjectList](t, ts.wantStatus(t, http.StatusOK, "GET", "/api/v1/project", tok, nil))
	if list.TotalCount != 1 || len(list.Projects) != 1 || list.Projects[0].ProjectName != "alpha" {
		t.Errorf("scoped token lists %+v; want only alpha", list)
	}
	ts.wantStatus(t, http.StatusOK, "GET", "/api/v1/project/alpha", tok, nil)
	ts.wantStatus(t, http.StatusCreated, "POST", "/api/v1/project/alpha/service", tok, apitypes.CreateServiceRequest{ServiceName: "orders"})

	// Other projects answer 403 whether they exist or not, so a scoped
	// token learns no project names.
	forbidden := []struct{ method, path string }{
		{"GET", "/api/v1/project/beta"},
		{"GET", "/api/v1/project/does-not-exist"},
		{"GET", "/api/v1/project/beta/service"},
		{"GET", "/api/v1/project/beta/stage/production/service/carts/resource"},
		{"GET", "/api/v1/event?project=beta"},
		{"GET", "/api/v1/event/stream?project=beta"},
		{"GET", "/api/controlPlane/v1/event/triggered/sh.keptn.event.evaluation.triggered?project=beta"},
		{"POST", "/api/v1/project"},
		{"DELETE", "/api/v1/project/alpha"},
	}
	for _, f := range forbidden {
		t.Run(f.method+" "+f.path, func(t *testing.T) {
			var body any
			if f.method == "POST" {
				body = apitypes.CreateProjectRequest{Name: "gamma", Shipyard: shipyardV02}
			}
			wantError(t, http.StatusForbidden, ts.wantStatus(t, http.StatusForbidden, f.method, f.path, tok, body))
		})
	}
	code, _, body := ts.do(t, "POST", "/api/v1/event", tok, eventJSON("sh.keptn.event.evaluation.triggered", "beta", ""))
	if code != http.StatusForbidden {
		t.Errorf("event for another project: %d %s", code, body)
	}
	// Without a project filter a scoped token gets its own project's events.
	evs := decode[apitypes.EventList](t, ts.wantStatus(t, http.StatusOK, "GET", "/api/v1/event", tok, nil))
	if evs.TotalCount != 1 || !strings.Contains(string(evs.Events[0]), `"project":"alpha"`) {
		t.Errorf("scoped token's events: %+v", evs)
	}
}

func testBadInput(t *testing.T, b backend) {
	ts := startServer(t, b)
	ts.createProject(t, "sockshop", "carts")
	badSLO := "objectives:\n  - sli: x\n    pass:\n      - criteria: [\"=>5\"]\ntotal_score:\n  pass: \"90%\"\n"
	tests := []struct {
		name, method, path string
		body               any
		want               string
	}{
		{"syntax error", "POST", "/api/v1/project", "{\n  \"name\": \"x\",\n  \"shipyard\" 1\n}", "invalid JSON at line 3, column 14"},
		{"truncated", "POST", "/api/v1/project", `{"name": "x"`, "ends before the JSON value does"},
		{"wrong type", "POST", "/api/v1/project", `{"name": 5}`, "name must be a string"},
		{"unknown field", "POST", "/api/v1/project", `{"name": "x", "shipyrd": ""}`, `unknown field "shipyrd"`},
		{"trailing data", "POST", "/api/v1/project/sockshop/service", `{"serviceName":"a"} {}`, "unexpected data after the JSON object"},
		{"empty body", "POST", "/api/v1/token", ``, "request body is empty"},
		{"project name", "POST", "/api/v1/project", apitypes.CreateProjectRequest{Name: "Sock_Shop", Shipyard: shipyardV02}, `project name "Sock_Shop" is invalid`},
		{"no shipyard", "POST", "/api/v1/project", apitypes.CreateProjectRequest{Name: "x"}, "shipyard is missing"},
		{"bad shipyard YAML", "POST", "/api/v1/project", apitypes.CreateProjectRequest{Name: "x", Shipyard: "stages:\n  - name: [dev\n"}, "shipyard.yaml:"},
		{"bad shipyard", "POST", "/api/v1/project", apitypes.CreateProjectRequest{Name: "x", Shipyard: "apiVersion: spec.keptn.sh/0.9.0\nkind: Shipyard\nspec:\n  stages: []\n"}, "shipyard.yaml:1:"},
		{"service name", "POST", "/api/v1/project/sockshop/service", apitypes.CreateServiceRequest{ServiceName: "-carts"}, `service name "-carts" is invalid`},
		{"bad SLO", "POST", "/api/v1/project/sockshop/stage/production/service/carts/resource", putBody(map[string]string{"slo.yaml": badSLO}), `slo.yaml:4:20: invalid criterion "=>5"`},
		{"bad SLI YAML", "PUT", "/api/v1/project/sockshop/stage/production/service/carts/resource", putBody(map[string]string{"prometheus/sli.yaml": "indicators: [\n"}), "prometheus/sli.yaml:"},
		{"not base64", "POST", "/api/v1/project/sockshop/resource", `{"resources":[{"resourceURI":"a.txt","resourceContent":"%%%"}]}`, "resourceContent is not base64"},
		{"bad URI", "POST", "/api/v1/project/sockshop/resource", putBody(map[string]string{"../etc/passwd": "x"}), "invalid resource URI"},
		{"no resources", "POST", "/api/v1/project/sockshop/resource", `{"resources":[]}`, "no resources given"},
		{"bad event", "POST", "/api/v1/event", `{"specversion":"1.0","type":"x","data":{}}`, `"source" is required`},
		{"event syntax", "POST", "/api/v1/event", "{\"specversion\":\n\"1.0\",", "invalid JSON at line 2"},
		{"page size", "GET", "/api/v1/event?pageSize=lots", nil, `pageSize "lots" is invalid`},
		{"page key", "GET", "/api/v1/event?nextPageKey=nonsense", nil, "nonsense"},
		{"project page key", "GET", "/api/v1/project?nextPageKey=nonsense", nil, "was not handed out by this server"},
		{"token scope", "POST", "/api/v1/token", apitypes.CreateTokenRequest{Name: "x", Scope: "root"}, `scope "root" is unknown`},
		{"token name", "POST", "/api/v1/token", apitypes.CreateTokenRequest{Name: "a b", Scope: "read"}, "token name"},
		{"stream id", "GET", "/api/v1/event/stream?lastEventId=abc", nil, "Last-Event-ID"},
		{"triggered type", "GET", "/api/controlPlane/v1/event/triggered/sh.keptn.event.action.finished", nil, "is not a .triggered type"},
		{"version", "GET", "/api/v1/project/sockshop/resource/shipyard.yaml?gitCommitID=abc", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, body := ts.do(t, tt.method, tt.path, ts.Admin, tt.body)
			want := http.StatusBadRequest
			if tt.name == "version" {
				want = http.StatusNotFound // an id that is no commit is no version
			}
			if code != want {
				t.Fatalf("%d %s; want %d", code, body, want)
			}
			if msg := wantError(t, want, body); !strings.Contains(msg, tt.want) {
				t.Errorf("message %q does not contain %q", msg, tt.want)
			}
		})
	}
	// Nothing of the refused writes was stored.
	list := decode[apitypes.ResourceList](t, ts.wantStatus(t, http.StatusOK, "GET", "/api/v1/project/sockshop/stage/production/service/carts/resource", ts.Admin, nil))
	for _, r := range list.Resources {
		if r.ResourceURI == "slo.yaml" || r.ResourceURI == "prometheus/sli.yaml" {
			t.Errorf("refused resource %s was written", r.ResourceURI)
		}
	}
}

func testOversizedBody(t *testing.T, b backend) {
	ts := startServer(t, b, withMaxBody(4096))
	ts.createProject(t, "sockshop", "carts")
	big := strings.Repeat("x", 8192)
	cases := []struct {
		method, path string
		body         any
	}{
		{"POST", "/api/v1/project/sockshop/resource", putBody(map[string]string{"big.txt": big})},
		{"POST", "/api/v1/event", eventJSON("sh.keptn.event.x.triggered", "sockshop", big)},
		{"POST", "/api/v1/project", apitypes.CreateProjectRequest{Name: "x", Shipyard: shipyardV02 + "#" + big}},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			msg := wantError(t, http.StatusRequestEntityTooLarge, ts.wantStatus(t, http.StatusRequestEntityTooLarge, c.method, c.path, ts.Admin, c.body))
			if !strings.Contains(msg, "4096 bytes") {
				t.Errorf("message %q does not name the limit", msg)
			}
		})
	}
	// Without a credential the answer is 401, whatever the size.
	ts.wantStatus(t, http.StatusUnauthorized, "POST", "/api/v1/event", "", big)
}

func testMuxErrors(t *testing.T, b backend) {
	ts := startServer(t, b)
	code, h, body := ts.do(t, "PATCH", "/api/v1/project", ts.Admin, nil)
	if code != http.StatusMethodNotAllowed || h.Get("Allow") == "" {
		t.Errorf("PATCH: %d allow=%q", code, h.Get("Allow"))
	}
	wantError(t, http.StatusMethodNotAllowed, body)
	code, h, body = ts.do(t, "GET", "/api/v2/nothing", ts.Admin, nil)
	if code != http.StatusNotFound || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		t.Errorf("unknown route: %d %s", code, h.Get("Content-Type"))
	}
	wantError(t, http.StatusNotFound, body)
	// Unknown records are 404 in the same format.
	wantError(t, http.StatusNotFound, ts.wantStatus(t, http.StatusNotFound, "GET", "/api/v1/project/nope", ts.Admin, nil))
	wantError(t, http.StatusNotFound, ts.wantStatus(t, http.StatusNotFound, "DELETE", "/api/v1/token/nope", ts.Admin, nil))
}

func testProjectsAndServices(t *testing.T, b backend) {
	ts := startServer(t, b)
	ctx := context.Background()
	c := ts.Client
	// A base64 shipyard, as Keptn's API took it, and a legacy one.
	legacy := "stages:\n  - name: staging\n  - name: production\n    remediation_strategy: automated\n"
	if _, err := c.CreateProject(ctx, apitypes.CreateProjectRequest{Name: "legacy", Shipyard: base64.StdEncoding.EncodeToString([]byte(legacy))}); err != nil {
		t.Fatalf("create legacy project: %v", err)
	}
	p, err := c.CreateProject(ctx, apitypes.CreateProjectRequest{Name: "sockshop", Shipyard: shipyardV02})
	if err != nil {
		t.Fatalf("create project: %v", err)
	}
	if p.ShipyardVersion != "spec.keptn.sh/0.2.2" || len(p.Stages) != 2 || p.Stages[0].RemediationEnabled || !p.Stages[1].RemediationEnabled {
		t.Errorf("created project = %+v", p)
	}
	if _, err := c.CreateProject(ctx, apitypes.CreateProjectRequest{Name: "sockshop", Shipyard: shipyardV02}); !client.IsConflict(err) {
		t.Errorf("second create: %v; want 409", err)
	}
	for _, s := range []string{"carts", "orders"} {
		if _, err := c.CreateService(ctx, "sockshop", s); err != nil {
			t.Fatalf("create service %s: %v", s, err)
		}
	}
	if _, err := c.CreateService(ctx, "sockshop", "carts"); !client.IsConflict(err) {
		t.Errorf("second create service: %v; want 409", err)
	}
	if _, err := c.CreateService(ctx, "nope", "carts"); !client.IsNotFound(err) {
		t.Errorf("service of unknown project: %v; want 404", err)
	}
	got, err := c.GetProject(ctx, "sockshop")
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range got.Stages {
		if len(st.Services) != 2 || st.Services[0].ServiceName != "carts" {
			t.Errorf("stage %s services = %+v", st.StageName, st.Services)
		}
	}
	lg, err := c.GetProject(ctx, "legacy")
	if err != nil {
		t.Fatal(err)
	}
	if lg.ShipyardVersion != "0.6" || !lg.Stages[1].RemediationEnabled || lg.Stages[0].RemediationEnabled {
		t.Errorf("legacy project = %+v", lg)
	}
	// The service folder exists in every stage branch.
	for _, stage := range []string{"dev", "production"} {
		ref := client.ResourceRef{Project: "sockshop", Stage: stage, Service: "carts"}
		if _, err := c.GetResource(ctx, ref, "metadata.yaml", ""); err != nil {
			t.Errorf("metadata.yaml of carts in %s: %v", stage, err)
		}
	}

	// Paging through projects.
	for i := range 3 {
		ts.createProject(t, fmt.Sprintf("p%d", i))
	}
	page1 := decode[apitypes.ProjectList](t, ts.wantStatus(t, http.StatusOK, "GET", "/api/v1/project?pageSize=2", ts.Admin, nil))
	if len(page1.Projects) != 2 || page1.NextPageKey == "" || page1.TotalCount != 5 {
		t.Fatalf("page 1 = %+v", page1)
	}
	all, err := c.ListProjects(ctx)
	if err != nil || len(all) != 5 {
		t.Fatalf("ListProjects = %d projects, %v", len(all), err)
	}
	seen := map[string]bool{}
	for _, p := range all {
		if seen[p.ProjectName] {
			t.Errorf("project %s listed twice", p.ProjectName)
		}
		seen[p.ProjectName] = true
	}

	// Deleting.
	if err := c.DeleteService(ctx, "sockshop", "orders"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetService(ctx, "sockshop", "orders"); !client.IsNotFound(err) {
		t.Errorf("deleted service: %v", err)
	}
	svcs, err := c.ListServices(ctx, "sockshop")
	if err != nil || len(svcs) != 1 {
		t.Errorf("services after delete = %+v, %v", svcs, err)
	}
	if err := c.DeleteProject(ctx, "sockshop"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetProject(ctx, "sockshop"); !client.IsNotFound(err) {
		t.Errorf("deleted project: %v", err)
	}
	if err := c.DeleteProject(ctx, "sockshop"); !client.IsNotFound(err) {
		t.Errorf("second delete: %v", err)
	}
	// A project of the same name starts empty.
	ts.createProject(t, "sockshop")
	res, err := c.ListResources(ctx, client.ResourceRef{Project: "sockshop", Stage: "production"})
	if err != nil || len(res) != 0 {
		t.Errorf("recreated project's production resources = %+v, %v", res, err)
	}
}

func testResources(t *testing.T, b backend) {
	ts := startServer(t, b)
	ts.createProject(t, "sockshop", "carts")
	ctx := context.Background()
	c := ts.Client
	svc := client.ResourceRef{Project: "sockshop", Stage: "production", Service: "carts"}
	v1, err := c.PutResources(ctx, svc, []client.ResourceFile{{URI: "slo.yaml", Content: []byte(sloYAML)}})
	if err != nil {
		t.Fatalf("put slo: %v", err)
	}
	slo2 := strings.Replace(sloYAML, `pass: "90%"`, `pass: "80%"`, 1)
	v2, err := c.PutResources(ctx, svc, []client.ResourceFile{
		{URI: "slo.yaml", Content: []byte(slo2)},
		{URI: "prometheus/sli.yaml", Content: []byte("spec_version: \"1.0\"\nindicators:\n  response_time_p90: histogram_quantile(0.9, x)\n")},
	})
	if err != nil {
		t.Fatalf("put two: %v", err)
	}
	if v1.CommitID == v2.CommitID || len(v2.CommitID) != 40 || v2.PushError != "" {
		t.Fatalf("versions %+v %+v", v1, v2)
	}
	// Newest and historic reads.
	cur, err := c.GetResource(ctx, svc, "slo.yaml", "")
	if err != nil || string(cur.Content) != slo2 || cur.Version != v2.CommitID {
		t.Errorf("current slo.yaml = %+v, %v", cur, err)
	}
	old, err := c.GetResource(ctx, svc, "slo.yaml", v1.CommitID)
	if err != nil || string(old.Content) != sloYAML {
		t.Errorf("slo.yaml at %s = %+v, %v", v1.CommitID, old, err)
	}
	b1 := ts.wantStatus(t, http.StatusOK, "GET", "/api/v1/project/sockshop/stage/production/service/carts/resource/slo.yaml?version="+v1.CommitID, ts.Admin, nil)
	if r := decode[apitypes.Resource](t, b1); r.Version != v1.CommitID {
		t.Errorf("?version= read %+v", r)
	}
	if _, err := c.GetResource(ctx, svc, "prometheus/sli.yaml", v1.CommitID); !client.IsNotFound(err) {
		t.Errorf("sli.yaml before it existed: %v", err)
	}
	// Escaped and plain multi-segment URIs.
	for _, p := range []string{"prometheus%2Fsli.yaml", "prometheus/sli.yaml"} {
		r := decode[apitypes.Resource](t, ts.wantStatus(t, http.StatusOK, "GET", "/api/v1/project/sockshop/stage/production/service/carts/resource/"+p, ts.Admin, nil))
		if r.ResourceURI != "prometheus/sli.yaml" {
			t.Errorf("%s read as %q", p, r.ResourceURI)
		}
		h := decode[apitypes.ResourceHistory](t, ts.wantStatus(t, http.StatusOK, "GET", "/api/v1/project/sockshop/stage/production/service/carts/resource/"+p+"/history", ts.Admin, nil))
		if len(h.Commits) != 1 || h.Commits[0].CommitID != v2.CommitID {
			t.Errorf("%s history = %+v", p, h)
		}
	}
	// One commit per write.
	h, err := c.ResourceHistory(ctx, svc, "slo.yaml")
	if err != nil || len(h.Commits) != 2 || h.Commits[0].CommitID != v2.CommitID || h.Commits[1].CommitID != v1.CommitID {
		t.Fatalf("slo.yaml history = %+v, %v", h, err)
	}
	if !strings.Contains(h.Commits[0].Author, "admin") {
		t.Errorf("commit author %q does not name the token", h.Commits[0].Author)
	}
	list, err := c.ListResources(ctx, svc)
	if err != nil {
		t.Fatal(err)
	}
	uris := map[string]string{}
	for _, r := range list {
		uris[r.ResourceURI] = r.Version
	}
	if uris["slo.yaml"] != v2.CommitID || uris["prometheus/sli.yaml"] != v2.CommitID {
		t.Errorf("resources = %+v", list)
	}
	// Paging resources.
	pg := decode[apitypes.ResourceList](t, ts.wantStatus(t, http.StatusOK, "GET", "/api/v1/project/sockshop/stage/production/service/carts/resource?pageSize=1", ts.Admin, nil))
	if len(pg.Resources) != 1 || pg.NextPageKey == "" || pg.TotalCount != len(list) {
		t.Errorf("resource page = %+v", pg)
	}
	// Stage and project levels are separate.
	stage := client.ResourceRef{Project: "sockshop", Stage: "production"}
	if _, err := c.PutResources(ctx, stage, []client.ResourceFile{{URI: "remediation.yaml", Content: []byte("apiVersion: spec.keptn.sh/0.1.4\nkind: Remediation\nmetadata:\n  name: r\nspec:\n  remediations:\n    - problemType: response_time_p90\n      actionsOnOpen:\n        - action: scaling\n          name: scale\n          value: \"1\"\n")}}); err != nil {
		t.Fatalf("stage remediation: %v", err)
	}
	sl, err := c.ListResources(ctx, stage)
	if err != nil || len(sl) != 1 || sl[0].ResourceURI != "remediation.yaml" {
		t.Errorf("stage resources = %+v, %v (service folders must not show)", sl, err)
	}
	pl, err := c.ListResources(ctx, client.ResourceRef{Project: "sockshop"})
	if err != nil || len(pl) != 1 || pl[0].ResourceURI != "shipyard.yaml" {
		t.Errorf("project resources = %+v, %v", pl, err)
	}
	// Delete, then 404; history keeps the deletion.
	dv, err := c.DeleteResource(ctx, svc, "prometheus/sli.yaml")
	if err != nil || dv.CommitID == v2.CommitID {
		t.Fatalf("delete = %+v, %v", dv, err)
	}
	if _, err := c.GetResource(ctx, svc, "prometheus/sli.yaml", ""); !client.IsNotFound(err) {
		t.Errorf("deleted resource: %v", err)
	}
	if r, err := c.GetResource(ctx, svc, "prometheus/sli.yaml", v2.CommitID); err != nil || len(r.Content) == 0 {
		t.Errorf("deleted resource at its old version: %v", err)
	}
	if _, err := c.DeleteResource(ctx, svc, "prometheus/sli.yaml"); !client.IsNotFound(err) {
		t.Errorf("second delete: %v", err)
	}
	// The shipyard cannot be deleted; unknown levels are 404.
	ts.wantStatus(t, http.StatusBadRequest, "DELETE", "/api/v1/project/sockshop/resource/shipyard.yaml", ts.Admin, nil)
	for _, p := range []string{
		"/api/v1/project/nope/resource",
		"/api/v1/project/sockshop/stage/qa/resource",
		"/api/v1/project/sockshop/stage/production/service/nope/resource",
	} {
		wantError(t, http.StatusNotFound, ts.wantStatus(t, http.StatusNotFound, "POST", p, ts.Admin, putBody(map[string]string{"a.txt": "a"})))
	}
}

func testShipyardUpdate(t *testing.T, b backend) {
	ts := startServer(t, b)
	ts.createProject(t, "sockshop", "carts")
	updated := strings.Replace(shipyardV02, "    - name: production\n", "    - name: staging\n      sequences: []\n    - name: production\n", 1)
	ts.wantStatus(t, http.StatusCreated, "PUT", "/api/v1/project/sockshop/resource", ts.Admin, putBody(map[string]string{"shipyard.yaml": updated}))
	p := decode[apitypes.Project](t, ts.wantStatus(t, http.StatusOK, "GET", "/api/v1/project/sockshop", ts.Admin, nil))
	if len(p.Stages) != 3 || p.Stages[1].StageName != "staging" {
		t.Fatalf("stages after update = %+v", p.Stages)
	}
	ts.wantStatus(t, http.StatusCreated, "POST", "/api/v1/project/sockshop/stage/staging/resource", ts.Admin, putBody(map[string]string{"a.txt": "a"}))
	// An invalid shipyard is refused.
	msg := wantError(t, http.StatusBadRequest, ts.wantStatus(t, http.StatusBadRequest, "PUT", "/api/v1/project/sockshop/resource", ts.Admin, putBody(map[string]string{"shipyard.yaml": "apiVersion: spec.keptn.sh/0.2.2\nkind: Shipyard\nspec:\n  stages:\n    - name: Bad_Stage\n"})))
	if !strings.Contains(msg, "shipyard.yaml:5:") {
		t.Errorf("message %q lacks the position", msg)
	}
}

func testEvents(t *testing.T, b backend) {
	ts := startServer(t, b)
	ctx := context.Background()
	for i := range 5 {
		typ := "sh.keptn.event.evaluation.triggered"
		if i%2 == 1 {
			typ = "sh.keptn.event.evaluation.finished"
		}
		if _, err := ts.Client.SendEvent(ctx, []byte(eventJSON(typ, "sockshop", ""))); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
	// Keptn 0.6's path and envelope.
	legacy := `{"specversion":"0.2","type":"sh.keptn.events.problem","source":"dynatrace","contenttype":"application/json","shkeptncontext":"","data":{"project":"other","State":"OPEN"}}`
	kc := decode[apitypes.EventContext](t, ts.wantStatus(t, http.StatusOK, "POST", "/v1/event", ts.Admin, legacy))
	if !event.IsUUID(kc.KeptnContext) {
		t.Errorf("generated context %q is not a UUID", kc.KeptnContext)
	}

	// Paging newest first through all six.
	var ids []string
	key := ""
	for range 10 {
		q := "/api/v1/event?pageSize=2"
		if key != "" {
			q += "&nextPageKey=" + url.QueryEscape(key)
		}
		pg := decode[apitypes.EventList](t, ts.wantStatus(t, http.StatusOK, "GET", q, ts.Admin, nil))
		if pg.TotalCount != 6 || pg.PageSize != 2 {
			t.Errorf("page = %+v", pg)
		}
		for _, e := range pg.Events {
			var ev struct{ ID string }
			json.Unmarshal(e, &ev)
			ids = append(ids, ev.ID)
		}
		if key = pg.NextPageKey; key == "" {
			break
		}
	}
	if len(ids) != 6 {
		t.Fatalf("paged through %d events; want 6", len(ids))
	}
	first := decode[apitypes.EventList](t, ts.wantStatus(t, http.StatusOK, "GET", "/api/v1/event?pageSize=1", ts.Admin, nil))
	if !strings.Contains(string(first.Events[0]), "sh.keptn.events.problem") {
		t.Errorf("newest event first: %s", first.Events[0])
	}

	filters := []struct {
		query string
		want  int
	}{
		{"type=evaluation.finished", 2},
		{"type=sh.keptn.event.evaluation.triggered", 3},
		{"project=sockshop", 5},
		{"project=other", 1},
		{"project=sockshop&stage=production&service=carts", 5},
		{"service=orders", 0},
		{"keptnContext=" + kc.KeptnContext, 1},
	}
	for _, f := range filters {
		t.Run(f.query, func(t *testing.T) {
			pg := decode[apitypes.EventList](t, ts.wantStatus(t, http.StatusOK, "GET", "/api/v1/event?"+f.query, ts.Admin, nil))
			if pg.TotalCount != f.want || len(pg.Events) != f.want {
				t.Errorf("%d events (total %d); want %d", len(pg.Events), pg.TotalCount, f.want)
			}
		})
	}
	// Retrying a send with the same id and source stores it once.
	again := `{"specversion":"1.0","id":"fixed-id","source":"retry","type":"sh.keptn.event.x.triggered","data":{"project":"sockshop"}}`
	ts.wantStatus(t, http.StatusOK, "POST", "/api/v1/event", ts.Admin, again)
	ts.wantStatus(t, http.StatusOK, "POST", "/api/v1/event", ts.Admin, again)
	pg := decode[apitypes.EventList](t, ts.wantStatus(t, http.StatusOK, "GET", "/api/v1/event?type=x.triggered", ts.Admin, nil))
	if pg.TotalCount != 1 {
		t.Errorf("retried event stored %d times", pg.TotalCount)
	}
}

func testEventContexts(t *testing.T, b backend) {
	ts := startServer(t, b)
	send := func(ctxAttr string) string {
		t.Helper()
		return decode[apitypes.EventContext](t, ts.wantStatus(t, http.StatusOK, "POST", "/api/v1/event", ts.Admin,
			eventJSON("sh.keptn.event.problem.open", "sockshop", ctxAttr))).KeptnContext
	}
	pid := "-3418210378338371845_1606807600000V2"
	a, b2 := send(pid), send(pid)
	if a != b2 || !event.IsUUID(a) || a != event.ContextFor(pid) {
		t.Errorf("PID %q mapped to %q and %q; want %q both times", pid, a, b2, event.ContextFor(pid))
	}
	upper := "6A8B9C0D-1E2F-4A3B-8C4D-5E6F7A8B9C0D"
	if got := send(upper); got != strings.ToLower(upper) {
		t.Errorf("UUID context kept as %q", got)
	}
	if x, y := send(""), send(""); x == y || !event.IsUUID(x) {
		t.Errorf("generated contexts %q and %q", x, y)
	}
	// Querying by the sender's own (non-UUID) context finds its events.
	pg := decode[apitypes.EventList](t, ts.wantStatus(t, http.StatusOK, "GET", "/api/v1/event?keptnContext="+url.QueryEscape(pid), ts.Admin, nil))
	if pg.TotalCount != 2 {
		t.Errorf("events of PID context: %d; want 2", pg.TotalCount)
	}
}

type sseEvent struct{ id, typ, data string }

func testEventStream(t *testing.T, b backend) {
	ts := startServer(t, b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// An event before the stream opens is not sent without Last-Event-ID.
	ts.wantStatus(t, http.StatusOK, "POST", "/api/v1/event", ts.Admin, eventJSON("sh.keptn.event.before.triggered", "sockshop", ""))

	got := make(chan sseEvent, 16)
	var wg sync.WaitGroup
	stream := func(ctx context.Context, project, last string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ts.Client.StreamEvents(ctx, project, last, func(id, typ string, data []byte) error {
				got <- sseEvent{id, typ, string(data)}
				return nil
			})
		}()
	}
	sctx, scancel := context.WithCancel(ctx)
	stream(sctx, "sockshop", "")
	// The stream is open once the server counts it; wait for that rather
	// than for a time.
	waitFor(t, func() bool {
		_, _, m := ts.do(t, "GET", "/metrics", "", nil)
		return strings.Contains(string(m), "tend_events_streams_active 1")
	})
	ts.wantStatus(t, http.StatusOK, "POST", "/api/v1/event", ts.Admin, eventJSON("sh.keptn.event.other.triggered", "elsewhere", ""))
	ts.wantStatus(t, http.StatusOK, "POST", "/api/v1/event", ts.Admin, eventJSON("sh.keptn.event.live.triggered", "sockshop", ""))
	first := receive(t, got)
	if first.typ != "sh.keptn.event.live.triggered" || !strings.Contains(first.data, `"type":"sh.keptn.event.live.triggered"`) {
		t.Fatalf("first streamed event = %+v; want the live one of sockshop", first)
	}
	scancel()
	wg.Wait()

	// Two more events while nobody listens; resuming from the last id
	// delivers exactly those, in order.
	ts.wantStatus(t, http.StatusOK, "POST", "/api/v1/event", ts.Admin, eventJSON("sh.keptn.event.missed1.triggered", "sockshop", ""))
	ts.wantStatus(t, http.StatusOK, "POST", "/api/v1/event", ts.Admin, eventJSON("sh.keptn.event.missed2.triggered", "sockshop", ""))
	rctx, rcancel := context.WithCancel(ctx)
	stream(rctx, "sockshop", first.id)
	for _, want := range []string{"sh.keptn.event.missed1.triggered", "sh.keptn.event.missed2.triggered"} {
		if e := receive(t, got); e.typ != want {
			t.Errorf("resumed event = %s; want %s", e.typ, want)
		}
	}
	rcancel()
	wg.Wait()

	// The lastEventId query works for clients without headers; id 0 means
	// from the start.
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/api/v1/event/stream?project=sockshop&lastEventId=0", nil)
	req.Header.Set("Authorization", "Bearer "+ts.Admin)
	qctx, qcancel := context.WithCancel(ctx)
	req = req.WithContext(qctx)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("content type %q", ct)
	}
	buf := make([]byte, 0, 4096)
	tmp := make([]byte, 1024)
	for !strings.Contains(string(buf), "missed2") {
		n, err := resp.Body.Read(tmp)
		buf = append(buf, tmp[:n]...)
		if err != nil {
			t.Fatalf("read stream: %v (so far %q)", err, buf)
		}
	}
	if !strings.Contains(string(buf), "event: sh.keptn.event.before.triggered\ndata: {") || !strings.Contains(string(buf), "\nid: ") {
		t.Errorf("stream from 0 lacks the first event or the framing: %q", buf)
	}
	qcancel()
	resp.Body.Close()
	waitFor(t, func() bool {
		_, _, m := ts.do(t, "GET", "/metrics", "", nil)
		return strings.Contains(string(m), "tend_events_streams_active 0")
	})

	// Close ends open streams (server shutdown).
	cctx, ccancel := context.WithCancel(ctx)
	sdone := make(chan error, 1)
	go func() {
		sdone <- ts.Client.StreamEvents(cctx, "sockshop", "", func(string, string, []byte) error { return nil })
	}()
	waitFor(t, func() bool {
		_, _, m := ts.do(t, "GET", "/metrics", "", nil)
		return strings.Contains(string(m), "tend_events_streams_active 1")
	})
	ts.API.Close()
	waitFor(t, func() bool {
		_, _, m := ts.do(t, "GET", "/metrics", "", nil)
		return strings.Contains(string(m), "tend_events_streams_active 0")
	})
	code, _, _ := ts.do(t, "GET", "/readyz", "", nil)
	if code != http.StatusServiceUnavailable {
		t.Errorf("readyz after Close = %d; want 503", code)
	}
	// The client reconnects and is refused with 503 until it gives up.
	ccancel()
	if err := <-sdone; err != context.Canceled {
		t.Errorf("StreamEvents after Close = %v; want context.Canceled", err)
	}
}

func receive(t *testing.T, ch <-chan sseEvent) sseEvent {
	t.Helper()
	select {
	case e := <-ch:
		return e
	case <-time.After(20 * time.Second):
		t.Fatal("no event arrived on the stream")
		return sseEvent{}
	}
}

// waitFor polls cond until it holds; it fails after a generous deadline
// that only a broken server reaches.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition never held")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testTriggeredEvents(t *testing.T, b backend) {
	ts := startServer(t, b)
	// tend's own triggered events are written by tend, not posted: the
	// API refuses the source "tend" from clients.
	trig := func(id, project string) {
		t.Helper()
		ev, err := event.Parse([]byte(`{"specversion":"1.0","id":"` + id + `","source":"tend","type":"sh.keptn.event.action.triggered","data":{"project":"` + project + `","stage":"production","service":"carts"}}`))
		if err != nil {
			t.Fatal(err)
		}
		rec, err := eventlog.Record(ev)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ts.Store.AppendEvents(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
	}
	trig("t1", "sockshop")
	trig("t2", "sockshop")
	trig("t3", "other")
	ts.wantStatus(t, http.StatusOK, "POST", "/api/v1/event", ts.Admin,
		`{"specversion":"1.0","source":"executor","type":"sh.keptn.event.action.finished","triggeredid":"t1","data":{"project":"sockshop","stage":"production","service":"carts","status":"succeeded","result":"pass"}}`)
	list, err := ts.Client.TriggeredEvents(context.Background(), "sh.keptn.event.action.triggered", client.TriggeredFilter{Project: "sockshop"})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || !strings.Contains(string(list[0]), `"id":"t2"`) {
		t.Errorf("open triggered events = %s; want only t2", list)
	}
	all := decode[apitypes.TriggeredEventList](t, ts.wantStatus(t, http.StatusOK, "GET", "/api/controlPlane/v1/event/triggered/action.triggered", ts.Admin, nil))
	if len(all.Events) != 2 || !strings.Contains(string(all.Events[0]), `"id":"t2"`) {
		t.Errorf("all open = %s; want t2 then t3", all.Events)
	}
}

func testTokens(t *testing.T, b backend) {
	ts := startServer(t, b)
	ctx := context.Background()
	ts.createProject(t, "sockshop")
	created, err := ts.Client.CreateToken(ctx, apitypes.CreateTokenRequest{Name: "ci", Scope: apitypes.ScopeWrite, Project: "sockshop"})
	if err != nil {
		t.Fatal(err)
	}
	if created.Token == "" || created.Project != "sockshop" || created.Scope != "write" {
		t.Fatalf("created = %+v", created)
	}
	if _, err := ts.Client.CreateToken(ctx, apitypes.CreateTokenRequest{Name: "ci", Scope: apitypes.ScopeRead}); !client.IsConflict(err) {
		t.Errorf("duplicate name: %v", err)
	}
	if _, err := ts.Client.CreateToken(ctx, apitypes.CreateTokenRequest{Name: "x", Scope: apitypes.ScopeRead, Project: "nope"}); !client.IsNotFound(err) {
		t.Errorf("token for an unknown project: %v", err)
	}
	// The list never carries secrets or hashes.
	raw := ts.wantStatus(t, http.StatusOK, "GET", "/api/v1/token", ts.Admin, nil)
	if strings.Contains(string(raw), created.Token) || strings.Contains(string(raw), `"token"`) || strings.Contains(string(raw), "hash") {
		t.Errorf("token list leaks: %s", raw)
	}
	list := decode[apitypes.TokenList](t, raw)
	if len(list.Tokens) != 2 {
		t.Errorf("tokens = %+v", list)
	}
	// The new token works, as x-token and as bearer.
	ts.wantStatus(t, http.StatusCreated, "POST", "/api/v1/project/sockshop/service", created.Token, apitypes.CreateServiceRequest{ServiceName: "carts"})
	req, _ := http.NewRequest("GET", ts.URL+"/api/v1/project/sockshop", nil)
	req.Header.Set("Authorization", "Bearer "+created.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("bearer: %v %v", resp, err)
	}
	resp.Body.Close()
	// A project's admin sees and manages only its project's tokens.
	padmin := ts.mint(t, "sockshop-admin", "admin", "sockshop")
	pl := decode[apitypes.TokenList](t, ts.wantStatus(t, http.StatusOK, "GET", "/api/v1/token", padmin, nil))
	if len(pl.Tokens) != 2 {
		t.Errorf("project admin sees %+v; want ci and itself", pl.Tokens)
	}
	ts.wantStatus(t, http.StatusForbidden, "POST", "/api/v1/token", padmin, apitypes.CreateTokenRequest{Name: "g", Scope: "read"})
	ts.wantStatus(t, http.StatusNotFound, "DELETE", "/api/v1/token/admin", padmin, nil)
	// Revocation takes effect with the next request.
	if err := ts.Client.DeleteToken(ctx, "ci"); err != nil {
		t.Fatal(err)
	}
	ts.wantStatus(t, http.StatusUnauthorized, "GET", "/api/v1/project/sockshop", created.Token, nil)
}

func testMetricsAndHealth(t *testing.T, b backend) {
	ts := startServer(t, b)
	ts.wantStatus(t, http.StatusOK, "POST", "/api/v1/event", ts.Admin, eventJSON("sh.keptn.event.a.triggered", "p", ""))
	ts.wantStatus(t, http.StatusOK, "GET", "/healthz", "", nil)
	ts.wantStatus(t, http.StatusOK, "GET", "/readyz", "", nil)
	m := string(ts.wantStatus(t, http.StatusOK, "GET", "/metrics", "", nil))
	for _, want := range []string{
		`tend_http_requests_total{code="200",method="POST",route="POST /api/v1/event"} 1`,
		`tend_events_appended_total 1`,
		`tend_http_request_duration_seconds_bucket{method="POST",route="POST /api/v1/event"`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(m, ts.Admin) {
		t.Error("metrics contain the token")
	}
}
