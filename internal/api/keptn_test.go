package api_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/testenv"
)

func TestKeptnAPISQLite(t *testing.T) { runKeptnSuite(t, sqliteBackend) }

func TestKeptnAPIPostgres(t *testing.T) {
	testenv.PostgresServerURL(t)
	runKeptnSuite(t, postgresBackend)
}

func runKeptnSuite(t *testing.T, b backend) {
	tests := []struct {
		name string
		fn   func(*testing.T, backend)
	}{
		{"auth and metadata", testKeptnAuthMetadata},
		{"projects, stages and services", testKeptnProjects},
		{"project scoping", testKeptnScoping},
		{"resources", testKeptnResources},
		{"events", testKeptnEvents},
		{"secrets", testKeptnSecrets},
		{"name rules", testKeptnNames},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, b) })
	}
}

func testKeptnAuthMetadata(t *testing.T, b backend) {
	ts := startServer(t, b)
	ts.wantStatus(t, http.StatusOK, "POST", "/api/v1/auth", ts.Admin, nil)
	ts.wantStatus(t, http.StatusUnauthorized, "POST", "/api/v1/auth", "tend_unknown-token-0123456789", nil)
	body := ts.wantStatus(t, http.StatusOK, "GET", "/api/v1/metadata", ts.Admin, nil)
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil || m["automaticprovisioning"] != true {
		t.Errorf("metadata %s: automaticprovisioning must be present and true", body)
	}
}

func keptnProjectBody(name string, creds string) string {
	b := `{"name":"` + name + `","shipyard":"` + base64.StdEncoding.EncodeToString([]byte(shipyardV02)) + `"`
	if creds != "" {
		b += `,"gitCredentials":` + creds
	}
	return b + "}"
}

