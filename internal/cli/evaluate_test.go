package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/slo"
	"gopkg.in/yaml.v3"
)

// exampleFiles returns the README quickstart's files in the repository's
// examples/, so the golden files show what a user of the quickstart sees.
func exampleFiles(t testing.TB) (sloFile, sliFile, prevFile string) {
	t.Helper()
	dir := filepath.Join("..", "..", "examples")
	sloFile, sliFile, prevFile = filepath.Join(dir, "slo.yaml"), filepath.Join(dir, "sli-values.json"), filepath.Join(dir, "previous.json")
	for _, f := range []string{sloFile, sliFile, prevFile} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("quickstart example missing: %v", err)
		}
	}
	return sloFile, sliFile, prevFile
}

func TestEvaluateExamplesGolden(t *testing.T) {
	sloFile, sliFile, prevFile := exampleFiles(t)
	for _, format := range []string{"table", "json", "yaml"} {
		t.Run(format, func(t *testing.T) {
			r := runTend(t, "", "evaluate", "--slo", sloFile, "--sli", sliFile, "--previous", prevFile, "-o", format)
			if r.code != ExitOK && r.code != ExitGateFailed {
				t.Fatalf("exit %d; stderr %q", r.code, r.stderr)
			}
			checkGolden(t, "evaluate-examples."+format, r.stdout)
		})
	}
}

// TestEvaluateOutputsAgree checks that -o json and -o yaml print the same
// object, and that it is Keptn's evaluation shape.
func TestEvaluateOutputsAgree(t *testing.T) {
	args := []string{"evaluate", "--slo", "testdata/evaluate/slo.yaml", "--sli", "testdata/evaluate/values-pass.json", "--previous", "testdata/evaluate/previous.json"}
	js := runTend(t, "", append(args, "-o", "json")...)
	ym := runTend(t, "", append(args, "-o", "yaml")...)
	if js.code != ExitOK || ym.code != ExitOK {
		t.Fatalf("exit %d and %d; stderr %q %q", js.code, ym.code, js.stderr, ym.stderr)
	}
	var fromJSON, fromYAML map[string]any
	if err := json.Unmarshal([]byte(js.stdout), &fromJSON); err != nil {
		t.Fatalf("json output: %v", err)
	}
	if err := yaml.Unmarshal([]byte(ym.stdout), &fromYAML); err != nil {
		t.Fatalf("yaml output: %v", err)
	}
	// Round-trip both through JSON so numbers compare as float64.
	a, _ := json.Marshal(fromJSON)
	b, _ := json.Marshal(fromYAML)
	if string(a) != string(b) {
		t.Errorf("json and yaml outputs differ:\njson %s\nyaml %s", a, b)
	}
	for _, key := range []string{"result", "score", "indicatorResults", "comparedEvents", "message"} {
		if _, ok := fromJSON[key]; !ok {
			t.Errorf("json output lacks %q", key)
		}
	}
	var ev slo.Evaluation
	if err := json.Unmarshal([]byte(js.stdout), &ev); err != nil {
		t.Fatal(err)
	}
	if len(ev.ComparedEvents) != 1 || ev.ComparedEvents[0] != "b2c1a0d4-0000-4000-8000-000000000001" {
		t.Errorf("compared events %v, want the newest passing evaluation only", ev.ComparedEvents)
	}
	if got := ev.IndicatorResults[0].Value.ComparedValue; got != 780 {
		t.Errorf("compared value %v, want 780 (the passing evaluation's value)", got)
	}
}

