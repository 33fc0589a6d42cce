package cli

import (
	"strings"
	"testing"
)

const integrationsAnswer = `[` +
	`{"id":"a1","name":"hello-service","metadata":{"hostname":"node-1","integrationversion":"0.1.0","distributorversion":"0.15.0","location":"remote","kubernetesmetadata":{"namespace":"keptn","podname":"hello-0","deploymentname":"hello"},"lastseen":"2026-03-01T10:00:00Z"},` +
	`"subscriptions":[{"id":"s1","event":"sh.keptn.event.hello.triggered","filter":{"projects":["sockshop"],"stages":["dev","prod"],"services":[]}},{"id":"s2","event":"sh.keptn.event.bye.triggered","filter":{"projects":[],"stages":[],"services":[]}}]},` +
	`{"id":"b2","name":"idle","metadata":{"hostname":"","integrationversion":"","distributorversion":"","location":"","kubernetesmetadata":{"namespace":"","podname":"","deploymentname":""}},"subscriptions":[]}` +
	`]`

func TestGetIntegrations(t *testing.T) {
	t.Run("table", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "GET", path: "/api/controlPlane/v1/uniform/registration", query: "project=sockshop", answer: integrationsAnswer})
		useConfig(t, srv.url)
		r := runOnline(t, "", "get", "integrations", "--project", "sockshop")
		wantExit(t, r, ExitOK)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 4 || !strings.HasPrefix(lines[0], "NAME ") {
			t.Fatalf("table:\n%s", r.stdout)
		}
		if !strings.Contains(lines[1], "hello-service") || !strings.Contains(lines[1], "0.1.0") ||
			!strings.Contains(lines[1], "project=sockshop stage=dev,prod") || !strings.Contains(lines[1], "sh.keptn.event.hello.triggered") {
			t.Errorf("first row: %q", lines[1])
		}
		if strings.Contains(lines[2], "hello-service") || strings.Join(strings.Fields(lines[2]), " ") != "sh.keptn.event.bye.triggered all" {
			t.Errorf("second subscription row: %q", lines[2])
		}
		if !strings.Contains(lines[3], "idle") || !strings.HasSuffix(strings.Join(strings.Fields(lines[3]), " "), "b2 - -") {
			t.Errorf("integration without subscriptions: %q", lines[3])
		}
	})
	t.Run("json", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "GET", path: "/api/controlPlane/v1/uniform/registration", query: "name=idle", answer: integrationsAnswer})
		useConfig(t, srv.url)
		r := runOnline(t, "", "get", "integrations", "--name", "idle", "-o", "json")
		wantExit(t, r, ExitOK)
		if !strings.Contains(r.stdout, `"lastseen": "2026-03-01T10:00:00Z"`) || strings.Count(r.stdout, `"event"`) != 2 {
			t.Errorf("json:\n%s", r.stdout)
		}
	})
	t.Run("none", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "GET", path: "/api/controlPlane/v1/uniform/registration", answer: `[]`})
		useConfig(t, srv.url)
		r := runOnline(t, "", "get", "integrations")
		wantExit(t, r, ExitOK)
		if r.stdout != "" || !strings.Contains(r.stderr, "No integrations.") {
			t.Errorf("stdout %q stderr %q", r.stdout, r.stderr)
		}
	})
}
