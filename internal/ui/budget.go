package ui

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/tendhq/tend/internal/settings"
	"github.com/tendhq/tend/internal/sli"
	"github.com/tendhq/tend/internal/slo"
)

// BudgetSource reads budget SLOs from the project's Prometheus (Sloth's
// recording rules); app passes its Prometheus reader, which the UI may
// not import. An error matching settings.ErrNotSet or
// sli.ErrNotPrometheus hides the budget section.
type BudgetSource interface {
	// Budgets lists the budget SLOs of the project's stage and service.
	Budgets(ctx context.Context, project, stage, service string) ([]slo.BudgetStatus, error)
	// History reads the history of one SLO that Budgets listed for the
	// same project, stage and service.
	History(ctx context.Context, project, stage, service string, b slo.BudgetStatus, start, end time.Time, step time.Duration) (slo.BudgetHistory, error)
}

// budgetTimeout bounds the Prometheus reads of one service page, so a slow
// Prometheus costs the page its budget section, not its answer.
const budgetTimeout = 5 * time.Second

// burnChartSpan is how far back the burn-rate chart reaches.
const burnChartSpan = 24 * time.Hour

// budgetChartPoints is about how many points a chart asks for.
const budgetChartPoints = 144

// maxBudgetSLOs bounds how many SLOs the section draws: each costs six
// range queries and two charts, and rules can define any number.
const maxBudgetSLOs = 20

// budgetSection is the service page's budget part.
type budgetSection struct {
	SLOs []budgetView
	// Problem says why the budgets could not be read.
	Problem string
	// More says how many SLOs beyond maxBudgetSLOs are not drawn.
	More int
}

type budgetView struct {
	ID, SLO                      string
	Objective, Period, Remaining string
	Overspent                    bool
	Burn                         []burnCell
	RemainingChart, BurnChart    timeChart
}

type burnCell struct {
	Window, Rate string
	// Above is true when the rate is above the lowest threshold of a
	// page alert using the window.
	Above bool
}

// timeChart is a laid-out chart of series over time with horizontal
// threshold lines.
type timeChart struct {
	Label         string
	Width, Height int
	Series        []chartSeries
	Thresholds    []chartThreshold
	Min, Max      string
	MinY, MaxY    int
	Start, End    string
	// Empty is true when no series has a point.
	Empty bool
}

type chartSeries struct {
	Label, Class string
	// Lines are polyline point lists; a gap breaks the line.
	Lines []string
}

type chartThreshold struct {
	Label, Class string
	Y            float64
	LabelY       float64
}

const (
	timeChartW    = 560
	timeChartH    = 150
	timeChartLeft = 60
	timeChartPad  = 10
)

// loadBudgets reads the budget SLOs of the service in the stage and their
// history; nil when the project has no Prometheus (or the server no budget
// source).
func (u *UI) loadBudgets(ctx context.Context, project, stage, service string) *budgetSection {
	if u.budgets == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, budgetTimeout)
	defer cancel()
	list, err := u.budgets.Budgets(ctx, project, stage, service)
	switch {
	case errors.Is(err, settings.ErrNotSet), errors.Is(err, sli.ErrNotPrometheus):
		return nil
	case err != nil:
		return &budgetSection{Problem: "The budget SLOs could not be read from Prometheus: " + err.Error()}
	}
	if len(list) == 0 {
		return nil
	}
	now := u.now()
	sec := &budgetSection{}
	if len(list) > maxBudgetSLOs {
		sec.More, list = len(list)-maxBudgetSLOs, list[:maxBudgetSLOs]
	}
	for _, b := range list {
		period := time.Duration(b.PeriodDays * 24 * float64(time.Hour))
		remaining, err := u.budgets.History(ctx, project, stage, service, b, now.Add(-period), now, period/budgetChartPoints)
		if err != nil {
			sec.Problem = "The budget history could not be read from Prometheus: " + err.Error()
			remaining = slo.BudgetHistory{}
		}
		burn, err := u.budgets.History(ctx, project, stage, service, b, now.Add(-burnChartSpan), now, burnChartSpan/budgetChartPoints)
		if err != nil {
			sec.Problem = "The budget history could not be read from Prometheus: " + err.Error()
			burn = slo.BudgetHistory{}
		}
		sec.SLOs = append(sec.SLOs, newBudgetView(b, remaining.Remaining, burn, now.Add(-period), now.Add(-burnChartSpan), now))
	}
	return sec
}

