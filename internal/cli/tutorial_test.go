package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/app"
)

// TestTutorialAgainstARealServer plays the keptn tutorial's setup steps
// through the CLI against a real tend server in process: SQLite and Git
// repositories in a temporary directory, a port picked at run time.
func TestTutorialAgainstARealServer(t *testing.T) {
	dataDir := t.TempDir()
	a, err := app.New(context.Background(), app.Options{Listen: "127.0.0.1:0", DataDir: dataDir})
	if err != nil {
		t.Fatalf("start the server: %v", err)
	}
	a.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Errorf("shut the server down: %v", err)
		}
	})
	admin := a.AdminToken()
	if admin == "" {
		t.Fatal("the first start created no admin token")
	}
	useConfig(t, "")

	// run runs one step and checks its exit status and that the admin
	// token never shows.
	run := func(t *testing.T, stdin string, wantCode int, args ...string) result {
		t.Helper()
		r := runTend(t, stdin, args...)
		if strings.Contains(r.stdout+r.stderr, admin) {
			t.Errorf("tend %s printed the admin token", strings.Join(args, " "))
		}
		if r.code != wantCode {
			t.Fatalf("tend %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, wantCode, r.stdout, r.stderr)
		}
		return r
	}

	run(t, "", ExitOK, "auth", "--endpoint", a.URL(), "--api-token", "file:"+filepath.Join(dataDir, app.AdminTokenFile))

	shipyard, _ := exampleFile(t, "shipyard.yaml")
	run(t, "", ExitOK, "create", "project", "sockshop", "--shipyard", shipyard)
	run(t, "", ExitBadInput, "create", "project", "sockshop", "--shipyard", shipyard) // exists: 409
	run(t, "", ExitOK, "create", "service", "carts", "--project", "sockshop")

	r := run(t, "", ExitOK, "get", "project", "sockshop")
	if !strings.Contains(r.stdout, "production  on            carts") {
		t.Errorf("get project does not show carts in production with self-healing on:\n%s", r.stdout)
	}

	level := []string{"--project", "sockshop", "--stage", "production", "--service", "carts"}
	files := map[string]string{"slo.yaml": "slo.yaml", "remediation.yaml": "remediation.yaml", "prometheus/sli.yaml": filepath.Join("prometheus", "sli.yaml")}
	for uri, name := range files {
		path, _ := exampleFile(t, name)
		r := run(t, "", ExitOK, append([]string{"add-resource", "--resource", path, "--resourceUri", uri}, level...)...)
		if !strings.Contains(r.stdout, "Resource "+uri+" added") {
			t.Errorf("add-resource %s: stdout %q", uri, r.stdout)
		}
	}
	for uri, name := range files {
		_, want := exampleFile(t, name)
		r := run(t, "", ExitOK, append([]string{"get", "resource", uri}, level...)...)
		if r.stdout != string(want) {
			t.Errorf("get resource %s: the content differs from what was added:\n%s", uri, r.stdout)
		}
	}
	r = run(t, "", ExitOK, append([]string{"get", "resources"}, level...)...)
	for uri := range files {
		if !strings.Contains(r.stdout, uri+" ") {
			t.Errorf("get resources lacks %s:\n%s", uri, r.stdout)
		}
	}
	r = run(t, "", ExitOK, append([]string{"get", "resource", "slo.yaml", "--history"}, level...)...)
	if n := strings.Count(strings.TrimSpace(r.stdout), "\n"); n != 1 {
		t.Errorf("the history of slo.yaml should hold one commit:\n%s", r.stdout)
	}

	const kctx = "2f1c0b0e-7a53-4f2f-9c55-6b1a2b3c4d5e"
	event := `{"specversion":"1.0","id":"b7a1f0c2-0000-4000-8000-000000000001","source":"tutorial","type":"sh.keptn.event.evaluation.finished",` +
		`"shkeptncontext":"` + kctx + `","time":"2024-05-01T10:00:00Z","datacontenttype":"application/json",` +
		`"data":{"project":"sockshop","stage":"production","service":"carts","result":"pass","status":"succeeded"}}`
	r = run(t, event, ExitOK, "send", "event", "--file", "-")
	if r.stdout != "ID of Keptn context: "+kctx+"\n" {
		t.Errorf("send event: stdout %q", r.stdout)
	}
	r = run(t, "", ExitOK, "get", "event", "evaluation.finished", "--keptn-context", kctx, "--project", "sockshop", "-o", "json")
	var list struct {
		Events []struct {
			Type    string `json:"type"`
			Context string `json:"shkeptncontext"`
		} `json:"events"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatalf("get event -o json: %v\n%s", err, r.stdout)
	}
	if len(list.Events) != 1 || list.Events[0].Type != "sh.keptn.event.evaluation.finished" || list.Events[0].Context != kctx {
		t.Errorf("get event: %+v", list.Events)
	}
	r = run(t, "", ExitOK, "get", "event", "evaluation.finished", "--keptn-context", kctx)
	if !strings.Contains(r.stdout, "sockshop/production/carts  pass") {
		t.Errorf("get event table:\n%s", r.stdout)
	}

	// A read token, created and used through the CLI, cannot write.
	r = run(t, "", ExitOK, "create", "token", "reader", "--scope", "read", "-o", "json")
	var tok struct{ Token string }
	if err := json.Unmarshal([]byte(r.stdout), &tok); err != nil || tok.Token == "" {
		t.Fatalf("create token -o json: %v\n%s", err, r.stdout)
	}
	r = run(t, "", ExitOK, "get", "tokens")
	if strings.Contains(r.stdout, tok.Token) || !strings.Contains(r.stdout, "reader") {
		t.Errorf("get tokens:\n%s", r.stdout)
	}
	r = run(t, "", ExitBadInput, "delete", "service", "carts", "--project", "sockshop", "--api-token", tok.Token)
	if !strings.Contains(r.stderr, "403") {
		t.Errorf("a read token's write: stderr %q", r.stderr)
	}
	run(t, "", ExitOK, "delete", "token", "reader")
	run(t, "", ExitBadInput, "get", "projects", "--api-token", tok.Token) // revoked: 401

	run(t, "", ExitOK, append([]string{"delete", "resource", "remediation.yaml"}, level...)...)
	run(t, "", ExitBadInput, append([]string{"get", "resource", "remediation.yaml"}, level...)...)
	run(t, "", ExitOK, "delete", "service", "carts", "--project", "sockshop")
	run(t, "", ExitOK, "delete", "project", "sockshop")
	run(t, "", ExitBadInput, "get", "project", "sockshop")

	if _, err := os.Stat(filepath.Join(dataDir, app.AdminTokenFile)); err != nil {
		t.Errorf("admin-token file: %v", err)
	}
}
