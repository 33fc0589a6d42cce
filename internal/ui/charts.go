package ui

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The charts are laid out here, in plain Go, and drawn by the service
// template as inline SVG: the template escapes every label and title, and
// the layout is testable without a browser. Columns of the heatmap and the
// line charts line up, one per evaluation, oldest on the left.

// Chart geometry, in SVG user units.
const (
	chartLabelW = 190
	chartCellW  = 30
	chartCellH  = 24
	chartHeadH  = 22
	lineChartH  = 64
	chartPad    = 6
)

// scoreRow names the heatmap's first row.
const scoreRow = "Score"

// heatmap is a laid-out evaluation heatmap.
type heatmap struct {
	Width, Height int
	Rows          []heatmapRow
	Cols          []heatmapCol
	Cells         []heatmapCell
	// Label is the accessible name of the whole chart.
	Label string
}

type heatmapRow struct {
	Label string
	// Y is the text baseline of the row's label.
	Y int
}

type heatmapCol struct {
	X, TextX int
	Label    string
	Title    string
	Href     string
	Selected bool
	// Invalidated columns are drawn hatched: ignored for comparison.
	Invalidated bool
}

type heatmapCell struct {
	X, Y, W, H int
	Row        string
	Class      string
	Title      string
	Href       string
	// Text is drawn in the cell (the score row's score).
	Text         string
	TextX, TextY int
}

// sliRows returns the indicator names of evals, in the order of the newest
// evaluation, then any older ones it lacks.
func sliRows(evals []evaluationItem) []string {
	var names []string
	seen := map[string]bool{}
	for i := len(evals) - 1; i >= 0; i-- {
		for _, ir := range evals[i].Indicators {
			n := sliName(ir)
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	return names
}

// layoutHeatmap lays out evals (oldest first): one row for the score and one
// per indicator, one column per evaluation, one cell for every pair.
// href returns the link that selects an evaluation.
func layoutHeatmap(evals []evaluationItem, selected string, href func(evaluationItem) string) heatmap {
	rows := append([]string{scoreRow}, sliRows(evals)...)
	h := heatmap{
		Width:  chartLabelW + len(evals)*chartCellW + chartPad,
		Height: chartHeadH + len(rows)*chartCellH + chartPad,
		Label:  fmt.Sprintf("Evaluation heatmap: %d evaluations (columns, oldest first) by score and %d SLIs (rows)", len(evals), len(rows)-1),
	}
	for i, r := range rows {
		h.Rows = append(h.Rows, heatmapRow{Label: r, Y: chartHeadH + i*chartCellH + chartCellH/2 + 4})
	}
	for c, ev := range evals {
		x := chartLabelW + c*chartCellW
		link := href(ev)
		h.Cols = append(h.Cols, heatmapCol{
			X: x, TextX: x + chartCellW/2, Label: strconv.Itoa(c + 1), Href: link,
			Title:    fmt.Sprintf("Evaluation %d, %s: %s%s", c+1, formatTime(ev.Time), ev.Result, scoreText(ev)),
			Selected: ev.ID == selected, Invalidated: ev.Invalidated,
		})
		for r, row := range rows {
			cell := heatmapCell{X: x + 1, Y: chartHeadH + r*chartCellH + 1, W: chartCellW - 2, H: chartCellH - 2, Row: row, Href: link}
			if r == 0 {
				cell.Class = statusClass(ev.Result)
				cell.Title = fmt.Sprintf("Score, %s: %s%s", formatTime(ev.Time), ev.Result, scoreText(ev))
				if ev.HasScore {
					cell.Text = strconv.FormatFloat(math.Round(ev.Score), 'f', 0, 64)
					cell.TextX, cell.TextY = x+chartCellW/2, cell.Y+chartCellH/2+3
				}
			} else {
				cell.Class, cell.Title = "status-none", fmt.Sprintf("%s, %s: not measured", row, formatTime(ev.Time))
				for _, ir := range ev.Indicators {
					if sliName(ir) == row {
						cell.Class = statusClass(string(ir.Status))
						cell.Title = fmt.Sprintf("%s, %s: %s (%s)", row, formatTime(ev.Time), formatNumber(ir.Value.Value), ir.Status)
						break
					}
				}
			}
			h.Cells = append(h.Cells, cell)
		}
	}
	return h
}

func scoreText(ev evaluationItem) string {
	if !ev.HasScore {
		return ""
	}
	return ", score " + formatNumber(ev.Score)
}

// lineChart is one laid-out series: the score or one SLI over the
// evaluations.
type lineChart struct {
	Label         string
	Width, Height int
	// Lines are polyline point lists; a missing value breaks the line.
	Lines    []string
	Dots     []chartDot
	Min, Max string
	// MinY and MaxY are the text baselines of the axis labels.
	MinY, MaxY int
}

type chartDot struct {
	X, Y  float64
	Title string
}

// layoutLineCharts lays out the score (0 to 100) and each indicator (its
// own range) as small multiples that share the heatmap's columns.
func layoutLineCharts(evals []evaluationItem) []lineChart {
	type point struct {
		v  float64
		ok bool
	}
	series := func(get func(evaluationItem) (float64, bool)) []point {
		ps := make([]point, len(evals))
		for i, ev := range evals {
			v, ok := get(ev)
			if ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
				ps[i] = point{v, true}
			}
		}
		return ps
	}
	build := func(label string, ps []point, fixedMin, fixedMax *float64) lineChart {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, p := range ps {
			if p.ok {
				lo, hi = math.Min(lo, p.v), math.Max(hi, p.v)
			}
		}
		if fixedMin != nil {
			lo, hi = *fixedMin, *fixedMax
		}
		if math.IsInf(lo, 0) {
			lo, hi = 0, 1
		}
		if hi == lo {
			lo, hi = lo-1, hi+1
		}
		c := lineChart{
			Label: label, Width: chartLabelW + len(evals)*chartCellW + chartPad, Height: lineChartH,
			Min: formatNumber(lo), Max: formatNumber(hi), MaxY: chartPad + 8, MinY: lineChartH - chartPad,
		}
		top, bottom := float64(chartPad), float64(lineChartH-chartPad)
		var cur []string
		for i, p := range ps {
			if !p.ok {
				if len(cur) > 0 {
					c.Lines = append(c.Lines, strings.Join(cur, " "))
					cur = nil
				}
				continue
			}
			x := float64(chartLabelW + i*chartCellW + chartCellW/2)
			y := bottom - (p.v-lo)/(hi-lo)*(bottom-top)
			cur = append(cur, fmt.Sprintf("%.1f,%.1f", x, y))
			c.Dots = append(c.Dots, chartDot{X: x, Y: y, Title: fmt.Sprintf("%s, %s: %s", label, formatTime(evals[i].Time), formatNumber(p.v))})
		}
		if len(cur) > 0 {
			c.Lines = append(c.Lines, strings.Join(cur, " "))
		}
		return c
	}
	zero, hundred := 0.0, 100.0
	out := []lineChart{build(scoreRow, series(func(ev evaluationItem) (float64, bool) { return ev.Score, ev.HasScore }), &zero, &hundred)}
	for _, name := range sliRows(evals) {
		out = append(out, build(name, series(func(ev evaluationItem) (float64, bool) {
			for _, ir := range ev.Indicators {
				if sliName(ir) == name {
					return ir.Value.Value, ir.Value.Success
				}
			}
			return 0, false
		}), nil, nil))
	}
	return out
}

// formatTime writes a time the same way everywhere in the UI: UTC, to the
// second.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "unknown time"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}
