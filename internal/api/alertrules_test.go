package api_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/tendhq/tend/internal/api"
	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/intake"
)

const alertRulesPath = "/api/v1/project/sockshop/service/carts/alert-rules"

// putResource writes files at a level and returns the commit.
func (ts *testServer) putResource(t testing.TB, level string, files map[string]string) string {
	t.Helper()
	v := decode[apitypes.Version](t, ts.wantStatus(t, http.StatusCreated, http.MethodPost, "/api/v1/project/sockshop"+level+"/resource", ts.Admin, putBody(files)))
	return v.CommitID
}

func getAlertRules(t testing.TB, ts *testServer, query string) apitypes.AlertRules {
	t.Helper()
	return decode[apitypes.AlertRules](t, ts.wantStatus(t, http.StatusOK, http.MethodGet, alertRulesPath+query, ts.Admin, nil))
}

func stageOf(t testing.TB, ans apitypes.AlertRules, stage string) apitypes.AlertRulesStage {
	t.Helper()
	for _, st := range ans.Stages {
		if st.Stage == stage {
			return st
		}
	}
	t.Fatalf("answer has no stage %s: %+v", stage, ans.Stages)
	return apitypes.AlertRulesStage{}
}

func TestAlertRulesAccess(t *testing.T) {
	ts := startServer(t, sqliteBackend)
	ts.createProject(t, "sockshop", "carts")
	ts.createProject(t, "other", "carts")
	read := ts.mint(t, "reader", "read", "")
	own := ts.mint(t, "own-reader", "read", "sockshop")
	other := ts.mint(t, "other-reader", "read", "other")
	for _, tt := range []struct {
		name, path, token string
		status            int
		want              string
	}{
		{"no credential", alertRulesPath, "", http.StatusUnauthorized, ""},
		{"read token", alertRulesPath, read, http.StatusOK, ""},
		{"the project's own read token", alertRulesPath, own, http.StatusOK, ""},
		{"another project's token", alertRulesPath, other, http.StatusForbidden, "restricted"},
		{"another project's token on an unknown project", "/api/v1/project/nope/service/carts/alert-rules", other, http.StatusForbidden, "restricted"},
		{"unknown project", "/api/v1/project/nope/service/carts/alert-rules", ts.Admin, http.StatusNotFound, `project "nope"`},
		{"unknown service", "/api/v1/project/sockshop/service/orders/alert-rules", ts.Admin, http.StatusNotFound, `service "orders"`},
		{"unknown stage", alertRulesPath + "?stage=qa", ts.Admin, http.StatusNotFound, `stage "qa"`},
		{"bad window", alertRulesPath + "?window=5", ts.Admin, http.StatusBadRequest, `window "5"`},
		{"window under a second", alertRulesPath + "?window=10ms", ts.Admin, http.StatusBadRequest, "at least 1s"},
		{"negative for", alertRulesPath + "?for=-1m", ts.Admin, http.StatusBadRequest, `for "-1m"`},
		{"empty severity", alertRulesPath + "?severity=", ts.Admin, http.StatusBadRequest, "severity is empty"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, body := ts.do(t, http.MethodGet, tt.path, tt.token, nil)
			if code != tt.status {
				t.Fatalf("status %d %s; want %d", code, body, tt.status)
			}
			if tt.status == http.StatusOK {
				return
			}
			if msg := wantError(t, tt.status, body); !strings.Contains(msg, tt.want) {
				t.Errorf("message %q; want it to contain %q", msg, tt.want)
			}
		})
	}
}

