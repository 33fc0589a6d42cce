package slo

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// blocks parses each list of criteria strings into one AND-ed block.
func blocks(tb testing.TB, lists ...[]string) []Block {
	tb.Helper()
	out := make([]Block, 0, len(lists))
	for _, l := range lists {
		b := Block{}
		for _, s := range l {
			b = append(b, mustCriterion(tb, s))
		}
		out = append(out, b)
	}
	return out
}

// ok is a successful SLI value.
func ok(metric string, v float64) SLIResult {
	return SLIResult{Metric: metric, Value: v, Success: true}
}

// prev is an earlier evaluation with one successful value of "rt".
func prev(id string, r Result, v float64) Previous {
	return Previous{ID: id, Result: r, Values: []SLIResult{ok("rt", v)}}
}

// scored is an SLO with pass 90% and warning 75% thresholds.
func scored(objectives ...Objective) *SLO {
	return &SLO{Comparison: DefaultComparison(), Objectives: objectives, TotalScore: TotalScore{Pass: 90, Warning: 75, HasWarning: true}}
}

// near reports whether a and b agree to a few ulps of hand arithmetic.
func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestEvaluateObjective(t *testing.T) {
	lastPass := []Previous{prev("e1", Pass, 700)}
	tests := []struct {
		name       string
		pass, warn [][]string
		values     []SLIResult
		previous   []Previous
		wantStatus Status
		wantScore  float64
		wantPass   []Target
		wantWarn   []Target
		wantValue  SLIResult
	}{
		{
			name: "less or equal holds at the boundary", pass: [][]string{{"<=10"}}, values: []SLIResult{ok("rt", 10)},
			wantStatus: StatusPass, wantScore: 1, wantPass: []Target{{"<=10", 10, false}},
		},
		{
			name: "less fails at the boundary", pass: [][]string{{"<10"}}, values: []SLIResult{ok("rt", 10)},
			wantStatus: StatusFail, wantScore: 0, wantPass: []Target{{"<10", 10, true}},
		},
		{
			name: "equal holds on the exact value", pass: [][]string{{"=0"}}, values: []SLIResult{ok("rt", 0)},
			wantStatus: StatusPass, wantScore: 1, wantPass: []Target{{"=0", 0, false}},
		},
		{
			name: "equal fails next to the value", pass: [][]string{{"=0"}}, values: []SLIResult{ok("rt", 0.001)},
			wantStatus: StatusFail, wantScore: 0, wantPass: []Target{{"=0", 0, true}},
		},
		{
			name: "greater or equal holds at the boundary", pass: [][]string{{">=99.5"}}, values: []SLIResult{ok("rt", 99.5)},
			wantStatus: StatusPass, wantScore: 1, wantPass: []Target{{">=99.5", 99.5, false}},
		},
		{
			name: "greater fails at the boundary", pass: [][]string{{">5"}}, values: []SLIResult{ok("rt", 5)},
			wantStatus: StatusFail, wantScore: 0, wantPass: []Target{{">5", 5, true}},
		},
		{
			name: "all criteria of a block must hold", pass: [][]string{{">=5", "<=10"}}, values: []SLIResult{ok("rt", 12)},
			wantStatus: StatusFail, wantScore: 0, wantPass: []Target{{">=5", 5, false}, {"<=10", 10, true}},
		},
		{
			name: "a block holds when all its criteria hold", pass: [][]string{{">=5", "<=10"}}, values: []SLIResult{ok("rt", 7)},
			wantStatus: StatusPass, wantScore: 1, wantPass: []Target{{">=5", 5, false}, {"<=10", 10, false}},
		},
		{
			name: "any pass block is enough", pass: [][]string{{"<5"}, {">10"}}, values: []SLIResult{ok("rt", 12)},
			wantStatus: StatusPass, wantScore: 1, wantPass: []Target{{"<5", 5, true}, {">10", 10, false}},
		},
		{
			name: "no pass block holds", pass: [][]string{{"<5"}, {">10"}}, values: []SLIResult{ok("rt", 7)},
			wantStatus: StatusFail, wantScore: 0, wantPass: []Target{{"<5", 5, true}, {">10", 10, true}},
		},
		{
			name: "warning scores half the weight", pass: [][]string{{"<5"}}, warn: [][]string{{"<2"}, {"<10"}}, values: []SLIResult{ok("rt", 7)},
			wantStatus: StatusWarning, wantScore: 0.5,
			wantPass: []Target{{"<5", 5, true}}, wantWarn: []Target{{"<2", 2, true}, {"<10", 10, false}},
		},
		{
			name: "pass wins over warning and warning blocks are still reported", pass: [][]string{{"<5"}}, warn: [][]string{{"<10"}, {">100"}}, values: []SLIResult{ok("rt", 3)},
			wantStatus: StatusPass, wantScore: 1,
			wantPass: []Target{{"<5", 5, false}}, wantWarn: []Target{{"<10", 10, false}, {">100", 100, true}},
		},
		{
			name: "neither pass nor warning", pass: [][]string{{"<5"}}, warn: [][]string{{"<10"}}, values: []SLIResult{ok("rt", 11)},
			wantStatus: StatusFail, wantScore: 0,
			wantPass: []Target{{"<5", 5, true}}, wantWarn: []Target{{"<10", 10, true}},
		},
		{
			name: "relative percent increase holds at the boundary", pass: [][]string{{"<=+10%"}}, values: []SLIResult{ok("rt", 770)}, previous: lastPass,
			wantStatus: StatusPass, wantScore: 1, wantPass: []Target{{"<=+10%", 770, false}}, wantValue: SLIResult{ComparedValue: 700},
		},
		{
			name: "relative percent increase violated", pass: [][]string{{"<=+10%"}}, values: []SLIResult{ok("rt", 771)}, previous: lastPass,
			wantStatus: StatusFail, wantScore: 0, wantPass: []Target{{"<=+10%", 770, true}}, wantValue: SLIResult{ComparedValue: 700},
		},
		{
			name: "percent without sign is an increase", pass: [][]string{{"<=10%"}}, values: []SLIResult{ok("rt", 760)}, previous: lastPass,
			wantStatus: StatusPass, wantScore: 1, wantPass: []Target{{"<=10%", 770, false}}, wantValue: SLIResult{ComparedValue: 700},
		},
		{
			name: "relative percent decrease", pass: [][]string{{">-5%"}}, values: []SLIResult{ok("rt", 665)}, previous: lastPass,
			wantStatus: StatusFail, wantScore: 0, wantPass: []Target{{">-5%", 665, true}}, wantValue: SLIResult{ComparedValue: 700},
		},
		{
			name: "relative absolute increase", pass: [][]string{{"=+1"}}, values: []SLIResult{ok("rt", 701)}, previous: lastPass,
			wantStatus: StatusPass, wantScore: 1, wantPass: []Target{{"=+1", 701, false}}, wantValue: SLIResult{ComparedValue: 700},
		},
		{
			name: "relative absolute decrease", pass: [][]string{{">-5"}}, values: []SLIResult{ok("rt", 696)}, previous: lastPass,
			wantStatus: StatusPass, wantScore: 1, wantPass: []Target{{">-5", 695, false}}, wantValue: SLIResult{ComparedValue: 700},
		},
		{
			name: "relative criteria with spaces", pass: [][]string{{"<= +10 %"}}, values: []SLIResult{ok("rt", 700)}, previous: lastPass,
			wantStatus: StatusPass, wantScore: 1, wantPass: []Target{{"<= +10 %", 770, false}}, wantValue: SLIResult{ComparedValue: 700},
		},
		{
			name: "no history satisfies relative criteria", pass: [][]string{{"<=+10%", ">-5"}}, values: []SLIResult{ok("rt", 5000)},
			wantStatus: StatusPass, wantScore: 1, wantPass: []Target{{"<=+10%", 0, false}, {">-5", 0, false}},
		},
		{
			name: "no history still checks absolute criteria", pass: [][]string{{"<=+10%", "<1000"}}, values: []SLIResult{ok("rt", 5000)},
			wantStatus: StatusFail, wantScore: 0, wantPass: []Target{{"<=+10%", 0, false}, {"<1000", 1000, true}},
		},
		{
			name: "history without a usable value of the SLI counts as none", pass: [][]string{{"<=+10%"}}, values: []SLIResult{ok("rt", 5000)},
			previous:   []Previous{{ID: "e1", Result: Pass, Values: []SLIResult{{Metric: "rt", Value: 1, Success: false}, ok("other", 1)}}},
			wantStatus: StatusPass, wantScore: 1, wantPass: []Target{{"<=+10%", 0, false}},
		},
		{
			name: "missing value fails and violates every target", pass: [][]string{{"<=+10%", "<1000"}}, warn: [][]string{{"<=1200"}}, values: []SLIResult{ok("other", 1)},
			wantStatus: StatusFail, wantScore: 0,
			wantPass: []Target{{"<=+10%", 0, true}, {"<1000", 1000, true}}, wantWarn: []Target{{"<=1200", 1200, true}},
			wantValue: SLIResult{Message: MessageNoValue},
		},
		{
			name: "unsuccessful value keeps the provider message", pass: [][]string{{"<1000"}}, previous: lastPass,
			values:     []SLIResult{{Metric: "rt", Value: 3, Success: false, Message: "query failed: bad_data"}},
			wantStatus: StatusFail, wantScore: 0, wantPass: []Target{{"<1000", 1000, true}},
			wantValue: SLIResult{Value: 3, ComparedValue: 700, Message: "query failed: bad_data"},
		},
		{
			name: "unsuccessful value without a message gets one", pass: [][]string{{">=0"}},
			values:     []SLIResult{{Metric: "rt", Success: false}},
			wantStatus: StatusFail, wantScore: 0, wantPass: []Target{{">=0", 0, true}},
			wantValue: SLIResult{Message: MessageUnsuccessful},
		},
		{
			name: "NaN value is unusable", pass: [][]string{{"<=+10%"}},
			values:     []SLIResult{{Metric: "rt", Value: math.NaN(), Success: true}},
			wantStatus: StatusFail, wantScore: 0, wantPass: []Target{{"<=+10%", 0, true}},
			wantValue: SLIResult{Message: "SLI value NaN is not a finite number"},
		},
		{
			name: "infinite value is unusable", pass: [][]string{{">0"}},
			values:     []SLIResult{{Metric: "rt", Value: math.Inf(1), Success: true}},
			wantStatus: StatusFail, wantScore: 0, wantPass: []Target{{">0", 0, true}},
			wantValue: SLIResult{Message: "SLI value +Inf is not a finite number"},
		},
		{
			name: "first of two values of one SLI is used", pass: [][]string{{"<10"}},
			values:     []SLIResult{ok("rt", 5), ok("rt", 50)},
			wantStatus: StatusPass, wantScore: 1, wantPass: []Target{{"<10", 10, false}}, wantValue: SLIResult{Value: 5, Success: true},
		},
		{
			name: "empty block never holds", pass: [][]string{{}},
			values:     []SLIResult{ok("rt", 5)},
			wantStatus: StatusFail, wantScore: 0, wantPass: []Target{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := scored(Objective{SLI: "rt", Weight: 1, Pass: blocks(t, tt.pass...), Warning: blocks(t, tt.warn...)})
			s.Comparison.IncludeResults = IncludePass
			ev := Evaluate(s, tt.values, tt.previous)
			if len(ev.IndicatorResults) != 1 {
				t.Fatalf("got %d indicator results, want 1", len(ev.IndicatorResults))
			}
			ir := ev.IndicatorResults[0]
			if ir.Status != tt.wantStatus || ir.Score != tt.wantScore {
				t.Errorf("status, score = %s, %v; want %s, %v", ir.Status, ir.Score, tt.wantStatus, tt.wantScore)
			}
			checkTargets(t, "pass", ir.PassTargets, tt.wantPass)
			checkTargets(t, "warning", ir.WarningTargets, tt.wantWarn)

			want := tt.wantValue
			want.Metric = "rt"
			if want.Message == "" && want.Value == 0 && !want.Success && len(tt.values) > 0 && tt.values[0].Metric == "rt" && tt.values[0].Success && finite(tt.values[0].Value) {
				want.Value, want.Success = tt.values[0].Value, true
			}
			if ir.Value != want {
				t.Errorf("value = %+v, want %+v", ir.Value, want)
			}
		})
	}
}

