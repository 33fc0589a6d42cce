package slo

import (
	"strconv"
	"testing"
)

// benchSLO builds an SLO of n objectives, each with a relative and an absolute
// pass criterion and an absolute warning criterion, compared with several
// results by p90, and n values plus prev earlier evaluations for it.
func benchSLO(tb testing.TB, n, prev int) (*SLO, []SLIResult, []Previous) {
	tb.Helper()
	s := &SLO{
		Comparison: Comparison{CompareWith: SeveralResults, IncludeResults: IncludePassOrWarn, NumberOfResults: prev, Aggregate: AggregateP90},
		TotalScore: TotalScore{Pass: 90, Warning: 75, HasWarning: true},
	}
	values := make([]SLIResult, n)
	for i := range n {
		name := "sli_" + strconv.Itoa(i)
		s.Objectives = append(s.Objectives, Objective{
			SLI:     name,
			Weight:  1,
			KeySLI:  i == 0,
			Pass:    []Block{{mustCriterion(tb, "<=+10%"), mustCriterion(tb, "<1000")}},
			Warning: []Block{{mustCriterion(tb, "<=1200")}},
		})
		values[i] = SLIResult{Metric: name, Value: float64(500 + 10*i), Success: true}
	}
	previous := make([]Previous, prev)
	for p := range previous {
		vals := make([]SLIResult, n)
		for i := range vals {
			vals[i] = SLIResult{Metric: "sli_" + strconv.Itoa(i), Value: float64(480 + 7*p + 10*i), Success: true}
		}
		previous[p] = Previous{ID: "eval-" + strconv.Itoa(p), Result: Pass, Values: vals}
	}
	return s, values, previous
}

func BenchmarkEvaluate10Objectives10Previous(b *testing.B) {
	s, values, previous := benchSLO(b, 10, 10)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		ev := Evaluate(s, values, previous)
		if len(ev.IndicatorResults) != 10 {
			b.Fatalf("got %d indicator results, want 10", len(ev.IndicatorResults))
		}
	}
	b.ReportMetric(float64(b.N)*float64(len(s.Objectives))/b.Elapsed().Seconds(), "objectives/s")
}

func BenchmarkParseCriterion(b *testing.B) {
	inputs := []string{"<=+10%", "<1000", ">= 99.5", "=-5", "<=800"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := ParseCriterion(inputs[i%len(inputs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
