package spec

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/slo"
)

// keptnExamplesDir is ../shared/keptn-examples relative to the module root.
const keptnExamplesDir = "../../../shared/keptn-examples"

// brokenKeptnExamples are the files Keptn itself could not read, keyed by
// path under keptn-examples, with a substring of the expected error.
var brokenKeptnExamples = map[string]string{
	// Zero bytes: Keptn's remediation service found no spec.remediations.
	"keptn/7f67a4951ff3/test/assets/self_healing_remediation.yaml": "empty file",
	// "version:" in place of apiVersion with the released version string:
	// the draft service wanted version 0.2.0, the released one an apiVersion;
	// both rejected the file.
	"keptn/b9833ce8358f/test/assets/self_healing_scaling_remediation.yaml": `"version: spec.keptn.sh/0.1.4" is not an apiVersion`,
}

func keptnExamples(tb testing.TB) string {
	tb.Helper()
	if _, err := os.Stat(keptnExamplesDir); err != nil {
		tb.Skipf("keptn examples not found at %s (expected ../shared/keptn-examples next to the module): %v", keptnExamplesDir, err)
	}
	return keptnExamplesDir
}

// TestKeptnExamples validates every YAML file from Keptn's repositories: the
// ones Keptn could read have no errors, the broken ones fail for the reason
// listed above.
func TestKeptnExamples(t *testing.T) {
	root := keptnExamples(t)
	seen := 0
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		// Helm charts (Chart.yaml beside templates/ and values.yaml) sit
		// among the examples; they are delivered, not Keptn files to
		// validate.
		if e.IsDir() {
			if _, statErr := os.Stat(filepath.Join(path, "Chart.yaml")); statErr == nil {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".yaml") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		seen++
		t.Run(rel, func(t *testing.T) {
			kind, diags := Validate(rel, readFile(t, path), "")
			if kind == "" {
				t.Fatalf("kind not detected:\n%s", diagLines(diags))
			}
			want, broken := brokenKeptnExamples[rel]
			if !broken {
				if diags.HasErrors() {
					t.Errorf("Keptn read this file, tend rejects it:\n%s", diagLines(diags))
				}
				return
			}
			if !diags.HasErrors() {
				t.Fatalf("broken file accepted; want an error containing %q", want)
			}
			if !strings.Contains(diagLines(diags), want) {
				t.Errorf("want an error containing %q, got:\n%s", want, diagLines(diags))
			}
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 100 {
		t.Errorf("walked only %d YAML files; is %s complete?", seen, root)
	}
	for rel := range brokenKeptnExamples {
		if _, err := os.Stat(filepath.Join(root, rel)); err != nil {
			t.Errorf("broken-file table names a missing file: %s", rel)
		}
	}
}

// TestKeptnExampleMeanings checks that real files mean what they meant to
// Keptn.
func TestKeptnExampleMeanings(t *testing.T) {
	root := keptnExamples(t)
	read := func(t *testing.T, rel string) []byte {
		t.Helper()
		return readFile(t, filepath.Join(root, rel))
	}

	t.Run("legacy remediation value +1 is the integer 1", func(t *testing.T) {
		rel := "examples/0.6.2/onboarding-carts/remediation.yaml"
		r := mustDecode(t, rel, read(t, rel), DecodeRemediation)
		if r.Format != RemediationLegacy || len(r.Entries) != 2 {
			t.Fatalf("got format %q with %d entries", r.Format, len(r.Entries))
		}
		a := r.Entries[0].Actions[0]
		if a.Action != "scaling" || a.Value != 1 || a.ValueText != "+1" {
			t.Errorf("action = %+v, want scaling, value 1, text +1", a)
		}
		e, ok := r.Match("", "Response time degradation on service carts")
		if !ok || e.ProblemType != "Response time degradation" {
			t.Errorf("title prefix match = %+v, %v", e, ok)
		}
	})

	t.Run("0.7.3 toggle-feature value is a map", func(t *testing.T) {
		rel := "examples/0.7.3/onboarding-carts/remediation_feature_toggle.yaml"
		r := mustDecode(t, rel, read(t, rel), DecodeRemediation)
		if r.Format != RemediationV014 || r.Name != "carts-remediation" {
			t.Fatalf("got format %q name %q", r.Format, r.Name)
		}
		e, ok := r.Match("", "Failure rate increase")
		if !ok {
			t.Fatal("no entry for Failure rate increase")
		}
		want := map[string]any{"EnablePromotion": "off"}
		if a := e.Actions[0]; a.Action != "toggle-feature" || !reflect.DeepEqual(a.Value, want) {
			t.Errorf("action = %+v, want toggle-feature %v", a, want)
		}
	})

	t.Run("featuretoggle value is a plain string", func(t *testing.T) {
		rel := "examples/0.6.2/onboarding-carts/remediation_feature_toggle.yaml"
		r := mustDecode(t, rel, read(t, rel), DecodeRemediation)
		if a := r.Entries[0].Actions[0]; a.Value != "EnableItemCache:on" {
			t.Errorf("value = %#v, want the string EnableItemCache:on", a.Value)
		}
	})

	t.Run("null value stays nil", func(t *testing.T) {
		rel := "prometheus-service/0.8.4/test/data/podtatohead.remediation.yaml"
		r := mustDecode(t, rel, read(t, rel), DecodeRemediation)
		e, ok := r.Match("anything", "unknown title")
		if !ok || e.ProblemType != "default" {
			t.Fatalf("default match = %+v, %v", e, ok)
		}
		if a := e.Actions[0]; a.Action != "rollback" || a.Value != nil {
			t.Errorf("action = %+v, want rollback with nil value", a)
		}
	})

	t.Run("draft version 0.2.0 reads as 0.1.4 with integer and string values", func(t *testing.T) {
		rel := "keptn/6c81afe28900/test/assets/self_healing_scaling_remediation.yaml"
		r := mustDecode(t, rel, read(t, rel), DecodeRemediation)
		if r.Format != RemediationV014 || r.APIVersion != "0.2.0" {
			t.Fatalf("format %q apiVersion %q", r.Format, r.APIVersion)
		}
		if v := r.Entries[0].Actions[0].Value; v != 1 {
			t.Errorf("first value = %#v, want 1", v)
		}
		if v := r.Entries[1].Actions[0].Value; v != "1" {
			t.Errorf("second value = %#v, want \"1\"", v)
		}
	})

	t.Run("slo-self-healing criteria and total score", func(t *testing.T) {
		rel := "examples/0.6.2/onboarding-carts/slo-self-healing.yaml"
		s := mustDecode(t, rel, read(t, rel), DecodeSLO)
		if s.SpecVersion != "0.1.1" || s.Filter != nil {
			t.Errorf("spec_version %q filter %v, want 0.1.1 and no filter", s.SpecVersion, s.Filter)
		}
		if len(s.Objectives) != 1 {
			t.Fatalf("%d objectives, want 1", len(s.Objectives))
		}
		o := s.Objectives[0]
		if o.SLI != "response_time_p90" || o.Weight != 1 || o.KeySLI {
			t.Errorf("objective = %+v", o)
		}
		if len(o.Pass) != 1 || len(o.Pass[0]) != 2 {
			t.Fatalf("pass = %+v, want one block of two", o.Pass)
		}
		rel10, abs := o.Pass[0][0], o.Pass[0][1]
		if rel10.Op != slo.OpLessEqual || !rel10.Relative || !rel10.Percent || rel10.Amount != 10 {
			t.Errorf("first pass criterion = %+v, want <= +10%%", rel10)
		}
		if abs.Op != slo.OpLess || abs.Relative || abs.Amount != 1000 {
			t.Errorf("second pass criterion = %+v, want < 1000", abs)
		}
		if len(o.Warning) != 1 || o.Warning[0][0].Amount != 1200 {
			t.Errorf("warning = %+v, want <=1200", o.Warning)
		}
		if s.TotalScore != (slo.TotalScore{Pass: 90, Warning: 40, HasWarning: true}) {
			t.Errorf("total score = %+v, want 90/40", s.TotalScore)
		}
		want := slo.Comparison{CompareWith: slo.SingleResult, IncludeResults: slo.IncludePass, NumberOfResults: 1, Aggregate: slo.AggregateAvg}
		if s.Comparison != want {
			t.Errorf("comparison = %+v, want %+v", s.Comparison, want)
		}
	})

	t.Run("unquoted warning 75% and objectives without pass", func(t *testing.T) {
		rel := "keptn/0.8.3/test/assets/quality_gates_standalone_slo_step1.yaml"
		s := mustDecode(t, rel, read(t, rel), DecodeSLO)
		if len(s.Objectives) != 3 || !s.Objectives[2].Informational() {
			t.Fatalf("objectives = %+v, want error_rate informational", s.Objectives)
		}
		rel = "keptn/0.8.3/test/assets/self_healing_slo.yaml"
		s = mustDecode(t, rel, read(t, rel), DecodeSLO)
		if !s.TotalScore.HasWarning || s.TotalScore.Warning != 40 {
			t.Errorf("total score = %+v, want warning 40", s.TotalScore)
		}
	})

	t.Run("four-space indented document", func(t *testing.T) {
		rel := "examples/0.7.3/simplenodeservice/quality-gate-only/slo_basic.yaml"
		s := mustDecode(t, rel, read(t, rel), DecodeSLO)
		if len(s.Objectives) != 5 || s.Objectives[2].Weight != 2 {
			t.Errorf("objectives = %+v, want 5 with error_rate_svc weight 2", s.Objectives)
		}
	})

	t.Run("several_results comparison", func(t *testing.T) {
		rel := "keptn/0.8.3/test/assets/quality_gates_standalone_slo_step4.yaml"
		s := mustDecode(t, rel, read(t, rel), DecodeSLO)
		if s.Comparison.CompareWith != slo.SeveralResults || s.Comparison.NumberOfResults != 2 {
			t.Errorf("comparison = %+v, want several_results of 2", s.Comparison)
		}
	})

	t.Run("duplicated objective is kept twice", func(t *testing.T) {
		rel := "keptn/0.8.3/test/assets/self_monitoring_slo.yaml"
		s := mustDecode(t, rel, read(t, rel), DecodeSLO)
		n := 0
		for _, o := range s.Objectives {
			if o.SLI == "throughput" {
				n++
			}
		}
		if n != 2 {
			t.Errorf("throughput objectives = %d, want 2", n)
		}
	})

	t.Run("SLI file keeps queries and order", func(t *testing.T) {
		rel := "examples/master/onboarding-carts/sli-config-dynatrace.yaml"
		f := mustDecode(t, rel, read(t, rel), DecodeSLI)
		if len(f.Order) != 5 || f.Order[0] != "throughput" {
			t.Fatalf("order = %v", f.Order)
		}
		if q := f.Indicators["throughput"]; !strings.Contains(q, `merge("dt.entity.service")`) {
			t.Errorf("throughput query = %q, want the unescaped quotes", q)
		}
	})

	t.Run("legacy shipyard production remediates", func(t *testing.T) {
		rel := "examples/0.6.2/onboarding-carts/shipyard.yaml"
		s := mustDecode(t, rel, read(t, rel), DecodeShipyard)
		if got := s.StageNames(); !reflect.DeepEqual(got, []string{"dev", "staging", "production"}) {
			t.Errorf("stages = %v", got)
		}
		for name, want := range map[string]bool{"dev": false, "staging": false, "production": true} {
			st, ok := s.Stage(name)
			if !ok || st.RemediationEnabled() != want {
				t.Errorf("stage %s: found %v, RemediationEnabled want %v", name, ok, want)
			}
		}
	})

	t.Run("0.8.4 shipyard remediation waits 15m", func(t *testing.T) {
		rel := "examples/0.8.4/onboarding-carts/shipyard.yaml"
		s := mustDecode(t, rel, read(t, rel), DecodeShipyard)
		if s.Format != ShipyardV02 || s.APIVersion != "spec.keptn.sh/0.2.2" {
			t.Errorf("format %q apiVersion %q", s.Format, s.APIVersion)
		}
		prod, ok := s.Stage("production")
		if !ok || !prod.RemediationEnabled() {
			t.Fatalf("production: found %v, remediation off", ok)
		}
		if d, ok := prod.EvaluationDelay(); !ok || d != 15*time.Minute {
			t.Errorf("EvaluationDelay = %v, %v; want 15m", d, ok)
		}
		seq, _ := prod.Sequence("remediation")
		if m := seq.TriggeredOn[0].Match; m["evaluation.result"] != "fail" {
			t.Errorf("remediation trigger match = %v", m)
		}
		if dev, _ := s.Stage("dev"); dev.RemediationEnabled() {
			t.Errorf("dev remediates, want not")
		}
	})

	t.Run("remediation sequence without evaluation has no delay", func(t *testing.T) {
		rel := "prometheus-service/0.8.5/test/shipyard/podtatohead.deployment.yaml"
		s := mustDecode(t, rel, read(t, rel), DecodeShipyard)
		st, _ := s.Stage("staging")
		if !st.RemediationEnabled() {
			t.Error("staging does not remediate")
		}
		if _, ok := st.EvaluationDelay(); ok {
			t.Error("EvaluationDelay ok, want none")
		}
	})

	t.Run("pre-release triggers read as triggeredOn", func(t *testing.T) {
		rel := "examples/0.8.0.alpha/onboarding-carts/shipyard.yaml"
		s := mustDecode(t, rel, read(t, rel), DecodeShipyard)
		st, _ := s.Stage("staging")
		seq, _ := st.Sequence("artifact-delivery")
		if len(seq.TriggeredOn) != 1 || seq.TriggeredOn[0].Event != "dev.artifact-delivery.finished" {
			t.Errorf("triggeredOn = %+v", seq.TriggeredOn)
		}
	})
}

// mustDecode runs a decoder and fails the test on errors.
func mustDecode[T any](tb testing.TB, name string, data []byte, decode func(string, []byte) (*T, Diagnostics)) *T {
	tb.Helper()
	v, diags := decode(name, data)
	if diags.HasErrors() || v == nil {
		tb.Fatalf("decode %s:\n%s", name, diagLines(diags))
	}
	return v
}