// checkTargets compares targets, treating a missing want as no targets.
func checkTargets(tb testing.TB, what string, got, want []Target) {
	tb.Helper()
	if want == nil {
		want = []Target{}
	}
	if got == nil {
		tb.Errorf("%s targets are nil, want a non-nil slice", what)
	}
	if len(got) != len(want) {
		tb.Errorf("%s targets = %+v, want %+v", what, got, want)
		return
	}
	for i := range got {
		if got[i].Criteria != want[i].Criteria || got[i].Violated != want[i].Violated || !near(got[i].TargetValue, want[i].TargetValue) {
			tb.Errorf("%s target %d = %+v, want %+v", what, i, got[i], want[i])
		}
	}
}

func TestEvaluateBaselineSelection(t *testing.T) {
	// Newest first.
	history := []Previous{
		prev("e1", Fail, 500),
		prev("e2", Warning, 400),
		{ID: "e3", Result: Pass, Invalidated: true, Values: []SLIResult{ok("rt", 300)}},
		prev("e4", Pass, 200),
		prev("e5", Pass, 100),
		prev("e6", Warning, 50),
	}
	tests := []struct {
		name         string
		comparison   Comparison
		previous     []Previous
		wantEvents   []string
		wantCompared float64
	}{
		{"single result of pass skips fail, warning and invalidated", Comparison{SingleResult, IncludePass, 1, AggregateAvg}, history, []string{"e4"}, 200},
		{"single result of pass or warning", Comparison{SingleResult, IncludePassOrWarn, 1, AggregateAvg}, history, []string{"e2"}, 400},
		{"single result of all takes the newest", Comparison{SingleResult, IncludeAll, 1, AggregateAvg}, history, []string{"e1"}, 500},
		{"single result ignores a count", Comparison{SingleResult, IncludeAll, 5, AggregateAvg}, history, []string{"e1"}, 500},
		{"several results of pass", Comparison{SeveralResults, IncludePass, 2, AggregateAvg}, history, []string{"e4", "e5"}, 150},
		{"several results of pass or warning", Comparison{SeveralResults, IncludePassOrWarn, 3, AggregateAvg}, history, []string{"e2", "e4", "e5"}, 700.0 / 3},
		{"several results without a count uses 3", Comparison{SeveralResults, IncludeAll, 0, AggregateAvg}, history, []string{"e1", "e2", "e4"}, 1100.0 / 3},
		{"several results with fewer available uses all", Comparison{SeveralResults, IncludeAll, 10, AggregateAvg}, history, []string{"e1", "e2", "e4", "e5", "e6"}, 250},
		{"zero comparison includes all with one result", Comparison{}, history, []string{"e1"}, 500},
		{"only failed history with pass filter gives no baseline", Comparison{SeveralResults, IncludePass, 3, AggregateAvg}, []Previous{prev("f1", Fail, 1), prev("f2", Fail, 2)}, []string{}, 0},
		{"no history", Comparison{SeveralResults, IncludeAll, 3, AggregateAvg}, nil, []string{}, 0},
		{
			"an evaluation without the SLI is compared but adds no value", Comparison{SeveralResults, IncludeAll, 3, AggregateAvg},
			[]Previous{prev("a", Pass, 10), {ID: "b", Result: Pass, Values: []SLIResult{ok("other", 999)}}, {ID: "c", Result: Pass, Values: []SLIResult{{Metric: "rt", Value: 999}}}, prev("d", Pass, 30)},
			[]string{"a", "b", "c"}, 10,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := scored(Objective{SLI: "rt", Weight: 1, Pass: blocks(t, []string{"<=+10%"})})
			s.Comparison = tt.comparison
			ev := Evaluate(s, []SLIResult{ok("rt", 100)}, tt.previous)
			if !slices.Equal(ev.ComparedEvents, tt.wantEvents) {
				t.Errorf("comparedEvents = %q, want %q", ev.ComparedEvents, tt.wantEvents)
			}
			if got := ev.IndicatorResults[0].Value.ComparedValue; !near(got, tt.wantCompared) {
				t.Errorf("comparedValue = %v, want %v", got, tt.wantCompared)
			}
		})
	}
}

