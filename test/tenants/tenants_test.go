// Package tenants tests, against the real tend binary, that projects stay
// apart (issue 12): a token restricted to project A can neither reach
// project B's problems through the Alertmanager webhook or Dynatrace
// problem events, nor answer B's external actions; and deleting a project
// ends its work, so a project created again under its name starts empty.
package tenants

import (
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // reads the server's job table in TestDeleteProjectEndsItsWork

	"github.com/tendhq/tend/internal/testenv/tendapi"
	"github.com/tendhq/tend/internal/testenv/tendproc"
)

var tendBin string

func TestMain(m *testing.M) { os.Exit(tendproc.Main(m, "tenants", &tendBin)) }

// shipyard enables self-healing in production.
const shipyard = `apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
metadata:
  name: tenants
spec:
  stages:
    - name: production
      sequences:
        - name: remediation
          tasks:
            - name: action
            - name: evaluation
`

// remediationFile has one action no built-in executor runs, so each
// remediation waits in state applying for an external executor's answer.
const remediationFile = `apiVersion: spec.keptn.sh/0.1.4
kind: Remediation
metadata:
  name: carts
spec:
  remediations:
    - problemType: response_time_p90
      actionsOnOpen:
        - name: Restart
          action: restart-pod
          value: carts
`

// server is one tend serve with its admin token.
type server struct{ *tendapi.Server }

func start(t *testing.T) *server {
	t.Helper()
	return &server{tendapi.Start(t, tendBin, "")}
}

// project creates a project with self-healing in production and the
// service carts with remediationFile.
func (s *server) project(t testing.TB, name string) {
	t.Helper()
	s.CreateProject(t, name, shipyard, "carts")
	s.Must(t, http.StatusCreated, http.MethodPost, "/api/v1/project/"+name+"/stage/production/service/carts/resource", s.Admin,
		map[string]any{"resources": []map[string]string{{"resourceURI": "remediation.yaml", "resourceContent": base64.StdEncoding.EncodeToString([]byte(remediationFile))}}}, nil)
}

type result struct {
	Fingerprint   string `json:"fingerprint"`
	Status        string `json:"status"`
	ProblemID     string `json:"problemId"`
	RemediationID string `json:"remediationId"`
	Reason        string `json:"reason"`
}

type amAnswer struct {
	Problems  []string `json:"problems"`
	Unmatched []struct {
		ProblemID string `json:"problemId"`
	} `json:"unmatched"`
	Results []result `json:"results"`
}

const startsAt = "2025-03-01T10:00:00Z"

// alert posts one alert of project's carts service and returns its result
// and the whole answer. fingerprint is what the message claims.
func (s *server) alert(t testing.TB, token, status, project, fingerprint string) (result, string) {
	t.Helper()
	end := "0001-01-01T00:00:00Z"
	if status == "resolved" {
		end = "2025-03-01T10:30:00Z"
	}
	msg := map[string]any{"version": "4", "status": status, "receiver": "tend", "alerts": []map[string]any{{
		"status": status, "fingerprint": fingerprint, "startsAt": startsAt, "endsAt": end,
		"labels":      map[string]string{"alertname": "response_time_p90", "project": project, "stage": "production", "service": "carts"},
		"annotations": map[string]string{"summary": "response_time_p90"},
	}}}
	code, b := s.Do(t, http.MethodPost, "/api/v1/integrations/alertmanager", token, msg)
	if code != http.StatusOK {
		t.Fatalf("alertmanager webhook: %d %s", code, b)
	}
	var a amAnswer
	if err := json.Unmarshal(b, &a); err != nil || len(a.Results) != 1 {
		t.Fatalf("alertmanager answer %s: %v", b, err)
	}
	return a.Results[0], string(b)
}

type problem struct {
	ID, Project, State, RemediationID string
}

type remediationOut struct {
	ID, Project, State, Reason, KeptnContext string
	Running                                  bool
}

func (s *server) problem(t testing.TB, id string) problem {
	t.Helper()
	var p problem
	s.Must(t, http.StatusOK, http.MethodGet, "/api/v1/problem/"+id, s.Admin, nil, &p)
	return p
}

