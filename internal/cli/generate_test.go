package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/testenv"
)

// The tutorial's files, as the README's quickstart uses them.
const (
	tutorialSLO = "../../examples/slo.yaml"
	tutorialSLI = "../../examples/prometheus/sli.yaml"
)

func TestGenerateAlertRules(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"tutorial", []string{"--slo", tutorialSLO, "--sli", tutorialSLI}},
		{"tutorial-builtin", []string{"--slo", tutorialSLO, "--window", "10m", "--for", "0", "--severity", "critical"}},
		{"tutorial-prometheusrule", []string{"--slo", tutorialSLO, "--sli", tutorialSLI, "--format", "prometheusrule", "--label", "release=prometheus", "--namespace", "monitoring"}},
		{"custom-label-names", []string{"--slo", tutorialSLO, "--sli", tutorialSLI, "--project-label", "team", "--stage-label", "env", "--service-label", "app"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"generate", "alert-rules", "--project", "sockshop", "--stage", "production", "--service", "carts"}, tt.args...)
			r := runTend(t, "", args...)
			if r.code != ExitOK {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			checkGolden(t, "generate-alert-rules-"+tt.name+".yaml", r.stdout)
			checkGolden(t, "generate-alert-rules-"+tt.name+".stderr", r.stderr)
			if !strings.Contains(tt.name, "prometheusrule") {
				promtool := testenv.Promtool(t)
				path := filepath.Join(t.TempDir(), "rules.yml")
				if err := os.WriteFile(path, []byte(r.stdout), 0o644); err != nil {
					t.Fatal(err)
				}
				if out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput(); err != nil {
					t.Fatalf("promtool check rules: %v\n%s", err, out)
				}
			}
		})
	}
}

func TestGenerateAlertRulesStdin(t *testing.T) {
	slo, err := os.ReadFile(tutorialSLO)
	if err != nil {
		t.Fatal(err)
	}
	r := runTend(t, string(slo), "generate", "alert-rules", "--slo", "-", "--project", "p", "--stage", "s", "--service", "x")
	if r.code != ExitOK || !strings.Contains(r.stdout, "job='x-p-s'") {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestGenerateAlertRulesBadInput(t *testing.T) {
	base := []string{"generate", "alert-rules", "--project", "sockshop", "--stage", "production", "--service", "carts"}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"missing flags", []string{"generate", "alert-rules", "--slo", tutorialSLO}, []string{`required flag(s) "project", "service", "stage" not set`}},
		{"invalid SLO", append(base, "--slo", "testdata/generate/broken.slo.yaml"), []string{"broken.slo.yaml:4:", "is not a usable SLO file"}},
		{"missing SLO file", append(base, "--slo", "testdata/generate/nope.yaml"), []string{"nope.yaml: cannot read file"}},
		{"invalid SLI file", append(base, "--slo", tutorialSLO, "--sli", "testdata/generate/broken.sli.yaml"), []string{"broken.sli.yaml:3:", "is not a usable SLI file"}},
		{"SLI without a query", append(base, "--slo", "testdata/generate/unknown-sli.slo.yaml"), []string{`SLI "queue_depth": no query configured`}},
		{"unknown format", append(base, "--slo", tutorialSLO, "--format", "json"), []string{`unknown format "json"`}},
		{"label without prometheusrule", append(base, "--slo", tutorialSLO, "--label", "a=b"), []string{"apply to --format prometheusrule only"}},
		{"bad label", append(base, "--slo", tutorialSLO, "--format", "prometheusrule", "--label", "a b"), []string{`--label "a b": want KEY=VALUE`}},
		{"short window", append(base, "--slo", tutorialSLO, "--window", "10ms"), []string{"window 10ms is shorter than one second"}},
		{"empty project", []string{"generate", "alert-rules", "--slo", tutorialSLO, "--project", "", "--stage", "s", "--service", "x"}, []string{"the project is empty"}},
		{"empty label name", append(base, "--slo", tutorialSLO, "--stage-label", ""), []string{"--stage-label is empty"}},
		{"two flags name one label", append(base, "--slo", tutorialSLO, "--project-label", "app", "--service-label", "app"),
			[]string{`the project and service label names are both "app"`}},
		{"label names without --slo", append(base, "--service-label", "app"), []string{"apply with --slo only", "intake.labels"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runTend(t, "", tt.args...)
			if r.code != ExitBadInput {
				t.Fatalf("exit %d, want %d; stderr %q", r.code, ExitBadInput, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr %q lacks %q", r.stderr, w)
				}
			}
		})
	}
}