func TestEvaluateAggregates(t *testing.T) {
	tests := []struct {
		name   string
		agg    Aggregate
		values []float64 // newest first, deliberately unsorted
		want   float64
	}{
		{"avg", AggregateAvg, []float64{300, 100, 1000, 200, 400}, 400},
		{"p50 on an odd count hits a value (pos 3 of 5)", AggregateP50, []float64{300, 100, 1000, 200, 400}, 300},
		{"p50 interpolates (pos 2.5 of 4)", AggregateP50, []float64{80, 10, 40, 20}, 30},
		{"p50 of two values (pos 1.5)", AggregateP50, []float64{30, 10}, 20},
		{"p50 of one value (pos 1 >= n)", AggregateP50, []float64{42}, 42},
		{"p90 at or beyond n is the largest (pos 5.4 of 5)", AggregateP90, []float64{300, 100, 1000, 200, 400}, 1000},
		{"p90 interpolates (pos 9.9 of 10)", AggregateP90, []float64{50, 100, 10, 90, 20, 30, 40, 60, 70, 80}, 99},
		{"p95 beyond n is the largest (pos 10.45 of 10)", AggregateP95, []float64{50, 100, 10, 90, 20, 30, 40, 60, 70, 80}, 100},
		{"p95 interpolates (pos 19.95 of 20)", AggregateP95, []float64{20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}, 19.95},
		{"unknown aggregate averages", "median", []float64{1, 2, 6}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var history []Previous
			for i, v := range tt.values {
				history = append(history, prev("e"+formatFloat(float64(i)), Pass, v))
			}
			s := scored(Objective{SLI: "rt", Weight: 1, Pass: blocks(t, []string{"<=+0%"})})
			s.Comparison = Comparison{SeveralResults, IncludeAll, len(tt.values), tt.agg}
			ev := Evaluate(s, []SLIResult{ok("rt", 1)}, history)
			ir := ev.IndicatorResults[0]
			if !near(ir.Value.ComparedValue, tt.want) {
				t.Errorf("comparedValue = %v, want %v", ir.Value.ComparedValue, tt.want)
			}
			if !near(ir.PassTargets[0].TargetValue, tt.want) {
				t.Errorf("targetValue = %v, want %v", ir.PassTargets[0].TargetValue, tt.want)
			}
			if len(ev.ComparedEvents) != len(tt.values) {
				t.Errorf("compared %d events, want %d", len(ev.ComparedEvents), len(tt.values))
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	tests := []struct {
		name string
		vals []float64
		p    float64
		want float64
	}{
		{"pos below 1 is the smallest (0.1*4 = 0.4)", []float64{9, 3, 5}, 0.1, 3},
		{"pos exactly 1 is the first", []float64{9, 3, 5}, 0.25, 3},
		{"pos between interpolates (0.3*4 = 1.2)", []float64{9, 3, 5}, 0.3, 3.4},
		{"pos exactly n is the largest (0.75*4 = 3)", []float64{9, 3, 5}, 0.75, 9},
		{"pos beyond n is the largest", []float64{9, 3, 5}, 0.9, 9},
		{"single value", []float64{7}, 0.5, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(slices.Clone(tt.vals), tt.p); !near(got, tt.want) {
				t.Errorf("percentile(%v, %v) = %v, want %v", tt.vals, tt.p, got, tt.want)
			}
		})
	}
}

func TestEvaluateTotal(t *testing.T) {
	pass := func(tb testing.TB, sli string, weight float64, key bool) Objective {
		return Objective{SLI: sli, Weight: weight, KeySLI: key, Pass: blocks(tb, []string{"<10"}), Warning: blocks(tb, []string{"<20"})}
	}
	info := Objective{SLI: "info"}
	tests := []struct {
		name        string
		slo         func(testing.TB) *SLO
		values      []SLIResult
		wantResult  Result
		wantScore   float64
		wantStatus  []Status
		wantScores  []float64
		wantMessage string
	}{
		{
			name:   "all pass",
			slo:    func(tb testing.TB) *SLO { return scored(pass(tb, "a", 1, false), pass(tb, "b", 1, false)) },
			values: []SLIResult{ok("a", 1), ok("b", 1)}, wantResult: Pass, wantScore: 100,
			wantStatus: []Status{StatusPass, StatusPass}, wantScores: []float64{1, 1},
			wantMessage: "score 100% reached the pass threshold 90%",
		},
		{
			name: "score exactly at the pass threshold passes",
			slo: func(tb testing.TB) *SLO {
				var objs []Objective
				for _, n := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"} {
					objs = append(objs, pass(tb, n, 1, false))
				}
				return scored(objs...)
			},
			values:     []SLIResult{ok("a", 1), ok("b", 1), ok("c", 1), ok("d", 1), ok("e", 1), ok("f", 1), ok("g", 1), ok("h", 1), ok("i", 1), ok("j", 99)},
			wantResult: Pass, wantScore: 90,
			wantStatus:  []Status{StatusPass, StatusPass, StatusPass, StatusPass, StatusPass, StatusPass, StatusPass, StatusPass, StatusPass, StatusFail},
			wantScores:  []float64{1, 1, 1, 1, 1, 1, 1, 1, 1, 0},
			wantMessage: "score 90% reached the pass threshold 90%",
		},
		{
			name:   "score exactly at the warning threshold warns",
			slo:    func(tb testing.TB) *SLO { return scored(pass(tb, "a", 3, false), pass(tb, "b", 1, false)) },
			values: []SLIResult{ok("a", 1), ok("b", 99)}, wantResult: Warning, wantScore: 75,
			wantStatus: []Status{StatusPass, StatusFail}, wantScores: []float64{3, 0},
			wantMessage: "score 75% is below the pass threshold 90% and reached the warning threshold 75%",
		},
		{
			name:   "below the warning threshold fails",
			slo:    func(tb testing.TB) *SLO { return scored(pass(tb, "a", 1, false), pass(tb, "b", 1, false)) },
			values: []SLIResult{ok("a", 1), ok("b", 99)}, wantResult: Fail, wantScore: 50,
			wantStatus: []Status{StatusPass, StatusFail}, wantScores: []float64{1, 0},
			wantMessage: "score 50% is below the warning threshold 75%",
		},
		{
			name: "no warning threshold means no warning",
			slo: func(tb testing.TB) *SLO {
				s := scored(pass(tb, "a", 1, false), pass(tb, "b", 1, false))
				s.TotalScore = TotalScore{Pass: 90}
				return s
			},
			values: []SLIResult{ok("a", 1), ok("b", 15)}, wantResult: Fail, wantScore: 75,
			wantStatus: []Status{StatusPass, StatusWarning}, wantScores: []float64{1, 0.5},
			wantMessage: "score 75% is below the pass threshold 90%",
		},
		{
			name: "weights",
			slo: func(tb testing.TB) *SLO {
				return scored(pass(tb, "a", 2, false), pass(tb, "b", 1, false), pass(tb, "c", 1, false))
			},
			values: []SLIResult{ok("a", 15), ok("b", 1), ok("c", 99)}, wantResult: Fail, wantScore: 50,
			wantStatus: []Status{StatusWarning, StatusPass, StatusFail}, wantScores: []float64{1, 1, 0},
			wantMessage: "score 50% is below the warning threshold 75%",
		},
		{
			name:   "weight 0 is reported but not scored",
			slo:    func(tb testing.TB) *SLO { return scored(pass(tb, "a", 1, false), pass(tb, "b", 0, false)) },
			values: []SLIResult{ok("a", 1), ok("b", 99)}, wantResult: Pass, wantScore: 100,
			wantStatus: []Status{StatusPass, StatusFail}, wantScores: []float64{1, 0},
			wantMessage: "score 100% reached the pass threshold 90%",
		},
		{
			name:   "key SLI with weight 0 still fails the evaluation",
			slo:    func(tb testing.TB) *SLO { return scored(pass(tb, "a", 1, false), pass(tb, "b", 0, true)) },
			values: []SLIResult{ok("a", 1), ok("b", 99)}, wantResult: Fail, wantScore: 100,
			wantStatus: []Status{StatusPass, StatusFail}, wantScores: []float64{1, 0},
			wantMessage: "key SLI b failed (score 100%)",
		},
		{
			name:   "only weight 0 objectives pass with 100",
			slo:    func(tb testing.TB) *SLO { return scored(pass(tb, "a", 0, false)) },
			values: []SLIResult{ok("a", 99)}, wantResult: Pass, wantScore: 100,
			wantStatus: []Status{StatusFail}, wantScores: []float64{0},
			wantMessage: "no objective is scored (all are informational or have weight 0)",
		},
		{
			name: "negative and NaN weights count as 0",
			slo: func(tb testing.TB) *SLO {
				return scored(pass(tb, "a", 1, false), pass(tb, "b", -3, false), pass(tb, "c", math.NaN(), false))
			},
			values: []SLIResult{ok("a", 1), ok("b", 99), ok("c", 99)}, wantResult: Pass, wantScore: 100,
			wantStatus: []Status{StatusPass, StatusFail, StatusFail}, wantScores: []float64{1, 0, 0},
			wantMessage: "score 100% reached the pass threshold 90%",
		},
		{
			name:   "failed key SLI fails a perfect score otherwise",
			slo:    func(tb testing.TB) *SLO { return scored(pass(tb, "a", 1, true), pass(tb, "b", 9, false)) },
			values: []SLIResult{ok("a", 99), ok("b", 1)}, wantResult: Fail, wantScore: 90,
			wantStatus: []Status{StatusFail, StatusPass}, wantScores: []float64{0, 9},
			wantMessage: "key SLI a failed (score 90%)",
		},
		{
			name:   "two failed key SLIs are both named",
			slo:    func(tb testing.TB) *SLO { return scored(pass(tb, "a", 1, true), pass(tb, "b", 1, true)) },
			values: []SLIResult{ok("a", 99)}, wantResult: Fail, wantScore: 0,
			wantStatus: []Status{StatusFail, StatusFail}, wantScores: []float64{0, 0},
			wantMessage: "key SLIs a, b failed (score 0%)",
		},
		{
			name: "key SLI in warning does not fail",
			slo: func(tb testing.TB) *SLO {
				s := scored(pass(tb, "a", 1, true), pass(tb, "b", 1, false))
				s.TotalScore.Warning = 50
				return s
			},
			values: []SLIResult{ok("a", 15), ok("b", 1)}, wantResult: Warning, wantScore: 75,
			wantStatus: []Status{StatusWarning, StatusPass}, wantScores: []float64{0.5, 1},
			wantMessage: "score 75% is below the pass threshold 90% and reached the warning threshold 50%",
		},
		{
			name:   "missing key SLI fails",
			slo:    func(tb testing.TB) *SLO { return scored(pass(tb, "a", 1, true)) },
			values: nil, wantResult: Fail, wantScore: 0,
			wantStatus: []Status{StatusFail}, wantScores: []float64{0},
			wantMessage: "key SLI a failed (score 0%)",
		},
		{
			name:   "informational objectives are not scored",
			slo:    func(tb testing.TB) *SLO { return scored(pass(tb, "a", 1, false), info) },
			values: []SLIResult{ok("a", 1), ok("info", 12345)}, wantResult: Pass, wantScore: 100,
			wantStatus: []Status{StatusPass, StatusInfo}, wantScores: []float64{1, 0},
			wantMessage: "score 100% reached the pass threshold 90%",
		},
		{
			name: "informational key SLI without a value never fails",
			slo: func(tb testing.TB) *SLO {
				i := info
				i.KeySLI = true
				return scored(pass(tb, "a", 1, false), i)
			},
			values: []SLIResult{ok("a", 1)}, wantResult: Pass, wantScore: 100,
			wantStatus: []Status{StatusPass, StatusInfo}, wantScores: []float64{1, 0},
			wantMessage: "score 100% reached the pass threshold 90%",
		},
		{
			name:   "only informational objectives pass with 100",
			slo:    func(testing.TB) *SLO { return scored(info, Objective{SLI: "info2", Pass: []Block{}}) },
			values: []SLIResult{ok("info", 1)}, wantResult: Pass, wantScore: 100,
			wantStatus: []Status{StatusInfo, StatusInfo}, wantScores: []float64{0, 0},
			wantMessage: "no objective is scored (all are informational or have weight 0)",
		},
		{
			name:   "no objectives fail with 0",
			slo:    func(testing.TB) *SLO { return scored() },
			values: nil, wantResult: Fail, wantScore: 0,
			wantMessage: "the SLO has no objectives",
		},
		{
			name:   "nil SLO fails with 0 and names every value as unused",
			slo:    func(testing.TB) *SLO { return nil },
			values: []SLIResult{ok("x", 1)}, wantResult: Fail, wantScore: 0,
			wantMessage: "the SLO has no objectives; SLI values not used by any objective: x",
		},
		{
			name: "two objectives on the same SLI both use its value",
			slo: func(tb testing.TB) *SLO {
				return scored(pass(tb, "rt", 1, false), Objective{SLI: "rt", Weight: 1, Pass: blocks(tb, []string{">5"})})
			},
			values: []SLIResult{ok("rt", 7)}, wantResult: Pass, wantScore: 100,
			wantStatus: []Status{StatusPass, StatusPass}, wantScores: []float64{1, 1},
			wantMessage: "score 100% reached the pass threshold 90%",
		},
		{
			name:   "unused SLI values are named once in the message",
			slo:    func(tb testing.TB) *SLO { return scored(pass(tb, "a", 1, false)) },
			values: []SLIResult{ok("x", 1), ok("a", 1), ok("y", 1), ok("x", 2)}, wantResult: Pass, wantScore: 100,
			wantStatus: []Status{StatusPass}, wantScores: []float64{1},
			wantMessage: "score 100% reached the pass threshold 90%; SLI values not used by any objective: x, y",
		},
		{
			name: "score that is not a whole number",
			slo: func(tb testing.TB) *SLO {
				return scored(pass(tb, "a", 1, false), pass(tb, "b", 1, false), pass(tb, "c", 1, false))
			},
			values: []SLIResult{ok("a", 1), ok("b", 1), ok("c", 99)}, wantResult: Fail, wantScore: 200.0 / 3,
			wantStatus: []Status{StatusPass, StatusPass, StatusFail}, wantScores: []float64{1, 1, 0},
			wantMessage: "score 66.66666666666667% is below the warning threshold 75%",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := Evaluate(tt.slo(t), tt.values, nil)
			if ev.Result != tt.wantResult || ev.Score != tt.wantScore {
				t.Errorf("result, score = %s, %v; want %s, %v", ev.Result, ev.Score, tt.wantResult, tt.wantScore)
			}
			if ev.Message != tt.wantMessage {
				t.Errorf("message = %q, want %q", ev.Message, tt.wantMessage)
			}
			var gotStatus []Status
			var gotScores []float64
			for _, ir := range ev.IndicatorResults {
				gotStatus = append(gotStatus, ir.Status)
				gotScores = append(gotScores, ir.Score)
			}
			if !slices.Equal(gotStatus, tt.wantStatus) || !slices.Equal(gotScores, tt.wantScores) {
				t.Errorf("statuses %v scores %v, want %v %v", gotStatus, gotScores, tt.wantStatus, tt.wantScores)
			}
		})
	}
}

