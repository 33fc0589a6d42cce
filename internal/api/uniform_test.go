package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/integration"
	"github.com/tendhq/tend/internal/testenv"
)

func TestUniformAPISQLite(t *testing.T) { runUniformSuite(t, sqliteBackend) }

func TestUniformAPIPostgres(t *testing.T) {
	testenv.PostgresServerURL(t)
	runUniformSuite(t, postgresBackend)
}

func runUniformSuite(t *testing.T, b backend) {
	tests := []struct {
		name string
		fn   func(*testing.T, backend)
	}{
		{"registration and ping", testUniformRegistration},
		{"subscriptions", testUniformSubscriptions},
		{"logs", testUniformLogs},
		{"project scoping", testUniformScoping},
		{"answers inherit their task's scope", testUniformAnswers},
		{"bad input", testUniformBadInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, b) })
	}
}

const registrationPath = "/api/controlPlane/v1/uniform/registration"

// registration is the body Keptn's Go SDK sends (models.Integration):
// empty ids, a zero lastseen, null filters.
func registration(name, node, event string) string {
	return `{"id":"","name":"` + name + `","metadata":{"hostname":"` + node + `","integrationversion":"1.2.0",` +
		`"distributorversion":"0.15.0","location":"control-plane","kubernetesmetadata":{"namespace":"keptn",` +
		`"podname":"` + name + `-0","deploymentname":"` + name + `"},"lastseen":"0001-01-01T00:00:00Z"},` +
		`"subscriptions":[{"id":"","event":"` + event + `","filter":{"projects":null,"stages":null,"services":null}}]}`
}

func register(t testing.TB, ts *testServer, token, body string) string {
	t.Helper()
	out := decode[apitypes.KeptnID](t, ts.wantStatus(t, http.StatusOK, "POST", registrationPath, token, body))
	return out.ID
}

func listIntegrations(t testing.TB, ts *testServer, token, query string) []apitypes.KeptnIntegration {
	t.Helper()
	return decode[[]apitypes.KeptnIntegration](t, ts.wantStatus(t, http.StatusOK, "GET", registrationPath+query, token, nil))
}

func testUniformRegistration(t *testing.T, b backend) {
	ts := startServer(t, b)
	id := register(t, ts, ts.Admin, registration("hello-service", "node-1", "sh.keptn.event.hello.triggered"))
	// Keptn's id: the SHA-1 of name-namespace-node, which the SDK can
	// compute itself.
	if id != integration.ID("hello-service", "keptn", "node-1") || len(id) != 40 {
		t.Fatalf("id %q", id)
	}
	// The same integration registering again (a restart) keeps its id
	// and its subscription; a new node is another integration.
	if again := register(t, ts, ts.Admin, registration("hello-service", "node-1", "sh.keptn.event.hello.triggered")); again != id {
		t.Errorf("re-registration id %q, want %q", again, id)
	}
	other := register(t, ts, ts.Admin, registration("hello-service", "node-2", "sh.keptn.event.hello.triggered"))
	if other == id {
		t.Error("another node got the same id")
	}

	ping := decode[apitypes.KeptnIntegration](t, ts.wantStatus(t, http.StatusOK, "PUT", registrationPath+"/"+id+"/ping", ts.Admin, nil))
	if ping.ID != id || ping.Name != "hello-service" || ping.MetaData.IntegrationVersion != "1.2.0" || ping.MetaData.KubernetesMetaData.PodName != "hello-service-0" {
		t.Errorf("ping answer %+v", ping)
	}
	if len(ping.Subscriptions) != 1 || ping.Subscriptions[0].ID == "" || ping.Subscriptions[0].Event != "sh.keptn.event.hello.triggered" {
		t.Fatalf("ping subscriptions %+v", ping.Subscriptions)
	}
	if ping.MetaData.LastSeen == nil || ping.MetaData.LastSeen.IsZero() {
		t.Errorf("ping lastseen %v", ping.MetaData.LastSeen)
	}
	// The answer is what the SDK decodes: filters are lists, never null.
	raw := ts.wantStatus(t, http.StatusOK, "PUT", registrationPath+"/"+id+"/ping", ts.Admin, nil)
	if !strings.Contains(string(raw), `"filter":{"projects":[],"stages":[],"services":[]}`) {
		t.Errorf("ping answer %s", raw)
	}
	// A new version registering adds its new subscription and updates
	// the metadata; the old subscription keeps its id.
	body := strings.Replace(registration("hello-service", "node-1", "sh.keptn.event.bye.triggered"), "1.2.0", "1.3.0", 1)
	register(t, ts, ts.Admin, body)
	got := listIntegrations(t, ts, ts.Admin, "?id="+id)
	if len(got) != 1 || got[0].MetaData.IntegrationVersion != "1.3.0" || len(got[0].Subscriptions) != 2 || got[0].Subscriptions[0].ID != ping.Subscriptions[0].ID {
		t.Errorf("after re-registration: %+v", got)
	}

	if n := len(listIntegrations(t, ts, ts.Admin, "")); n != 2 {
		t.Errorf("%d integrations listed, want 2", n)
	}
	if n := len(listIntegrations(t, ts, ts.Admin, "?name=nobody")); n != 0 {
		t.Errorf("name filter: %d", n)
	}
	ts.wantStatus(t, http.StatusOK, "DELETE", registrationPath+"/"+other, ts.Admin, nil)
	ts.wantStatus(t, http.StatusNotFound, "DELETE", registrationPath+"/"+other, ts.Admin, nil)
	ts.wantStatus(t, http.StatusNotFound, "PUT", registrationPath+"/"+other+"/ping", ts.Admin, nil)

	// Keptn 0.8 to 0.12 integrations send one subscription of topics.
	legacy := `{"name":"old-service","metadata":{"hostname":"n","kubernetesmetadata":{"namespace":"keptn"}},` +
		`"subscription":{"topics":["sh.keptn.event.deployment.triggered","sh.keptn.event.test.triggered"],"filter":{"project":"p","stage":"","service":""}}}`
	oldID := register(t, ts, ts.Admin, legacy)
	old := listIntegrations(t, ts, ts.Admin, "?id="+oldID)
	if len(old) != 1 || len(old[0].Subscriptions) != 2 || fmt.Sprint(old[0].Subscriptions[1].Filter.Projects) != "[p]" {
		t.Errorf("legacy registration: %+v", old)
	}

	// A read token lists but may not register.
	read := ts.mint(t, "reader", "read", "")
	listIntegrations(t, ts, read, "")
	ts.wantStatus(t, http.StatusForbidden, "POST", registrationPath, read, registration("x", "n", "e"))
	ts.wantStatus(t, http.StatusForbidden, "PUT", registrationPath+"/"+id+"/ping", read, nil)
}

