package cli

import (
	"strings"
	"testing"
)

func TestCreateService(t *testing.T) {
	for _, verb := range []string{"create", "onboard"} {
		t.Run(verb, func(t *testing.T) {
			srv := newFakeServer(t, exchange{method: "POST", path: "/api/v1/project/sockshop/service", status: 201,
				body: `{"serviceName":"carts"}`, answer: `{"serviceName":"carts","creationDate":"2024-05-01T10:01:00Z"}`})
			useConfig(t, srv.url)
			r := runOnline(t, "", verb, "service", "carts", "--project", "sockshop")
			wantExit(t, r, ExitOK)
			if r.stdout != "Service carts created in project sockshop\n" {
				t.Errorf("stdout %q", r.stdout)
			}
		})
	}
	t.Run("no project", func(t *testing.T) {
		useConfig(t, "")
		r := runOnline(t, "", "create", "service", "carts")
		wantExit(t, r, ExitBadInput)
		if !strings.Contains(r.stderr, `required flag(s) "project" not set`) {
			t.Errorf("stderr %q", r.stderr)
		}
	})
}

func TestGetServices(t *testing.T) {
	answer := `{"services":[{"serviceName":"carts","creationDate":"2024-05-01T10:01:00Z"},{"serviceName":"orders","creationDate":"2024-05-01T10:02:00Z"}]}`
	t.Run("table", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "GET", path: "/api/v1/project/sockshop/service", answer: answer})
		useConfig(t, srv.url)
		r := runOnline(t, "", "get", "services", "--project", "sockshop")
		wantExit(t, r, ExitOK)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[1], "carts ") || !strings.HasPrefix(lines[2], "orders ") {
			t.Errorf("table:\n%s", r.stdout)
		}
	})
	t.Run("json unchanged", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "GET", path: "/api/v1/project/sockshop/service", answer: answer})
		useConfig(t, srv.url)
		r := runOnline(t, "", "get", "services", "--project", "sockshop", "-o", "json")
		wantExit(t, r, ExitOK)
		if got := compactJSON(t, r.stdout); got != answer {
			t.Errorf("got %s", got)
		}
	})
}

func TestGetService(t *testing.T) {
	answer := `{"serviceName":"carts","creationDate":"2024-05-01T10:01:00Z"}`
	t.Run("table", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "GET", path: "/api/v1/project/sockshop/service/carts", answer: answer})
		useConfig(t, srv.url)
		r := runOnline(t, "", "get", "service", "carts", "--project", "sockshop")
		wantExit(t, r, ExitOK)
		if !strings.Contains(r.stdout, "NAME   PROJECT   CREATED\ncarts  sockshop  ") {
			t.Errorf("table:\n%s", r.stdout)
		}
	})
	t.Run("json unchanged", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "GET", path: "/api/v1/project/sockshop/service/carts", answer: answer})
		useConfig(t, srv.url)
		r := runOnline(t, "", "get", "service", "carts", "--project", "sockshop", "-o", "json")
		wantExit(t, r, ExitOK)
		if got := compactJSON(t, r.stdout); got != answer {
			t.Errorf("got %s", got)
		}
	})
}

func TestDeleteService(t *testing.T) {
	srv := newFakeServer(t, exchange{method: "DELETE", path: "/api/v1/project/sockshop/service/carts", status: 204})
	useConfig(t, srv.url)
	r := runOnline(t, "", "delete", "service", "carts", "--project", "sockshop")
	wantExit(t, r, ExitOK)
	if r.stdout != "Service carts deleted from project sockshop\n" {
		t.Errorf("stdout %q", r.stdout)
	}
}