func TestEvaluateTwoObjectivesOnOneSLI(t *testing.T) {
	s := scored(
		Objective{SLI: "rt", DisplayName: "fast", Weight: 1, Pass: blocks(t, []string{"<100"})},
		Objective{SLI: "rt", DisplayName: "not slower", Weight: 1, Pass: blocks(t, []string{"<=+10%"})},
	)
	ev := Evaluate(s, []SLIResult{ok("rt", 150)}, []Previous{prev("e1", Pass, 140)})
	for i, want := range []struct {
		name   string
		status Status
	}{{"fast", StatusFail}, {"not slower", StatusPass}} {
		ir := ev.IndicatorResults[i]
		if ir.DisplayName != want.name || ir.Status != want.status || ir.Value.Value != 150 || ir.Value.ComparedValue != 140 {
			t.Errorf("indicator %d = %+v, want %s %s with value 150 compared to 140", i, ir, want.name, want.status)
		}
	}
	if ev.Score != 50 {
		t.Errorf("score = %v, want 50", ev.Score)
	}
}

func TestEvaluateDisplayNameDefaultsToSLI(t *testing.T) {
	ev := Evaluate(scored(Objective{SLI: "rt", Weight: 1, Pass: blocks(t, []string{"<1"})}, Objective{SLI: "b", DisplayName: "Bee"}), nil, nil)
	if got := ev.IndicatorResults[0].DisplayName; got != "rt" {
		t.Errorf("displayName = %q, want the SLI name %q", got, "rt")
	}
	if got := ev.IndicatorResults[1].DisplayName; got != "Bee" {
		t.Errorf("displayName = %q, want %q", got, "Bee")
	}
}

