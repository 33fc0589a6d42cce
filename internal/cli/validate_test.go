package cli

import (
	"regexp"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/yamlnode/yamlnodetest"
)

// diagLine is the shape of every line validate prints to stdout.
var diagLine = regexp.MustCompile(`^[^:]+(:\d+:\d+)?: (warning: )?\S`)

func TestValidate(t *testing.T) {
	const dir = "testdata/validate/"
	tests := []struct {
		name        string
		args        []string
		stdin       string
		wantCode    int
		wantSummary string
		wantLines   []string // substrings, each on some stdout line
		noWarnings  bool
	}{
		{
			name:        "valid files",
			args:        []string{dir + "good-slo.yaml", dir + "sli.yaml"},
			wantCode:    ExitOK,
			wantSummary: "2 files: 2 valid, 0 invalid\n",
		},
		{
			name:        "warnings keep the status 0",
			args:        []string{dir + "warn-slo.yaml"},
			wantCode:    ExitOK,
			wantSummary: "1 file: 1 valid, 0 invalid (0 errors, 1 warning)\n",
			wantLines:   []string{dir + "warn-slo.yaml:7:5: warning: "},
		},
		{
			name:        "strict makes warnings errors",
			args:        []string{"--strict", dir + "warn-slo.yaml"},
			wantCode:    ExitBadInput,
			wantSummary: "1 file: 0 valid, 1 invalid (1 error, 0 warnings)\n",
			wantLines:   []string{dir + "warn-slo.yaml:7:5: "},
			noWarnings:  true,
		},
		{
			name:      "invalid file",
			args:      []string{dir + "good-slo.yaml", dir + "bad-slo.yaml"},
			wantCode:  ExitBadInput,
			wantLines: []string{dir + "bad-slo.yaml:6:13: "},
		},
		{
			name:        "a missing file is reported and the others still checked",
			args:        []string{dir + "nope.yaml", dir + "warn-slo.yaml"},
			wantCode:    ExitBadInput,
			wantSummary: "2 files: 1 valid, 1 invalid (1 error, 1 warning)\n",
			wantLines: []string{
				dir + "nope.yaml: cannot read file: no such file or directory",
				dir + "warn-slo.yaml:7:5: warning: ",
			},
		},
		{
			name:        "stdin with --kind",
			args:        []string{"--kind", "sli", "-"},
			stdin:       "spec_version: '1.0'\nindicators:\n  throughput: sum(rate(http_requests_total[1m]))\n",
			wantCode:    ExitOK,
			wantSummary: "1 file: 1 valid, 0 invalid\n",
		},
		{
			name:        "billion laughs are refused with the limit named",
			args:        []string{"--kind", "remediation", "-"},
			stdin:       billionLaughs(),
			wantCode:    ExitBadInput,
			wantSummary: "1 file: 0 valid, 1 invalid (1 error, 0 warnings)\n",
			wantLines:   []string{"<stdin>:5:77: the document's aliases expand it to more than 100000 YAML nodes, over tend's limit"},
		},
		{
			name:      "stdin named twice",
			args:      []string{"--kind", "sli", "-", "-"},
			stdin:     "spec_version: '1.0'\nindicators:\n  throughput: x\n",
			wantCode:  ExitBadInput,
			wantLines: []string{"<stdin>: standard input (-) given more than once"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runTend(t, tt.stdin, append([]string{"validate"}, tt.args...)...)
			if r.code != tt.wantCode {
				t.Errorf("exit %d, want %d\nstdout %s\nstderr %s", r.code, tt.wantCode, r.stdout, r.stderr)
			}
			if tt.wantSummary != "" && r.stderr != tt.wantSummary {
				t.Errorf("summary %q, want %q", r.stderr, tt.wantSummary)
			}
			lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
			if r.stdout == "" {
				lines = nil
			}
			if tt.wantCode == ExitOK && len(tt.wantLines) == 0 && len(lines) > 0 {
				t.Errorf("valid files printed diagnostics:\n%s", r.stdout)
			}
			for _, l := range lines {
				if !diagLine.MatchString(l) {
					t.Errorf("line %q is not FILE:LINE:COL: message", l)
				}
				if tt.noWarnings && strings.Contains(l, "warning: ") {
					t.Errorf("--strict printed a warning: %q", l)
				}
			}
			for _, want := range tt.wantLines {
				found := false
				for _, l := range lines {
					found = found || strings.HasPrefix(l, want)
				}
				if !found {
					t.Errorf("no line starts with %q:\n%s", want, r.stdout)
				}
			}
		})
	}
}

// billionLaughs is a remediation file whose action value expands to a
// billion nodes through nested aliases.
func billionLaughs() string {
	doc, alias := yamlnodetest.Nested(9, 10)
	return doc + "remediations:\n  - name: p\n    actions:\n      - action: a\n        value: " + alias + "\n"
}

func TestValidateSummary(t *testing.T) {
	tests := []struct {
		files, invalid, errs, warns int
		want                        string
	}{
		{1, 0, 0, 0, "1 file: 1 valid, 0 invalid"},
		{3, 1, 4, 1, "3 files: 2 valid, 1 invalid (4 errors, 1 warning)"},
		{2, 0, 0, 2, "2 files: 2 valid, 0 invalid (0 errors, 2 warnings)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := validateSummary(tt.files, tt.invalid, tt.errs, tt.warns); got != tt.want {
				t.Errorf("got %q", got)
			}
		})
	}
}