func testUniformSubscriptions(t *testing.T, b backend) {
	ts := startServer(t, b)
	id := register(t, ts, ts.Admin, registration("job-executor", "n", "sh.keptn.event.test.triggered"))
	subs := registrationPath + "/" + id + "/subscription"
	created := decode[apitypes.KeptnID](t, ts.wantStatus(t, http.StatusCreated, "POST", subs, ts.Admin,
		`{"event":"sh.keptn.event.deployment.triggered","filter":{"projects":["a"],"stages":["dev"],"services":[]}}`))
	one := decode[apitypes.KeptnSubscription](t, ts.wantStatus(t, http.StatusOK, "GET", subs+"/"+created.ID, ts.Admin, nil))
	if one.ID != created.ID || one.Event != "sh.keptn.event.deployment.triggered" || fmt.Sprint(one.Filter.Stages) != "[dev]" {
		t.Errorf("created subscription %+v", one)
	}
	ts.wantStatus(t, http.StatusOK, "PUT", subs+"/"+created.ID, ts.Admin, `{"event":"sh.keptn.event.rollback.triggered","filter":{"projects":["b"]}}`)
	all := decode[[]apitypes.KeptnSubscription](t, ts.wantStatus(t, http.StatusOK, "GET", subs, ts.Admin, nil))
	if len(all) != 2 || all[1].ID != created.ID || all[1].Event != "sh.keptn.event.rollback.triggered" || fmt.Sprint(all[1].Filter.Projects) != "[b]" {
		t.Errorf("after update: %+v", all)
	}
	// The listing's filters match subscriptions.
	if n := len(listIntegrations(t, ts, ts.Admin, "?project=b")); n != 1 {
		t.Errorf("project filter b: %d", n)
	}
	ts.wantStatus(t, http.StatusOK, "DELETE", subs+"/"+created.ID, ts.Admin, nil)
	ts.wantStatus(t, http.StatusNotFound, "DELETE", subs+"/"+created.ID, ts.Admin, nil)
	ts.wantStatus(t, http.StatusNotFound, "GET", subs+"/"+created.ID, ts.Admin, nil)
	ts.wantStatus(t, http.StatusNotFound, "POST", registrationPath+"/unknown/subscription", ts.Admin, `{"event":"e"}`)
	// Subscriptions survive a restart of the integration.
	register(t, ts, ts.Admin, registration("job-executor", "n", "sh.keptn.event.test.triggered"))
	if all := decode[[]apitypes.KeptnSubscription](t, ts.wantStatus(t, http.StatusOK, "GET", subs, ts.Admin, nil)); len(all) != 1 {
		t.Errorf("after re-registration: %+v", all)
	}
}

