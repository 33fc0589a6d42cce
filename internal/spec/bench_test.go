package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/slo"
)

// BenchmarkDecodeSLO parses the self-healing tutorial's SLO, the typical
// file (target: under 50 µs per parse).
func BenchmarkDecodeSLO(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("..", "..", "examples", "slo.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if s, diags := DecodeSLO("slo.yaml", data); s == nil {
			b.Fatal(diags)
		}
	}
}

// slo10 is issue 16's SLO decoding input: ten objectives, each passing at
// "<=+10%" and "<1000" and warning at "<=1200", compared with the p90 of
// the ten previous passing or warning evaluations.
func slo10() []byte {
	var b strings.Builder
	b.WriteString("spec_version: \"1.0\"\ncomparison:\n  compare_with: several_results\n  include_result_with_score: pass_or_warn\n" +
		"  number_of_comparison_results: 10\n  aggregate_function: p90\nobjectives:\n")
	for i := range 10 {
		fmt.Fprintf(&b, "  - sli: sli_%d\n    displayName: SLI %d\n    key_sli: %t\n    weight: 1\n"+
			"    pass:\n      - criteria:\n          - \"<=+10%%\"\n          - \"<1000\"\n"+
			"    warning:\n      - criteria:\n          - \"<=1200\"\n", i, i, i == 0)
	}
	b.WriteString("total_score:\n  pass: \"90%\"\n  warning: \"75%\"\n")
	return []byte(b.String())
}

// sloInputs returns ten SLI values and ten previous evaluations for slo10.
func sloInputs() ([]slo.SLIResult, []slo.Previous) {
	values := make([]slo.SLIResult, 10)
	for i := range values {
		values[i] = slo.SLIResult{Metric: "sli_" + strconv.Itoa(i), Value: float64(500 + 10*i), Success: true}
	}
	previous := make([]slo.Previous, 10)
	for p := range previous {
		vals := make([]slo.SLIResult, 10)
		for i := range vals {
			vals[i] = slo.SLIResult{Metric: "sli_" + strconv.Itoa(i), Value: float64(480 + 7*p + 10*i), Success: true}
		}
		previous[p] = slo.Previous{ID: "eval-" + strconv.Itoa(p), Result: slo.Pass, Values: vals}
	}
	return values, previous
}

// BenchmarkDecodeSLO10Objectives decodes issue 16's SLO (target, with the
// evaluation: under 40 µs).
func BenchmarkDecodeSLO10Objectives(b *testing.B) {
	data := slo10()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if s, diags := DecodeSLO("slo.yaml", data); s == nil {
			b.Fatal(diags)
		}
	}
}

// BenchmarkDecodeAndEvaluateSLO10Objectives10Previous decodes issue 16's
// SLO and evaluates it against ten previous evaluations, as an evaluation
// does (target: under 40 µs).
func BenchmarkDecodeAndEvaluateSLO10Objectives10Previous(b *testing.B) {
	data := slo10()
	values, previous := sloInputs()
	b.ReportAllocs()
	for b.Loop() {
		s, diags := DecodeSLO("slo.yaml", data)
		if s == nil {
			b.Fatal(diags)
		}
		if ev := slo.Evaluate(s, values, previous); len(ev.IndicatorResults) != 10 {
			b.Fatalf("%d indicator results, want 10", len(ev.IndicatorResults))
		}
	}
}

func TestSLO10Decodes(t *testing.T) {
	s, diags := DecodeSLO("slo.yaml", slo10())
	if s == nil || len(diags) != 0 {
		t.Fatalf("the benchmark's SLO does not decode cleanly:\n%v", diags)
	}
	values, previous := sloInputs()
	ev := slo.Evaluate(s, values, previous)
	if len(s.Objectives) != 10 || len(ev.IndicatorResults) != 10 || s.Comparison.NumberOfResults != 10 {
		t.Errorf("%d objectives, %d results, %d comparison results; want 10 each", len(s.Objectives), len(ev.IndicatorResults), s.Comparison.NumberOfResults)
	}
}

// BenchmarkCachedSLO10Objectives10Previous is the evaluator's path for an
// SLO whose content it decoded before: a cache lookup, then the evaluation.
func BenchmarkCachedSLO10Objectives10Previous(b *testing.B) {
	data := slo10()
	values, previous := sloInputs()
	c := NewCache(8)
	b.ReportAllocs()
	for b.Loop() {
		s, diags := c.SLO("slo.yaml", data)
		if s == nil {
			b.Fatal(diags)
		}
		if ev := slo.Evaluate(s, values, previous); len(ev.IndicatorResults) != 10 {
			b.Fatalf("%d indicator results, want 10", len(ev.IndicatorResults))
		}
	}
}