func TestAlertRulesTutorial(t *testing.T) {
	ts := startServer(t, sqliteBackend)
	ts.createProject(t, "sockshop", "carts")

	t.Run("no SLO yet", func(t *testing.T) {
		ans := getAlertRules(t, ts, "")
		if dev := stageOf(t, ans, "dev"); dev.Status != apitypes.AlertRulesSelfHealingOff || dev.RemediationEnabled {
			t.Errorf("dev = %+v; want self-healing-off", dev)
		}
		if prod := stageOf(t, ans, "production"); prod.Status != apitypes.AlertRulesNoSLO || !prod.RemediationEnabled || !strings.Contains(prod.Reason, "no slo.yaml in stage production") {
			t.Errorf("production = %+v; want no-slo", prod)
		}
		if ans.RuleFile != "" || len(ans.Groups) != 0 || ans.Header != "" {
			t.Errorf("rules without an SLO: %+v", ans)
		}
	})

	tutorialSLO, err := os.ReadFile(filepath.Join("..", "..", "examples", "slo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sloCommit := ts.putResource(t, "/stage/production/service/carts", map[string]string{"slo.yaml": string(tutorialSLO)})
	ts.putResource(t, "/stage/dev/service/carts", map[string]string{"slo.yaml": string(tutorialSLO)})
	// An unrelated write after the SLO: the rules still name the SLO's commit.
	ts.putResource(t, "/stage/production/service/carts", map[string]string{"notes.txt": "x"})

	t.Run("built-in query", func(t *testing.T) {
		ans := getAlertRules(t, ts, "")
		if len(ans.Stages) != 2 || len(ans.Groups) != 1 {
			t.Fatalf("stages %+v groups %+v; want 2 stages and production's group", ans.Stages, ans.Groups)
		}
		prod := stageOf(t, ans, "production")
		if prod.Status != apitypes.AlertRulesGenerated || prod.Rules != 1 || prod.Group != "tend-sockshop-production-carts" || prod.SLOVersion != sloCommit {
			t.Errorf("production = %+v; want 1 rule from SLO commit %s", prod, sloCommit)
		}
		if len(prod.Warnings) != 1 || !strings.Contains(prod.Warnings[0], `relative criteria "<=+10%" skipped`) {
			t.Errorf("warnings %q; want the relative criterion skipped", prod.Warnings)
		}
		rule := ans.Groups[0].Rules[0]
		wantExpr := "histogram_quantile(0.9, sum by (le) (rate(http_response_time_milliseconds_bucket{job='carts-sockshop-production'}[300s]))) >= 1000"
		if rule.Alert != "response_time_p90" || rule.Expr != wantExpr || rule.For != "2m" {
			t.Errorf("rule = %+v; want response_time_p90 firing on >= 1000 (boundary included) for 2m\nexpr %s", rule, wantExpr)
		}
		if rule.Labels["stage"] != "production" || rule.Labels["service"] != "carts" || rule.Labels["project"] != "sockshop" || rule.Labels["severity"] != "warning" {
			t.Errorf("labels = %v", rule.Labels)
		}
		if rule.Annotations["summary"] != "response_time_p90" {
			t.Errorf("summary = %q; want the SLI name, which remediation files match", rule.Annotations["summary"])
		}
		if !strings.HasPrefix(ans.RuleFile, "# Alerting rules generated by tend") || !strings.Contains(ans.RuleFile, "stage production: slo.yaml at commit "+sloCommit) {
			t.Errorf("rule file header does not say tend wrote it from commit %s:\n%s", sloCommit, ans.RuleFile)
		}
		var file struct {
			Groups []struct {
				Name  string
				Rules []map[string]any
			}
		}
		if err := yaml.Unmarshal([]byte(ans.RuleFile), &file); err != nil || len(file.Groups) != 1 || file.Groups[0].Rules[0]["expr"] != wantExpr {
			t.Errorf("ruleFile is not the groups as YAML (%v):\n%s", err, ans.RuleFile)
		}
		promtoolCheck(t, ans.RuleFile)
	})

	t.Run("a stage asked for by name gets rules without self-healing", func(t *testing.T) {
		ans := getAlertRules(t, ts, "?stage=dev&window=10m&for=0&severity=critical")
		if len(ans.Stages) != 1 || ans.Window != "10m" || ans.For != "0s" || ans.Severity != "critical" {
			t.Fatalf("answer %+v; want only dev with the asked options", ans)
		}
		dev := ans.Stages[0]
		if dev.Status != apitypes.AlertRulesGenerated || dev.RemediationEnabled {
			t.Fatalf("dev = %+v; want generated, self-healing off", dev)
		}
		rule := ans.Groups[0].Rules[0]
		if !strings.Contains(rule.Expr, "[600s]") || !strings.HasSuffix(rule.Expr, ">= 1000") || rule.For != "" || rule.Labels["severity"] != "critical" {
			t.Errorf("rule = %+v; want a 600s window, no for, severity critical", rule)
		}
	})

	t.Run("layered sli.yaml", func(t *testing.T) {
		sli := func(q string) map[string]string {
			return map[string]string{"prometheus/sli.yaml": "spec_version: \"1.0\"\nindicators:\n  response_time_p90: " + q + "\n"}
		}
		ts.putResource(t, "", sli("project_p90{stage='$STAGE'}"))
		if got := getAlertRules(t, ts, "").Groups[0].Rules[0].Expr; got != "project_p90{stage='production'} >= 1000" {
			t.Errorf("project level: expr %q", got)
		}
		ts.putResource(t, "/stage/production", sli("stage_p90{service='$SERVICE'}"))
		if got := getAlertRules(t, ts, "").Groups[0].Rules[0].Expr; got != "stage_p90{service='carts'} >= 1000" {
			t.Errorf("stage level overrides the project: expr %q", got)
		}
		ts.putResource(t, "/stage/production/service/carts", sli("svc_p90{job='$SERVICE-$PROJECT-$STAGE',window='$DURATION_SECONDS'}"))
		if got := getAlertRules(t, ts, "").Groups[0].Rules[0].Expr; got != "svc_p90{job='carts-sockshop-production',window='300s'} >= 1000" {
			t.Errorf("service level overrides the stage: expr %q", got)
		}
	})
}

// TestAlertRulesCustomIntakeLabels runs a server whose intake reads the
// labels team, env and app (tend.yaml intake.labels): the rules it
// generates must carry those names, so that an alert they raise reaches
// the intake matched and starts the service's remediation.
func TestAlertRulesCustomIntakeLabels(t *testing.T) {
	ts := startServer(t, sqliteBackend, func(o *api.Options) {
		o.Intake.Labels = intake.AlertmanagerOptions{ProjectLabel: "team", StageLabel: "env", ServiceLabel: "app", RootCauseLabel: "cause"}
	})
	ts.setupSelfHealing(t)
	tutorialSLO, err := os.ReadFile(filepath.Join("..", "..", "examples", "slo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ts.putResource(t, "/stage/production/service/carts", map[string]string{"slo.yaml": string(tutorialSLO)})

	ans := getAlertRules(t, ts, "")
	if len(ans.Groups) != 1 || len(ans.Groups[0].Rules) != 1 {
		t.Fatalf("groups %+v; want production's one rule", ans.Groups)
	}
	rule := ans.Groups[0].Rules[0]
	want := map[string]string{"team": "sockshop", "env": "production", "app": "carts", "severity": "warning"}
	if !maps.Equal(rule.Labels, want) {
		t.Errorf("labels %v; want the intake's names %v", rule.Labels, want)
	}
	var file struct {
		Groups []struct {
			Rules []struct {
				Labels map[string]string
			}
		}
	}
	if err := yaml.Unmarshal([]byte(ans.RuleFile), &file); err != nil || len(file.Groups) != 1 || len(file.Groups[0].Rules) != 1 ||
		!maps.Equal(file.Groups[0].Rules[0].Labels, want) {
		t.Errorf("ruleFile does not carry the labels %v (%v):\n%s", want, err, ans.RuleFile)
	}
	promtoolCheck(t, ans.RuleFile)

	// The alert as Alertmanager delivers it: the rule's labels plus
	// alertname, the rule's annotations.
	labels := maps.Clone(rule.Labels)
	labels["alertname"] = rule.Alert
	msg, err := json.Marshal(map[string]any{
		"version": "4", "groupKey": "{}:{}", "status": "firing", "receiver": "tend",
		"groupLabels": map[string]string{}, "commonLabels": map[string]string{}, "commonAnnotations": map[string]string{},
		"externalURL": "http://alertmanager:9093",
		"alerts": []map[string]any{{
			"status": "firing", "labels": labels, "annotations": rule.Annotations, "fingerprint": "bbbb000000000001",
			"startsAt": "2025-03-01T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus:9090/graph",
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := ts.wantAlerts(t, ts.mint(t, "am", "write", ""), msg)
	if statuses(got) != "started" || len(got.Unmatched) != 0 {
		t.Errorf("answer %+v; want the generated rule's alert to start the remediation", got)
	}
}

func TestAlertRulesStatuses(t *testing.T) {
	ts := startServer(t, sqliteBackend)
	ts.createProject(t, "sockshop", "carts")
	for _, tt := range []struct {
		name, slo, status, reason string
	}{
		{
			name:   "only relative criteria",
			slo:    "spec_version: \"1.0\"\nobjectives:\n  - sli: response_time_p90\n    pass:\n      - criteria: [\"<=+10%\"]\ntotal_score:\n  pass: \"90%\"\n",
			status: apitypes.AlertRulesNoRules, reason: "no objective with absolute pass criteria",
		},
		{
			name:   "an SLI without a query",
			slo:    "spec_version: \"1.0\"\nobjectives:\n  - sli: queue_depth\n    pass:\n      - criteria: [\"<100\"]\ntotal_score:\n  pass: \"90%\"\n",
			status: apitypes.AlertRulesInvalid, reason: `SLI "queue_depth"`,
		},
		{
			name:   "informational objectives only",
			slo:    "spec_version: \"1.0\"\nobjectives:\n  - sli: throughput\ntotal_score:\n  pass: \"90%\"\n",
			status: apitypes.AlertRulesNoRules, reason: "no objective with absolute pass criteria",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts.putResource(t, "/stage/production/service/carts", map[string]string{"slo.yaml": tt.slo})
			ans := getAlertRules(t, ts, "")
			prod := stageOf(t, ans, "production")
			if prod.Status != tt.status || !strings.Contains(prod.Reason, tt.reason) {
				t.Errorf("production = %+v; want status %s with a reason containing %q", prod, tt.status, tt.reason)
			}
			if ans.RuleFile != "" || len(ans.Groups) != 0 {
				t.Errorf("rules generated: %s", ans.RuleFile)
			}
		})
	}
}

// promtoolCheck runs `promtool check rules` on a rule file when promtool
// is installed (Debian's prometheus package), and in CI requires it.
func promtoolCheck(t *testing.T, ruleFile string) {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool is not installed; CI needs it (Debian package prometheus)")
		}
		t.Log("promtool is not installed; rule file not checked by Prometheus's own tool")
		return
	}
	path := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(path, []byte(ruleFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "check", "rules", path).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules: %v\n%s\n%s", err, out, ruleFile)
	}
}

// TestAlertRulesWithoutQueryBuilder shows an API built without
// Options.AlertQueries saying so, rather than failing obscurely: app always
// sets it, but an embedder might not.
func TestAlertRulesWithoutQueryBuilder(t *testing.T) {
	ts := startServer(t, sqliteBackend, func(o *api.Options) { o.AlertQueries = nil })
	ts.createProject(t, "sockshop", "carts")
	code, _, body := ts.do(t, http.MethodGet, alertRulesPath, ts.Admin, nil)
	if code != http.StatusNotImplemented {
		t.Fatalf("status %d %s; want 501", code, body)
	}
	if msg := wantError(t, code, body); !strings.Contains(msg, "AlertQueries") {
		t.Errorf("message %q; want it to name api.Options.AlertQueries", msg)
	}
}
