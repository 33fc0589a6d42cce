package ui_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/event"
)

func TestSignedOutIsSentToLogin(t *testing.T) {
	f := newFixture(t, 0)
	for _, tc := range []struct {
		name, path, want string
	}{
		{"root", "/", "/login"},
		{"board", "/projects/sockshop", "/login?next=%2Fprojects%2Fsockshop"},
		{"context", "/contexts/" + remCtx, "/login?next=%2Fcontexts%2F" + remCtx},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newBrowser(t, f).get(tc.path)
			if p.status != http.StatusSeeOther || p.header.Get("Location") != tc.want {
				t.Errorf("GET %s = %d to %q; want 303 to %q", tc.path, p.status, p.header.Get("Location"), tc.want)
			}
		})
	}
	t.Run("htmx request", func(t *testing.T) {
		p := newBrowser(t, f).do(http.MethodGet, "/projects/sockshop", nil, "HX-Request", "true")
		if p.status != http.StatusUnauthorized || !strings.HasPrefix(p.header.Get("HX-Redirect"), "/login") {
			t.Errorf("htmx GET = %d, HX-Redirect %q; want 401 with HX-Redirect to /login", p.status, p.header.Get("HX-Redirect"))
		}
	})
	t.Run("static assets are open", func(t *testing.T) {
		for _, path := range []string{"/static/style.css", "/static/htmx.min.js", "/static/tend.js"} {
			if p := newBrowser(t, f).get(path); p.status != http.StatusOK {
				t.Errorf("GET %s = %d; want 200", path, p.status)
			}
		}
	})
	t.Run("the API still answers its own paths", func(t *testing.T) {
		if p := newBrowser(t, f).get("/api/v1/project"); p.status != http.StatusUnauthorized {
			t.Errorf("GET /api/v1/project without a token = %d; want the API's 401", p.status)
		}
		if p := newBrowser(t, f).get("/healthz"); p.status != http.StatusOK {
			t.Errorf("GET /healthz = %d; want 200", p.status)
		}
	})
}

func TestLogin(t *testing.T) {
	f := newFixture(t, 0)
	intake := f.newToken(t, "intake", apitypes.ScopeIntake, project)
	for _, tc := range []struct {
		name   string
		token  string
		status int
		want   string
	}{
		{"admin token", f.admin, http.StatusSeeOther, ""},
		{"unknown token", "tend_" + strings.Repeat("x", 43), http.StatusUnauthorized, "unknown or was revoked"},
		{"not a token", "hunter2", http.StatusUnauthorized, "not an API token"},
		{"intake token", intake, http.StatusUnauthorized, "intake token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBrowser(t, f)
			p := b.login(tc.token)
			if p.status != tc.status {
				t.Fatalf("login = %d; want %d:\n%s", p.status, tc.status, p.body)
			}
			if tc.want != "" && !strings.Contains(p.body, tc.want) {
				t.Errorf("login page does not say %q:\n%s", tc.want, p.body)
			}
			_, has := b.cookies["tend_session"]
			if has != (tc.status == http.StatusSeeOther) {
				t.Errorf("session cookie set = %v; want %v", has, !has)
			}
			if strings.Contains(p.body, tc.token) {
				t.Errorf("the answer echoes the token")
			}
		})
	}
	t.Run("without the login form's CSRF token", func(t *testing.T) {
		b := newBrowser(t, f)
		b.get("/login")
		p := b.do(http.MethodPost, "/login", url.Values{"token": {f.admin}, "csrf": {"forged"}})
		if p.status != http.StatusForbidden || b.cookies["tend_session"] != nil {
			t.Errorf("login with a forged CSRF token = %d, session %v; want 403 and no session", p.status, b.cookies["tend_session"] != nil)
		}
	})
	t.Run("goes back to the page asked for", func(t *testing.T) {
		b := newBrowser(t, f)
		b.get("/login?next=%2Fprojects%2Fsockshop")
		p := b.do(http.MethodPost, "/login", url.Values{"token": {f.admin}, "csrf": {b.csrf}, "next": {"/projects/sockshop"}})
		if p.header.Get("Location") != "/projects/sockshop" {
			t.Errorf("login redirects to %q; want /projects/sockshop", p.header.Get("Location"))
		}
	})
	t.Run("never to another site", func(t *testing.T) {
		for _, next := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example"} {
			b := newBrowser(t, f)
			b.get("/login")
			p := b.do(http.MethodPost, "/login", url.Values{"token": {f.admin}, "csrf": {b.csrf}, "next": {next}})
			if p.header.Get("Location") != "/" {
				t.Errorf("next %q: login redirects to %q; want /", next, p.header.Get("Location"))
			}
		}
	})
}

