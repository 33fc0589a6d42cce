package alertrules_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/alertrules"
	"github.com/tendhq/tend/internal/budget"
	"github.com/tendhq/tend/internal/testenv"
)

var budgetOpts = alertrules.Options{Project: "sockshop", Stage: "production", Service: "carts"}

// budgetRules decodes data and generates its rules.
func budgetRules(t testing.TB, b *alertrules.Budget, name string, data []byte, opts alertrules.Options) ([]alertrules.Group, error) {
	t.Helper()
	f, diags := budget.Decode(name, data)
	if f == nil {
		t.Fatalf("decode %s:\n%s", name, diags.Error())
	}
	return b.GenerateBudget(context.Background(), []alertrules.BudgetFile{{Name: name, File: f}}, opts)
}

func ruleYAML(t testing.TB, groups []alertrules.Group) []byte {
	t.Helper()
	out, err := (&alertrules.RuleFile{Groups: groups}).YAML("")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// slothExamples returns the example specs of the Sloth module tend builds
// with, from the module cache.
func slothExamples(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/slok/sloth").Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		t.Skipf("the Sloth module is not in the module cache (go list -m: %v); run go mod download", err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "examples", "*.y*ml"))
	if len(files) == 0 {
		t.Fatalf("no examples in %s/examples", dir)
	}
	return files
}

// TestBudgetSlothExamples: every example spec of Sloth's module (Sloth,
// Kubernetes and OpenSLO formats) decodes, and its generated rules carry
// tend's labels and pass promtool check rules. The two examples whose SLI
// is a plugin loaded from Sloth's examples/plugins folder are refused with
// the plugin's name: tend runs Sloth's embedded plugins only.
func TestBudgetSlothExamples(t *testing.T) {
	b := alertrules.NewBudget()
	formats := map[budget.Format]int{}
	for _, path := range slothExamples(t) {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f, diags := budget.Decode(name, data)
			if f == nil {
				t.Fatalf("decode:\n%s", diags.Error())
			}
			for _, d := range f.Docs {
				formats[d.Format]++
			}
			groups, err := b.GenerateBudget(context.Background(), []alertrules.BudgetFile{{Name: name, File: f}}, budgetOpts)
			if strings.HasPrefix(name, "plugin-") {
				if !errors.Is(err, alertrules.ErrInvalid) || !strings.Contains(err.Error(), `plugin "getting_started_availability" not found`) {
					t.Fatalf("err = %v; want the missing SLI plugin named", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			alerts := 0
			for _, g := range groups {
				if !strings.HasPrefix(g.Name, "tend-sockshop-production-carts-sloth-slo-") {
					t.Errorf("group %q lacks tend's prefix", g.Name)
				}
				for _, r := range g.Rules {
					if r.Labels["project"] != "sockshop" || r.Labels["stage"] != "production" || r.Labels["service"] != "carts" {
						t.Errorf("rule %s%s: labels %v lack tend's", r.Record, r.Alert, r.Labels)
					}
					if r.Alert != "" {
						alerts++
						if want := budget.ProblemType(r.Alert, r.Labels[alertrules.SeverityLabel]); r.Annotations["summary"] != want {
							t.Errorf("alert %s: summary %q, want %q", r.Alert, r.Annotations["summary"], want)
						}
					}
				}
			}
			if alerts == 0 && name != "no-alerts.yml" {
				t.Error("no alert generated")
			}
			if reason, ok := notForPrometheus2[name]; ok {
				promtoolRefuses(t, ruleYAML(t, groups), reason)
				return
			}
			promtoolCheck(t, ruleYAML(t, groups))
		})
	}
	for _, f := range []budget.Format{budget.FormatSloth, budget.FormatKubernetes, budget.FormatOpenSLO} {
		if formats[f] == 0 {
			t.Errorf("no example of format %s", f)
		}
	}
}

// notForPrometheus2 are Sloth's examples whose rules Prometheus 2's
// promtool (Debian's, which the tests use) refuses because of the example
// itself, with the text its refusal must contain: victoria-metrics.yml
// is written in VictoriaMetrics' MetricsQL, and contrib-slo-plugins.yml's
// info-labels plugin adds label names with '-', which Prometheus reads
// from version 3 on.
var notForPrometheus2 = map[string]string{
	"victoria-metrics.yml":    "could not parse expr",
	"contrib-slo-plugins.yml": "invalid label name: plug-l1",
}

// promtoolRefuses checks that promtool check rules either accepts the
// rules (a newer promtool) or refuses them for reason.
func promtoolRefuses(t testing.TB, data []byte, reason string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(testenv.Promtool(t), "check", "rules", path).CombinedOutput()
	if err != nil && !strings.Contains(string(out), reason) {
		t.Fatalf("promtool check rules: %v; want it refused only for %q:\n%s", err, reason, out)
	}
}

// TestBudgetTendLabelsWin: a spec that sets project, stage and service
// labels of its own (on the SLOs and on the alerts) gets tend's values on
// every rule, so the alerts reach the intake placed where tend stores the
// spec.
func TestBudgetTendLabelsWin(t *testing.T) {
	spec := `version: prometheus/v1
service: carts
labels: {project: other, stage: dev, team: shop}
slos:
  - name: availability
    objective: 99.9
    labels: {service: carts-api}
    sli:
      events:
        error_query: sum(rate(http_requests_total{status=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))
    alerting:
      name: CartsAvailability
      labels: {service: frontend}
      annotations: {summary: "Carts fails"}
      page_alert:
        labels: {project: elsewhere, stage: qa}
`
	groups, err := budgetRules(t, alertrules.NewBudget(), "slo/availability.yaml", []byte(spec), budgetOpts)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range groups {
		for _, r := range g.Rules {
			n++
			if r.Labels["project"] != "sockshop" || r.Labels["stage"] != "production" || r.Labels["service"] != "carts" {
				t.Errorf("rule %s%s: labels %v; want tend's project, stage and service", r.Record, r.Alert, r.Labels)
			}
			if r.Record != "" && r.Labels["team"] != "shop" {
				t.Errorf("rule %s lost the spec's own label team: %v", r.Record, r.Labels)
			}
			if r.Alert != "" && (r.Annotations["summary"] != "CartsAvailability-"+r.Labels["sloth_severity"] || r.Annotations["description"] != "Carts fails") {
				t.Errorf("alert %s: annotations %v; want the problem type as summary and the spec's summary as description", r.Alert, r.Annotations)
			}
		}
	}
	if n == 0 {
		t.Fatal("no rules")
	}
	promtoolCheck(t, ruleYAML(t, groups))
}

// TestBudgetLabelNames: the server's intake may read other label names.
func TestBudgetLabelNames(t *testing.T) {
	opts := budgetOpts
	opts.Labels = alertrules.LabelNames{Project: "team", Stage: "env", Service: "app"}
	groups, err := budgetRules(t, alertrules.NewBudget(), "carts.yaml", readFile(t, "testdata/budget/carts.yaml"), opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		for _, r := range g.Rules {
			if r.Labels["team"] != "sockshop" || r.Labels["env"] != "production" || r.Labels["app"] != "carts" {
				t.Errorf("rule %s%s: labels %v", r.Record, r.Alert, r.Labels)
			}
		}
	}
}

// TestBudgetDefaultAlertNames: a Sloth SLO without alerting.name, and an
// OpenSLO objective (which has no place for one), alert as
// budget.DefaultAlertName.
func TestBudgetDefaultAlertNames(t *testing.T) {
	for _, tc := range []struct{ name, spec, want string }{
		{"sloth without alerting", `version: prometheus/v1
service: carts
slos:
  - name: availability
    objective: 99.5
    sli:
      raw:
        error_ratio_query: sum(rate(errors_total[{{.window}}])) / sum(rate(requests_total[{{.window}}]))
`, "CartsAvailabilityBudgetBurn"},
		{"openslo", `apiVersion: openslo/v1alpha
kind: SLO
metadata:
  name: availability
spec:
  service: carts
  budgetingMethod: Occurrences
  timeWindows: [{count: 28, unit: Day}]
  objectives:
    - target: 0.995
      ratioMetrics:
        good: {source: prometheus, queryType: promql, query: 'sum(rate(http_requests_total{status!~"5.."}[{{.window}}]))'}
        total: {source: prometheus, queryType: promql, query: 'sum(rate(http_requests_total[{{.window}}]))'}
`, "CartsAvailability0BudgetBurn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			groups, err := budgetRules(t, alertrules.NewBudget(), "slo/x.yaml", []byte(tc.spec), budgetOpts)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(alertrules.BudgetAlerts(groups), " ")
			if want := tc.want + "-page " + tc.want + "-ticket"; got != want {
				t.Errorf("alerts %q, want %q", got, want)
			}
			promtoolCheck(t, ruleYAML(t, groups))
		})
	}
}

// TestBudgetErrors: options without a place, and two files with the same
// SLO, are refused.
func TestBudgetErrors(t *testing.T) {
	b := alertrules.NewBudget()
	data := readFile(t, "testdata/budget/carts.yaml")
	if _, err := budgetRules(t, b, "carts.yaml", data, alertrules.Options{Project: "sockshop"}); !errors.Is(err, alertrules.ErrInvalid) || !strings.Contains(err.Error(), "the stage is empty") {
		t.Errorf("err = %v; want the empty stage named", err)
	}
	f, _ := budget.Decode("a.yaml", data)
	_, err := b.GenerateBudget(context.Background(), []alertrules.BudgetFile{{Name: "slo/a.yaml", File: f}, {Name: "slo/b.yaml", File: f}}, budgetOpts)
	if !errors.Is(err, alertrules.ErrInvalid) || !strings.Contains(err.Error(), "slo/a.yaml") {
		t.Errorf("err = %v; want the collision with slo/a.yaml named", err)
	}
}

// TestBudgetPromtoolUnitTests runs testdata/budget/carts.promtool.yml: with
// synthetic series, 100% errors fire the page alert within its 5-minute
// short window, and a burn rate of 2 opens the ticket alert only.
func TestBudgetPromtoolUnitTests(t *testing.T) {
	promtool := testenv.Promtool(t)
	groups, err := budgetRules(t, alertrules.NewBudget(), "carts.yaml", readFile(t, "testdata/budget/carts.yaml"), budgetOpts)
	if err != nil {
		t.Fatal(err)
	}
	out := ruleYAML(t, groups)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yml"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tests.yml"), readFile(t, "testdata/budget/carts.promtool.yml"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(promtool, "test", "rules", "tests.yml")
	cmd.Dir = dir
	if combined, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s\nrules:\n%s", err, combined, out)
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
