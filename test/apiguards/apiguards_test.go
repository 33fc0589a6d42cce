// Package apiguards tests, against the real tend binary, the small guards
// of the API of issue 12: clients cannot post events in tend's own name, a
// repeated event is answered with the stored event's context (and never
// with another project's), and one intake token cannot fill the store with
// unmatched problems; and hostile YAML is refused.
package apiguards

import (
	"encoding/base64"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/testenv/tendapi"
	"github.com/tendhq/tend/internal/testenv/tendproc"
	"github.com/tendhq/tend/internal/yamlnode/yamlnodetest"
)

var tendBin string

func TestMain(m *testing.M) { os.Exit(tendproc.Main(m, "apiguards", &tendBin)) }

type storedEvent struct {
	ID             string `json:"id"`
	Source         string `json:"source"`
	Type           string `json:"type"`
	ShKeptnContext string `json:"shkeptncontext"`
}

// events lists a project's events.
func events(t testing.TB, s *tendapi.Server, project string) []storedEvent {
	t.Helper()
	return tendapi.Events[storedEvent](t, s, "project="+project)
}

func TestEventsOfSourceTendAreRefused(t *testing.T) {
	s := tendapi.Start(t, tendBin, "")
	s.CreateProject(t, "guard", tendapi.Shipyard, "carts")
	data := `{"project":"guard","stage":"production","service":"carts"}`
	structured := func(source string) string {
		return `{"specversion":"1.0","id":"own-1","source":"` + source + `","type":"sh.keptn.event.action.triggered","data":` + data + `}`
	}
	for _, tc := range []struct {
		name, path string
		body       string
		header     map[string]string
	}{
		{name: "structured", path: "/api/v1/event", body: structured("tend")},
		{name: "structured, other case and spaces", path: "/api/v1/event", body: structured(" Tend ")},
		{name: "legacy path", path: "/v1/event", body: structured("tend")},
		{name: "binary", path: "/api/v1/event", body: data, header: map[string]string{
			"Ce-Specversion": "1.0", "Ce-Id": "own-2", "Ce-Source": "tend", "Ce-Type": "sh.keptn.event.action.triggered"}},
		{name: "problem event", path: "/api/v1/event", body: `{"specversion":"1.0","id":"own-3","source":"tend","type":"sh.keptn.event.remediation.triggered","data":` +
			`{"project":"guard","stage":"production","service":"carts","problem":{"problemTitle":"response_time_p90","state":"OPEN"}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, body := s.DoWithHeader(t, http.MethodPost, tc.path, s.Admin, tc.body, tc.header)
			if code != http.StatusForbidden || !strings.Contains(string(body), "reserved for the events tend emits itself") {
				t.Fatalf("post = %d %s; want 403 saying the source is tend's own", code, body)
			}
		})
	}
	for _, e := range events(t, s, "guard") {
		t.Errorf("stored %+v; want nothing stored", e)
	}

	// tend's own emitters are unaffected: an evaluation triggered from
	// outside is answered by events of source tend.
	var ctx struct{ KeptnContext string }
	s.Must(t, http.StatusOK, http.MethodPost, "/api/v1/event", s.Admin,
		`{"specversion":"1.0","id":"eval-1","source":"ci","type":"sh.keptn.event.evaluation.triggered","data":`+data+`}`, &ctx)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		own := 0
		for _, e := range events(t, s, "guard") {
			if e.Source == "tend" && e.ShKeptnContext == ctx.KeptnContext {
				own++
			}
		}
		if own > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tend emitted no event of its own for evaluation %s", ctx.KeptnContext)
		}
	}
}

func TestDuplicateEventGetsTheStoredContext(t *testing.T) {
	s := tendapi.Start(t, tendBin, "")
	s.CreateProject(t, "alpha", tendapi.Shipyard, "carts")
	s.CreateProject(t, "beta", tendapi.Shipyard, "carts")
	const first, second = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
	ev := func(project, id, kctx string) string {
		return `{"specversion":"1.0","id":"` + id + `","source":"ci","type":"sh.keptn.event.deployment.finished","shkeptncontext":"` + kctx +
			`","data":{"project":"` + project + `","stage":"production","service":"carts","result":"pass"}}`
	}
	var got struct{ KeptnContext string }
	s.Must(t, http.StatusOK, http.MethodPost, "/api/v1/event", s.Admin, ev("alpha", "dup-1", first), &got)
	if got.KeptnContext != first {
		t.Fatalf("first post answered %q; want %q", got.KeptnContext, first)
	}

	t.Run("same project", func(t *testing.T) {
		s.Must(t, http.StatusOK, http.MethodPost, "/api/v1/event", s.Admin, ev("alpha", "dup-1", second), &got)
		if got.KeptnContext != first {
			t.Errorf("repeat answered %q; want the stored event's %q", got.KeptnContext, first)
		}
		n := 0
		for _, e := range events(t, s, "alpha") {
			if e.ID == "dup-1" {
				n++
				if e.ShKeptnContext != first {
					t.Errorf("stored %+v; want context %s", e, first)
				}
			}
		}
		if n != 1 {
			t.Errorf("%d events of id dup-1; want 1", n)
		}
	})

	t.Run("another project's event is not revealed", func(t *testing.T) {
		betaCtx := "33333333-3333-4333-8333-333333333333"
		s.Must(t, http.StatusOK, http.MethodPost, "/api/v1/event", s.Admin, ev("beta", "dup-2", betaCtx), nil)
		alpha := s.CreateToken(t, "alpha-ci", "write", "alpha")
		code, body := s.Do(t, http.MethodPost, "/api/v1/event", alpha, ev("alpha", "dup-2", second))
		if code != http.StatusConflict || strings.Contains(string(body), betaCtx) {
			t.Fatalf("post = %d %s; want 409 without beta's context", code, body)
		}
		for _, e := range events(t, s, "alpha") {
			if e.ID == "dup-2" {
				t.Errorf("stored %+v in alpha", e)
			}
		}
	})
}

type amAnswer struct {
	Unmatched []struct{ ProblemID string } `json:"unmatched"`
	Results   []struct{ Status string }    `json:"results"`
}

// alerts is an Alertmanager message with one firing alert per service.
func alerts(project string, services ...string) map[string]any {
	var as []map[string]any
	for _, svc := range services {
		as = append(as, map[string]any{"status": "firing", "startsAt": "2025-03-01T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
			"labels":      map[string]string{"alertname": "response_time_p90", "project": project, "stage": "production", "service": svc},
			"annotations": map[string]string{"summary": "response_time_p90"}})
	}
	return map[string]any{"version": "4", "status": "firing", "receiver": "tend", "alerts": as}
}

func TestUnmatchedProblemsPerIntakeTokenAreCapped(t *testing.T) {
	s := tendapi.Start(t, tendBin, "intake:\n  maxUnmatchedPerMinute: 2\n")
	s.CreateProject(t, "capped", tendapi.Shipyard, "carts")
	intake := s.CreateToken(t, "capped-am", "intake", "capped")
	const hook = "/api/v1/integrations/alertmanager"
	unmatched := func() int {
		var out struct{ Problems []struct{ ID string } }
		s.Must(t, http.StatusOK, http.MethodGet, "/api/v1/problem?project=capped&state=unmatched", s.Admin, nil, &out)
		return len(out.Problems)
	}

	var a amAnswer
	s.Must(t, http.StatusOK, http.MethodPost, hook, intake, alerts("capped", "ghost-1", "ghost-2"), &a)
	if len(a.Unmatched) != 2 {
		t.Fatalf("answer %+v; want two unmatched", a)
	}

	// More new unmatched problems than a minute allows: refused whole,
	// with Retry-After, so that Alertmanager sends it again later. The
	// bucket never holds more than the cap, whatever time passed.
	code, h, body := s.DoWithHeader(t, http.MethodPost, hook, intake, alerts("capped", "ghost-3", "ghost-4", "ghost-5", "carts"), nil)
	if code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" || !strings.Contains(string(body), "intake.maxUnmatchedPerMinute") {
		t.Fatalf("over the cap: %d (Retry-After %q) %s; want 503 with Retry-After naming the setting", code, h.Get("Retry-After"), body)
	}
	if n := unmatched(); n != 2 {
		t.Errorf("%d unmatched problems after the refused delivery; want 2", n)
	}

	// A problem event of an intake token is limited the same way; its
	// senders honour 429.
	code, h, body = s.DoWithHeader(t, http.MethodPost, "/api/v1/event", intake,
		`{"specversion":"1.0","id":"pe-1","source":"monitoring","type":"sh.keptn.event.production.remediation.triggered","data":`+
			`{"project":"capped","stage":"production","service":"ghost-9","problem":{"problemTitle":"response_time_p90","state":"OPEN"}}}`, nil)
	if code != http.StatusTooManyRequests || h.Get("Retry-After") == "" {
		t.Fatalf("problem event over the cap: %d (Retry-After %q) %s; want 429 with Retry-After", code, h.Get("Retry-After"), body)
	}

	// Repeats of recorded unmatched problems and matched alerts are not
	// limited.
	for i := range 3 {
		s.Must(t, http.StatusOK, http.MethodPost, hook, intake, alerts("capped", "ghost-1", "ghost-2"), &a)
		if len(a.Unmatched) != 2 {
			t.Fatalf("repeat %d: %+v; want the two unmatched again", i, a)
		}
	}
	s.Must(t, http.StatusOK, http.MethodPost, hook, intake, alerts("capped", "carts"), &a)
	if len(a.Results) != 1 || a.Results[0].Status == "unmatched" {
		t.Fatalf("matched alert: %+v", a)
	}
	if n := unmatched(); n != 2 {
		t.Errorf("%d unmatched problems; want 2", n)
	}

	// Other tokens are not limited: a write token's unmatched alerts are
	// recorded.
	s.Must(t, http.StatusOK, http.MethodPost, hook, s.Admin, alerts("capped", "ghost-3", "ghost-4", "ghost-5"), &a)
	if n := unmatched(); n != 5 {
		t.Errorf("%d unmatched problems after the admin's delivery; want 5", n)
	}
}

// TestHostileYAMLIsRefused uploads a "billion laughs" remediation.yaml
// and shipyard through add-resource: tend's old alias budget counted
// look-ups, accepted such a file after seconds and grew by a gigabyte. Now
// each is refused with 400 naming the limit, nothing is stored, and the
// server goes on answering.
func TestHostileYAMLIsRefused(t *testing.T) {
	s := tendapi.Start(t, tendBin, "")
	s.CreateProject(t, "sockshop", tendapi.Shipyard, "carts")
	wide, wideAlias := yamlnodetest.Wide(10000, 4000)
	nested, nestedAlias := yamlnodetest.Nested(9, 10)
	files := []struct{ uri, content string }{
		{"remediation.yaml", wide + "remediations:\n  - name: x\n    actions: " + wideAlias + "\n"},
		{"slo.yaml", nested + "objectives: " + nestedAlias + "\n"},
	}
	level := "/api/v1/project/sockshop/stage/production/service/carts/resource"
	for _, f := range files {
		body := map[string]any{"resources": []map[string]string{{
			"resourceURI": f.uri, "resourceContent": base64.StdEncoding.EncodeToString([]byte(f.content)),
		}}}
		code, b := s.Do(t, http.MethodPost, level, s.Admin, body)
		if code != http.StatusBadRequest || !strings.Contains(string(b), "limit") {
			t.Errorf("add %s: %d %s; want 400 naming the limit", f.uri, code, b)
		}
		if code, _ := s.Do(t, http.MethodGet, level+"/"+f.uri, s.Admin, nil); code != http.StatusNotFound {
			t.Errorf("get %s after the refusal: %d; want 404", f.uri, code)
		}
	}
	s.Must(t, http.StatusOK, http.MethodGet, "/api/v1/project/sockshop", s.Admin, nil, nil)
}