func testKeptnProjects(t *testing.T, b backend) {
	ts := startServer(t, b)
	ts.wantStatus(t, http.StatusCreated, "POST", "/api/controlPlane/v1/project", ts.Admin, keptnProjectBody("sockshop", ""))
	ts.wantStatus(t, http.StatusCreated, "POST", "/api/controlPlane/v1/project/sockshop/service", ts.Admin, `{"serviceName":"carts"}`)

	// Refused upstream options name the field.
	for _, creds := range []string{
		`{"remoteURL":"https://git.example/x.git","ssh":{"privateKey":"a2V5"}}`,
		`{"remoteURL":"https://git.example/x.git","https":{"token":"t","insecureSkipTLS":true}}`,
		`{"remoteURL":"https://git.example/x.git","https":{"token":"t","proxy":{"url":"p:8080","scheme":"http"}}}`,
	} {
		msg := wantError(t, http.StatusBadRequest, ts.wantStatus(t, http.StatusBadRequest, "POST", "/api/controlPlane/v1/project", ts.Admin, keptnProjectBody("other", creds)))
		if !strings.Contains(msg, "gitCredentials.") {
			t.Errorf("message %q names no field", msg)
		}
	}

	var p apitypes.KeptnProject
	if err := json.Unmarshal(ts.wantStatus(t, http.StatusOK, "GET", "/api/controlPlane/v1/project/sockshop", ts.Admin, nil), &p); err != nil {
		t.Fatal(err)
	}
	stored, err := ts.Store.GetProject(t.Context(), "sockshop")
	if err != nil {
		t.Fatal(err)
	}
	if p.CreationDate != strconv.FormatInt(stored.CreatedAt.UnixNano(), 10) {
		t.Errorf("creationDate %q, want Unix nanoseconds of %v", p.CreationDate, stored.CreatedAt)
	}
	if len(p.Stages) != 2 || len(p.Stages[0].Services) != 1 || p.Stages[0].Services[0].ServiceName != "carts" {
		t.Errorf("project: %+v", p)
	}

	// lastEventTypes: the newest event of each type of the service in the stage.
	ts.wantStatus(t, http.StatusOK, "POST", "/api/v1/event", ts.Admin, `{"specversion":"1.0","source":"test","type":"sh.keptn.event.deployment.finished","data":{"project":"sockshop","stage":"dev","service":"carts"}}`)
	var sv apitypes.KeptnService
	_ = json.Unmarshal(ts.wantStatus(t, http.StatusOK, "GET", "/api/controlPlane/v1/project/sockshop/stage/dev/service/carts", ts.Admin, nil), &sv)
	if _, ok := sv.LastEventTypes["sh.keptn.event.deployment.finished"]; !ok {
		t.Errorf("lastEventTypes: %+v", sv.LastEventTypes)
	}

	var stages apitypes.KeptnStages
	_ = json.Unmarshal(ts.wantStatus(t, http.StatusOK, "GET", "/api/controlPlane/v1/project/sockshop/stage?pageSize=1", ts.Admin, nil), &stages)
	if len(stages.Stages) != 1 || stages.Stages[0].StageName != "dev" || stages.NextPageKey == "" || stages.TotalCount != 2 || stages.PageSize != 1 {
		t.Errorf("first page of stages: %+v", stages)
	}
	var second apitypes.KeptnStages
	_ = json.Unmarshal(ts.wantStatus(t, http.StatusOK, "GET", "/api/controlPlane/v1/project/sockshop/stage?pageSize=1&nextPageKey="+stages.NextPageKey, ts.Admin, nil), &second)
	if len(second.Stages) != 1 || second.Stages[0].StageName != "production" || second.NextPageKey != "" {
		t.Errorf("second page of stages: %+v", second)
	}
	if len(second.Stages[0].Services) != 1 || len(second.Stages[0].Services[0].LastEventTypes) != 0 {
		t.Errorf("production has no events, but: %+v", second.Stages[0].Services)
	}
	ts.wantStatus(t, http.StatusNotFound, "GET", "/api/controlPlane/v1/project/sockshop/stage/nope", ts.Admin, nil)
	ts.wantStatus(t, http.StatusBadRequest, "POST", "/api/controlPlane/v1/project/sockshop/stage/dev/service/carts/evaluation", ts.Admin, `{"timeframe":"5m","gitcommitid":"not-a-commit"}`)

	// Deletes answer 200 with a message the CLI decodes.
	var m apitypes.KeptnMessage
	_ = json.Unmarshal(ts.wantStatus(t, http.StatusOK, "DELETE", "/api/controlPlane/v1/project/sockshop/service/carts", ts.Admin, nil), &m)
	if m.Message == "" {
		t.Error("delete service answered no message")
	}
	_ = json.Unmarshal(ts.wantStatus(t, http.StatusOK, "DELETE", "/api/controlPlane/v1/project/sockshop", ts.Admin, nil), &m)
	if m.Message == "" {
		t.Error("delete project answered no message")
	}
	ts.wantStatus(t, http.StatusNotFound, "GET", "/api/controlPlane/v1/project/sockshop", ts.Admin, nil)
}

