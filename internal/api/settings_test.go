package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/testenv"
)

// The generic settings handlers behind every config route except
// monitoring's, which evaluation_test.go covers.

func TestSettingsRoutesSQLite(t *testing.T) { testSettingsRoutes(t, sqliteBackend) }

func TestSettingsRoutesPostgres(t *testing.T) {
	testenv.PostgresServerURL(t)
	testSettingsRoutes(t, postgresBackend)
}

func testSettingsRoutes(t *testing.T, b backend) {
	const secret = "unleash-admin-7c1d-never-shown"
	ts := startServer(t, b)
	ts.createProject(t, "sockshop", "carts")
	cfg := "/api/v1/project/sockshop/config/"

	put := func(t *testing.T, path string, body any) apitypes.ConfigSetting {
		t.Helper()
		ans := ts.wantStatus(t, http.StatusOK, http.MethodPut, path, ts.Admin, body)
		if strings.Contains(string(ans), secret) {
			t.Fatalf("answer %s contains the secret", ans)
		}
		return decode[apitypes.ConfigSetting](t, ans)
	}
	t.Run("stored values are normalized, scoped and masked", func(t *testing.T) {
		got := put(t, cfg+"remediation?service=carts", apitypes.RemediationConfig{Cooldown: "30m", DryRun: ptrTo(true)})
		if got.Key != "remediation" || got.Service != "carts" || string(got.Value) != `{"cooldown":"30m0s","dryRun":true}` {
			t.Errorf("remediation = %+v %s", got, got.Value)
		}
		got = put(t, cfg+"kubernetes", apitypes.KubernetesConfig{Namespace: "shop", Stage: "production", Service: "carts"})
		if got.Stage != "production" || got.Service != "carts" || string(got.Value) != `{"namespace":"shop"}` {
			t.Errorf("kubernetes = %+v %s", got, got.Value)
		}
		got = put(t, cfg+"unleash?stage=production", apitypes.UnleashConfig{URL: "http://unleash:4242", Token: secret})
		if !got.Secrets["token"].Set || string(got.Value) != `{"token":"****","url":"http://unleash:4242"}` {
			t.Errorf("unleash = %+v %s", got, got.Value)
		}
		got = put(t, cfg+"secret/restart-token", apitypes.SecretConfig{Value: secret, URL: "https://hooks.example/restart"})
		if got.Key != "secret/restart-token" || !got.Secrets["secret"].Set {
			t.Errorf("secret = %+v %s", got, got.Value)
		}
		list := ts.wantStatus(t, http.StatusOK, http.MethodGet, "/api/v1/project/sockshop/config", ts.Admin, nil)
		if strings.Contains(string(list), secret) {
			t.Fatalf("GET config %s contains the secret", list)
		}
		if n := len(decode[apitypes.ProjectConfig](t, list).Settings); n != 4 {
			t.Errorf("%d settings listed; want 4", n)
		}
	})
	for _, tt := range []struct {
		name, method, path string
		body               any
		status             int
		want               string
	}{
		{"bad duration", http.MethodPut, cfg + "remediation", apitypes.RemediationConfig{Cooldown: "soon"}, http.StatusBadRequest, `cooldown: "soon" is not a duration`},
		{"nothing to set", http.MethodPut, cfg + "remediation", apitypes.RemediationConfig{Stage: "production"}, http.StatusBadRequest, "nothing to set"},
		{"wrong type", http.MethodPut, cfg + "remediation", `{"maxReplicas":"five"}`, http.StatusBadRequest, "maxReplicas must be a whole number"},
		{"misspelt field", http.MethodPut, cfg + "kubernetes", `{"namespce":"shop"}`, http.StatusBadRequest, `unknown field "namespce"`},
		{"bad namespace", http.MethodPut, cfg + "kubernetes", apitypes.KubernetesConfig{Namespace: "Shop"}, http.StatusBadRequest, "not a Kubernetes namespace name"},
		{"unknown stage", http.MethodPut, cfg + "unleash?stage=qa", apitypes.UnleashConfig{URL: "http://u"}, http.StatusNotFound, `stage "qa"`},
		{"scope given twice differently", http.MethodPut, cfg + "kubernetes?service=orders", apitypes.KubernetesConfig{Namespace: "shop", Service: "carts"}, http.StatusBadRequest, "give it once"},
		{"secret of a stage", http.MethodPut, cfg + "secret/x?stage=production", apitypes.SecretConfig{Value: secret, URL: "https://hooks.example/restart"}, http.StatusBadRequest, "belongs to a project"},
		{"empty secret", http.MethodPut, cfg + "secret/x", apitypes.SecretConfig{}, http.StatusBadRequest, "value is missing"},
		{"metadata address", http.MethodPut, cfg + "unleash", apitypes.UnleashConfig{URL: "http://169.254.169.254/latest", Token: secret}, http.StatusBadRequest, "invalid unleash settings: url http://169.254.169.254/latest: 169.254.169.254 is denied by tend's outbound policy (rule 169.254.169.254, cloud metadata"},
		{"link-local scale URL", http.MethodPut, cfg + "kubernetes", apitypes.KubernetesConfig{ScaleURL: "http://[fe80::1]/scale"}, http.StatusBadRequest, "scaleURL http://[fe80::1]/scale: fe80::1 is denied by tend's outbound policy (rule fe80::/10, link-local"},
		{"metadata monitoring", http.MethodPut, cfg + "monitoring", apitypes.MonitoringConfig{Provider: "prometheus", URL: "http://metadata.google.internal/"}, http.StatusBadRequest, "cloud metadata (GCP)"},
		{"secret bound to metadata", http.MethodPut, cfg + "secret/x", apitypes.SecretConfig{Value: secret, URL: "http://169.254.169.254/"}, http.StatusBadRequest, "cloud metadata"},
		{"secret without url", http.MethodPut, cfg + "secret/x", apitypes.SecretConfig{Value: secret}, http.StatusBadRequest, "url is missing"},
		{"bad secret name", http.MethodPut, cfg + "secret/1x", apitypes.SecretConfig{Value: secret, URL: "https://hooks.example/restart"}, http.StatusBadRequest, "secret name"},
		{"delete what is not set", http.MethodDelete, cfg + "kubernetes", nil, http.StatusNotFound, "no kubernetes settings set for project sockshop"},
		{"delete a secret not set", http.MethodDelete, cfg + "secret/nope", nil, http.StatusNotFound, "no webhook secret nope set"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, body := ts.do(t, tt.method, tt.path, ts.Admin, tt.body)
			if code != tt.status {
				t.Fatalf("status %d %s; want %d", code, body, tt.status)
			}
			if msg := wantError(t, tt.status, body); !strings.Contains(msg, tt.want) {
				t.Errorf("message %q; want it to contain %q", msg, tt.want)
			}
			if strings.Contains(string(body), secret) {
				t.Errorf("error answer %s contains the secret", body)
			}
		})
	}
	t.Run("delete", func(t *testing.T) {
		ts.wantStatus(t, http.StatusNoContent, http.MethodDelete, cfg+"kubernetes?stage=production&service=carts", ts.Admin, nil)
		ts.wantStatus(t, http.StatusNoContent, http.MethodDelete, cfg+"secret/restart-token", ts.Admin, nil)
		n := len(decode[apitypes.ProjectConfig](t, ts.wantStatus(t, http.StatusOK, http.MethodGet, "/api/v1/project/sockshop/config", ts.Admin, nil)).Settings)
		if n != 2 {
			t.Errorf("%d settings after delete; want 2", n)
		}
	})
}

func ptrTo[T any](v T) *T { return &v }