// selfHealingSLO is slo-self-healing-prometheus.yaml of the Keptn tutorial.
func selfHealingSLO(tb testing.TB) *SLO {
	tb.Helper()
	return &SLO{
		SpecVersion: "1.0",
		Comparison:  Comparison{CompareWith: SingleResult, IncludeResults: IncludePass, NumberOfResults: 1, Aggregate: AggregateAvg},
		Objectives: []Objective{{
			SLI:         "response_time_p90",
			DisplayName: "Response time P90",
			Weight:      1,
			Pass:        blocks(tb, []string{"<=+10%", "<1000"}),
			Warning:     blocks(tb, []string{"<=1200"}),
		}},
		TotalScore: TotalScore{Pass: 90, Warning: 40, HasWarning: true},
	}
}

func TestEvaluateSelfHealingTutorial(t *testing.T) {
	tests := []struct {
		name        string
		value       float64
		previous    []Previous
		wantResult  Result
		wantScore   float64
		wantStatus  Status
		wantPass    []Target
		wantEvents  []string
		wantMessage string
	}{
		{
			name: "1100 without history warns (50 >= 40)", value: 1100,
			wantResult: Warning, wantScore: 50, wantStatus: StatusWarning,
			wantPass:    []Target{{"<=+10%", 0, false}, {"<1000", 1000, true}},
			wantEvents:  []string{},
			wantMessage: "score 50% is below the pass threshold 90% and reached the warning threshold 40%",
		},
		{
			name: "1300 fails", value: 1300,
			wantResult: Fail, wantScore: 0, wantStatus: StatusFail,
			wantPass:    []Target{{"<=+10%", 0, false}, {"<1000", 1000, true}},
			wantEvents:  []string{},
			wantMessage: "score 0% is below the warning threshold 40%",
		},
		{
			name: "800 against 700 misses the relative pass criterion (800 > 770) and warns", value: 800,
			previous:   []Previous{{ID: "ev-700", Result: Pass, Values: []SLIResult{ok("response_time_p90", 700)}}},
			wantResult: Warning, wantScore: 50, wantStatus: StatusWarning,
			wantPass:    []Target{{"<=+10%", 770, true}, {"<1000", 1000, false}},
			wantEvents:  []string{"ev-700"},
			wantMessage: "score 50% is below the pass threshold 90% and reached the warning threshold 40%",
		},
		{
			name: "800 against 750 passes (800 <= 825)", value: 800,
			previous:   []Previous{{ID: "ev-750", Result: Pass, Values: []SLIResult{ok("response_time_p90", 750)}}},
			wantResult: Pass, wantScore: 100, wantStatus: StatusPass,
			wantPass:    []Target{{"<=+10%", 825, false}, {"<1000", 1000, false}},
			wantEvents:  []string{"ev-750"},
			wantMessage: "score 100% reached the pass threshold 90%",
		},
		{
			name: "a newer failed evaluation is not the baseline", value: 800,
			previous: []Previous{
				{ID: "ev-fail", Result: Fail, Values: []SLIResult{ok("response_time_p90", 5000)}},
				{ID: "ev-750", Result: Pass, Values: []SLIResult{ok("response_time_p90", 750)}},
			},
			wantResult: Pass, wantScore: 100, wantStatus: StatusPass,
			wantPass:    []Target{{"<=+10%", 825, false}, {"<1000", 1000, false}},
			wantEvents:  []string{"ev-750"},
			wantMessage: "score 100% reached the pass threshold 90%",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := Evaluate(selfHealingSLO(t), []SLIResult{ok("response_time_p90", tt.value)}, tt.previous)
			if ev.Result != tt.wantResult || ev.Score != tt.wantScore {
				t.Errorf("result, score = %s, %v; want %s, %v", ev.Result, ev.Score, tt.wantResult, tt.wantScore)
			}
			if ev.Message != tt.wantMessage {
				t.Errorf("message = %q, want %q", ev.Message, tt.wantMessage)
			}
			if !slices.Equal(ev.ComparedEvents, tt.wantEvents) {
				t.Errorf("comparedEvents = %q, want %q", ev.ComparedEvents, tt.wantEvents)
			}
			ir := ev.IndicatorResults[0]
			if ir.Status != tt.wantStatus {
				t.Errorf("status = %s, want %s", ir.Status, tt.wantStatus)
			}
			checkTargets(t, "pass", ir.PassTargets, tt.wantPass)
			checkTargets(t, "warning", ir.WarningTargets, []Target{{"<=1200", 1200, tt.value > 1200}})
		})
	}
}