// testKeptnScoping checks that a token restricted to project A neither
// sees nor learns ids of project B's data through any Keptn route.
func testKeptnScoping(t *testing.T, b backend) {
	ts := startServer(t, b)
	ts.createProject(t, "alpha", "carts")
	ts.createProject(t, "beta", "carts")
	kc := "7c1e5a3a-1f0e-4d6a-9c55-3f2b7d7a9e01"
	ts.wantStatus(t, http.StatusOK, "POST", "/api/v1/event", ts.Admin, eventJSON("sh.keptn.event.action.triggered", "beta", kc))
	ts.wantStatus(t, http.StatusOK, "POST", "/api/v1/event", ts.Admin, eventJSON("sh.keptn.event.action.triggered", "alpha", ""))
	alpha := ts.mint(t, "alpha-writer", "write", "alpha")

	forbidden := []struct{ method, path, body string }{
		{"GET", "/api/controlPlane/v1/project/beta", ""},
		{"GET", "/api/controlPlane/v1/project/beta/stage", ""},
		{"GET", "/api/controlPlane/v1/project/beta/stage/dev/service/carts", ""},
		{"POST", "/api/controlPlane/v1/project/beta/service", `{"serviceName":"orders"}`},
		{"DELETE", "/api/controlPlane/v1/project/beta/service/carts", ""},
		{"DELETE", "/api/controlPlane/v1/project/alpha", ""},
		{"POST", "/api/controlPlane/v1/project", keptnProjectBody("gamma", "")},
		{"PUT", "/api/controlPlane/v1/project", keptnProjectBody("beta", "")},
		{"GET", "/api/mongodb-datastore/event?project=beta", ""},
		{"GET", "/api/mongodb-datastore/event/type/sh.keptn.event.action.triggered?filter=data.project:beta", ""},
		{"GET", "/api/controlPlane/v1/event/triggered/sh.keptn.event.action.triggered?project=beta", ""},
		{"GET", "/api/resource-service/v1/project/beta/resource", ""},
		{"GET", "/api/resource-service/v1/project/beta/resource/shipyard.yaml", ""},
		{"POST", "/api/resource-service/v1/project/beta/stage/dev/resource", `{"resources":[]}`},
		{"GET", "/api/secrets/v1/secret", ""},
		{"POST", "/api/secrets/v1/secret", `{"name":"s","data":{"k":"v"}}`},
		{"GET", "/api/secrets/v1/scope", ""},
	}
	for _, f := range forbidden {
		var body any
		if f.body != "" {
			body = f.body
		}
		code, _, out := ts.do(t, f.method, f.path, alpha, body)
		if code != http.StatusForbidden {
			t.Errorf("%s %s = %d %s; want 403", f.method, f.path, code, out)
		}
		if strings.Contains(string(out), kc) {
			t.Errorf("%s %s leaks beta's keptn context", f.method, f.path)
		}
	}
	// Without a project the token sees only its own.
	for _, path := range []string{
		"/api/controlPlane/v1/project",
		"/api/mongodb-datastore/event",
		"/api/mongodb-datastore/event?eventID=" + kc,
		"/api/mongodb-datastore/event/type/sh.keptn.event.action.triggered",
		"/api/controlPlane/v1/event/triggered/sh.keptn.event.action.triggered",
	} {
		out := ts.wantStatus(t, http.StatusOK, "GET", path, alpha, nil)
		if strings.Contains(string(out), "beta") || strings.Contains(string(out), kc) {
			t.Errorf("GET %s shows beta's data: %s", path, out)
		}
	}
}

func testKeptnResources(t *testing.T, b backend) {
	ts := startServer(t, b)
	ts.createProject(t, "sockshop", "carts")
	put := `{"resources":[{"resourceURI":"slo.yaml","resourceContent":"` + base64.StdEncoding.EncodeToString([]byte(sloYAML)) + `"}]}`
	var wr apitypes.KeptnWriteResult
	_ = json.Unmarshal(ts.wantStatus(t, http.StatusCreated, "POST", "/api/resource-service/v1/project/sockshop/stage/dev/service/carts/resource", ts.Admin, put), &wr)
	if len(wr.CommitID) != 40 || wr.Metadata.Branch != "dev" || wr.Metadata.Version != wr.CommitID {
		t.Errorf("write answer: %+v", wr)
	}
	// The CLI's doubled slash at project level is served, not redirected.
	notes := `{"resources":[{"resourceURI":"notes.txt","resourceContent":"aGk="}]}`
	ts.wantStatus(t, http.StatusCreated, "POST", "/api/resource-service/v1/project/sockshop//resource", ts.Admin, notes)
	var res apitypes.KeptnResource
	_ = json.Unmarshal(ts.wantStatus(t, http.StatusOK, "GET", "/api/resource-service/v1/project/sockshop/resource/notes.txt", ts.Admin, nil), &res)
	if res.ResourceContent != "aGk=" || res.Metadata == nil || res.Metadata.Branch != "main" && res.Metadata.Branch != "master" {
		t.Errorf("project resource: %+v", res)
	}
	// PUT one resource, then read the old version by gitCommitID.
	ts.wantStatus(t, http.StatusOK, "PUT", "/api/resource-service/v1/project/sockshop/resource/notes.txt", ts.Admin, `{"resourceContent":"aG8="}`)
	_ = json.Unmarshal(ts.wantStatus(t, http.StatusOK, "GET", "/api/resource-service/v1/project/sockshop/resource/notes.txt", ts.Admin, nil), &res)
	if res.ResourceContent != "aG8=" {
		t.Errorf("after PUT: %+v", res)
	}
	_ = json.Unmarshal(ts.wantStatus(t, http.StatusOK, "GET", "/api/resource-service/v1/project/sockshop/stage/dev/service/carts/resource/slo.yaml?gitCommitID="+wr.CommitID, ts.Admin, nil), &res)
	if res.Metadata == nil || res.Metadata.Version != wr.CommitID {
		t.Errorf("at gitCommitID: %+v", res)
	}
	var list apitypes.KeptnResources
	_ = json.Unmarshal(ts.wantStatus(t, http.StatusOK, "GET", "/api/resource-service/v1/project/sockshop/stage/dev/service/carts/resource", ts.Admin, nil), &list)
	if list.TotalCount == 0 || list.Resources[0].Metadata == nil {
		t.Errorf("list: %+v", list)
	}
	ts.wantStatus(t, http.StatusOK, "DELETE", "/api/resource-service/v1/project/sockshop/resource/notes.txt", ts.Admin, nil)
	ts.wantStatus(t, http.StatusNotFound, "GET", "/api/resource-service/v1/project/sockshop/resource/notes.txt", ts.Admin, nil)
	ts.wantStatus(t, http.StatusBadRequest, "DELETE", "/api/resource-service/v1/project/sockshop/resource/shipyard.yaml", ts.Admin, nil)
}

