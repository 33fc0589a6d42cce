package app

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/config"
)

// TestIntakeLabelNamesFromConfig shows tend.yaml's intake.labels reaching
// the Alertmanager intake: an alert that carries the configured label
// names is placed, and one that carries only the default names is not.
func TestIntakeLabelNamesFromConfig(t *testing.T) {
	cfg, err := config.Decode("tend.yaml", []byte(`intake:
  labels:
    project: team
    stage: env
    service: app
    rootCause: cause
kubernetes:
  disabled: true
`))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	ta := startTestApp(t, Options{Config: &cfg})
	ctx := context.Background()
	if _, err := ta.c.CreateProject(ctx, apitypes.CreateProjectRequest{Name: "sockshop", Shipyard: shipyard}); err != nil {
		t.Fatal(err)
	}
	if _, err := ta.c.CreateService(ctx, "sockshop", "carts"); err != nil {
		t.Fatal(err)
	}

	body := `{"version":"4","status":"firing","receiver":"tend","groupKey":"{}:{}","alerts":[
		{"status":"firing","labels":{"alertname":"HighLatency","team":"sockshop","env":"dev","app":"carts","cause":"memory_leak"},
		 "annotations":{"summary":"response_time_p90"},"startsAt":"2024-05-01T10:00:00Z","fingerprint":"custom"},
		{"status":"firing","labels":{"alertname":"HighLatency","project":"sockshop","stage":"dev","service":"carts"},
		 "annotations":{"summary":"response_time_p90"},"startsAt":"2024-05-01T10:00:00Z","fingerprint":"default"}]}`
	_, raw, err := ta.c.Raw(ctx, http.MethodPost, "/api/v1/integrations/alertmanager", nil, []byte(body))
	if err != nil {
		t.Fatalf("alertmanager webhook: %v", err)
	}
	var ans apitypes.AlertmanagerAnswer
	if err := json.Unmarshal(raw, &ans); err != nil || len(ans.Results) != 2 {
		t.Fatalf("answer %s (%v), want two results", raw, err)
	}
	if r := ans.Results[0]; r.Status == "unmatched" || r.ProblemID == "" {
		t.Errorf("the alert with the configured label names = %+v, want it placed", r)
	}
	if r := ans.Results[1]; r.Status != "unmatched" || !strings.Contains(r.Reason, `"team"`) {
		t.Errorf("the alert with the default label names = %+v, want unmatched for lack of the \"team\" label", r)
	}

	problems, err := ta.c.ListProblems(ctx, client.ProblemFilter{Project: "sockshop"})
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, p := range problems {
		if p.ID != ans.Results[0].ProblemID {
			continue
		}
		found = true
		if p.Project != "sockshop" || p.Stage != "dev" || p.Service != "carts" || p.RootCause != "memory_leak" {
			t.Errorf("problem = %s/%s/%s root cause %q, want sockshop/dev/carts root cause memory_leak", p.Project, p.Stage, p.Service, p.RootCause)
		}
	}
	if !found {
		t.Errorf("problem %s is not listed: %+v", ans.Results[0].ProblemID, problems)
	}
}
