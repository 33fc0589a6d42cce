package cli

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

const newSecret = "tnd_new_secret_zyxwvutsrqponmlkjihgfedcba"

func TestCreateToken(t *testing.T) {
	answer := `{"name":"ci","scope":"write","project":"sockshop","token":"` + newSecret + `"}`
	create := exchange{method: "POST", path: "/api/v1/token", status: 201,
		body: `{"name":"ci","scope":"write","project":"sockshop"}`, answer: answer}

	t.Run("table shows the token once with a warning", func(t *testing.T) {
		srv := newFakeServer(t, create)
		useConfig(t, srv.url)
		r := runOnline(t, "", "create", "token", "ci", "--scope", "write", "--project", "sockshop")
		wantExit(t, r, ExitOK)
		for _, want := range []string{"NAME  SCOPE  PROJECT\nci    write  sockshop\n", "Token: " + newSecret + "\n"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("stdout %q lacks %q", r.stdout, want)
			}
		}
		if strings.Count(r.stdout, newSecret) != 1 {
			t.Errorf("the new token should be printed exactly once:\n%s", r.stdout)
		}
		if !strings.Contains(r.stderr, "shown only once") {
			t.Errorf("stderr %q lacks the shown-once warning", r.stderr)
		}
	})
	t.Run("json has exactly name, scope, project, token", func(t *testing.T) {
		srv := newFakeServer(t, create)
		useConfig(t, srv.url)
		r := runOnline(t, "", "create", "token", "ci", "--scope", "write", "--project", "sockshop", "-o", "json")
		wantExit(t, r, ExitOK)
		var got map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, r.stdout)
		}
		want := map[string]any{"name": "ci", "scope": "write", "project": "sockshop", "token": newSecret}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
		if r.stderr != "" {
			t.Errorf("-o json should keep stderr quiet, got %q", r.stderr)
		}
	})
	t.Run("all projects", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "POST", path: "/api/v1/token", status: 201,
			body:   `{"name":"reader","scope":"read"}`,
			answer: `{"name":"reader","scope":"read","project":"","token":"` + newSecret + `"}`})
		useConfig(t, srv.url)
		r := runOnline(t, "", "create", "token", "reader", "--scope", "read")
		wantExit(t, r, ExitOK)
		if !strings.Contains(r.stdout, "reader  read   (all)") {
			t.Errorf("stdout %q", r.stdout)
		}
	})
	t.Run("usage errors", func(t *testing.T) {
		useConfig(t, "")
		for _, args := range [][]string{
			{"create", "token", "x"},
			{"create", "token", "x", "--scope", "root"},
			{"create", "token", "--scope", "read"},
		} {
			r := runOnline(t, "", args...)
			wantExit(t, r, ExitBadInput)
		}
	})
}

func TestGetTokens(t *testing.T) {
	answer := `{"tokens":[{"name":"admin","scope":"admin","project":"","createdAt":"2024-05-01T10:00:00Z","future":1},` +
		`{"name":"ci","scope":"write","project":"sockshop","createdAt":"2024-05-02T10:00:00Z"}]}`
	list := exchange{method: "GET", path: "/api/v1/token", answer: answer}

	t.Run("table", func(t *testing.T) {
		srv := newFakeServer(t, list)
		useConfig(t, srv.url)
		r := runOnline(t, "", "get", "tokens")
		wantExit(t, r, ExitOK)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") ||
			!strings.HasPrefix(lines[1], "admin  admin  (all)") || !strings.HasPrefix(lines[2], "ci     write  sockshop") {
			t.Errorf("table:\n%s", r.stdout)
		}
	})
	t.Run("json unchanged", func(t *testing.T) {
		srv := newFakeServer(t, list)
		useConfig(t, srv.url)
		r := runOnline(t, "", "get", "tokens", "-o", "json")
		wantExit(t, r, ExitOK)
		if got := compactJSON(t, r.stdout); got != answer {
			t.Errorf("got %s\nwant %s", got, answer)
		}
	})
	t.Run("yaml", func(t *testing.T) {
		srv := newFakeServer(t, list)
		useConfig(t, srv.url)
		r := runOnline(t, "", "get", "tokens", "-o", "yaml")
		wantExit(t, r, ExitOK)
		if !strings.HasPrefix(r.stdout, "tokens:\n  - name: admin\n") {
			t.Errorf("yaml:\n%s", r.stdout)
		}
	})
	t.Run("none", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "GET", path: "/api/v1/token", answer: `{"tokens":[]}`})
		useConfig(t, srv.url)
		r := runOnline(t, "", "get", "tokens")
		wantExit(t, r, ExitOK)
		if r.stdout != "" || !strings.Contains(r.stderr, "No tokens") {
			t.Errorf("stdout %q stderr %q", r.stdout, r.stderr)
		}
	})
}

func TestDeleteToken(t *testing.T) {
	srv := newFakeServer(t, exchange{method: "DELETE", path: "/api/v1/token/ci", status: 204})
	useConfig(t, srv.url)
	r := runOnline(t, "", "delete", "token", "ci")
	wantExit(t, r, ExitOK)
	if r.stdout != "Token ci deleted\n" {
		t.Errorf("stdout %q", r.stdout)
	}
}