func logsBody(entries ...string) string {
	return `{"logs":[` + strings.Join(entries, ",") + `]}`
}

func logEntry(integration, keptnContext, triggeredID, msg string) string {
	return `{"integrationid":"` + integration + `","shkeptncontext":"` + keptnContext + `","triggeredid":"` + triggeredID +
		`","task":"hello","message":"` + msg + `"}`
}

func testUniformLogs(t *testing.T, b backend) {
	ts := startServer(t, b)
	ts.createProject(t, "sockshop", "carts")
	ctxID := "3f1e2d4c-5b6a-4978-8695-a4b3c2d1e0f9"
	trig := ts.postTriggered(t, "sockshop", ctxID)
	ts.wantStatus(t, http.StatusOK, "POST", "/api/controlPlane/v1/log", ts.Admin,
		logsBody(logEntry("i1", ctxID, trig, "first"), logEntry("i1", ctxID, trig, "second"), logEntry("i2", "", "", "other")))
	list := decode[apitypes.KeptnLogList](t, ts.wantStatus(t, http.StatusOK, "GET", "/api/controlPlane/v1/log?integrationId=i1&pageSize=1", ts.Admin, nil))
	if len(list.Logs) != 1 || list.Logs[0].Message != "second" || list.NextPageKey != 1 || list.TotalCount != 2 || list.Logs[0].TriggeredID != trig || list.Logs[0].Time == nil {
		t.Errorf("first page %+v", list)
	}
	list = decode[apitypes.KeptnLogList](t, ts.wantStatus(t, http.StatusOK, "GET", "/api/controlPlane/v1/log?integrationId=i1&pageSize=1&nextPageKey=1", ts.Admin, nil))
	if len(list.Logs) != 1 || list.Logs[0].Message != "first" || list.NextPageKey != 0 {
		t.Errorf("second page %+v", list)
	}
	// Keptn's answer carries nextPageKey as a number.
	raw := ts.wantStatus(t, http.StatusOK, "GET", "/api/controlPlane/v1/log?pageSize=1", ts.Admin, nil)
	var shape map[string]any
	if err := json.Unmarshal(raw, &shape); err != nil || shape["nextPageKey"] != float64(1) {
		t.Errorf("answer %s", raw)
	}
	all := decode[apitypes.KeptnLogList](t, ts.wantStatus(t, http.StatusOK, "GET", "/api/controlPlane/v1/log?fromTime=2000-01-01T00:00:00Z", ts.Admin, nil))
	if len(all.Logs) != 3 {
		t.Errorf("fromTime in the past: %d lines", len(all.Logs))
	}
	none := decode[apitypes.KeptnLogList](t, ts.wantStatus(t, http.StatusOK, "GET", "/api/controlPlane/v1/log?beforeTime=2000-01-01T00:00:00Z", ts.Admin, nil))
	if len(none.Logs) != 0 {
		t.Errorf("beforeTime in the past: %d lines", len(none.Logs))
	}
	ts.wantStatus(t, http.StatusBadRequest, "GET", "/api/controlPlane/v1/log?fromTime=yesterday", ts.Admin, nil)
	ts.wantStatus(t, http.StatusBadRequest, "GET", "/api/controlPlane/v1/log?nextPageKey=abc", ts.Admin, nil)
}

// postTriggered stores a hello.triggered event in project and returns its
// id.
func (ts *testServer) postTriggered(t testing.TB, project, keptnContext string) string {
	t.Helper()
	id := fmt.Sprintf("0b1c2d3e-4f50-4617-8829-%012d", len(project)*1000+len(keptnContext))
	if project == "other" {
		id = "9e8d7c6b-5a49-4837-a625-140312f0e1d2"
	}
	ev := `{"specversion":"1.0","id":"` + id + `","source":"test","type":"sh.keptn.event.hello.triggered","shkeptncontext":"` + keptnContext +
		`","data":{"project":"` + project + `","stage":"production","service":"carts"}}`
	ts.wantStatus(t, http.StatusOK, "POST", "/api/v1/event", ts.Admin, ev)
	return id
}

