package api_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/apitypes"
)

// TestBudgetSLOResources: a service's slo/*.yaml is validated when it is
// written (a broken spec is refused with 400 and its file:line:col), and
// the alert-rules route adds Sloth's rules of the stored specs to the
// stage's group, with tend's labels.
func TestBudgetSLOResources(t *testing.T) {
	ts := startServer(t, sqliteBackend)
	ts.createProject(t, "sockshop", "carts")
	const svc = "/api/v1/project/sockshop/stage/production/service/carts/resource"

	broken := "version: prometheus/v1\nservice: carts\nslos:\n  - name: availability\n    objective: 150\n    sli:\n      raw:\n        error_ratio_query: errors_ratio\n"
	msg := wantError(t, http.StatusBadRequest, ts.wantStatus(t, http.StatusBadRequest, http.MethodPost, svc, ts.Admin, putBody(map[string]string{"slo/availability.yaml": broken})))
	for _, want := range []string{"slo/availability.yaml:5:16: slos[0].objective must be a percentage", "slo/availability.yaml:8:28: slos[0].sli.raw.error_ratio_query must use the {{.window}} placeholder"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	// A file in slo/ that is no budget spec at all is refused too.
	msg = wantError(t, http.StatusBadRequest, ts.wantStatus(t, http.StatusBadRequest, http.MethodPost, svc, ts.Admin, putBody(map[string]string{"slo/notes.yaml": "a: 1\n"})))
	if !strings.Contains(msg, "slo/notes.yaml:1:1: not a budget SLO document") {
		t.Errorf("message %q does not refuse the non-spec", msg)
	}

	spec, err := os.ReadFile(filepath.Join("..", "..", "examples", "slo", "carts-availability.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	commit := ts.putResource(t, "/stage/production/service/carts", map[string]string{"slo/carts-availability.yaml": string(spec)})
	ans := getAlertRules(t, ts, "")
	prod := stageOf(t, ans, "production")
	if prod.Status != apitypes.AlertRulesGenerated || prod.Rules != 17 {
		t.Fatalf("production = %+v; want Sloth's 17 rules generated", prod)
	}
	alerts := 0
	for _, g := range ans.Groups {
		for _, r := range g.Rules {
			if r.Labels["project"] != "sockshop" || r.Labels["stage"] != "production" || r.Labels["service"] != "carts" {
				t.Errorf("rule %s%s labels %v", r.Record, r.Alert, r.Labels)
			}
			if r.Alert != "" {
				alerts++
				if want := "CartsAvailability-" + r.Labels["sloth_severity"]; r.Alert != "CartsAvailability" || r.Annotations["summary"] != want {
					t.Errorf("alert %s summary %q, want %q", r.Alert, r.Annotations["summary"], want)
				}
			}
		}
	}
	if alerts != 2 {
		t.Errorf("%d alerts, want page and ticket", alerts)
	}
	if !strings.Contains(ans.RuleFile, "stage production: slo/carts-availability.yaml at commit "+commit) {
		t.Errorf("header does not name the spec's commit %s:\n%.600s", commit, ans.RuleFile)
	}
	promtoolCheck(t, ans.RuleFile)
}