func (s *server) remediation(t testing.TB, id string) remediationOut {
	t.Helper()
	var r remediationOut
	s.Must(t, http.StatusOK, http.MethodGet, "/api/v1/remediation/"+id, s.Admin, nil, &r)
	return r
}

type storedEvent struct {
	ID          string          `json:"id"`
	Type        string          `json:"type"`
	Source      string          `json:"source"`
	TriggeredID string          `json:"triggeredid"`
	Context     string          `json:"shkeptncontext"`
	Data        json.RawMessage `json:"data"`
}

// events lists the events query selects, newest first.
func (s *server) events(t testing.TB, query string) []storedEvent {
	t.Helper()
	return tendapi.Events[storedEvent](t, s.Server, query)
}

// applying waits until remediation id waits for its external executor
// and returns its action.triggered event. It polls without asserting on
// how long the loop takes.
func (s *server) applying(t testing.TB, id string) storedEvent {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		r := s.remediation(t, id)
		if r.State == "applying" {
			for _, e := range s.events(t, "keptnContext="+r.KeptnContext+"&type=sh.keptn.event.action.triggered") {
				return e
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("remediation %s did not reach applying with an action.triggered: %+v", id, r)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestProblemsStayInTheirProject is issue 12 point 1: a token restricted
// to project alpha that knows the fingerprint and start time of beta's
// alert gets nothing of beta's, cannot close beta's problem (so beta's
// real resolved notification still closes it), files what it sends for
// beta under alpha, and cannot close beta's Dynatrace problem by its PID.
func TestProblemsStayInTheirProject(t *testing.T) {
	s := start(t)
	s.project(t, "alpha")
	s.project(t, "beta")
	attacker := s.CreateToken(t, "alpha-writer", "write", "alpha")

	b, _ := s.alert(t, s.Admin, "firing", "beta", "")
	if b.Status != "started" || b.ProblemID == "" || b.RemediationID == "" {
		t.Fatalf("beta's alert: %+v, want a started remediation", b)
	}

	// Alpha's labels with beta's fingerprint and start time.
	got, answer := s.alert(t, attacker, "firing", "alpha", b.Fingerprint)
	if strings.Contains(answer, b.ProblemID) || strings.Contains(answer, b.RemediationID) {
		t.Errorf("alpha's token got beta's ids back: %s", answer)
	}
	if got.Fingerprint == b.Fingerprint {
		t.Errorf("alpha's alert was given beta's fingerprint %s", b.Fingerprint)
	}
	closing, answer := s.alert(t, attacker, "resolved", "alpha", b.Fingerprint)
	if strings.Contains(answer, b.ProblemID) || strings.Contains(answer, b.RemediationID) {
		t.Errorf("alpha's token closing with beta's fingerprint got beta's ids back: %s", answer)
	}
	_ = closing
	if p := s.problem(t, b.ProblemID); p.State != "open" {
		t.Errorf("beta's problem is %s after alpha's token sent a resolved alert with its fingerprint; want open", p.State)
	}
	// Beta's own resolved notification closes it, and its remediation
	// hears of it.
	if real, _ := s.alert(t, s.Admin, "resolved", "beta", ""); real.Status != "closed" || real.ProblemID != b.ProblemID {
		t.Errorf("beta's real resolved alert: %+v; want closed, problem %s", real, b.ProblemID)
	}

	// An alert for beta sent with alpha's token is filed under alpha.
	u, answer := s.alert(t, attacker, "firing", "beta", "")
	if u.Status != "unmatched" || u.ProblemID == "" {
		t.Fatalf("beta's alert with alpha's token: %s; want unmatched", answer)
	}
	if p := s.problem(t, u.ProblemID); p.Project != "alpha" {
		t.Errorf("the unmatched alert is filed under %q, want alpha (the token's project)", p.Project)
	}
	var list struct{ Problems []problem }
	s.Must(t, http.StatusOK, http.MethodGet, "/api/v1/problem?project=beta&state=unmatched", s.Admin, nil, &list)
	if len(list.Problems) != 0 {
		t.Errorf("beta has unmatched problems %+v sent by alpha's token", list.Problems)
	}

	// Dynatrace: alpha's token cannot close beta's problem by its PID.
	dt := func(token, project, state, id string) {
		t.Helper()
		ev := map[string]any{"specversion": "1.0", "id": id, "source": "dynatrace", "type": "sh.keptn.events.problem",
			"data": map[string]any{"State": state, "PID": "P-4242", "ProblemID": "4242", "ProblemTitle": "response_time_p90",
				"Tags": "keptn_project:" + project + ", keptn_stage:production, keptn_service:carts"}}
		s.Must(t, http.StatusOK, http.MethodPost, "/api/v1/event", token, ev, nil)
	}
	dt(s.Admin, "beta", "OPEN", "dt-1")
	s.Must(t, http.StatusOK, http.MethodGet, "/api/v1/problem?project=beta&state=open", s.Admin, nil, &list)
	var dtp *problem
	for i := range list.Problems {
		if list.Problems[i].ID != b.ProblemID {
			dtp = &list.Problems[i]
		}
	}
	if dtp == nil {
		t.Fatalf("beta's Dynatrace problem is not open: %+v", list.Problems)
	}
	dt(attacker, "alpha", "RESOLVED", "dt-2")
	if p := s.problem(t, dtp.ID); p.State != "open" {
		t.Errorf("beta's Dynatrace problem is %s after alpha's token resolved P-4242; want open", p.State)
	}
}

// TestAnswersOnlyFromWhoMayAnswer is issue 12 point 3: alpha's write token
// cannot answer beta's action.triggered, whatever project its answer
// names; nothing is stored and beta's remediation keeps waiting. Beta's
// own token can.
func TestAnswersOnlyFromWhoMayAnswer(t *testing.T) {
	s := start(t)
	s.project(t, "alpha")
	s.project(t, "beta")
	attacker := s.CreateToken(t, "alpha-writer", "write", "alpha")
	executor := s.CreateToken(t, "beta-writer", "write", "beta")

	b, _ := s.alert(t, s.Admin, "firing", "beta", "")
	trig := s.applying(t, b.RemediationID)

	answer := func(token, phase, project, id string) (int, []byte) {
		return s.Do(t, http.MethodPost, "/api/v1/event", token, map[string]any{
			"specversion": "1.0", "id": id, "source": "forger", "type": "sh.keptn.event.action." + phase,
			"shkeptncontext": trig.Context, "triggeredid": trig.ID,
			"data": map[string]any{"project": project, "stage": "production", "service": "carts", "status": "succeeded", "result": "pass", "message": "forged"},
		})
	}
	for _, tt := range []struct{ phase, project string }{
		{"started", "alpha"}, {"finished", "alpha"}, {"finished", "beta"},
	} {
		if code, out := answer(attacker, tt.phase, tt.project, "forged-"+tt.phase+"-"+tt.project); code != http.StatusForbidden {
			t.Errorf("alpha's token answering beta's action.triggered with action.%s naming %s: %d %s; want 403", tt.phase, tt.project, code, out)
		}
	}
	for _, e := range s.events(t, "keptnContext="+trig.Context) {
		if e.Source == "forger" {
			t.Errorf("a refused answer was stored: %+v", e)
		}
	}
	for _, e := range s.events(t, "project=alpha") {
		if e.TriggeredID == trig.ID {
			t.Errorf("a refused answer was stored under alpha: %+v", e)
		}
	}
	if r := s.remediation(t, b.RemediationID); r.State != "applying" {
		t.Errorf("beta's remediation is %s after refused answers; want applying", r.State)
	}
	// An answer naming another stage or service is refused too, even from
	// beta's token.
	code, out := s.Do(t, http.MethodPost, "/api/v1/event", executor, map[string]any{
		"specversion": "1.0", "id": "wrong-service", "source": "executor", "type": "sh.keptn.event.action.finished",
		"shkeptncontext": trig.Context, "triggeredid": trig.ID,
		"data": map[string]any{"project": "beta", "stage": "production", "service": "orders", "status": "succeeded", "result": "pass"},
	})
	if code != http.StatusForbidden {
		t.Errorf("beta's token answering for another service: %d %s; want 403", code, out)
	}
	// The real executor, with beta's token, is heard.
	s.Must(t, http.StatusOK, http.MethodPost, "/api/v1/event", executor, map[string]any{
		"specversion": "1.0", "id": "real", "source": "executor", "type": "sh.keptn.event.action.finished",
		"shkeptncontext": trig.Context, "triggeredid": trig.ID,
		"data": map[string]any{"project": "beta", "stage": "production", "service": "carts", "status": "succeeded", "result": "pass", "message": "restarted"},
	}, nil)
}

// TestDeleteProjectEndsItsWork is issue 12 point 6: deleting a project
// cancels its running remediation (stopped, remediation.finished with
// status aborted, no escalation) and withdraws its jobs; the project
// created again under its name starts empty, and the same alert starts a
// new remediation instead of joining the old one.
func TestDeleteProjectEndsItsWork(t *testing.T) {
	s := start(t)
	s.project(t, "beta")
	b, _ := s.alert(t, s.Admin, "firing", "beta", "")
	old := s.applying(t, b.RemediationID)

	s.Must(t, http.StatusNoContent, http.MethodDelete, "/api/v1/project/beta", s.Admin, nil, nil)

	r := s.remediation(t, b.RemediationID)
	if r.Running || r.State != "stopped" || !strings.Contains(r.Reason, "cancelled") {
		t.Errorf("beta's remediation after the delete: %+v; want stopped with a cancelled reason", r)
	}
	var finished *storedEvent
	for _, e := range s.events(t, "keptnContext="+old.Context) {
		if e.Type == "sh.keptn.event.production.remediation.finished" {
			e := e
			finished = &e
		}
	}
	if finished == nil {
		t.Errorf("no remediation.finished in the remediation's context after the delete")
	} else {
		var d struct{ Status, Message string }
		_ = json.Unmarshal(finished.Data, &d)
		if d.Status != "aborted" || !strings.Contains(d.Message, "cancelled") {
			t.Errorf("remediation.finished data %s; want status aborted and a cancelled message", finished.Data)
		}
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(s.DataDir, "tend.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var pending int
	if err := db.QueryRow(`SELECT COUNT(*) FROM jobs WHERE unique_key LIKE ? AND state IN ('pending', 'running')`,
		"remediation/"+b.RemediationID+"/%").Scan(&pending); err != nil {
		t.Fatal(err)
	}
	if pending != 0 {
		t.Errorf("%d jobs of the deleted project's remediation are still pending or running", pending)
	}

	s.project(t, "beta")
	var problems struct{ Problems []problem }
	s.Must(t, http.StatusOK, http.MethodGet, "/api/v1/problem?project=beta", s.Admin, nil, &problems)
	var rems struct{ Remediations []remediationOut }
	s.Must(t, http.StatusOK, http.MethodGet, "/api/v1/remediation?project=beta", s.Admin, nil, &rems)
	evs := s.events(t, "project=beta")
	if len(problems.Problems) != 0 || len(rems.Remediations) != 0 || len(evs) != 0 {
		t.Errorf("the new beta inherits %d problems, %d remediations, %d events", len(problems.Problems), len(rems.Remediations), len(evs))
	}
	again, answer := s.alert(t, s.Admin, "firing", "beta", "")
	if again.Status != "started" || again.RemediationID == b.RemediationID || again.ProblemID == b.ProblemID {
		t.Errorf("the same alert after the project was created again: %s; want a new problem and remediation", answer)
	}
	// A token of the new beta does not see the old beta's records.
	tok := s.CreateToken(t, "beta-reader", "write", "beta")
	if code, out := s.Do(t, http.MethodGet, "/api/v1/remediation/"+b.RemediationID, tok, nil); code != http.StatusNotFound {
		t.Errorf("the new beta's token reads the old beta's remediation: %d %s; want 404", code, out)
	}
}