func TestGenerateAlertmanagerConfig(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("intake-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(base, []byte("# ours\nroute:\n  receiver: team # default\nreceivers:\n  - name: team\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEND_TEST_INTAKE_TOKEN", "env-secret")
	common := []string{"generate", "alertmanager-config", "--project", "sockshop", "--intake-url", "http://tend.example:8080"}
	tests := []struct {
		name, stdin string
		args        []string
		want        []string
		notWant     []string
		warning     string
	}{
		{name: "inline token", args: []string{"--intake-token", "plain-secret"},
			want: []string{"credentials: plain-secret", `receiver: "null"`, "url: http://tend.example:8080/api/v1/integrations/alertmanager", `matchers: [project="sockshop"]`}},
		{name: "token from the environment", args: []string{"--intake-token", "env:TEND_TEST_INTAKE_TOKEN"}, want: []string{"credentials: env-secret"}},
		{name: "token from standard input", stdin: "stdin-secret\n", args: []string{"--intake-token", "-"}, want: []string{"credentials: stdin-secret"}},
		{name: "token file becomes credentials_file", args: []string{"--intake-token", "file:" + tokenFile},
			want: []string{"credentials_file: " + tokenFile}, notWant: []string{"intake-secret"}},
		{name: "token file missing here", args: []string{"--intake-token", "file:/nonexistent/token"},
			want: []string{"credentials_file: /nonexistent/token"}, warning: "warning: --intake-token file:/nonexistent/token: no such file or directory"},
		{name: "merge", args: []string{"--intake-token", "file:" + tokenFile, "--merge", base, "--receiver-name", "tend-sockshop"},
			want: []string{"# ours", "receiver: team # default", "- receiver: tend-sockshop", "continue: true", "- name: tend-sockshop"}},
		{name: "custom label names", args: []string{"--intake-token", "t", "--project-label", "team", "--stage-label", "env", "--service-label", "app"},
			want: []string{`matchers: [team="sockshop"]`, "group_by: [alertname, team, env, app]"}, notWant: []string{`project="sockshop"`}},
		{name: "custom label names merged", args: []string{"--intake-token", "t", "--merge", base, "--project-label", "k8s_namespace"},
			want: []string{`matchers: [k8s_namespace="sockshop"]`, "# ours"}, notWant: []string{`project="sockshop"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runTend(t, tt.stdin, append(common, tt.args...)...)
			if r.code != ExitOK {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.warning) || (tt.warning == "" && r.stderr != "") {
				t.Errorf("stderr %q, want %q", r.stderr, tt.warning)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("output lacks %q:\n%s", w, r.stdout)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(r.stdout, w) {
					t.Errorf("output has %q:\n%s", w, r.stdout)
				}
			}
			amtool := testenv.Amtool(t)
			path := filepath.Join(t.TempDir(), "alertmanager.yml")
			if err := os.WriteFile(path, []byte(r.stdout), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(amtool, "check-config", path).CombinedOutput(); err != nil {
				t.Fatalf("amtool check-config: %v\n%s\n%s", err, out, r.stdout)
			}
		})
	}
}

func TestGenerateAlertmanagerConfigBadInput(t *testing.T) {
	common := []string{"generate", "alertmanager-config", "--project", "sockshop"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing flags", []string{"generate", "alertmanager-config"}, `required flag(s) "intake-token", "intake-url", "project" not set`},
		{"bad URL", append(common, "--intake-url", "tend:8080", "--intake-token", "t"), `intake URL "tend:8080" is not an http(s) URL`},
		{"unset variable", append(common, "--intake-url", "http://t", "--intake-token", "env:TEND_TEST_UNSET_VARIABLE"), "TEND_TEST_UNSET_VARIABLE is not set"},
		{"missing merge file", append(common, "--intake-url", "http://t", "--intake-token", "t", "--merge", "/nonexistent/am.yml"), "/nonexistent/am.yml: cannot read file"},
		{"merge file without route", append(common, "--intake-url", "http://t", "--intake-token", "t", "--merge", tutorialSLO), "no route: block"},
		{"both from stdin", append(common, "--intake-url", "http://t", "--intake-token", "-", "--merge", "-"), "both want standard input"},
		{"receiver name with a space", append(common, "--intake-url", "http://t", "--intake-token", "t", "--receiver-name", "a b"), `--receiver-name "a b"`},
		{"empty label name", append(common, "--intake-url", "http://t", "--intake-token", "t", "--project-label", " "), "--project-label is empty"},
		{"label name with a space", append(common, "--intake-url", "http://t", "--intake-token", "t", "--service-label", "app name"), `the service label name "app name" has a space`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runTend(t, "", tt.args...)
			if r.code != ExitBadInput {
				t.Fatalf("exit %d, want %d; stderr %q", r.code, ExitBadInput, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr %q lacks %q", r.stderr, tt.want)
			}
		})
	}
}