func testKeptnEvents(t *testing.T, b backend) {
	ts := startServer(t, b)
	ts.createProject(t, "sockshop", "carts")
	// A zero time is replaced; binary mode is accepted.
	ts.wantStatus(t, http.StatusOK, "POST", "/api/v1/event", ts.Admin,
		`{"specversion":"1.0","source":"zero","type":"sh.keptn.event.test.finished","time":"0001-01-01T00:00:00Z","data":{"project":"sockshop","stage":"dev","service":"carts"}}`)
	req, _ := http.NewRequest("POST", ts.URL+"/api/v1/event", strings.NewReader(`{"project":"sockshop","stage":"dev","service":"carts"}`))
	req.Header.Set("x-token", ts.Admin)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("ce-specversion", "1.0")
	req.Header.Set("ce-id", "binary-1")
	req.Header.Set("ce-source", "binary%20sender")
	req.Header.Set("ce-type", "sh.keptn.event.test.finished")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("binary mode: %d", resp.StatusCode)
	}
	var evs apitypes.KeptnEvents
	_ = json.Unmarshal(ts.wantStatus(t, http.StatusOK, "GET", "/api/mongodb-datastore/event?project=sockshop&type=test.finished", ts.Admin, nil), &evs)
	if len(evs.Events) != 2 {
		t.Fatalf("events: %+v", evs)
	}
	var newest, oldest struct {
		ID, Source string
		Time       time.Time
	}
	_ = json.Unmarshal(evs.Events[0], &newest)
	_ = json.Unmarshal(evs.Events[1], &oldest)
	if newest.ID != "binary-1" || newest.Source != "binary sender" {
		t.Errorf("binary-mode event stored as %s", evs.Events[0])
	}
	if oldest.Time.Year() < 2000 {
		t.Errorf("zero time kept: %s", evs.Events[1])
	}
	// fromTime is exclusive at millisecond precision: the newest time seen
	// returns nothing new.
	from := newest.Time.Format("2006-01-02T15:04:05.000Z")
	_ = json.Unmarshal(ts.wantStatus(t, http.StatusOK, "GET", "/api/mongodb-datastore/event?project=sockshop&fromTime="+from, ts.Admin, nil), &evs)
	if len(evs.Events) != 0 {
		t.Errorf("fromTime=%s returned %d events", from, len(evs.Events))
	}
	_ = json.Unmarshal(ts.wantStatus(t, http.StatusOK, "GET", "/api/mongodb-datastore/event?project=sockshop&eventID=binary-1", ts.Admin, nil), &evs)
	if len(evs.Events) != 1 {
		t.Errorf("eventID: %d events", len(evs.Events))
	}
	_ = json.Unmarshal(ts.wantStatus(t, http.StatusOK, "GET", "/api/mongodb-datastore/event/type/sh.keptn.event.test.finished?filter=data.project:sockshop%20AND%20source:zero&limit=5", ts.Admin, nil), &evs)
	if len(evs.Events) != 1 {
		t.Errorf("by type with filter: %d events", len(evs.Events))
	}
	for _, bad := range []string{"fromTime=yesterday", "root=maybe", "pageSize=0"} {
		ts.wantStatus(t, http.StatusBadRequest, "GET", "/api/mongodb-datastore/event?"+bad, ts.Admin, nil)
	}
	ts.wantStatus(t, http.StatusBadRequest, "GET", "/api/mongodb-datastore/event/type/x?filter=nokey", ts.Admin, nil)
}

