package spec

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestValidateGolden validates every testdata/<name>.yaml and compares the
// diagnostics, one per line, with testdata/<name>.golden.
func TestValidateGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata files: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			_, diags := Validate(file, readFile(t, file), "")
			got := diagLines(diags)
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want := string(readFile(t, golden))
			if got != want {
				t.Errorf("diagnostics differ from %s (run go test -update to accept)\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}

// TestValidateTestdataOutcome pins which testdata files are valid, so a
// golden update cannot silently turn a bad file good or a good one bad.
func TestValidateTestdataOutcome(t *testing.T) {
	tests := []struct {
		file       string
		kind       Kind
		wantErrors bool
		wantClean  bool // no diagnostics at all
	}{
		{"slo-good.yaml", KindSLO, false, true},
		{"slo-warnings.yaml", KindSLO, false, false},
		{"slo-informational-only.yaml", KindSLO, false, false},
		{"slo-bad-types.yaml", KindSLO, true, false},
		{"slo-bad-criteria.yaml", KindSLO, true, false},
		{"slo-objectives-number.yaml", KindSLO, true, false},
		{"slo-missing-total-score.yaml", KindSLO, true, false},
		{"slo-missing-pass-threshold.yaml", KindSLO, true, false},
		{"slo-syntax-error.yaml", KindSLO, true, false},
		{"slo-empty-doc.yaml", KindSLO, true, false},
		{"slo-list-root.yaml", KindSLO, true, false},
		{"sli-good.yaml", KindSLI, false, true},
		{"sli-bad.yaml", KindSLI, true, false},
		{"sli-indicators-list.yaml", KindSLI, true, false},
		{"remediation-good.yaml", KindRemediation, false, true},
		{"remediation-legacy-good.yaml", KindRemediation, false, true},
		{"remediation-draft-version.yaml", KindRemediation, false, false},
		{"remediation-bad.yaml", KindRemediation, true, false},
		{"remediation-legacy-bad.yaml", KindRemediation, true, false},
		{"remediation-empty.yaml", KindRemediation, true, false},
		{"remediation-version-key.yaml", KindRemediation, true, false},
		{"shipyard-good.yaml", KindShipyard, false, true},
		{"shipyard-legacy-good.yaml", KindShipyard, false, true},
		{"shipyard-bad.yaml", KindShipyard, true, false},
		{"shipyard-legacy-bad.yaml", KindShipyard, true, false},
		{"shipyard-no-stages.yaml", KindShipyard, true, false},
		{"mystery.yaml", "", true, false},
		{"not-yaml.yaml", "", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", tt.file)
			kind, diags := Validate(path, readFile(t, path), "")
			if kind != tt.kind {
				t.Errorf("kind = %q, want %q", kind, tt.kind)
			}
			if diags.HasErrors() != tt.wantErrors {
				t.Errorf("HasErrors = %v, want %v:\n%s", diags.HasErrors(), tt.wantErrors, diagLines(diags))
			}
			if tt.wantClean && len(diags) > 0 {
				t.Errorf("want no diagnostics, got:\n%s", diagLines(diags))
			}
			if !tt.wantErrors && !tt.wantClean && len(diags) == 0 {
				t.Errorf("want warnings, got none")
			}
			for i := 1; i < len(diags); i++ {
				if diags[i].Line < diags[i-1].Line {
					t.Errorf("diagnostics not in file order: %q before %q", diags[i-1], diags[i])
				}
			}
		})
	}
}

func TestStrictTurnsWarningsIntoErrors(t *testing.T) {
	path := filepath.Join("testdata", "slo-warnings.yaml")
	_, diags := Validate(path, readFile(t, path), "")
	if diags.HasErrors() || len(diags) == 0 {
		t.Fatalf("want only warnings, got:\n%s", diagLines(diags))
	}
	if !diags.Strict().HasErrors() {
		t.Errorf("Strict() kept no error")
	}
}

func readFile(tb testing.TB, path string) []byte {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

func diagLines(diags Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		b.WriteString(d.String())
		b.WriteByte('\n')
	}
	return b.String()
}
