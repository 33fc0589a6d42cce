package ui_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/client"
)

func TestIntegrationsPage(t *testing.T) {
	f := newFixture(t, 0)
	ctx := context.Background()
	if _, err := f.client.CreateProject(ctx, apitypes.CreateProjectRequest{Name: "secret-project", Shipyard: shipyard}); err != nil {
		t.Fatal(err)
	}
	register := func(body string) {
		t.Helper()
		code, out, err := f.client.Raw(ctx, http.MethodPost, "/api/controlPlane/v1/uniform/registration", nil, []byte(body))
		if err != nil || code != http.StatusOK {
			t.Fatalf("register: %d %s %v", code, out, err)
		}
	}
	register(`{"name":"hello-service","metadata":{"hostname":"node-1","integrationversion":"0.1.0","location":"remote",` +
		`"kubernetesmetadata":{"namespace":"keptn","podname":"hello-0"}},` +
		`"subscriptions":[{"event":"sh.keptn.event.hello.triggered","filter":{"projects":["sockshop"],"stages":["production"]}}]}`)
	register(`{"name":"secret-service","metadata":{},"subscriptions":[{"event":"sh.keptn.event.hush.triggered","filter":{"projects":["secret-project"]}}]}`)

	admin := newBrowser(t, f)
	admin.mustLogin(f.admin)
	if p := admin.get("/"); !strings.Contains(p.body, `href="/integrations"`) {
		t.Errorf("the nav does not link the integrations page:\n%s", p.body)
	}
	p := admin.get("/integrations")
	if p.status != http.StatusOK {
		t.Fatalf("integrations page %d:\n%s", p.status, p.body)
	}
	for _, want := range []string{"hello-service", "0.1.0", "remote", "keptn / hello-0 / node-1", "sh.keptn.event.hello.triggered",
		"project sockshop · stage production", "secret-service", "<time datetime="} {
		if !strings.Contains(p.body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// A token of sockshop sees nothing of secret-project.
	tok := f.newToken(t, "sockshop-reader", apitypes.ScopeRead, project)
	b := newBrowser(t, f)
	b.mustLogin(tok)
	p = b.get("/integrations")
	if !strings.Contains(p.body, "hello-service") || strings.Contains(p.body, "secret") || strings.Contains(p.body, "hush") {
		t.Errorf("sockshop's view of the integrations:\n%s", p.body)
	}
	// Log lines about a context show on its events page, scoped as events.
	kctx := f.evals[0]
	logs := `{"logs":[{"integrationid":"` + integrationID(t, f, "hello-service") + `","shkeptncontext":"` + kctx + `","task":"hello","message":"said hello"}]}`
	if code, out, err := f.client.Raw(ctx, http.MethodPost, "/api/controlPlane/v1/log", nil, []byte(logs)); err != nil || code != http.StatusOK {
		t.Fatalf("log: %d %s %v", code, out, err)
	}
	if p := admin.get("/contexts/" + kctx); !strings.Contains(p.body, "Integration logs") || !strings.Contains(p.body, "said hello") || !strings.Contains(p.body, ">hello-service<") {
		t.Errorf("events page without the log line:\n%s", p.body)
	}
	if p := b.get("/contexts/" + kctx); !strings.Contains(p.body, "said hello") {
		t.Errorf("sockshop's token does not see its project's log line")
	}
	// Signed out, the page sends to the login.
	if p := newBrowser(t, f).get("/integrations"); p.status != http.StatusSeeOther {
		t.Errorf("signed out: %d", p.status)
	}
}

// integrationID finds an integration's id through the API.
func integrationID(t *testing.T, f *fixture, name string) string {
	t.Helper()
	ins, err := f.client.ListIntegrations(context.Background(), client.IntegrationFilter{Name: name})
	if err != nil || len(ins) != 1 {
		t.Fatalf("integration %s: %v %v", name, ins, err)
	}
	return ins[0].ID
}
