package slo

import (
	"math"
	"strconv"
	"strings"
)

// BudgetObjective is tend's extension of an SLO file: a gate on the error
// budget of a budget SLO (a Sloth or OpenSLO SLO whose recording rules run
// in Prometheus). Keptn ignores the slo.yaml key that holds it.
type BudgetObjective struct {
	// SLO names the budget SLO: its Sloth id (sloth_id) or its name
	// (sloth_slo) within the service.
	SLO         string `json:"slo"`
	DisplayName string `json:"displayName,omitempty"`
	// RemainingAtLeast is the least share (0..1) of the period's error
	// budget that must remain; HasRemaining says whether it was given.
	RemainingAtLeast float64 `json:"remainingAtLeast,omitempty"`
	HasRemaining     bool    `json:"hasRemaining,omitempty"`
	// BurnRateAtMost is the highest burn rate (error ratio over the
	// evaluation window divided by the budget ratio) allowed; HasBurnRate
	// says whether it was given.
	BurnRateAtMost float64 `json:"burnRateAtMost,omitempty"`
	HasBurnRate    bool    `json:"hasBurnRate,omitempty"`
}

// The prefixes of the indicator names under which the evaluation fetches a
// budget objective's values; ":" cannot occur in an sli.yaml name, so they
// never collide with a user's indicator.
const (
	budgetRemainingPrefix = "budget_remaining:"
	budgetBurnRatePrefix  = "budget_burn_rate:"
)

// BudgetRemainingSLI is the indicator name of the remaining budget of slo.
func BudgetRemainingSLI(slo string) string { return budgetRemainingPrefix + slo }

// BudgetBurnRateSLI is the indicator name of the burn rate of slo over the
// evaluation window.
func BudgetBurnRateSLI(slo string) string { return budgetBurnRatePrefix + slo }

// BudgetIndicator is what an indicator name of BudgetRemainingSLI or
// BudgetBurnRateSLI stands for.
type BudgetIndicator struct {
	SLO string
	// BurnRate is true for the burn rate, false for the remaining budget.
	BurnRate bool
}

// ParseBudgetIndicator reports whether name is a budget indicator name and
// which.
func ParseBudgetIndicator(name string) (BudgetIndicator, bool) {
	if s, ok := strings.CutPrefix(name, budgetRemainingPrefix); ok && s != "" {
		return BudgetIndicator{SLO: s}, true
	}
	if s, ok := strings.CutPrefix(name, budgetBurnRatePrefix); ok && s != "" {
		return BudgetIndicator{SLO: s, BurnRate: true}, true
	}
	return BudgetIndicator{}, false
}

// Indicators returns the indicator names the objective needs.
func (b BudgetObjective) Indicators() []string {
	var out []string
	if b.HasRemaining {
		out = append(out, BudgetRemainingSLI(b.SLO))
	}
	if b.HasBurnRate {
		out = append(out, BudgetBurnRateSLI(b.SLO))
	}
	return out
}

// BudgetCheck is one limit of a budget objective and the value it met.
type BudgetCheck struct {
	// Value is the measured value: the remaining share (0..1, negative
	// when the budget is overspent) or the burn rate.
	Value float64 `json:"value"`
	// Limit is the objective's limit; Violated says the value broke it.
	Limit    float64 `json:"limit"`
	Violated bool    `json:"violated"`
	// Success is false when no usable value came; Message says why.
	Success bool   `json:"success"`
	Message string `json:"message,omitempty"`
}

// BudgetResult is the outcome of one budget objective. It is reported in
// the evaluation's "budget" list beside Keptn's indicatorResults, whose
// shape it leaves alone.
type BudgetResult struct {
	SLO         string       `json:"slo"`
	DisplayName string       `json:"displayName"`
	Status      Status       `json:"status"`
	Remaining   *BudgetCheck `json:"remaining,omitempty"`
	BurnRate    *BudgetCheck `json:"burnRate,omitempty"`
}

// EvaluateBudgets checks every budget objective against values: a limit
// fails when its value breaks it or when no usable value came (a missing
// number is never a pass). The remaining budget must be at least its
// limit, the burn rate at most its limit.
func EvaluateBudgets(objectives []BudgetObjective, values []SLIResult) []BudgetResult {
	if len(objectives) == 0 {
		return nil
	}
	out := make([]BudgetResult, len(objectives))
	for i, b := range objectives {
		r := BudgetResult{SLO: b.SLO, DisplayName: b.DisplayName, Status: StatusPass}
		if r.DisplayName == "" {
			r.DisplayName = b.SLO
		}
		check := func(name string, limit float64, atLeast bool) *BudgetCheck {
			c := &BudgetCheck{Limit: limit}
			v, ok := currentValue(values, name)
			c.Success, c.Value, c.Message = ok, v.Value, v.Message
			switch {
			case !ok:
				c.Violated = true
			case atLeast:
				c.Violated = v.Value < limit
			default:
				c.Violated = v.Value > limit
			}
			if c.Violated {
				r.Status = StatusFail
			}
			return c
		}
		if b.HasRemaining {
			r.Remaining = check(BudgetRemainingSLI(b.SLO), b.RemainingAtLeast, true)
		}
		if b.HasBurnRate {
			r.BurnRate = check(BudgetBurnRateSLI(b.SLO), b.BurnRateAtMost, false)
		}
		out[i] = r
	}
	return out
}

// applyBudgets adds the budget results to ev: a failed budget objective
// fails the evaluation whatever its score, and the message says why.
func applyBudgets(ev *Evaluation, s *SLO, values []SLIResult) {
	if s == nil || len(s.Budgets) == 0 {
		return
	}
	ev.Budget = EvaluateBudgets(s.Budgets, values)
	var msg []byte
	for _, r := range ev.Budget {
		if r.Status != StatusFail {
			continue
		}
		if len(msg) > 0 {
			msg = append(msg, "; "...)
		}
		msg = append(msg, "error budget "...)
		msg = append(msg, r.DisplayName...)
		msg = append(msg, ": "...)
		first := true
		for _, c := range []struct {
			c    *BudgetCheck
			what string
			pct  bool
		}{{r.Remaining, "remaining", true}, {r.BurnRate, "burn rate", false}} {
			if c.c == nil || !c.c.Violated {
				continue
			}
			if !first {
				msg = append(msg, ", "...)
			}
			first = false
			msg = append(msg, c.what...)
			switch {
			case !c.c.Success:
				msg = append(msg, " has no value"...)
			case c.pct:
				msg = append(msg, ' ')
				msg = appendPercent(msg, round(c.c.Value*100))
				msg = append(msg, " is below "...)
				msg = appendPercent(msg, round(c.c.Limit*100))
			default:
				msg = append(msg, ' ')
				msg = strconv.AppendFloat(msg, round(c.c.Value), 'f', -1, 64)
				msg = append(msg, " is above "...)
				msg = strconv.AppendFloat(msg, c.c.Limit, 'f', -1, 64)
			}
		}
	}
	if len(msg) == 0 {
		return
	}
	ev.Result = Fail
	if ev.Message != "" {
		ev.Message += "; "
	}
	ev.Message += string(msg)
}

// round keeps two decimals, enough for a message.
func round(v float64) float64 { return math.Round(v*100) / 100 }