func testKeptnSecrets(t *testing.T, b backend) {
	ts := startServer(t, b)
	ts.wantStatus(t, http.StatusCreated, "POST", "/api/secrets/v1/secret", ts.Admin, `{"name":"slack","scope":"keptn-webhook-service","data":{"url":"https://hooks.example/very-secret"}}`)
	ts.wantStatus(t, http.StatusConflict, "POST", "/api/secrets/v1/secret", ts.Admin, `{"name":"slack","data":{"url":"x"}}`)
	ts.wantStatus(t, http.StatusBadRequest, "POST", "/api/secrets/v1/secret", ts.Admin, `{"name":"Bad.Name","data":{"k":"v"}}`)
	ts.wantStatus(t, http.StatusOK, "PUT", "/api/secrets/v1/secret", ts.Admin, `{"name":"slack","scope":"keptn-webhook-service","data":{"url":"https://hooks.example/other-secret"}}`)
	body := ts.wantStatus(t, http.StatusOK, "GET", "/api/secrets/v1/secret", ts.Admin, nil)
	if strings.Contains(string(body), "secret\"") || strings.Contains(string(body), "hooks.example") {
		t.Errorf("list shows a value: %s", body)
	}
	var list apitypes.KeptnSecretList
	_ = json.Unmarshal(body, &list)
	if len(list.Secrets) != 1 || list.Secrets[0].Keys[0] != "url" {
		t.Errorf("list: %s", body)
	}
	scopes := ts.wantStatus(t, http.StatusOK, "GET", "/api/secrets/v1/scope", ts.Admin, nil)
	if !strings.Contains(string(scopes), "keptn-webhook-service") {
		t.Errorf("scopes: %s", scopes)
	}
	ts.wantStatus(t, http.StatusNotFound, "DELETE", "/api/secrets/v1/secret?name=slack", ts.Admin, nil)
	ts.wantStatus(t, http.StatusOK, "DELETE", "/api/secrets/v1/secret?name=slack&scope=keptn-webhook-service", ts.Admin, nil)
	// A read token may list, not write.
	read := ts.mint(t, "reader", "read", "")
	ts.wantStatus(t, http.StatusOK, "GET", "/api/secrets/v1/secret", read, nil)
	ts.wantStatus(t, http.StatusForbidden, "POST", "/api/secrets/v1/secret", read, `{"name":"x","data":{"k":"v"}}`)
}

func testKeptnNames(t *testing.T, b backend) {
	ts := startServer(t, b)
	long := "a" + strings.Repeat("b", 199)
	tests := []struct {
		name string
		ok   bool
	}{
		{"sockshop", true}, {"a", true}, {"my-project-2", true}, {long, true},
		{long + "c", false}, {"2fast", false}, {"ends-", false}, {"Upper", false}, {"under_score", false},
	}
	for _, tt := range tests {
		want := http.StatusBadRequest
		if tt.ok {
			want = http.StatusCreated
		}
		ts.wantStatus(t, want, "POST", "/api/controlPlane/v1/project", ts.Admin, keptnProjectBody(tt.name, ""))
	}
	ts.createProject(t, "svc")
	for _, tt := range []struct {
		name string
		ok   bool
	}{{"carts", true}, {"c", true}, {"carts-db", true}, {"1carts", false}, {"carts-", false}, {"Carts", false}} {
		want := http.StatusBadRequest
		if tt.ok {
			want = http.StatusCreated
		}
		ts.wantStatus(t, want, "POST", "/api/controlPlane/v1/project/svc/service", ts.Admin, `{"serviceName":"`+tt.name+`"}`)
	}
}
