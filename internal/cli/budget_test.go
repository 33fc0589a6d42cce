package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/testenv"
)

const cartsBudget = "../../examples/slo/carts-availability.yaml"

// TestGenerateAlertRulesBudget: --budget alone prints Sloth's rules of the
// spec, and beside --slo they follow the threshold rules in one file.
func TestGenerateAlertRulesBudget(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"budget", []string{"--budget", cartsBudget}},
		{"slo-and-budget", []string{"--slo", tutorialSLO, "--sli", tutorialSLI, "--budget", cartsBudget}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"generate", "alert-rules", "--project", "sockshop", "--stage", "production", "--service", "carts"}, tt.args...)
			r := runTend(t, "", args...)
			if r.code != ExitOK {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			checkGolden(t, "generate-alert-rules-"+tt.name+".yaml", r.stdout)
			path := filepath.Join(t.TempDir(), "rules.yml")
			if err := os.WriteFile(path, []byte(r.stdout), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(testenv.Promtool(t), "check", "rules", path).CombinedOutput(); err != nil {
				t.Fatalf("promtool check rules: %v\n%s", err, out)
			}
		})
	}
}

func TestGenerateAlertRulesBudgetInvalid(t *testing.T) {
	path := filepath.Join(t.TempDir(), "availability.yaml")
	if err := os.WriteFile(path, []byte("version: prometheus/v1\nservice: carts\nslos:\n  - name: availability\n    objective: 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runTend(t, "", "generate", "alert-rules", "--project", "p", "--stage", "s", "--service", "x", "--budget", path)
	if r.code != ExitBadInput || r.stdout != "" {
		t.Fatalf("exit %d, stdout %q; want 2 and nothing", r.code, r.stdout)
	}
	for _, want := range []string{path + ":5:16: slos[0].objective must be a percentage", path + ":4:5: slos[0].sli is missing"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr %q lacks %q", r.stderr, want)
		}
	}
	r = runTend(t, "", "generate", "alert-rules", "--project", "p", "--stage", "s", "--service", "x", "--budget", cartsBudget, "--sli", tutorialSLI)
	if r.code != ExitBadInput {
		t.Errorf("--sli without --slo: exit %d, stderr %q", r.code, r.stderr)
	}
}

// slothExample returns the path of an example spec of the Sloth module
// tend builds with, in the module cache.
func slothExample(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/slok/sloth").Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		t.Skipf("the Sloth module is not in the module cache (go list -m: %v); run go mod download", err)
	}
	return filepath.Join(dir, "examples", name)
}

// TestGenerateAlertRulesPluginsDir: --plugins-dir loads the Sloth plugin a
// --budget spec names, and the rules pass promtool; without it the spec
// is refused with the plugin named. A directory that is not one, or the
// flag without --budget, is refused.
func TestGenerateAlertRulesPluginsDir(t *testing.T) {
	spec := slothExample(t, "plugin-getting-started.yml")
	plugins := slothExample(t, "plugins")
	args := []string{"generate", "alert-rules", "--project", "sockshop", "--stage", "production", "--service", "carts", "--budget", spec}

	r := runTend(t, "", append(args, "--plugins-dir", plugins)...)
	if r.code != ExitOK || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, `job="myservice"`) {
		t.Errorf("the rules lack the plugin's query:\n%s", r.stdout)
	}
	path := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(path, []byte(r.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(testenv.Promtool(t), "check", "rules", path).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}

	missing := filepath.Join(t.TempDir(), "missing")
	for _, tt := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"without it", args, ExitBadInput, `plugin "getting_started_availability" not found`},
		{"missing directory", append(args, "--plugins-dir", plugins, "--plugins-dir", missing), ExitBadInput, "--plugins-dir: plugin directory " + missing},
		{"without --budget", []string{"generate", "alert-rules", "--project", "p", "--stage", "s", "--service", "x", "--slo", tutorialSLO, "--plugins-dir", plugins}, ExitBadInput, "--plugins-dir applies with --budget only"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := runTend(t, "", tt.args...)
			if r.code != tt.code || r.stdout != "" || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and %q", r.code, r.stdout, r.stderr, tt.code, tt.want)
			}
		})
	}
}

// TestGenerateAlertRulesPrometheus3Warning: rules with label names that
// only Prometheus 3 accepts are printed with a warning naming them.
func TestGenerateAlertRulesPrometheus3Warning(t *testing.T) {
	r := runTend(t, "", "generate", "alert-rules", "--project", "sockshop", "--stage", "production", "--service", "carts",
		"--budget", slothExample(t, "contrib-slo-plugins.yml"))
	if r.code != ExitOK || !strings.Contains(r.stdout, "plug-l1: in-k1") {
		t.Fatalf("exit %d, stderr %q, stdout:\n%s", r.code, r.stderr, r.stdout)
	}
	if want := "warning: the rules use label names that only Prometheus 3 and later accept (plug-l1, plug-l2, plug-l3)"; !strings.Contains(r.stderr, want) {
		t.Errorf("stderr %q lacks %q", r.stderr, want)
	}
}

// TestValidateBudget: tend validate reads budget SLO files by their header
// or their slo/ folder.
func TestValidateBudget(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "slo")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "latency.yaml")
	if err := os.WriteFile(bad, []byte("service: carts\nslos: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runTend(t, "", "validate", cartsBudget, bad)
	if r.code != ExitBadInput || !strings.Contains(r.stdout, bad+":1:1: not a budget SLO document") || strings.Contains(r.stdout, cartsBudget) {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}