// TestEvaluateJSONGolden pins the serialised evaluation, including empty lists
// written as [] rather than null.
func TestEvaluateJSONGolden(t *testing.T) {
	tests := []struct {
		name     string
		slo      func(testing.TB) *SLO
		values   []SLIResult
		previous []Previous
	}{
		{
			name:     "self_healing_warning",
			slo:      selfHealingSLO,
			values:   []SLIResult{ok("response_time_p90", 800), ok("throughput", 12.5)},
			previous: []Previous{{ID: "ev-700", Result: Pass, Values: []SLIResult{ok("response_time_p90", 700)}}},
		},
		{
			name:   "self_healing_missing_value",
			slo:    selfHealingSLO,
			values: []SLIResult{{Metric: "response_time_p90", Success: false, Message: "prometheus: empty result"}},
		},
		{
			name: "informational_only",
			slo:  func(testing.TB) *SLO { return scored(Objective{SLI: "throughput"}) },
		},
		{
			name: "no_objectives",
			slo:  func(testing.TB) *SLO { return scored() },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := Evaluate(tt.slo(t), tt.values, tt.previous)
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(ev); err != nil {
				t.Fatalf("marshal: %v", err)
			}
			golden(t, filepath.Join("testdata", tt.name+".golden.json"), buf.Bytes())
		})
	}
}

