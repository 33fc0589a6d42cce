package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// result is what one in-process run of tend produced.
type result struct {
	stdout, stderr string
	code           int
}

// runTend runs the command line args in process, with stdin as standard input.
func runTend(t testing.TB, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return result{stdout: out.String(), stderr: errOut.String(), code: code}
}

// checkGolden compares got with testdata/golden/name, or rewrites the file
// under -update.
func checkGolden(t testing.TB, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run go test -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestVersion(t *testing.T) {
	r := runTend(t, "", "version")
	if r.code != ExitOK {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	for _, want := range []string{"tend ", "commit:", "built:", runtime.Version()} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("version output %q lacks %q", r.stdout, want)
		}
	}

	r = runTend(t, "", "version", "-o", "json")
	if r.code != ExitOK {
		t.Fatalf("-o json: exit %d, stderr %q", r.code, r.stderr)
	}
	var info versionInfo
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil {
		t.Fatalf("-o json output is not JSON: %v\n%s", err, r.stdout)
	}
	if info.GoVersion != runtime.Version() || info.Version == "" || info.Commit == "" || info.BuildDate == "" {
		t.Errorf("-o json: incomplete version info %+v", info)
	}
}

func TestHelpShowsCommandTree(t *testing.T) {
	r := runTend(t, "", "--help")
	if r.code != ExitOK {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	for _, cmd := range []string{"version", "validate", "evaluate"} {
		if !strings.Contains(r.stdout, "\n  "+cmd+" ") {
			t.Errorf("--help does not list %q:\n%s", cmd, r.stdout)
		}
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantStderr string
	}{
		{"unknown flag on root", []string{"--nope"}, "unknown flag: --nope"},
		{"unknown flag on subcommand", []string{"validate", "--nope", "x.yaml"}, "unknown flag: --nope"},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"validate without files", []string{"validate"}, "requires at least 1 arg"},
		{"unknown kind", []string{"validate", "--kind", "slx", "x.yaml"}, `unknown kind "slx"`},
		{"version with an argument", []string{"version", "extra"}, "unknown command"},
		{"unknown output format", []string{"version", "-o", "xml"}, `unknown output format "xml"`},
		{"evaluate without --slo", []string{"evaluate", "--sli", "v.json"}, `required flag(s) "slo" not set`},
		{"evaluate with an argument", []string{"evaluate", "--slo", "s", "--sli", "v", "extra"}, "unknown command"},
		{"unknown --fail-on", []string{"evaluate", "--slo", "s", "--sli", "v", "--fail-on", "pass"}, `unknown result "pass"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runTend(t, "", tt.args...)
			if r.code != ExitBadInput {
				t.Errorf("exit %d, want %d; stderr %q", r.code, ExitBadInput, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.wantStderr) {
				t.Errorf("stderr %q lacks %q", r.stderr, tt.wantStderr)
			}
			if !strings.Contains(r.stderr, "--help' for usage") {
				t.Errorf("stderr %q does not point at --help", r.stderr)
			}
		})
	}
}
