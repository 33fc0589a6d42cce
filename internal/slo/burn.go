package slo

import (
	"math"
	"strconv"
	"time"
)

// BurnWindow is one pair of windows of Sloth's multi-window, multi-burn-rate
// alerts: the alert fires when the burn rate over both windows is above the
// factor that spends BudgetPercent of the period's budget in the long
// window.
type BurnWindow struct {
	// Severity is Sloth's: "page" or "ticket".
	Severity      string
	Short, Long   time.Duration
	BudgetPercent float64
}

// SlothWindows are Sloth's default windows (google-30d and google-28d, from
// the Google SRE workbook), page quick, page slow, ticket quick, ticket slow.
var SlothWindows = []BurnWindow{
	{Severity: "page", Short: 5 * time.Minute, Long: time.Hour, BudgetPercent: 2},
	{Severity: "page", Short: 30 * time.Minute, Long: 6 * time.Hour, BudgetPercent: 5},
	{Severity: "ticket", Short: 2 * time.Hour, Long: 24 * time.Hour, BudgetPercent: 10},
	{Severity: "ticket", Short: 6 * time.Hour, Long: 72 * time.Hour, BudgetPercent: 10},
}

// DefaultPeriodDays is the SLO period when the rules do not say.
const DefaultPeriodDays = 30

// Factor is the burn-rate threshold of w for an SLO period of periodDays
// (0 or less means DefaultPeriodDays): 14.4 for the page quick pair of a
// 30-day period, computed as Sloth computes it.
func (w BurnWindow) Factor(periodDays float64) float64 {
	if !(periodDays > 0) || math.IsInf(periodDays, 0) {
		periodDays = DefaultPeriodDays
	}
	return w.BudgetPercent / 100 * periodDays * 24 / w.Long.Hours()
}

// BurnThreshold is a burn-rate threshold of one alert window, for charts
// and listings.
type BurnThreshold struct {
	Severity string  `json:"severity"`
	Short    string  `json:"shortWindow"`
	Long     string  `json:"longWindow"`
	Factor   float64 `json:"factor"`
}

// BurnThresholds are the thresholds of SlothWindows for a period.
func BurnThresholds(periodDays float64) []BurnThreshold {
	out := make([]BurnThreshold, len(SlothWindows))
	for i, w := range SlothWindows {
		out[i] = BurnThreshold{Severity: w.Severity, Short: PromDuration(w.Short), Long: PromDuration(w.Long), Factor: math.Round(w.Factor(periodDays)*1000) / 1000}
	}
	return out
}

// PromDuration writes d as Sloth names its windows: 5m, 1h, 1d, 3d.
func PromDuration(d time.Duration) string {
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	case d >= time.Hour && d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	case d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	}
	return strconv.Itoa(int(d/time.Second)) + "s"
}

// BudgetStatus is what Sloth's recording rules say of one budget SLO at a
// moment: `tend get slos` and the service page show it.
type BudgetStatus struct {
	// ID, SLO and Service are the sloth_id, sloth_slo and sloth_service
	// labels; Project, Stage and TendService tend's labels, when the rules
	// carry them.
	ID          string `json:"id"`
	SLO         string `json:"slo"`
	Service     string `json:"service"`
	Project     string `json:"project,omitempty"`
	Stage       string `json:"stage,omitempty"`
	TendService string `json:"tendService,omitempty"`
	// Objective is the SLO's objective ratio (0.999), PeriodDays its period.
	Objective  float64 `json:"objective"`
	PeriodDays float64 `json:"periodDays"`
	// Remaining is the share of the period's budget left (negative when
	// overspent); nil when the rules gave none.
	Remaining *float64 `json:"remaining,omitempty"`
	// BurnRates are the burn rates by window ("5m" ... "3d", "period"),
	// each the window's SLI error ratio divided by the budget ratio; a
	// window without data is left out.
	BurnRates map[string]float64 `json:"burnRates"`
	// Thresholds are the alerts' burn-rate factors for the period.
	Thresholds []BurnThreshold `json:"thresholds"`
}

// BudgetPoint is one value of a budget series at a time (Unix seconds).
type BudgetPoint struct {
	T int64   `json:"t"`
	V float64 `json:"v"`
}

// BudgetHistory is a budget SLO's remaining budget and burn rates over a
// time range, for charts.
type BudgetHistory struct {
	Remaining []BudgetPoint `json:"remaining"`
	// BurnRate1h and BurnRate5m are the burn rates over the page alert's
	// quick windows.
	BurnRate1h []BudgetPoint `json:"burnRate1h"`
	BurnRate5m []BudgetPoint `json:"burnRate5m"`
}
