package cli

import (
	"strings"
	"testing"
)

const problemsAnswer = `{"problems":[` +
	`{"id":"p2","key":"alertmanager/ff/2025-03-01T10:00:00Z","source":"alertmanager","project":"sockshop","stage":"dev","service":"carts","state":"open","title":"response_time_p90","keptnContext":"c2","reason":"remediation not enabled in stage","openedAt":"2025-03-01T10:00:00Z","createdAt":"2025-03-01T10:00:01Z","updatedAt":"2025-03-01T10:00:01Z"},` +
	`{"id":"p1","key":"dynatrace/99","source":"dynatrace","project":"sockshop","stage":"production","service":"carts","state":"closed","title":"Response time\ndegradation","keptnContext":"c1","remediationId":"r1","remediationState":"waiting","openedAt":"2025-03-01T09:00:00Z","closedAt":"2025-03-01T09:30:00Z","createdAt":"2025-03-01T09:00:01Z","updatedAt":"2025-03-01T09:30:01Z"}` +
	`],"pageSize":20}`

func TestGetProblems(t *testing.T) {
	t.Run("table with remediations", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "GET", path: "/api/v1/problem", query: "project=sockshop&state=open", answer: problemsAnswer})
		useConfig(t, srv.url)
		r := runOnline(t, "", "get", "problems", "--project", "sockshop", "--state", "open")
		wantExit(t, r, ExitOK)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID ") {
			t.Fatalf("table:\n%s", r.stdout)
		}
		if !strings.Contains(lines[1], "remediation not enabled in stage") || !strings.Contains(lines[2], "r1") ||
			!strings.Contains(lines[2], "waiting") || !strings.Contains(lines[2], "Response time degradation") {
			t.Errorf("rows:\n%s", r.stdout)
		}
	})
	t.Run("pages are followed", func(t *testing.T) {
		first := strings.Replace(problemsAnswer, `"pageSize":20}`, `"pageSize":2,"nextPageKey":"k2"}`, 1)
		srv := newFakeServer(t,
			exchange{method: "GET", path: "/api/v1/problem", answer: first},
			exchange{method: "GET", path: "/api/v1/problem", query: "nextPageKey=k2", answer: `{"problems":[],"pageSize":2}`},
		)
		useConfig(t, srv.url)
		r := runOnline(t, "", "get", "problems", "-o", "json")
		wantExit(t, r, ExitOK)
		if strings.Count(r.stdout, `"id"`) != 2 {
			t.Errorf("json:\n%s", r.stdout)
		}
	})
	t.Run("none", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "GET", path: "/api/v1/problem", answer: `{"problems":[],"pageSize":20}`})
		useConfig(t, srv.url)
		r := runOnline(t, "", "get", "problems")
		wantExit(t, r, ExitOK)
		if r.stdout != "" || !strings.Contains(r.stderr, "No problems.") {
			t.Errorf("stdout %q stderr %q", r.stdout, r.stderr)
		}
	})
	t.Run("bad state", func(t *testing.T) {
		useConfig(t, "")
		r := runOnline(t, "", "get", "problems", "--state", "fixed")
		wantExit(t, r, ExitBadInput)
		if !strings.Contains(r.stderr, "want open, closed or unmatched") {
			t.Errorf("stderr %q", r.stderr)
		}
	})
}

func TestGetProblem(t *testing.T) {
	answer := `{"id":"p1","key":"dynatrace/99","source":"dynatrace","project":"sockshop","stage":"production","service":"carts","state":"closed","title":"Response time degradation","keptnContext":"c1","remediationId":"r1","remediationState":"waiting","openedAt":"2025-03-01T09:00:00Z","closedAt":"2025-03-01T09:30:00Z","createdAt":"2025-03-01T09:00:01Z","updatedAt":"2025-03-01T09:30:01Z"}`
	srv := newFakeServer(t,
		exchange{method: "GET", path: "/api/v1/problem/p1", answer: answer},
		exchange{method: "GET", path: "/api/v1/problem/p1", answer: answer},
		exchange{method: "GET", path: "/api/v1/problem/nope", status: 404, answer: `{"code":404,"message":"problem \"nope\" not found"}`},
	)
	useConfig(t, srv.url)
	r := runOnline(t, "", "get", "problem", "p1")
	wantExit(t, r, ExitOK)
	for _, want := range []string{"Key:", "dynatrace/99", "Remediation:", "r1", "Remediation state:", "waiting"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = runOnline(t, "", "get", "problem", "p1", "-o", "json")
	wantExit(t, r, ExitOK)
	if compactJSON(t, r.stdout) != answer {
		t.Errorf("json changed: %s", r.stdout)
	}
	r = runOnline(t, "", "get", "problem", "nope")
	wantExit(t, r, ExitBadInput)
}

func TestGetRemediations(t *testing.T) {
	rem := `{"id":"r1","project":"sockshop","stage":"production","service":"carts","keptnContext":"c1","state":"preparing","running":true,"title":"response_time_p90",` +
		`"problems":[{"id":"p1","closed":false},{"id":"p2","closed":true}],` +
		`"actions":[{"index":0,"name":"Scale up","action":"scaling","value":"1","state":"intended"},{"index":1,"action":"toggle-feature"}],` +
		`"evaluations":[],"version":3,"createdAt":"2025-03-01T09:00:01Z","updatedAt":"2025-03-01T09:30:01Z"}`
	srv := newFakeServer(t,
		exchange{method: "GET", path: "/api/v1/remediation", query: "project=sockshop&running=true", answer: `{"remediations":[` + rem + `],"pageSize":20}`},
		exchange{method: "GET", path: "/api/v1/remediation/r1", answer: rem},
	)
	useConfig(t, srv.url)
	r := runOnline(t, "", "get", "remediations", "--project", "sockshop", "--running")
	wantExit(t, r, ExitOK)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "preparing") || !strings.Contains(lines[1], "1/2") {
		t.Errorf("table:\n%s", r.stdout)
	}
	r = runOnline(t, "", "get", "remediation", "r1")
	wantExit(t, r, ExitOK)
	for _, want := range []string{"State:", "preparing", "Problems:", "p2", "true", "Actions:", "Scale up", "scaling", "intended", "toggle-feature"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestCreateIntakeToken(t *testing.T) {
	srv := newFakeServer(t, exchange{method: "POST", path: "/api/v1/token", status: 201,
		body:   `{"name":"am","scope":"intake","project":"sockshop"}`,
		answer: `{"name":"am","scope":"intake","project":"sockshop","token":"tend_secret"}`})
	useConfig(t, srv.url)
	r := runOnline(t, "", "create", "token", "am", "--scope", "intake", "--project", "sockshop")
	wantExit(t, r, ExitOK)
	if !strings.Contains(r.stdout, "intake") || !strings.Contains(r.stdout, "tend_secret") {
		t.Errorf("stdout %q", r.stdout)
	}
}
