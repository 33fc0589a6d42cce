package spec

import (
	"os"
	"reflect"
	"testing"

	"github.com/tendhq/tend/internal/slo"
)

func TestDecodeSLOBudget(t *testing.T) {
	data, err := os.ReadFile("testdata/slo-budget.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, diags := DecodeSLO("slo.yaml", data)
	if s == nil || diags.HasErrors() {
		t.Fatalf("decode: %v", diags)
	}
	want := []slo.BudgetObjective{
		{SLO: "carts-requests-availability", DisplayName: "carts availability budget", RemainingAtLeast: 0.25, HasRemaining: true, BurnRateAtMost: 2, HasBurnRate: true},
		{SLO: "requests-latency", RemainingAtLeast: 0.1, HasRemaining: true},
	}
	if !reflect.DeepEqual(s.Budgets, want) {
		t.Errorf("budgets = %+v, want %+v", s.Budgets, want)
	}
	if len(diags) != 1 || diags[0].Severity != SeverityWarning || diags[0].Message != budgetExtensionWarning {
		t.Errorf("diagnostics = %v, want only the extension warning", diags)
	}
}

func TestDecodeSLOBudgetOnly(t *testing.T) {
	s, diags := DecodeSLO("slo.yaml", []byte("spec_version: \"1.0\"\nbudget:\n  - slo: a\n    burnRateAtMost: 14.4\n"))
	if s == nil || diags.HasErrors() {
		t.Fatalf("decode: %v", diags)
	}
	for _, d := range diags {
		if d.Message != budgetExtensionWarning && d.Line != 0 {
			t.Errorf("unexpected diagnostic %v", d)
		}
	}
	if len(s.Budgets) != 1 || s.Budgets[0].BurnRateAtMost != 14.4 {
		t.Errorf("budgets = %+v", s.Budgets)
	}
}
