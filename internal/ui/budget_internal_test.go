package ui

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/slo"
)

func TestBreakdownShowsBudgetResults(t *testing.T) {
	raw := `{"id":"e1","type":"sh.keptn.event.evaluation.finished","time":"2026-01-01T00:00:00Z","data":{"result":"fail","evaluation":{"result":"fail","score":100,
		"indicatorResults":[],"comparedEvents":[],
		"budget":[{"slo":"availability","displayName":"availability","status":"fail",
			"remaining":{"value":0.1,"limit":0.25,"violated":true,"success":true},
			"burnRate":{"value":1.5,"limit":2,"violated":false,"success":true}}]}}}`
	it, err := parseEvaluation([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	b := newBreakdown(it)
	want := []budgetRow{
		{Name: "availability", Check: "remaining at least", Value: "10%", Limit: "25%", Status: "fail"},
		{Name: "availability", Check: "burn rate at most", Value: "1.5×", Limit: "2×", Status: "pass"},
	}
	if len(b.Budget) != 2 || b.Budget[0] != want[0] || b.Budget[1] != want[1] {
		t.Errorf("budget rows = %+v, want %+v", b.Budget, want)
	}
}

func TestLayoutTimeChart(t *testing.T) {
	start := time.Unix(1000, 0)
	end := start.Add(1000 * time.Second)
	// A step of 100s, with the values of 1100 (NaN) and 1200-1400 missing:
	// the line breaks there; 1700 to 2000 is three steps and stays joined.
	pts := []slo.BudgetPoint{{T: 1000, V: 1}, {T: 1100, V: math.NaN()}, {T: 1500, V: 3}, {T: 1600, V: 2}, {T: 1700, V: 2}, {T: 2000, V: 4}}
	c := layoutTimeChart("burn", start, end, []namedSeries{{"1h", "series", pts}}, []threshold{{"page 14.4×", "threshold-page", 14.4}, {"below", "x", -1}}, 0, 15)
	if c.Empty || len(c.Series) != 1 || len(c.Thresholds) != 1 {
		t.Fatalf("chart = %+v", c)
	}
	if l := c.Series[0].Lines; len(l) != 2 || !strings.HasPrefix(l[0], "60.0,") || len(strings.Fields(l[1])) != 4 || !strings.Contains(l[1], " 550.0,") {
		t.Errorf("lines = %q", l)
	}
	if c.Thresholds[0].Y < float64(timeChartPad) || c.Thresholds[0].Y > float64(c.MinY) {
		t.Errorf("threshold at y %v outside the plot", c.Thresholds[0].Y)
	}
	if empty := layoutTimeChart("x", start, end, nil, nil, 0, 1); !empty.Empty {
		t.Error("a chart without points is not marked empty")
	}
}

// manyBudgets lists n SLOs and counts the history reads.
type manyBudgets struct {
	n, histories int
}

func (m *manyBudgets) Budgets(context.Context, string, string, string) ([]slo.BudgetStatus, error) {
	out := make([]slo.BudgetStatus, m.n)
	for i := range out {
		out[i] = slo.BudgetStatus{ID: fmt.Sprintf("slo-%03d", i), PeriodDays: 30, Thresholds: slo.BurnThresholds(30)}
	}
	return out, nil
}

func (m *manyBudgets) History(context.Context, string, string, string, slo.BudgetStatus, time.Time, time.Time, time.Duration) (slo.BudgetHistory, error) {
	m.histories++
	return slo.BudgetHistory{}, nil
}

// TestBudgetSectionBounded: rules can define any number of SLOs; the
// section draws the first maxBudgetSLOs and says how many more there are,
// so a page view costs a bounded number of queries.
func TestBudgetSectionBounded(t *testing.T) {
	src := &manyBudgets{n: maxBudgetSLOs + 7}
	u := &UI{budgets: src, now: time.Now}
	sec := u.loadBudgets(context.Background(), "sockshop", "production", "carts")
	if len(sec.SLOs) != maxBudgetSLOs || sec.More != 7 || src.histories != 2*maxBudgetSLOs {
		t.Errorf("%d SLOs drawn, %d more, %d history reads; want %d, 7, %d", len(sec.SLOs), sec.More, src.histories, maxBudgetSLOs, 2*maxBudgetSLOs)
	}
}
