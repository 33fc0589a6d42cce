package ui_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tendhq/tend/internal/apitypes"
)

// TestBrowserBudget opens a service page whose project's Prometheus holds
// Sloth's rules (a fake one) in Chromium and checks what a person sees of
// the budget: both charts drawn with their lines, and the threshold lines
// (the 0% line of the remaining budget, the four alerts' burn-rate
// factors) drawn dashed across the burn-rate chart.
func TestBrowserBudget(t *testing.T) {
	f := newFixture(t, -1)
	promURL, _ := slothPrometheus(t)
	if _, err := f.client.PutMonitoring(context.Background(), project, apitypes.MonitoringConfig{Provider: "prometheus", URL: promURL}); err != nil {
		t.Fatal(err)
	}
	ctx := newChrome(t)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(f.app.URL()+"/projects/"+project+"/stages/"+stage+"/services/"+service),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), f.admin),
		chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.CSS(`section.budget svg.timechart`)),
	); err != nil {
		t.Fatal(err)
	}
	// What the browser laid out: per chart, the drawn lines' widths and the
	// threshold lines' labels, widths and dash patterns.
	type drawn struct {
		Label      string    `json:"label"`
		Series     []float64 `json:"series"`
		Thresholds []struct {
			Label string  `json:"label"`
			Width float64 `json:"width"`
			Dash  string  `json:"dash"`
		} `json:"thresholds"`
	}
	charts, err := chromedp.Run(ctx, chromedp.Evaluate[[]drawn](`[...document.querySelectorAll('section.budget svg.timechart')].map(svg => ({
		label: svg.getAttribute('aria-label'),
		series: [...svg.querySelectorAll('polyline')].map(p => p.getBoundingClientRect().width),
		thresholds: [...svg.querySelectorAll('line.threshold')].map(l => ({
			label: l.querySelector('title').textContent,
			width: l.getBoundingClientRect().width,
			dash: getComputedStyle(l).strokeDasharray,
		})),
	}))`))
	if err != nil {
		t.Fatal(err)
	}
	if len(charts) != 2 {
		t.Fatalf("%d budget charts drawn, want the remaining budget and the burn rate: %+v", len(charts), charts)
	}
	wantThresholds := [][]string{{"budget spent"}, {"page 14.4× (5m/1h)", "page 6× (30m/6h)", "ticket 3× (2h/1d)", "ticket 1× (6h/3d)"}}
	wantSeries := []int{1, 2}
	for i, c := range charts {
		if len(c.Series) != wantSeries[i] {
			t.Errorf("chart %q draws %d lines, want %d", c.Label, len(c.Series), wantSeries[i])
		}
		for _, w := range c.Series {
			// The points span the whole range: a line across the chart.
			if w < 200 {
				t.Errorf("chart %q draws a line %gpx wide", c.Label, w)
			}
		}
		var labels []string
		for _, th := range c.Thresholds {
			labels = append(labels, th.Label)
			if th.Width < 400 || th.Dash == "" || th.Dash == "none" {
				t.Errorf("chart %q: threshold %q is %gpx wide, dashed %q; want a dashed line across the chart", c.Label, th.Label, th.Width, th.Dash)
			}
		}
		if strings.Join(labels, "|") != strings.Join(wantThresholds[i], "|") {
			t.Errorf("chart %q draws thresholds %q, want %q", c.Label, labels, wantThresholds[i])
		}
	}
	screenshot(t, ctx, screenshotDir(t), "budget")
}
