package remediation

import (
	"fmt"
	"math"

	"github.com/tendhq/tend/internal/slo"
)

// The labels Sloth puts on its burn-rate alerts (and, but for severity, on
// its recording rules).
const (
	LabelSlothID       = "sloth_id"
	LabelSlothSLO      = "sloth_slo"
	LabelSlothService  = "sloth_service"
	LabelSlothSeverity = "sloth_severity"
)

// BurnAlert identifies the budget SLO of a problem that Sloth's page-level
// burn-rate alert opened. A remediation of such a problem is verified on
// the burn (VerifyBurn), not on the service's SLO file.
type BurnAlert struct {
	// ID is the alert's sloth_id; SLO and Service its sloth_slo and
	// sloth_service. The id identifies the SLO when present.
	ID      string `json:"id,omitempty"`
	SLO     string `json:"slo,omitempty"`
	Service string `json:"service,omitempty"`
}

// BurnAlertOf recognises Sloth's page alert by its labels: sloth_severity
// "page" and a sloth_id or sloth_slo. Ticket alerts are not pages and are
// left to the SLO file's verification.
func BurnAlertOf(labels map[string]string) (BurnAlert, bool) {
	if labels[LabelSlothSeverity] != "page" {
		return BurnAlert{}, false
	}
	b := BurnAlert{ID: labels[LabelSlothID], SLO: labels[LabelSlothSLO], Service: labels[LabelSlothService]}
	if b.ID == "" && b.SLO == "" {
		return BurnAlert{}, false
	}
	return b, true
}

// Name is how the SLO is named to a person: its id, else its name.
func (b BurnAlert) Name() string {
	if b.ID != "" {
		return b.ID
	}
	return b.SLO
}

// BurnSample is what Prometheus's recording rules say of a budget SLO now:
// the SLI error ratios over Sloth's two short page windows, the budget
// ratio (1 - objective) and the SLO period.
type BurnSample struct {
	// ErrorRatio5m and ErrorRatio30m are slo:sli_error:ratio_rate5m and
	// slo:sli_error:ratio_rate30m.
	ErrorRatio5m, ErrorRatio30m float64
	// ErrorBudget is slo:error_budget:ratio.
	ErrorBudget float64
	// PeriodDays is slo:time_period:days; 0 means Sloth's default, 30.
	PeriodDays float64
}

// PageFactors are the burn-rate factors of Sloth's page alert for an SLO
// period (slo.SlothWindows): the quick pair (5m/1h windows) spends 2% of
// the budget in its long window, the slow pair (30m/6h) 5%. For 30 days
// they are 14.4 and 6.
func PageFactors(periodDays float64) (quick, slow float64) {
	return slo.SlothWindows[0].Factor(periodDays), slo.SlothWindows[1].Factor(periodDays)
}

// VerifyBurn decides whether the burn that paged has stopped: both short
// windows of the page alert burn below their factors. Sloth's page alert
// fires only when a short window and its long window are both above the
// factor, so with both short windows below it the alert cannot fire,
// whatever the long windows (which lag for up to 6 hours) still say. The
// answer is an evaluation (pass: stopped, fail: still burning) whose budget
// part reports the two burn rates, so the remediation records and shows it
// as any verifying evaluation. A missing or unusable sample fails: an
// unmeasured burn is never taken as stopped.
func VerifyBurn(b BurnAlert, s BurnSample) slo.Evaluation {
	quick, slow := PageFactors(s.PeriodDays)
	ev := slo.Evaluation{IndicatorResults: []slo.IndicatorResult{}, ComparedEvents: []string{}}
	name := b.Name()
	usable := s.ErrorBudget > 0 && finite(s.ErrorBudget) && finite(s.ErrorRatio5m) && finite(s.ErrorRatio30m)
	r5, r30 := 0.0, 0.0
	if usable {
		r5, r30 = s.ErrorRatio5m/s.ErrorBudget, s.ErrorRatio30m/s.ErrorBudget
	}
	check := func(rate, limit float64) *slo.BudgetCheck {
		c := &slo.BudgetCheck{Value: round2(rate), Limit: round2(limit), Success: usable}
		c.Violated = !usable || rate >= limit
		if !usable {
			c.Message = "no usable burn rate: the recording rules gave no error ratio or error budget"
		}
		return c
	}
	quickCheck, slowCheck := check(r5, quick), check(r30, slow)
	br := slo.BudgetResult{SLO: name, DisplayName: name + " (5m burn rate)", Status: slo.StatusPass, BurnRate: quickCheck}
	br30 := slo.BudgetResult{SLO: name, DisplayName: name + " (30m burn rate)", Status: slo.StatusPass, BurnRate: slowCheck}
	if quickCheck.Violated {
		br.Status = slo.StatusFail
	}
	if slowCheck.Violated {
		br30.Status = slo.StatusFail
	}
	ev.Budget = []slo.BudgetResult{br, br30}
	switch {
	case !usable:
		ev.Result, ev.Score = slo.Fail, 0
		ev.Message = fmt.Sprintf("burn of %s not measured: the recording rules gave no usable error ratio or error budget", name)
	case quickCheck.Violated || slowCheck.Violated:
		ev.Result, ev.Score = slo.Fail, 0
		ev.Message = fmt.Sprintf("budget %s still burns: %g over 5m (page at %g), %g over 30m (page at %g)", name, round2(r5), round2(quick), round2(r30), round2(slow))
	default:
		ev.Result, ev.Score = slo.Pass, 100
		ev.Message = fmt.Sprintf("burn of budget %s stopped: %g over 5m (page at %g), %g over 30m (page at %g)", name, round2(r5), round2(quick), round2(r30), round2(slow))
	}
	return ev
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func round2(v float64) float64 { return math.Round(v*100) / 100 }