func TestEvaluateExitCodes(t *testing.T) {
	const dir = "testdata/evaluate/"
	tests := []struct {
		name       string
		args       []string
		stdin      string
		wantCode   int
		wantResult string // in the table output; "" for none
		wantStderr string
	}{
		{"pass", []string{"--sli", dir + "values-pass.json", "--previous", dir + "previous.json"}, "", ExitOK, "Result:   pass", ""},
		{"pass without history", []string{"--sli", dir + "values-pass.json"}, "", ExitOK, "Result:   pass", ""},
		{"warning", []string{"--sli", dir + "values-warning.json"}, "", ExitOK, "Result:   warning", ""},
		{"warning with --fail-on warning", []string{"--sli", dir + "values-warning.json", "--fail-on", "warning"}, "", ExitGateFailed, "Result:   warning", ""},
		{"pass with --fail-on warning", []string{"--sli", dir + "values-pass.json", "--fail-on", "warning"}, "", ExitOK, "Result:   pass", ""},
		{"fail", []string{"--sli", dir + "values-fail.json"}, "", ExitGateFailed, "Result:   fail", ""},
		{"unsuccessful value fails", []string{"--sli", dir + "values-missing.json"}, "", ExitGateFailed, "Result:   fail", "prometheus answered 503"},
		{"values from stdin", []string{"--sli", "-"}, `{"response_time_p90": 900}`, ExitOK, "Result:   pass", ""},
		{"bad json", []string{"--sli", dir + "bad-values.json"}, "", ExitBadInput, "", dir + `bad-values.json:2:49: "value" is a string; want a number`},
		{"missing values file", []string{"--sli", dir + "nope.json"}, "", ExitBadInput, "", dir + "nope.json: cannot read file: no such file or directory"},
		{"bad previous", []string{"--sli", dir + "values-pass.json", "--previous", dir + "values-warning.json"}, "", ExitBadInput, "", "want a JSON list of previous evaluations"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"evaluate", "--slo", dir + "slo.yaml"}, tt.args...)
			r := runTend(t, tt.stdin, args...)
			if r.code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr %q", r.code, tt.wantCode, r.stderr)
			}
			if tt.wantResult != "" && !strings.Contains(r.stdout, tt.wantResult) {
				t.Errorf("stdout lacks %q:\n%s", tt.wantResult, r.stdout)
			}
			if tt.wantResult == "" && r.stdout != "" {
				t.Errorf("unusable input printed a result:\n%s", r.stdout)
			}
			if !strings.Contains(r.stderr+r.stdout, tt.wantStderr) {
				t.Errorf("output lacks %q:\nstdout %s\nstderr %s", tt.wantStderr, r.stdout, r.stderr)
			}
		})
	}
}

func TestEvaluateBadSLOPrintsDiagnostics(t *testing.T) {
	const bad = "testdata/evaluate/bad-slo.yaml"
	r := runTend(t, "", "evaluate", "--slo", bad, "--sli", "testdata/evaluate/values-pass.json")
	if r.code != ExitBadInput {
		t.Errorf("exit %d, want %d", r.code, ExitBadInput)
	}
	if r.stdout != "" {
		t.Errorf("a bad SLO printed a result:\n%s", r.stdout)
	}
	// The criterion "=>5" is on line 6, column 13.
	if !strings.Contains(r.stderr, bad+":6:13: ") {
		t.Errorf("stderr lacks the diagnostic of line 6 (the =>5 criterion):\n%s", r.stderr)
	}
	if !strings.Contains(r.stderr, "is not a usable SLO file") {
		t.Errorf("stderr lacks the closing error:\n%s", r.stderr)
	}
}

func TestGateExit(t *testing.T) {
	tests := []struct {
		result, failOn slo.Result
		want           int
	}{
		{slo.Pass, slo.Fail, ExitOK},
		{slo.Warning, slo.Fail, ExitOK},
		{slo.Fail, slo.Fail, ExitGateFailed},
		{slo.Pass, slo.Warning, ExitOK},
		{slo.Warning, slo.Warning, ExitGateFailed},
		{slo.Fail, slo.Warning, ExitGateFailed},
		{"", slo.Fail, ExitGateFailed},
	}
	for _, tt := range tests {
		t.Run(string(tt.result)+" fail-on "+string(tt.failOn), func(t *testing.T) {
			if got := exitCode(gateExit(tt.result, tt.failOn)); got != tt.want {
				t.Errorf("exit %d, want %d", got, tt.want)
			}
		})
	}
}