func testUniformScoping(t *testing.T, b backend) {
	ts := startServer(t, b)
	ts.createProject(t, "sockshop", "carts")
	ts.createProject(t, "other", "carts")
	a := ts.mint(t, "a-writer", "write", "sockshop")
	aRead := ts.mint(t, "a-reader", "read", "sockshop")
	bTok := ts.mint(t, "b-writer", "write", "other")

	// An unfiltered subscription of a restricted token is filtered to
	// its project; a filter naming another project is refused.
	aID := register(t, ts, a, registration("a-service", "n", "sh.keptn.event.hello.triggered"))
	ts.wantStatus(t, http.StatusForbidden, "POST", registrationPath, a,
		strings.Replace(registration("sneaky", "n", "e"), `"projects":null`, `"projects":["other"]`, 1))
	ts.wantStatus(t, http.StatusForbidden, "POST", registrationPath, a,
		strings.Replace(registration("sneaky", "n", "e"), `"projects":null`, `"projects":["sockshop","other"]`, 1))
	// The admin's integration subscribes to both projects.
	adminID := register(t, ts, ts.Admin, strings.Replace(registration("shared", "n", "sh.keptn.event.test.triggered"),
		`"projects":null`, `"projects":["sockshop","other"]`, 1))
	ts.wantStatus(t, http.StatusCreated, "POST", registrationPath+"/"+adminID+"/subscription", ts.Admin,
		`{"event":"sh.keptn.event.secret.triggered","filter":{"projects":["other"]}}`)

	got := listIntegrations(t, ts, ts.Admin, "?id="+aID)
	if len(got) != 1 || fmt.Sprint(got[0].Subscriptions[0].Filter.Projects) != "[sockshop]" {
		t.Fatalf("a's integration: %+v", got)
	}
	// A's tokens see A's integration and the shared one, with only the
	// subscriptions that concern A and no other project's name.
	for _, tok := range []string{a, aRead} {
		list := listIntegrations(t, ts, tok, "")
		if len(list) != 2 {
			t.Fatalf("A sees %d integrations: %+v", len(list), list)
		}
		body, _ := json.Marshal(list)
		if strings.Contains(string(body), "other") || strings.Contains(string(body), "secret.triggered") {
			t.Errorf("A's listing reveals project other: %s", body)
		}
	}
	// B sees only the shared integration, and not A's.
	if list := listIntegrations(t, ts, bTok, ""); len(list) != 1 || list[0].ID != adminID {
		t.Errorf("B's listing %+v", list)
	}
	ts.wantStatus(t, http.StatusNotFound, "GET", registrationPath+"/"+aID+"/subscription", bTok, nil)

	// Only tokens that may write to an integration's project manage it.
	ts.wantStatus(t, http.StatusOK, "PUT", registrationPath+"/"+aID+"/ping", a, nil)
	ts.wantStatus(t, http.StatusNotFound, "PUT", registrationPath+"/"+aID+"/ping", bTok, nil)
	ts.wantStatus(t, http.StatusNotFound, "DELETE", registrationPath+"/"+aID, bTok, nil)
	ts.wantStatus(t, http.StatusForbidden, "PUT", registrationPath+"/"+adminID+"/ping", a, nil)
	ts.wantStatus(t, http.StatusForbidden, "DELETE", registrationPath+"/"+adminID, a, nil)
	ts.wantStatus(t, http.StatusForbidden, "PUT", registrationPath+"/"+aID+"/ping", aRead, nil)
	ts.wantStatus(t, http.StatusForbidden, "POST", registrationPath+"/"+aID+"/subscription", a, `{"event":"e","filter":{"projects":["other"]}}`)
	ts.wantStatus(t, http.StatusCreated, "POST", registrationPath+"/"+aID+"/subscription", a, `{"event":"e"}`)
	// Re-registering someone else's integration is refused.
	ts.wantStatus(t, http.StatusForbidden, "POST", registrationPath, a,
		strings.Replace(registration("shared", "n", "sh.keptn.event.test.triggered"), `"projects":null`, `"projects":["sockshop"]`, 1))

	// Log lines belong to their task's project.
	trigA := ts.postTriggered(t, "sockshop", "11111111-2222-4333-8444-555555555555")
	trigB := ts.postTriggered(t, "other", "66666666-7777-4888-9999-000000000000")
	ts.wantStatus(t, http.StatusOK, "POST", "/api/controlPlane/v1/log", a, logsBody(logEntry(aID, "", trigA, "a line")))
	ts.wantStatus(t, http.StatusForbidden, "POST", "/api/controlPlane/v1/log", a, logsBody(logEntry(aID, "", trigB, "into b")))
	ts.wantStatus(t, http.StatusForbidden, "POST", "/api/controlPlane/v1/log", aRead, logsBody(logEntry(aID, "", trigA, "read")))
	ts.wantStatus(t, http.StatusOK, "POST", "/api/controlPlane/v1/log", ts.Admin, logsBody(logEntry(adminID, "", trigB, "b line")))
	for _, c := range []struct {
		tok, want string
	}{{a, "[a line]"}, {bTok, "[b line]"}, {ts.Admin, "[b line a line]"}} {
		list := decode[apitypes.KeptnLogList](t, ts.wantStatus(t, http.StatusOK, "GET", "/api/controlPlane/v1/log", c.tok, nil))
		var msgs []string
		for _, l := range list.Logs {
			msgs = append(msgs, l.Message)
		}
		if fmt.Sprint(msgs) != c.want {
			t.Errorf("logs seen: %v, want %s", msgs, c.want)
		}
	}
}