func TestSessionCookieFlags(t *testing.T) {
	f := newFixture(t, 0)
	b := newBrowser(t, f)
	b.mustLogin(f.admin)
	c := b.cookies["tend_session"]
	if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
		t.Errorf("session cookie %+v; want HttpOnly, SameSite=Lax, Path=/", c)
	}
	if c.Secure {
		t.Errorf("session cookie is Secure on a plain-HTTP request to a server without an https UI URL")
	}
	if len(c.Value) < 40 || strings.Contains(c.Value, f.admin) {
		t.Errorf("session cookie value %q is not a random id of its own", c.Value)
	}

	t.Run("secure over TLS", func(t *testing.T) {
		b := newBrowser(t, f)
		b.get("/login")
		req := url.Values{"token": {f.admin}, "csrf": {b.csrf}}
		// httptest.NewRequest marks https:// targets as TLS requests.
		p := b.do(http.MethodPost, "https://tend.example/login", req)
		if p.status != http.StatusSeeOther || !b.cookies["tend_session"].Secure {
			t.Errorf("login over TLS = %d, cookie %+v; want a Secure session cookie", p.status, b.cookies["tend_session"])
		}
	})
}

func TestCSRF(t *testing.T) {
	f := newFixture(t, 0)
	b := newBrowser(t, f)
	b.mustLogin(f.admin)
	inv := "/projects/sockshop/stages/production/services/carts/evaluations/" + f.evals[0] + "/invalidate"
	for _, tc := range []struct {
		name, path string
		form       url.Values
	}{
		{"logout without token", "/logout", url.Values{}},
		{"logout with a wrong token", "/logout", url.Values{"csrf": {"nope"}}},
		{"invalidate without token", inv, url.Values{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.do(http.MethodPost, tc.path, tc.form)
			if p.status != http.StatusForbidden {
				t.Errorf("POST %s = %d; want 403", tc.path, p.status)
			}
		})
	}
	// Nothing was invalidated and the session is still there.
	if n := countEvents(t, f, event.TypeEvaluationInvalidated); n != 0 {
		t.Errorf("%d invalidated events after rejected forms; want 0", n)
	}
	if p := b.get("/"); p.status != http.StatusOK {
		t.Errorf("GET / after rejected logouts = %d; want 200", p.status)
	}
}

