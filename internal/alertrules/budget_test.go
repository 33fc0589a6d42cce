package alertrules_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metricsql"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"gopkg.in/yaml.v3"

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

// slothDir returns the directory of the Sloth module tend builds with, in
// the module cache.
func slothDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/slok/sloth").Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		t.Skipf("the Sloth module is not in the module cache (go list -m: %v); run go mod download", err)
	}
	return dir
}

// slothExamples returns the example specs of the Sloth module.
func slothExamples(t *testing.T) []string {
	t.Helper()
	dir := slothDir(t)
	files, _ := filepath.Glob(filepath.Join(dir, "examples", "*.y*ml"))
	if len(files) == 0 {
		t.Fatalf("no examples in %s/examples", dir)
	}
	return files
}

// slothPluginsBudget returns a Budget with the Sloth module's example
// plugin directory, which holds the SLI plugin of its plugin-*.yml
// examples.
func slothPluginsBudget(t *testing.T) *alertrules.Budget {
	t.Helper()
	b, err := alertrules.NewBudgetWithPlugins([]string{filepath.Join(slothDir(t), "examples", "plugins")})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBudgetSlothExamples: every example spec of Sloth's module (Sloth,
// Kubernetes and OpenSLO formats) decodes, and its generated rules carry
// tend's labels and are valid for the Prometheus they are written for:
// promtool check rules passes, the UTF-8 label names of
// contrib-slo-plugins.yml pass Prometheus 3's rule validation, and
// victoria-metrics.yml's MetricsQL parses. The two examples whose SLI is a
// plugin load it from Sloth's examples/plugins folder, given as a plugin
// directory, while the examples of Sloth's built-in SLO plugins keep them.
func TestBudgetSlothExamples(t *testing.T) {
	b := slothPluginsBudget(t)
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
			rules := ruleYAML(t, groups)
			utf8Names := alertrules.Prometheus3LabelNames(groups)
			switch name {
			case "contrib-slo-plugins.yml":
				// The info-labels plugin adds names with '-', which
				// Prometheus reads from version 3 on.
				if !slices.Contains(utf8Names, "plug-l1") {
					t.Errorf("Prometheus3LabelNames = %v; want plug-l1 among them", utf8Names)
				}
				prometheus3Check(t, rules)
				promtoolRefuses(t, rules, "invalid label name: plug-l")
			case "victoria-metrics.yml":
				// Written in MetricsQL, for VictoriaMetrics' vmalert.
				metricsQLCheck(t, rules)
				promtoolRefuses(t, rules, "could not parse expr")
			default:
				if len(utf8Names) > 0 {
					t.Errorf("Prometheus3LabelNames = %v; want none", utf8Names)
				}
				promtoolCheck(t, rules)
			}
		})
	}
	for _, f := range []budget.Format{budget.FormatSloth, budget.FormatKubernetes, budget.FormatOpenSLO} {
		if formats[f] == 0 {
			t.Errorf("no example of format %s", f)
		}
	}
}

// TestBudgetSlothPluginMissing: without a plugin directory holding it, a
// spec naming an SLI plugin is refused with the plugin's name and where
// tend looks for plugins.
func TestBudgetSlothPluginMissing(t *testing.T) {
	for _, name := range []string{"plugin-getting-started.yml", "plugin-k8s-getting-started.yml"} {
		t.Run(name, func(t *testing.T) {
			data := readFile(t, filepath.Join(slothDir(t), "examples", name))
			_, err := budgetRules(t, alertrules.NewBudget(), name, data, budgetOpts)
			if !errors.Is(err, alertrules.ErrInvalid) || !strings.Contains(err.Error(), `plugin "getting_started_availability" not found`) || !strings.Contains(err.Error(), "budget.pluginDirs") {
				t.Fatalf("err = %v; want the missing SLI plugin named, and the plugin directory settings", err)
			}
		})
	}
}

// runbookSpec chains the SLO plugin of testdata/budget/plugins, and more
// when extra names another plugin.
func runbookSpec(extra string) string {
	return `version: prometheus/v1
service: carts
slos:
  - name: availability
    objective: 99.9
    plugins:
      chain:
        - {id: tend.test/runbook/v1, config: {url: "https://runbooks.example.com/carts"}}` + extra + `
    sli:
      events:
        error_query: sum(rate(http_requests_total{status=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))
    alerting: {name: CartsAvailability}
`
}