func testUniformAnswers(t *testing.T, b backend) {
	ts := startServer(t, b)
	ts.createProject(t, "sockshop", "carts")
	ts.createProject(t, "other", "carts")
	a := ts.mint(t, "a-writer", "write", "sockshop")
	bTok := ts.mint(t, "b-writer", "write", "other")
	ctxID := "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
	trig := ts.postTriggered(t, "sockshop", ctxID)
	// The Go SDK's finished event carries only the task's own data.
	finished := `{"specversion":"1.0","source":"hello-service","type":"sh.keptn.event.hello.finished","shkeptncontext":"` + ctxID +
		`","triggeredid":"` + trig + `","data":{"greeting":"hi","status":"succeeded","result":"pass"}}`
	ts.wantStatus(t, http.StatusForbidden, "POST", "/api/v1/event", bTok, finished)
	ts.wantStatus(t, http.StatusOK, "POST", "/api/v1/event", a, finished)
	list := decode[apitypes.EventList](t, ts.wantStatus(t, http.StatusOK, "GET", "/api/v1/event?project=sockshop&type=hello.finished", a, nil))
	if len(list.Events) != 1 {
		t.Fatalf("finished events in sockshop: %d", len(list.Events))
	}
	var ev struct {
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(list.Events[0], &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Data["project"] != "sockshop" || ev.Data["stage"] != "production" || ev.Data["service"] != "carts" || ev.Data["greeting"] != "hi" {
		t.Errorf("stored answer data %v", ev.Data)
	}
	// Once another source's triggered event shares the id, the answer's
	// scope is not guessed: an unscoped answer names no project, which
	// A's token may not write.
	ts.wantStatus(t, http.StatusOK, "POST", "/api/v1/event", ts.Admin, `{"specversion":"1.0","id":"`+trig+`","source":"elsewhere",`+
		`"type":"sh.keptn.event.hello.triggered","data":{"project":"other","stage":"production","service":"carts"}}`)
	ts.wantStatus(t, http.StatusForbidden, "POST", "/api/v1/event", a, strings.Replace(finished, `"source":"hello-service"`, `"source":"hello-service-2"`, 1))
	// Answered, the task is no longer open.
	open := decode[apitypes.TriggeredEventList](t, ts.wantStatus(t, http.StatusOK, "GET", "/api/controlPlane/v1/event/triggered/sh.keptn.event.hello.triggered", a, nil))
	if len(open.Events) != 0 {
		t.Errorf("%d open hello tasks after the answer", len(open.Events))
	}
}

func testUniformBadInput(t *testing.T, b backend) {
	ts := startServer(t, b)
	for _, c := range []struct {
		name, method, path, body, want string
	}{
		{"no name", "POST", registrationPath, `{"metadata":{}}`, "name is missing"},
		{"unknown field", "POST", registrationPath, `{"name":"x","color":"red"}`, "color"},
		{"bad event", "POST", registrationPath, `{"name":"x","subscriptions":[{"event":"a b"}]}`, "is not an event type"},
		{"empty filter name", "POST", registrationPath, `{"name":"x","subscriptions":[{"event":"e","filter":{"stages":[""]}}]}`, "filter.stages[0] is missing"},
		{"control character", "POST", registrationPath, `{"name":"x\u0001"}`, "control characters"},
		{"subscription without event", "POST", registrationPath + "/x/subscription", `{"filter":{}}`, "event is missing"},
		{"log without integration", "POST", "/api/controlPlane/v1/log", `{"logs":[{"message":"m"}]}`, "integrationid is missing"},
		{"logs not a list", "POST", "/api/controlPlane/v1/log", `{"logs":{}}`, "logs"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, body := ts.do(t, c.method, c.path, ts.Admin, c.body)
			if msg := wantError(t, http.StatusBadRequest, body); !strings.Contains(msg, c.want) {
				t.Errorf("message %q does not mention %q", msg, c.want)
			}
		})
	}
}