func TestLogout(t *testing.T) {
	f := newFixture(t, 0)
	b := newBrowser(t, f)
	b.mustLogin(f.admin)
	old := *b.cookies["tend_session"]
	b.get("/")
	p := b.do(http.MethodPost, "/logout", url.Values{"csrf": {b.csrf}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/login" {
		t.Fatalf("logout = %d to %q; want 303 to /login", p.status, p.header.Get("Location"))
	}
	if b.cookies["tend_session"] != nil {
		t.Errorf("the session cookie was not cleared")
	}
	// The old cookie no longer works: the session is gone on the server.
	b.cookies["tend_session"] = &old
	if p := b.get("/"); p.status != http.StatusSeeOther {
		t.Errorf("GET / with the logged-out cookie = %d; want 303 to the login", p.status)
	}
}

func TestDeletedTokenEndsSession(t *testing.T) {
	f := newFixture(t, 0)
	tok := f.newToken(t, "alice", apitypes.ScopeRead, "")
	b := newBrowser(t, f)
	b.mustLogin(tok)
	if p := b.get("/"); p.status != http.StatusOK {
		t.Fatalf("GET / = %d; want 200", p.status)
	}
	if err := f.client.DeleteToken(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	if p := b.get("/"); p.status != http.StatusSeeOther {
		t.Errorf("GET / after the token was deleted = %d; want 303 to the login", p.status)
	}
}

func TestTokenNeverInPageOrURL(t *testing.T) {
	f := newFixture(t, -1)
	b := newBrowser(t, f)
	b.mustLogin(f.admin)
	svc := "/projects/sockshop/stages/production/services/carts"
	for _, path := range []string{"/", "/login", "/projects/sockshop", svc, svc + "?evaluation=" + f.evalIDs[2], svc + "/resources",
		"/contexts/" + remCtx, "/contexts/" + remCtx + "/remediation", "/contexts/" + remCtx + "/remediation/timeline", "/nowhere"} {
		b.get(path)
	}
	b.do(http.MethodPost, "/logout", url.Values{"csrf": {b.csrf}})
	if strings.Contains(b.seen.String(), f.admin) {
		t.Errorf("the API token appears in a page, a header or a URL")
	}
	if strings.Contains(b.seen.String(), f.admin[len("tend_"):20]) {
		t.Errorf("part of the API token appears in a page, a header or a URL")
	}
}

func TestProjectScopedToken(t *testing.T) {
	f := newFixture(t, -1)
	ctx := context.Background()
	if _, err := f.client.CreateProject(ctx, apitypes.CreateProjectRequest{Name: "secret-project", Shipyard: shipyard}); err != nil {
		t.Fatal(err)
	}
	tok := f.newToken(t, "sockshop-reader", apitypes.ScopeRead, project)
	b := newBrowser(t, f)
	b.mustLogin(tok)
	p := b.get("/")
	if !strings.Contains(p.body, ">sockshop<") || strings.Contains(p.body, "secret-project") {
		t.Errorf("project list of a sockshop token; want sockshop only:\n%s", p.body)
	}
	if p := b.get("/projects/secret-project"); p.status != http.StatusNotFound {
		t.Errorf("board of another project = %d; want 404", p.status)
	}
	if p := b.get("/projects/sockshop"); p.status != http.StatusOK {
		t.Errorf("board of its project = %d; want 200", p.status)
	}
	// A read token sees no invalidate button and cannot post it.
	svc := "/projects/sockshop/stages/production/services/carts"
	if p := b.get(svc); strings.Contains(p.body, "Ignore for comparison") {
		t.Errorf("a read token is offered the invalidate button")
	}
	p = b.do(http.MethodPost, svc+"/evaluations/"+f.evals[0]+"/invalidate", url.Values{"csrf": {b.csrf}})
	if p.status != http.StatusForbidden {
		t.Errorf("invalidate with a read token = %d; want 403", p.status)
	}

	// An unrelated project's events are invisible to it.
	other := "1f0f5f8e-6a0e-4a8e-9d56-0a4c5c6f1a11"
	f.send(t, cloudEvent(event.NewUUID(), "sh.keptn.event.deployment.finished", "helm-service", other, "", f.t0,
		map[string]any{"project": "secret-project", "stage": "production", "service": "db"}))
	if p := b.get("/contexts/" + other); p.status != http.StatusNotFound {
		t.Errorf("events of another project's context = %d; want 404", p.status)
	}
	admin := newBrowser(t, f)
	admin.mustLogin(f.admin)
	if p := admin.get("/contexts/" + other); p.status != http.StatusOK {
		t.Errorf("events of that context for the admin = %d; want 200", p.status)
	}
}

func TestPages(t *testing.T) {
	f := newFixture(t, -1)
	b := newBrowser(t, f)
	b.mustLogin(f.admin)
	svc := "/projects/sockshop/stages/production/services/carts"
	for _, tc := range []struct {
		name, path string
		want       []string
	}{
		{"projects", "/", []string{`href="/projects/sockshop"`, "staging → production"}},
		{"board", "/projects/sockshop", []string{
			`href="` + svc + `"`, "pass · 100", // the newest evaluation of carts in production
			"1 open problem", "Response time degradation", "resolved", `href="/contexts/` + remCtx + `/remediation"`,
		}},
		{"service", svc, []string{`<svg class="heatmap"`, "Response time P95", "Error rate", `class="linechart"`, `id="breakdown"`}},
		{"breakdown", svc + "?evaluation=" + f.evalIDs[3], []string{
			"1204.8", `class="violated"`, "<code>&lt;600</code>", "<code>&lt;=&#43;10%</code>", "Ignore for comparison", `name="evaluation" value="` + f.evalIDs[3] + `"`,
		}},
		{"resources", svc + "/resources", []string{"slo.yaml", "prometheus/sli.yaml", "remediation.yaml", "histogram_quantile", "EnablePromotion", "&#34;&lt;=&#43;10%&#34;"}},
		{"resource version", "", nil}, // filled in below
		{"events", "/contexts/" + remCtx, []string{"sh.keptn.event.action.triggered", "helm-service", "&#34;specversion&#34;: &#34;1.0&#34;", "Remediation timeline"}},
		{"timeline", "/contexts/" + remCtx + "/remediation", []string{
			"Problem: Response time degradation", "Action 1: Scale up (scaling)", "deployment/carts-primary replicas: 1 → 2",
			"Action 2: Turn off promotions (toggle-feature)", "feature EnablePromotion (production): on → off",
			"Verification evaluation: fail", "Verification evaluation: pass", "Remediation resolved", `data-ended="true"`,
		}},
		{"timeline fragment", "/contexts/" + remCtx + "/remediation/timeline", []string{`<section id="timeline"`, "Remediation resolved"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "resource version" {
				hist, err := f.client.ResourceHistory(context.Background(), client.ResourceRef{Project: project, Stage: stage, Service: service}, "slo.yaml")
				if err != nil || len(hist.Commits) < 2 {
					t.Fatalf("slo.yaml history %+v, %v; want two commits", hist, err)
				}
				first := hist.Commits[len(hist.Commits)-1].CommitID
				tc.path = svc + "/resources?uri=slo.yaml&version=" + first
				tc.want = []string{`id="shown"`, "&#34;&lt;600&#34;", `href="` + svc + `/resources?uri=slo.yaml&amp;version=` + first}
			}
			p := b.get(tc.path)
			if p.status != http.StatusOK {
				t.Fatalf("GET %s = %d:\n%s", tc.path, p.status, p.body)
			}
			for _, w := range tc.want {
				if !strings.Contains(p.body, w) {
					t.Errorf("GET %s lacks %q", tc.path, w)
				}
			}
			if ct := p.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
				t.Errorf("Content-Security-Policy %q; want scripts from the server only", csp)
			}
		})
	}
	t.Run("escalation links", func(t *testing.T) {
		if p := b.get("/remediations/no-such-id"); p.status != http.StatusNotFound {
			t.Errorf("GET /remediations/no-such-id = %d; want 404", p.status)
		}
	})
	t.Run("unknown service", func(t *testing.T) {
		if p := b.get("/projects/sockshop/stages/production/services/nope"); p.status != http.StatusNotFound {
			t.Errorf("GET unknown service = %d; want 404", p.status)
		}
	})
}

var cellRE = regexp.MustCompile(`<rect class="cell (status-[a-z]+)" data-row="([^"]+)"`)

func TestHeatmapCells(t *testing.T) {
	f := newFixture(t, -1)
	b := newBrowser(t, f)
	b.mustLogin(f.admin)
	p := b.get("/projects/sockshop/stages/production/services/carts")
	cells := cellRE.FindAllStringSubmatch(p.body, -1)
	// Six evaluations: four quality gates and two verifications of the
	// remediation; three rows: score and two SLIs.
	const evals, rows = 6, 3
	if len(cells) != evals*rows {
		t.Fatalf("%d heatmap cells; want %d (one per row and evaluation)", len(cells), evals*rows)
	}
	// Cells are written column by column, oldest evaluation first.
	want := [][rows]string{
		{"status-pass", "status-pass", "status-pass"},
		{"status-pass", "status-pass", "status-pass"},
		{"status-warning", "status-warning", "status-pass"},
		{"status-fail", "status-fail", "status-fail"},
		{"status-fail", "status-fail", "status-fail"},
		{"status-pass", "status-pass", "status-pass"},
	}
	wantRows := [rows]string{"Score", "Response time P95", "Error rate"}
	for c := 0; c < evals; c++ {
		for r := 0; r < rows; r++ {
			got := cells[c*rows+r]
			if got[1] != want[c][r] || got[2] != wantRows[r] {
				t.Errorf("cell (evaluation %d, row %d) = %s %s; want %s %s", c+1, r, got[2], got[1], wantRows[r], want[c][r])
			}
		}
	}
}

func TestInvalidate(t *testing.T) {
	f := newFixture(t, 0)
	b := newBrowser(t, f)
	b.mustLogin(f.admin)
	svc := "/projects/sockshop/stages/production/services/carts"
	b.get(svc + "?evaluation=" + f.evalIDs[1])
	p := b.do(http.MethodPost, svc+"/evaluations/"+f.evals[1]+"/invalidate", url.Values{"csrf": {b.csrf}, "evaluation": {f.evalIDs[1]}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("invalidate = %d; want 303:\n%s", p.status, p.body)
	}
	evs, err := f.client.ListEvents(context.Background(), client.EventFilter{Project: project, Type: event.TypeEvaluationInvalidated})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs.Events) != 1 || !strings.Contains(string(evs.Events[0]), f.evals[1]) {
		t.Fatalf("invalidated events %s; want one in keptn context %s", evs.Events, f.evals[1])
	}
	// The page now marks it and offers the button no more.
	p = b.get(p.header.Get("Location"))
	if !strings.Contains(p.body, "ignored for comparison") || strings.Contains(p.body, "Ignore for comparison</button>") {
		t.Errorf("the invalidated evaluation is not marked, or still offers the button")
	}
	t.Run("a context without an evaluation", func(t *testing.T) {
		p := b.do(http.MethodPost, svc+"/evaluations/"+event.NewUUID()+"/invalidate", url.Values{"csrf": {b.csrf}})
		if p.status != http.StatusNotFound {
			t.Errorf("invalidate an unknown context = %d; want 404", p.status)
		}
	})
}

func countEvents(t testing.TB, f *fixture, typ string) int {
	t.Helper()
	evs, err := f.client.ListEvents(context.Background(), client.EventFilter{Type: typ})
	if err != nil {
		t.Fatal(err)
	}
	return len(evs.Events)
}