// golden compares got with the file at path, or rewrites it with -update.
func golden(tb testing.TB, path string, got []byte) {
	tb.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			tb.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		tb.Errorf("%s differs (run go test -update after checking):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestEvaluateEmptyListsSerialiseAsArrays(t *testing.T) {
	inputs := map[string]Evaluation{
		"nil SLO":            Evaluate(nil, nil, nil),
		"informational only": Evaluate(scored(Objective{SLI: "x"}), nil, nil),
	}
	for name, ev := range inputs {
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte("null")) {
				t.Errorf("JSON holds null: %s", b)
			}
		})
	}
}

// fuzzReader hands out the bytes of a fuzz input as small decisions.
type fuzzReader struct{ b []byte }

func (r *fuzzReader) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *fuzzReader) float() float64 {
	var buf [8]byte
	n := copy(buf[:], r.b)
	r.b = r.b[n:]
	return math.Float64frombits(binary.LittleEndian.Uint64(buf[:]))
}

// small is a float that is usually a plain number but may be anything.
func (r *fuzzReader) small() float64 {
	switch k := r.byte(); k % 8 {
	case 0:
		return r.float()
	default:
		return float64(int(r.byte())-64) * float64(k)
	}
}

func FuzzEvaluate(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x03\x01\x02\x05\x07\x01\x10\x20\x30\x40\x01\x02\x03"))
	f.Add(bytes.Repeat([]byte{0xff, 0x7f, 0xf0, 0x00, 0x01}, 40))
	f.Add(bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}, 30))
	criteria := []string{"<=+10%", "<1000", "=0", ">=-5%", ">5", "<=10%", "=+1", ">-5", "<.5", "<=800"}
	aggs := []Aggregate{AggregateAvg, AggregateP50, AggregateP90, AggregateP95, ""}
	results := []Result{Pass, Warning, Fail, ""}
	sli := func(k byte) string { return string(rune('a' + k%5)) }
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &fuzzReader{b: data}
		s := &SLO{
			Comparison: Comparison{
				CompareWith:     []CompareWith{SingleResult, SeveralResults, ""}[r.byte()%3],
				IncludeResults:  []IncludeResults{IncludePass, IncludePassOrWarn, IncludeAll, ""}[r.byte()%4],
				NumberOfResults: int(r.byte()%12) - 1,
				Aggregate:       aggs[r.byte()%5],
			},
			TotalScore: TotalScore{Pass: float64(r.byte() % 101), Warning: float64(r.byte() % 101), HasWarning: r.byte()%2 == 0},
		}
		for range r.byte() % 6 {
			o := Objective{SLI: sli(r.byte()), KeySLI: r.byte()%3 == 0, Weight: r.small()}
			for range r.byte() % 3 {
				b := Block{}
				for range r.byte() % 3 {
					b = append(b, mustCriterion(t, criteria[r.byte()%byte(len(criteria))]))
				}
				o.Pass = append(o.Pass, b)
			}
			for range r.byte() % 3 {
				b := Block{}
				for range 1 + r.byte()%2 {
					b = append(b, mustCriterion(t, criteria[r.byte()%byte(len(criteria))]))
				}
				o.Warning = append(o.Warning, b)
			}
			s.Objectives = append(s.Objectives, o)
		}
		var values []SLIResult
		for range r.byte() % 7 {
			values = append(values, SLIResult{Metric: sli(r.byte()), Value: r.small(), Success: r.byte()%4 != 0})
		}
		var previous []Previous
		for i := range int(r.byte() % 8) {
			p := Previous{ID: "p" + formatFloat(float64(i)), Result: results[r.byte()%4], Invalidated: r.byte()%5 == 0}
			for range r.byte() % 6 {
				p.Values = append(p.Values, SLIResult{Metric: sli(r.byte()), Value: r.small(), Success: r.byte()%4 != 0})
			}
			previous = append(previous, p)
		}

		ev := Evaluate(s, values, previous)

		if !(ev.Score >= 0 && ev.Score <= 100) {
			t.Fatalf("score %v outside [0, 100]", ev.Score)
		}
		switch ev.Result {
		case Pass, Warning, Fail:
		default:
			t.Fatalf("result %q", ev.Result)
		}
		if _, err := json.Marshal(ev); err != nil {
			t.Fatalf("evaluation does not serialise: %v", err)
		}
		if len(ev.IndicatorResults) != len(s.Objectives) || ev.ComparedEvents == nil {
			t.Fatalf("%d indicator results for %d objectives, comparedEvents %v", len(ev.IndicatorResults), len(s.Objectives), ev.ComparedEvents)
		}
		if len(ev.ComparedEvents) > comparisonCount(s.Comparison) {
			t.Errorf("compared %d events, at most %d allowed", len(ev.ComparedEvents), comparisonCount(s.Comparison))
		}
		for i, ir := range ev.IndicatorResults {
			o := s.Objectives[i]
			if len(ir.PassTargets) != blocksLen(o.Pass) || len(ir.WarningTargets) != blocksLen(o.Warning) || ir.PassTargets == nil || ir.WarningTargets == nil {
				t.Errorf("objective %d: %d/%d targets for %d/%d criteria", i, len(ir.PassTargets), len(ir.WarningTargets), blocksLen(o.Pass), blocksLen(o.Warning))
			}
			if o.Informational() && (ir.Status != StatusInfo || ir.Score != 0) {
				t.Errorf("informational objective %d: status %s score %v", i, ir.Status, ir.Score)
			}
			if !o.Informational() && ir.Status == StatusFail && o.KeySLI && ev.Result != Fail {
				t.Errorf("key objective %d failed but the evaluation is %s", i, ev.Result)
			}
			if ir.Score < 0 || (ir.Score > 0 && !(ir.Score <= o.Weight)) {
				t.Errorf("objective %d: score %v with weight %v", i, ir.Score, o.Weight)
			}
			if !ir.Value.Success && ir.Status != StatusFail && ir.Status != StatusInfo {
				t.Errorf("objective %d: status %s without a value", i, ir.Status)
			}
		}
		if ev.Result == Pass && len(s.Objectives) == 0 {
			t.Error("an SLO without objectives passed")
		}
	})
}
