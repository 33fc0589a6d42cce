package slo

import (
	"strings"
	"testing"
)

func TestEvaluateBudgets(t *testing.T) {
	gate := BudgetObjective{SLO: "avail", RemainingAtLeast: 0.25, HasRemaining: true, BurnRateAtMost: 2, HasBurnRate: true}
	value := func(name string, v float64) SLIResult { return SLIResult{Metric: name, Value: v, Success: true} }
	tests := []struct {
		name    string
		values  []SLIResult
		result  Result
		message string
	}{
		{"budget left and slow burn pass", []SLIResult{value("rt", 100), value(BudgetRemainingSLI("avail"), 0.6), value(BudgetBurnRateSLI("avail"), 1.5)}, Pass, "reached the pass threshold"},
		{"remaining at the limit passes", []SLIResult{value("rt", 100), value(BudgetRemainingSLI("avail"), 0.25), value(BudgetBurnRateSLI("avail"), 2)}, Pass, "reached the pass threshold"},
		{"too little budget left fails", []SLIResult{value("rt", 100), value(BudgetRemainingSLI("avail"), 0.1), value(BudgetBurnRateSLI("avail"), 1)}, Fail, "error budget avail: remaining 10% is below 25%"},
		{"fast burn fails", []SLIResult{value("rt", 100), value(BudgetRemainingSLI("avail"), 0.9), value(BudgetBurnRateSLI("avail"), 6)}, Fail, "error budget avail: burn rate 6 is above 2"},
		{"no value fails", []SLIResult{value("rt", 100), {Metric: BudgetRemainingSLI("avail"), Message: "no data"}, value(BudgetBurnRateSLI("avail"), 1)}, Fail, "remaining has no value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &SLO{
				Comparison: DefaultComparison(),
				Objectives: []Objective{{SLI: "rt", Weight: 1, Pass: []Block{{mustCriterion(t, "<=600")}}}},
				TotalScore: TotalScore{Pass: 90},
				Budgets:    []BudgetObjective{gate},
			}
			ev := Evaluate(s, tt.values, nil)
			if ev.Result != tt.result || !strings.Contains(ev.Message, tt.message) {
				t.Fatalf("result %s %q, want %s containing %q", ev.Result, ev.Message, tt.result, tt.message)
			}
			if strings.Contains(ev.Message, "not used by any objective") {
				t.Errorf("budget values reported as unused: %q", ev.Message)
			}
			if len(ev.Budget) != 1 || ev.Budget[0].Remaining == nil || ev.Budget[0].BurnRate == nil {
				t.Fatalf("budget results = %+v", ev.Budget)
			}
			want := StatusPass
			if tt.result == Fail {
				want = StatusFail
			}
			if ev.Budget[0].Status != want {
				t.Errorf("budget status %s, want %s", ev.Budget[0].Status, want)
			}
			if len(ev.IndicatorResults) != 1 {
				t.Errorf("indicator results changed: %+v", ev.IndicatorResults)
			}
		})
	}
}

func TestEvaluateBudgetsOnly(t *testing.T) {
	s := &SLO{Budgets: []BudgetObjective{{SLO: "a", BurnRateAtMost: 14.4, HasBurnRate: true}}}
	ev := Evaluate(s, []SLIResult{{Metric: BudgetBurnRateSLI("a"), Value: 1, Success: true}}, nil)
	if ev.Result != Pass {
		t.Errorf("result %s %q, want pass", ev.Result, ev.Message)
	}
	ev = Evaluate(s, []SLIResult{{Metric: BudgetBurnRateSLI("a"), Value: 20, Success: true}}, nil)
	if ev.Result != Fail {
		t.Errorf("result %s %q, want fail", ev.Result, ev.Message)
	}
}

func TestParseBudgetIndicator(t *testing.T) {
	for name, want := range map[string]BudgetIndicator{
		BudgetRemainingSLI("x"): {SLO: "x"},
		BudgetBurnRateSLI("y"):  {SLO: "y", BurnRate: true},
	} {
		if got, ok := ParseBudgetIndicator(name); !ok || got != want {
			t.Errorf("ParseBudgetIndicator(%q) = %+v, %v", name, got, ok)
		}
	}
	for _, name := range []string{"error_rate", "budget_remaining:", "budget_burn_rate"} {
		if _, ok := ParseBudgetIndicator(name); ok {
			t.Errorf("ParseBudgetIndicator(%q) matched", name)
		}
	}
}
