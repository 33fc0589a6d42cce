package alertrules_test

import (
	"errors"
	"flag"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/alertrules"
	"github.com/tendhq/tend/internal/sli/prometheus"
	"github.com/tendhq/tend/internal/slo"
	"github.com/tendhq/tend/internal/spec"
	"github.com/tendhq/tend/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// querier is the Prometheus provider, used only for its queries.
func querier(t testing.TB) alertrules.Querier {
	t.Helper()
	p, err := prometheus.New(prometheus.Config{URL: "http://prometheus.invalid"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func readSLO(t testing.TB, path string) *slo.SLO {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, diags := spec.DecodeSLO(path, data)
	if s == nil || diags.HasErrors() {
		t.Fatalf("%s: %v", path, diags)
	}
	return s
}

func readSLI(t testing.TB, path string) map[string]string {
	t.Helper()
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, diags := spec.DecodeSLI(path, data)
	if f == nil || diags.HasErrors() {
		t.Fatalf("%s: %v", path, diags)
	}
	return f.Indicators
}

func checkGolden(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if string(got) != string(want) {
		t.Errorf("output differs from %s (run go test -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// promtoolCheck runs promtool check rules on data.
func promtoolCheck(t testing.TB, data []byte) {
	t.Helper()
	promtool := testenv.Promtool(t)
	path := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s\n%s", err, out, data)
	}
}

var defaultOpts = alertrules.Options{Project: "sockshop", Stage: "production", Service: "carts", For: 2 * time.Minute}

// TestGenerateGolden generates rules from the files in testdata (and the
// tutorial's examples), compares them with golden files (warnings as
// trailing comments) and has promtool check each.
func TestGenerateGolden(t *testing.T) {
	tests := []struct {
		name, slo, sli string
		format         string
		opts           func(*alertrules.Options)
	}{
		{name: "tutorial", slo: "../../examples/slo.yaml", sli: "../../examples/prometheus/sli.yaml"},
		{name: "tutorial-builtin", slo: "../../examples/slo.yaml"},
		{name: "operators", slo: "testdata/operators.slo.yaml", sli: "testdata/operators.sli.yaml"},
		{name: "filters", slo: "testdata/filters.slo.yaml"},
		{name: "custom", slo: "testdata/custom.slo.yaml", sli: "testdata/custom.sli.yaml",
			opts: func(o *alertrules.Options) { o.Window = 90 * time.Second; o.For = 0; o.Severity = "critical" }},
		{name: "tutorial-prometheusrule", slo: "../../examples/slo.yaml", sli: "../../examples/prometheus/sli.yaml", format: "prometheusrule",
			opts: func(o *alertrules.Options) { o.For = 10 * time.Minute }},
		// The intake configured with intake.labels {project: team, stage:
		// env, service: app}: the rules must carry those names.
		{name: "custom-label-names", slo: "../../examples/slo.yaml", sli: "../../examples/prometheus/sli.yaml",
			opts: func(o *alertrules.Options) {
				o.Labels = alertrules.LabelNames{Project: "team", Stage: "env", Service: "app"}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := defaultOpts
			opts.Queries = readSLI(t, tt.sli)
			if tt.opts != nil {
				tt.opts(&opts)
			}
			rules, warnings, err := alertrules.Generate(readSLO(t, tt.slo), querier(t), opts)
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			var out []byte
			if tt.format == "prometheusrule" {
				out, err = rules.Manifest("monitoring", map[string]string{"release": "prometheus"}).YAML("test header")
			} else {
				out, err = rules.YAML("test header")
			}
			if err != nil {
				t.Fatal(err)
			}
			got := string(out)
			for _, w := range warnings {
				got += "# warning: " + w + "\n"
			}
			checkGolden(t, tt.name+".yml", []byte(got))
			if tt.format == "" {
				promtoolCheck(t, out)
			} else {
				// promtool reads the groups of the manifest's spec.
				spec, err := rules.YAML("")
				if err != nil {
					t.Fatal(err)
				}
				promtoolCheck(t, spec)
			}
		})
	}
}

// TestOperatorInversion checks each operator's violation, boundary
// included, and how blocks combine.
func TestOperatorInversion(t *testing.T) {
	tests := []struct {
		name string
		pass []slo.Block
		want string
	}{
		{"less alerts at the boundary", blocks("<1000"), "q >= 1000"},
		{"less or equal alerts above", blocks("<=1000"), "q > 1000"},
		{"greater or equal alerts below", blocks(">=5"), "q < 5"},
		{"greater alerts at the boundary", blocks(">5"), "q <= 5"},
		{"equal alerts on any other value", blocks("=5"), "q != 5"},
		{"decimals keep their digits", blocks("<0.005"), "q >= 0.005"},
		{"spaces in the criterion do not matter", blocks("< 1000"), "q >= 1000"},
		{"criteria of one block: any violation fires", blocks("<100", ">10"), "q >= 100 or q <= 10"},
		{"blocks: all must be violated", append(blocks("<100"), blocks("=500")...), "q >= 100 and q != 500"},
		{"blocks of several criteria get parentheses", append(blocks("<100", ">10"), blocks("=500")...), "(q >= 100 or q <= 10) and q != 500"},
		{"relative criteria of a mixed block are left out", blocks("<=+10%", "<1000", ">-5"), "q >= 1000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &slo.SLO{Objectives: []slo.Objective{{SLI: "x", Weight: 1, Pass: tt.pass}}}
			opts := defaultOpts
			opts.Queries = map[string]string{"x": "q"}
			rules, _, err := alertrules.Generate(s, querier(t), opts)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(rules.Groups[0].Rules); n != 1 {
				t.Fatalf("%d rules, want 1", n)
			}
			if got := rules.Groups[0].Rules[0].Expr; got != tt.want {
				t.Errorf("expr %q, want %q", got, tt.want)
			}
		})
	}
}

func blocks(criteria ...string) []slo.Block {
	var b slo.Block
	for _, c := range criteria {
		cr, err := slo.ParseCriterion(c)
		if err != nil {
			panic(err)
		}
		b = append(b, cr)
	}
	return []slo.Block{b}
}

// TestNoRule covers objectives that cannot become rules and the warning
// each gives.
func TestNoRule(t *testing.T) {
	tests := []struct {
		name    string
		obj     slo.Objective
		warning string // "" for none
	}{
		{"informational", slo.Objective{SLI: "x"}, ""},
		{"only relative criteria", slo.Objective{SLI: "x", Pass: blocks("<=+10%")}, `only relative criteria ("<=+10%")`},
		{"a block with only relative criteria", slo.Objective{SLI: "x", Pass: append(blocks("<100"), blocks("<=10%")...)}, `pass block 2: only relative criteria`},
		{"an empty block", slo.Objective{SLI: "x", Pass: []slo.Block{{}}}, "an empty criteria list is always met"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &slo.SLO{Objectives: []slo.Objective{tt.obj}}
			opts := defaultOpts
			opts.Queries = map[string]string{"x": "q"}
			rules, warnings, err := alertrules.Generate(s, querier(t), opts)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(rules.Groups[0].Rules); n != 0 {
				t.Fatalf("%d rules, want none: %+v", n, rules.Groups[0].Rules)
			}
			joined := strings.Join(warnings, "\n")
			if !strings.Contains(joined, "the rule group is empty") {
				t.Errorf("warnings %q lack the empty group warning", joined)
			}
			if tt.warning != "" && !strings.Contains(joined, tt.warning) {
				t.Errorf("warnings %q lack %q", joined, tt.warning)
			}
			if tt.warning == "" && len(warnings) != 1 {
				t.Errorf("warnings %q, want only the empty group warning", joined)
			}
		})
	}
}

func TestGenerateErrors(t *testing.T) {
	good := &slo.SLO{Objectives: []slo.Objective{{SLI: "x", Pass: blocks("<1")}}}
	tests := []struct {
		name string
		slo  *slo.SLO
		opts func(*alertrules.Options)
		want []string
	}{
		{"no project, stage or service", good, func(o *alertrules.Options) { o.Project, o.Stage, o.Service = "", " ", "" },
			[]string{"the project is empty", "the stage is empty", "the service is empty"}},
		{"window below a second", good, func(o *alertrules.Options) { o.Window = time.Millisecond }, []string{"window 1ms is shorter than one second"}},
		{"negative for", good, func(o *alertrules.Options) { o.For = -time.Second }, []string{"for -1s is negative"}},
		{"no SLO", nil, nil, []string{"no SLO"}},
		{"an SLI without a query", &slo.SLO{Objectives: []slo.Objective{{SLI: "nope", Pass: blocks("<1")}}}, nil,
			[]string{`SLI "nope": no query configured`}},
		{"label names with a space and a clash", good, func(o *alertrules.Options) {
			o.Labels = alertrules.LabelNames{Project: "k8s namespace", Stage: "app", Service: "app"}
		},
			[]string{`the project label name "k8s namespace" has a space`, `the stage and service label names are both "app"`}},
		{"a label name that clashes with a default", good, func(o *alertrules.Options) { o.Labels = alertrules.LabelNames{Project: "service"} },
			[]string{`the project and service label names are both "service"`}},
		{"a label tend sets itself", good, func(o *alertrules.Options) { o.Labels = alertrules.LabelNames{Service: "severity"} },
			[]string{`the service label name is "severity", a label tend sets itself`}},
		{"a filter key that is no label name", &slo.SLO{Filter: map[string]string{"a-b": "c"}, Objectives: []slo.Objective{{SLI: "throughput", Pass: blocks(">1")}}}, nil,
			[]string{`SLO filter key "a-b" is not a Prometheus label name`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := defaultOpts
			if tt.opts != nil {
				tt.opts(&opts)
			}
			_, _, err := alertrules.Generate(tt.slo, querier(t), opts)
			if !errors.Is(err, alertrules.ErrInvalid) {
				t.Fatalf("error %v, want ErrInvalid", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestLabelNames checks which labels carry the project, stage and service:
// the intake's names, each field defaulting on its own.
func TestLabelNames(t *testing.T) {
	tests := []struct {
		name   string
		labels alertrules.LabelNames
		want   map[string]string
	}{
		{"zero value: the defaults", alertrules.LabelNames{},
			map[string]string{"project": "sockshop", "stage": "production", "service": "carts", "severity": "warning"}},
		{"all custom", alertrules.LabelNames{Project: "team", Stage: "env", Service: "app"},
			map[string]string{"team": "sockshop", "env": "production", "app": "carts", "severity": "warning"}},
		{"only the service custom", alertrules.LabelNames{Service: "app.kubernetes.io/name"},
			map[string]string{"project": "sockshop", "stage": "production", "app.kubernetes.io/name": "carts", "severity": "warning"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &slo.SLO{Objectives: []slo.Objective{{SLI: "x", Pass: blocks("<1")}}}
			opts := defaultOpts
			opts.Queries = map[string]string{"x": "q"}
			opts.Labels = tt.labels
			rules, _, err := alertrules.Generate(s, querier(t), opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := rules.Groups[0].Rules[0].Labels; !maps.Equal(got, tt.want) {
				t.Errorf("labels %v, want %v", got, tt.want)
			}
		})
	}
}

// TestQueryOperand checks that a query becomes one operand of the
// comparison: bare when it is one call or selector, else in parentheses.
func TestQueryOperand(t *testing.T) {
	tests := []struct{ name, query, want string }{
		{"function call", "max(x)", "max(x) >= 1"},
		{"selector", `up{job="a"}`, `up{job="a"} >= 1`},
		{"recording rule name", "job:latency:p90", "job:latency:p90 >= 1"},
		{"division", "a / b", "(a / b) >= 1"},
		{"or", "sum(a) or vector(0)", "(sum(a) or vector(0)) >= 1"},
		{"two calls", "sum(a) / sum(b)", "(sum(a) / sum(b)) >= 1"},
		{"outer parentheses are enough", "(a or b)", "(a or b) >= 1"},
		{"unary minus", "-a", "(-a) >= 1"},
		{"offset", "x offset 5m", "(x offset 5m) >= 1"},
		{"brackets in a string", `max(x{a=")"}) + 1`, `(max(x{a=")"}) + 1) >= 1`},
		{"spaces around", "  max(x) \n", "max(x) >= 1"},
		{"comment", "max(x) # the max", "(max(x) # the max\n) >= 1"},
		{"hash in a string is no comment", `max(x{a="#"}) + 1`, `(max(x{a="#"}) + 1) >= 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &slo.SLO{Objectives: []slo.Objective{{SLI: "x", Pass: blocks("<1")}}}
			opts := defaultOpts
			opts.Queries = map[string]string{"x": tt.query}
			rules, _, err := alertrules.Generate(s, querier(t), opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := rules.Groups[0].Rules[0].Expr; got != tt.want {
				t.Errorf("expr %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAlertName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"response_time_p90", "response_time_p90"},
		{"latency.p99-ms", "latency_p99_ms"},
		{"rule:name", "rule:name"},
		{"9lives", "_9lives"},
		{"", "_"},
		{"ünïcode", "__n__code"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := alertrules.AlertName(tt.in); got != tt.want {
				t.Errorf("AlertName(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"},
		{2 * time.Minute, "2m"},
		{90 * time.Minute, "1h30m"},
		{1500 * time.Millisecond, "1s500ms"},
		{25 * time.Hour, "25h"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := alertrules.FormatDuration(tt.in); got != tt.want {
				t.Errorf("FormatDuration(%s) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestResourceName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"tend-sockshop-production-carts", "tend-sockshop-production-carts"},
		{"tend-Sock_Shop-prod-carts", "tend-sock-shop-prod-carts"},
		{"--", "tend"},
		{strings.Repeat("a", 300), strings.Repeat("a", 253)},
	}
	for _, tt := range tests {
		t.Run(tt.want[:min(len(tt.want), 20)], func(t *testing.T) {
			if got := alertrules.ResourceName(tt.in); got != tt.want {
				t.Errorf("ResourceName(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestTemplateEscape checks that braces in names reach the alert
// literally: Prometheus expands labels and annotations as templates.
func TestTemplateEscape(t *testing.T) {
	s := &slo.SLO{Objectives: []slo.Objective{{SLI: "x{{y}}", Pass: blocks("<1")}}}
	opts := defaultOpts
	opts.Queries = map[string]string{"x{{y}}": "q"}
	rules, _, err := alertrules.Generate(s, querier(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	r := rules.Groups[0].Rules[0]
	if got, want := r.Annotations["summary"], `{{ "x{{y}}" }}`; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
	out, err := rules.YAML("")
	if err != nil {
		t.Fatal(err)
	}
	promtoolCheck(t, out)
}

// TestPromtoolUnitTests proves the boundaries against Prometheus's own
// rule evaluation: promtool test rules runs testdata/operators.promtool.yml
// (a series at 999 does not fire "<1000", 1000 does) on the rules
// generated from testdata/operators.*.yaml.
func TestPromtoolUnitTests(t *testing.T) {
	promtool := testenv.Promtool(t)
	opts := defaultOpts
	opts.For = 0
	opts.Window = time.Minute
	opts.Queries = readSLI(t, "testdata/operators.sli.yaml")
	rules, _, err := alertrules.Generate(readSLO(t, "testdata/operators.slo.yaml"), querier(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	out, err := rules.YAML("")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yml"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile("testdata/operators.promtool.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tests.yml"), tests, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(promtool, "test", "rules", "tests.yml")
	cmd.Dir = dir
	if combined, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s\nrules:\n%s", err, combined, out)
	}
}