// newBudgetView lays out one SLO: its numbers, the remaining budget over
// the period and the burn rates over the last day with the alerts'
// thresholds.
func newBudgetView(b slo.BudgetStatus, remaining []slo.BudgetPoint, burn slo.BudgetHistory, periodStart, burnStart, end time.Time) budgetView {
	v := budgetView{
		ID: b.ID, SLO: b.SLO,
		Objective: strconv.FormatFloat(b.Objective*100, 'f', -1, 64) + "%",
		Period:    strconv.FormatFloat(b.PeriodDays, 'f', -1, 64) + " days",
		Remaining: "unknown",
	}
	if b.Remaining != nil {
		v.Remaining = strconv.FormatFloat(*b.Remaining*100, 'f', 1, 64) + "%"
		v.Overspent = *b.Remaining < 0
	}
	lowest := map[string]float64{}
	for _, th := range b.Thresholds {
		for _, w := range []string{th.Short, th.Long} {
			if cur, ok := lowest[w]; !ok || th.Factor < cur {
				lowest[w] = th.Factor
			}
		}
	}
	for _, w := range []string{"5m", "30m", "1h", "6h", "1d", "3d", "period"} {
		r, ok := b.BurnRates[w]
		if !ok {
			continue
		}
		limit, has := lowest[w]
		v.Burn = append(v.Burn, burnCell{Window: w, Rate: strconv.FormatFloat(r, 'f', 2, 64), Above: has && r > limit})
	}

	pct := make([]slo.BudgetPoint, len(remaining))
	for i, p := range remaining {
		pct[i] = slo.BudgetPoint{T: p.T, V: p.V * 100}
	}
	v.RemainingChart = layoutTimeChart("Error budget remaining (%) over the "+v.Period+" period", periodStart, end,
		[]namedSeries{{"remaining", "series", pct}},
		[]threshold{{"budget spent", "threshold-page", 0}}, 0, 100)
	var ths []threshold
	maxFactor := 0.0
	for _, th := range b.Thresholds {
		class := "threshold-ticket"
		if th.Severity == "page" {
			class = "threshold-page"
		}
		ths = append(ths, threshold{fmt.Sprintf("%s %g× (%s/%s)", th.Severity, th.Factor, th.Short, th.Long), class, th.Factor})
		maxFactor = math.Max(maxFactor, th.Factor)
	}
	v.BurnChart = layoutTimeChart("Burn rate over the last day (×, 1 spends the budget exactly over the period)", burnStart, end,
		[]namedSeries{{"1h", "series", burn.BurnRate1h}, {"5m", "series series-short", burn.BurnRate5m}}, ths, 0, maxFactor*1.1)
	return v
}

type namedSeries struct {
	label, class string
	points       []slo.BudgetPoint
}

type threshold struct {
	label, class string
	v            float64
}

// layoutTimeChart places series over [start, end] on a y axis from lo to hi,
// widened to hold every point. A gap of more than three steps (where
// Prometheus had no value) breaks a line.
func layoutTimeChart(label string, start, end time.Time, series []namedSeries, ths []threshold, lo, hi float64) timeChart {
	c := timeChart{Label: label, Width: timeChartW, Height: timeChartH, Start: formatTime(start), End: formatTime(end), Empty: true}
	for _, s := range series {
		for _, p := range s.points {
			if finiteFloat(p.V) {
				lo, hi = math.Min(lo, p.V), math.Max(hi, p.V)
				c.Empty = false
			}
		}
	}
	if !(hi > lo) {
		hi = lo + 1
	}
	c.Min, c.Max = formatNumber(lo), formatNumber(math.Round(hi*100)/100)
	top, bottom := float64(timeChartPad), float64(timeChartH-timeChartPad-14)
	c.MaxY, c.MinY = timeChartPad+8, int(bottom)
	left, right := float64(timeChartLeft), float64(timeChartW-timeChartPad)
	span := end.Sub(start).Seconds()
	if span <= 0 {
		span = 1
	}
	x := func(t int64) float64 {
		f := (float64(t) - float64(start.Unix())) / span
		return left + math.Max(0, math.Min(1, f))*(right-left)
	}
	y := func(v float64) float64 { return bottom - (v-lo)/(hi-lo)*(bottom-top) }
	for _, s := range series {
		cs := chartSeries{Label: s.label, Class: s.class}
		gap := seriesGap(s.points)
		var cur []string
		var last int64
		for _, p := range s.points {
			if !finiteFloat(p.V) {
				continue
			}
			if len(cur) > 0 && gap > 0 && p.T-last > gap {
				cs.Lines = append(cs.Lines, strings.Join(cur, " "))
				cur = nil
			}
			cur = append(cur, fmt.Sprintf("%.1f,%.1f", x(p.T), y(p.V)))
			last = p.T
		}
		if len(cur) > 0 {
			cs.Lines = append(cs.Lines, strings.Join(cur, " "))
		}
		c.Series = append(c.Series, cs)
	}
	for _, th := range ths {
		if th.v < lo || th.v > hi {
			continue
		}
		ty := y(th.v)
		c.Thresholds = append(c.Thresholds, chartThreshold{Label: th.label, Class: th.class, Y: ty, LabelY: ty - 2})
	}
	return c
}

// seriesGap is the spacing beyond which two points are not joined: three
// times the series' step (its smallest spacing); 0 joins everything.
func seriesGap(points []slo.BudgetPoint) int64 {
	var step int64
	for i := 1; i < len(points); i++ {
		if d := points[i].T - points[i-1].T; d > 0 && (step == 0 || d < step) {
			step = d
		}
	}
	return 3 * step
}

func finiteFloat(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
