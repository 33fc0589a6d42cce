// Package tendapi is the harness of the black-box tests under test/ that
// talk to a real `tend serve` (run by tendproc): a server in a folder of
// its own with an optional tend.yaml, plain JSON requests with the
// x-token header for tests that check answers the typed client hides, and
// the few calls every such test starts with (a project, its services, a
// token, the project's events).
package tendapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/testenv/tendproc"
)

// Shipyard is the smallest shipyard with self-healing: one stage,
// production, whose remediations run automatically.
const Shipyard = "stages:\n  - name: production\n    remediation_strategy: automated\n"

// SLO is an SLO file with one objective, response_time_p90 below 1000,
// the alert name the tests fire.
const SLO = "spec_version: \"1.0\"\nobjectives:\n  - sli: response_time_p90\n    pass: [{criteria: [\"<1000\"]}]\ntotal_score: {pass: \"90%\"}\n"

// Server is one `tend serve` of a test, in a temporary folder of its own,
// with the admin token it wrote.
type Server struct {
	*tendproc.Proc
	// Admin is the admin token.
	Admin string
	// DataDir is the server's --data-dir.
	DataDir string
	// Config is the path of its tend.yaml, "" for none.
	Config string

	bin string
}

// Start runs bin as `tend serve` (SQLite) with tendYAML as its tend.yaml
// ("" for none) and returns once it is ready.
func Start(t testing.TB, bin, tendYAML string) *Server {
	t.Helper()
	dir := t.TempDir()
	s := &Server{DataDir: filepath.Join(dir, "data"), bin: bin}
	if tendYAML != "" {
		s.Config = tendproc.WriteConfig(t, dir, tendYAML)
	}
	s.Restart(t)
	return s
}

// Restart starts the server (again) on its data directory and
// configuration; kill the running one first.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Proc = tendproc.Start(t, s.bin, tendproc.Options{DataDir: s.DataDir, Config: s.Config})
	s.Admin = tendproc.AdminToken(t, s.DataDir)
}

// Client returns a typed client of the server that sends token.
func (s *Server) Client(t testing.TB, token string) *client.Client {
	t.Helper()
	return tendproc.Client(t, s.URL, token)
}

// AdminClient returns a typed client of the server with the admin token.
func (s *Server) AdminClient(t testing.TB) *client.Client {
	t.Helper()
	return s.Client(t, s.Admin)
}

// Do sends body with token (x-token) and returns the answer's status and
// body. body is nil, a string or []byte sent as it is, or a value sent as
// JSON.
func (s *Server) Do(t testing.TB, method, path, token string, body any) (int, []byte) {
	t.Helper()
	code, _, b := s.DoWithHeader(t, method, path, token, body, nil)
	return code, b
}

// DoWithHeader is Do with further request headers, returning the answer's
// headers too.
func (s *Server) DoWithHeader(t testing.TB, method, path, token string, body any, header map[string]string) (int, http.Header, []byte) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-token", token)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read the answer: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, out
}

// Must sends a request that must be answered with status want, and
// decodes the answer into out when out is not nil.
func (s *Server) Must(t testing.TB, want int, method, path, token string, body, out any) {
	t.Helper()
	code, b := s.Do(t, method, path, token, body)
	if code != want {
		t.Fatalf("%s %s: %d %s; want %d", method, path, code, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

// CreateProject creates the project name with shipyard and the services,
// as the admin.
func (s *Server) CreateProject(t testing.TB, name, shipyard string, services ...string) {
	t.Helper()
	s.Must(t, http.StatusCreated, http.MethodPost, "/api/v1/project", s.Admin, map[string]string{"name": name, "shipyard": shipyard}, nil)
	for _, svc := range services {
		s.Must(t, http.StatusCreated, http.MethodPost, "/api/v1/project/"+name+"/service", s.Admin, map[string]string{"serviceName": svc}, nil)
	}
}

// CreateToken creates an API token of scope restricted to project ("" for
// every project), as the admin, and returns its secret.
func (s *Server) CreateToken(t testing.TB, name, scope, project string) string {
	t.Helper()
	var out struct{ Token string }
	s.Must(t, http.StatusCreated, http.MethodPost, "/api/v1/token", s.Admin, map[string]string{"name": name, "scope": scope, "project": project}, &out)
	return out.Token
}

// Events lists, as the admin, the stored events GET /api/v1/event answers
// for query (such as "project=shop" or "keptnContext=…&type=…"), newest
// first, each decoded into an E.
func Events[E any](t testing.TB, s *Server, query string) []E {
	t.Helper()
	var out struct{ Events []E }
	s.Must(t, http.StatusOK, http.MethodGet, "/api/v1/event?pageSize=500&"+query, s.Admin, nil, &out)
	return out.Events
}

// Fire sends, through c, Alertmanager's notification that the alert
// response_time_p90 of service fires, and fails the test unless it is
// answered 200. fingerprint is left out when "".
func Fire(t testing.TB, c *client.Client, project, stage, service, fingerprint string) {
	t.Helper()
	alert := map[string]any{
		"status":      "firing",
		"labels":      map[string]string{"alertname": "response_time_p90", "project": project, "stage": stage, "service": service},
		"annotations": map[string]string{"summary": "response_time_p90"},
		"startsAt":    "2024-05-01T12:00:00Z",
	}
	if fingerprint != "" {
		alert["fingerprint"] = fingerprint
	}
	msg, err := json.Marshal(map[string]any{"version": "4", "status": "firing", "receiver": "tend", "groupKey": "{}:{}", "alerts": []any{alert}})
	if err != nil {
		t.Fatal(err)
	}
	status, body, err := c.Raw(context.Background(), http.MethodPost, "/api/v1/integrations/alertmanager", nil, msg)
	if err != nil || status != http.StatusOK {
		t.Fatalf("alert: %d %s %v", status, body, err)
	}
}
