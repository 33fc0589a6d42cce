package spec

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRepoExamples requires every YAML file under the repository's examples/
// to be valid with no warnings at all: they are what users copy. Helm
// charts (a folder with Chart.yaml, such as examples/sockshop/carts) are
// Helm's files, not Keptn's, and are skipped.
func TestRepoExamples(t *testing.T) {
	root := filepath.Join("..", "..", "examples")
	var files []string
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err == nil && e.IsDir() {
			if _, statErr := os.Stat(filepath.Join(path, "Chart.yaml")); statErr == nil {
				return filepath.SkipDir
			}
		}
		if err == nil && !e.IsDir() && strings.HasSuffix(path, ".yaml") {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	kinds := map[Kind]int{}
	for _, f := range files {
		t.Run(filepath.ToSlash(f), func(t *testing.T) {
			kind, diags := Validate(f, readFile(t, f), "")
			kinds[kind]++
			if len(diags) > 0 {
				t.Errorf("want no diagnostics, got:\n%s", diagLines(diags))
			}
		})
	}
	for _, k := range Kinds {
		if kinds[k] == 0 {
			t.Errorf("examples/ has no %s file", k)
		}
	}
}

// TestRepoExampleMeanings checks the tutorial files decode to the story the
// README tells.
func TestRepoExampleMeanings(t *testing.T) {
	root := filepath.Join("..", "..", "examples")
	path := filepath.Join(root, "remediation.yaml")
	r := mustDecode(t, path, readFile(t, path), DecodeRemediation)
	for _, title := range []string{"response_time_p90", "Response time degradation"} {
		e, ok := r.Match("", title)
		if !ok || len(e.Actions) != 2 || e.Actions[0].Action != "scaling" || e.Actions[1].Action != "toggle-feature" {
			t.Errorf("%s: entry %+v, %v; want scaling then toggle-feature", title, e, ok)
		}
	}
	path = filepath.Join(root, "shipyard.yaml")
	s := mustDecode(t, path, readFile(t, path), DecodeShipyard)
	prod, ok := s.Stage("production")
	if !ok || !prod.RemediationEnabled() {
		t.Fatal("production does not remediate")
	}
	if d, ok := prod.EvaluationDelay(); !ok || d.String() != "10m0s" {
		t.Errorf("EvaluationDelay = %v, %v; want 10m", d, ok)
	}
	path = filepath.Join(root, "shipyard-legacy.yaml")
	s = mustDecode(t, path, readFile(t, path), DecodeShipyard)
	if prod, ok := s.Stage("production"); !ok || !prod.RemediationEnabled() {
		t.Error("legacy production does not remediate")
	}
}