// TestBudgetSLOPluginDir: an SLO plugin of the operator's plugin directory
// runs on the SLOs that chain it; without the directory the spec is
// refused with the plugin named. A spec chaining it and one of Sloth's
// built-in plugins is refused with why.
func TestBudgetSLOPluginDir(t *testing.T) {
	b, err := alertrules.NewBudgetWithPlugins([]string{"testdata/budget/plugins"})
	if err != nil {
		t.Fatal(err)
	}
	groups, err := budgetRules(t, b, "slo/availability.yaml", []byte(runbookSpec("")), budgetOpts)
	if err != nil {
		t.Fatal(err)
	}
	if len(alertrules.BudgetAlerts(groups)) == 0 {
		t.Fatal("no alerts")
	}
	for _, g := range groups {
		for _, r := range g.Rules {
			if r.Alert != "" && r.Annotations["runbook_url"] != "https://runbooks.example.com/carts" {
				t.Errorf("alert %s: annotations %v lack the plugin's runbook_url", r.Alert, r.Annotations)
			}
		}
	}
	promtoolCheck(t, ruleYAML(t, groups))

	_, err = budgetRules(t, alertrules.NewBudget(), "slo/availability.yaml", []byte(runbookSpec("")), budgetOpts)
	if !errors.Is(err, alertrules.ErrInvalid) || !strings.Contains(err.Error(), `plugin "tend.test/runbook/v1" not found`) || !strings.Contains(err.Error(), "--plugins-dir") {
		t.Errorf("without the plugin directory: %v; want the plugin named and where tend finds plugins", err)
	}
	mixed := runbookSpec("\n        - {id: sloth.dev/contrib/info_labels/v1, config: {labels: {team: shop}}}")
	_, err = budgetRules(t, b, "slo/availability.yaml", []byte(mixed), budgetOpts)
	if !errors.Is(err, alertrules.ErrInvalid) || !strings.Contains(err.Error(), `plugin "sloth.dev/contrib/info_labels/v1" not found`) || !strings.Contains(err.Error(), "without Sloth's built-in") {
		t.Errorf("with a built-in plugin too: %v; want the built-in plugin named and why", err)
	}
}

// TestBudgetPluginDirs: a plugin directory that is missing, is a file or
// holds a plugin file that does not load is refused when the Budget is
// built, naming it, and so are directories holding one plugin twice.
func TestBudgetPluginDirs(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(dir, "broken")
	if err := os.MkdirAll(filepath.Join(broken, "p"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(broken, "p", "plugin.go"), []byte("package plugin\n\nthis is not Go\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ dir, want string }{
		{filepath.Join(dir, "missing"), "no such file or directory"},
		{file, "not a directory"},
		{"", "plugin directory is empty"},
		{broken, `could not load "p/plugin.go"`},
	} {
		_, err := alertrules.NewBudgetWithPlugins([]string{t.TempDir(), tc.dir})
		if err == nil || !strings.Contains(err.Error(), "plugin directory "+tc.dir) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewBudgetWithPlugins(%q) = %v; want an error naming the directory and %q", tc.dir, err, tc.want)
		}
	}
	// Two directories may not hold the same plugin.
	plugins := filepath.Join(slothDir(t), "examples", "plugins")
	if _, err := alertrules.NewBudgetWithPlugins([]string{plugins, plugins}); err == nil || !strings.Contains(err.Error(), `plugin "getting_started_availability" already loaded`) {
		t.Errorf("the same plugin twice: %v; want it refused", err)
	}
	if _, err := alertrules.NewBudgetWithPlugins([]string{t.TempDir()}); err != nil {
		t.Errorf("an empty plugin directory: %v", err)
	}
}

// prometheus3Check validates a rule file as Prometheus 3's promtool check
// rules does, with UTF-8 label names allowed.
func prometheus3Check(t testing.TB, data []byte) {
	t.Helper()
	if _, errs := rulefmt.Parse(data, false, model.UTF8Validation); len(errs) > 0 {
		t.Fatalf("Prometheus 3 refuses the rules: %v\n%s", errors.Join(errs...), data)
	}
}

// metricsQLCheck validates a rule file written for VictoriaMetrics'
// vmalert: Prometheus 3's rule validation finds nothing wrong but
// expressions that are not PromQL, and every expression is MetricsQL.
func metricsQLCheck(t testing.TB, data []byte) {
	t.Helper()
	_, errs := rulefmt.Parse(data, false, model.UTF8Validation)
	if len(errs) == 0 {
		t.Error("every expression is PromQL; want some MetricsQL that Prometheus cannot read")
	}
	for _, err := range errs {
		if !strings.Contains(err.Error(), "could not parse expression") {
			t.Errorf("rule file: %v", err)
		}
	}
	var file alertrules.RuleFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			n++
			if _, err := metricsql.Parse(r.Expr); err != nil {
				t.Errorf("rule %s%s: not MetricsQL: %v\n%s", r.Record, r.Alert, err, r.Expr)
			}
		}
	}
	if n == 0 {
		t.Error("no rules")
	}
}

// promtoolRefuses checks that promtool check rules either accepts the
// rules (a newer promtool) or refuses them for reason only: every problem
// it reports (a line naming the file) contains reason.
func promtoolRefuses(t testing.TB, data []byte, reason string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(testenv.Promtool(t), "check", "rules", path).CombinedOutput()
	if err == nil {
		return
	}
	problems := 0
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(line, path+":") {
			continue
		}
		problems++
		if !strings.Contains(line, reason) {
			t.Errorf("promtool check rules refuses the rules for more than %q: %s", reason, line)
		}
	}
	if problems == 0 {
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
