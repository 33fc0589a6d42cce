package prometheus

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tendhq/tend/internal/remediation"
	"github.com/tendhq/tend/internal/sli"
	"github.com/tendhq/tend/internal/slo"
)

// The series of Sloth's recording rules that tend reads
// (github.com/slok/sloth pkg/common/conventions).
const (
	MetricSLIError           = "slo:sli_error:ratio_rate" // + window: 5m, 30m, 1h, 2h, 6h, 1d, 3d, 30d
	MetricObjective          = "slo:objective:ratio"
	MetricErrorBudget        = "slo:error_budget:ratio"
	MetricPeriodDays         = "slo:time_period:days"
	MetricCurrentBurnRate    = "slo:current_burn_rate:ratio"
	MetricPeriodBurnRate     = "slo:period_burn_rate:ratio"
	MetricPeriodBudgetRemain = "slo:period_error_budget_remaining:ratio"
)

// budgetMatchers are the label matchers that find a budget SLO's series:
// its sloth_id, or its sloth_slo within the sloth_service. Both are tried
// (PromQL "or"), so slo.yaml may name an SLO either way.
func budgetMatchers(name, service string) []string {
	return []string{
		"sloth_id=" + quote(name),
		"sloth_slo=" + quote(name) + ",sloth_service=" + quote(service),
	}
}

// alertMatchers are the matchers of the SLO a page alert names: its
// sloth_id, else its sloth_slo and sloth_service.
func alertMatchers(b remediation.BurnAlert) []string {
	if b.ID != "" {
		return []string{"sloth_id=" + quote(b.ID)}
	}
	m := "sloth_slo=" + quote(b.SLO)
	if b.Service != "" {
		m += ",sloth_service=" + quote(b.Service)
	}
	return []string{m}
}

// pick is max(expr{m1} or expr{m2} ...): one number however many of the
// matchers find the SLO. wrap, when not empty, is applied to each selector
// (e.g. "avg_over_time(%s[1h])").
func pick(metric string, matchers []string, wrap string) string {
	parts := make([]string, len(matchers))
	for i, m := range matchers {
		sel := metric + "{" + m + "}"
		if wrap != "" {
			sel = fmt.Sprintf(wrap, sel)
		}
		parts[i] = sel
	}
	return "max(" + strings.Join(parts, " or ") + ")"
}

// budgetQuery is the built-in query of a budget indicator
// (slo.BudgetRemainingSLI, slo.BudgetBurnRateSLI) of a budget objective
// in slo.yaml: the remaining budget from
// slo:period_error_budget_remaining:ratio, and the burn rate over the
// evaluation window as the mean of Sloth's 5-minute SLI error ratio over
// the window divided by the budget ratio (docs/error-budgets.md).
func budgetQuery(b slo.BudgetIndicator, req sli.Request) string {
	m := budgetMatchers(b.SLO, req.Service)
	if !b.BurnRate {
		return pick(MetricPeriodBudgetRemain, m, "")
	}
	w := sli.DurationSeconds(req.Start, req.End)
	return pick(MetricSLIError+"5m", m, "avg_over_time(%s["+w+"])") + " / " + pick(MetricErrorBudget, m, "")
}

// ShortBurn reads what remediation.VerifyBurn needs of the SLO of a page
// alert at the moment at. A rule without data gives NaN (the verification
// fails on it); the period defaults to 30 days.
func (p *Provider) ShortBurn(ctx context.Context, b remediation.BurnAlert, at time.Time) (remediation.BurnSample, error) {
	m := alertMatchers(b)
	var s remediation.BurnSample
	for _, q := range []struct {
		query string
		dst   *float64
	}{
		{pick(MetricSLIError+"5m", m, ""), &s.ErrorRatio5m},
		{pick(MetricSLIError+"30m", m, ""), &s.ErrorRatio30m},
		{pick(MetricErrorBudget, m, ""), &s.ErrorBudget},
		{pick(MetricPeriodDays, m, ""), &s.PeriodDays},
	} {
		res, err := p.instant(ctx, q.query, at)
		switch {
		case err == nil:
			*q.dst = res.Value
		case errors.Is(err, ErrNoData):
			*q.dst = math.NaN()
		default:
			return remediation.BurnSample{}, fmt.Errorf("query %q: %w", q.query, err)
		}
	}
	if math.IsNaN(s.PeriodDays) {
		s.PeriodDays = 0
	}
	return s, nil
}

// BudgetFilter selects budget SLOs: by tend's project and service labels
// where the rules carry them, and by sloth_service. Empty fields match all.
type BudgetFilter struct {
	Project, Service string
}

// matches reports whether a series' labels pass f: a label the rules do
// not carry does not exclude (the project's Prometheus already scopes the
// listing), a service must equal tend's service label or sloth_service.
func (f BudgetFilter) matches(l map[string]string) bool {
	if f.Project != "" && l["project"] != "" && l["project"] != f.Project {
		return false
	}
	if f.Service != "" && l["service"] != f.Service && l["sloth_service"] != f.Service {
		return false
	}
	return true
}

// budgetWindows are the windows whose burn rate Budgets reports.
var budgetWindows = []string{"5m", "30m", "1h", "2h", "6h", "1d", "3d"}

// Budgets discovers the budget SLOs from the series of slo:objective:ratio
// and reads their remaining budget and burn rates at the moment at, with
// one query per number (not per SLO).
func (p *Provider) Budgets(ctx context.Context, f BudgetFilter, at time.Time) ([]slo.BudgetStatus, error) {
	objectives, err := p.vector(ctx, MetricObjective, at)
	if err != nil {
		return nil, err
	}
	byID := map[string]*slo.BudgetStatus{}
	var out []*slo.BudgetStatus
	for _, s := range objectives {
		id := s.Labels["sloth_id"]
		if id == "" || byID[id] != nil || !f.matches(s.Labels) {
			continue
		}
		st := &slo.BudgetStatus{
			ID: id, SLO: s.Labels["sloth_slo"], Service: s.Labels["sloth_service"],
			Project: s.Labels["project"], Stage: s.Labels["stage"], TendService: s.Labels["service"],
			Objective: s.Value, BurnRates: map[string]float64{},
		}
		byID[id] = st
		out = append(out, st)
	}
	if len(out) == 0 {
		return []slo.BudgetStatus{}, nil
	}
	byIDs := func(query string, set func(*slo.BudgetStatus, float64)) error {
		samples, err := p.vector(ctx, query, at)
		if err != nil {
			return err
		}
		for _, s := range samples {
			if st := byID[s.Labels["sloth_id"]]; st != nil && finiteValue(s.Value) {
				set(st, s.Value)
			}
		}
		return nil
	}
	if err := byIDs("max by (sloth_id) ("+MetricPeriodDays+")", func(st *slo.BudgetStatus, v float64) { st.PeriodDays = v }); err != nil {
		return nil, err
	}
	if err := byIDs("max by (sloth_id) ("+MetricPeriodBudgetRemain+")", func(st *slo.BudgetStatus, v float64) { st.Remaining = &v }); err != nil {
		return nil, err
	}
	if err := byIDs("max by (sloth_id) ("+MetricPeriodBurnRate+")", func(st *slo.BudgetStatus, v float64) { st.BurnRates["period"] = round3(v) }); err != nil {
		return nil, err
	}
	for _, w := range budgetWindows {
		q := "max by (sloth_id) (" + MetricSLIError + w + ") / max by (sloth_id) (" + MetricErrorBudget + ")"
		if err := byIDs(q, func(st *slo.BudgetStatus, v float64) { st.BurnRates[w] = round3(v) }); err != nil {
			return nil, err
		}
	}
	res := make([]slo.BudgetStatus, len(out))
	for i, st := range out {
		if st.PeriodDays == 0 {
			st.PeriodDays = slo.DefaultPeriodDays
		}
		st.Thresholds = slo.BurnThresholds(st.PeriodDays)
		res[i] = *st
	}
	slices.SortFunc(res, func(a, b slo.BudgetStatus) int { return strings.Compare(a.ID, b.ID) })
	return res, nil
}

// History reads the remaining budget and burn rates of the SLO with the
// given sloth_id from start to end, one point per step.
func (p *Provider) History(ctx context.Context, id string, start, end time.Time, step time.Duration) (slo.BudgetHistory, error) {
	m := []string{"sloth_id=" + quote(id)}
	var h slo.BudgetHistory
	for _, q := range []struct {
		query string
		dst   *[]slo.BudgetPoint
	}{
		{pick(MetricPeriodBudgetRemain, m, ""), &h.Remaining},
		{pick(MetricSLIError+"1h", m, "") + " / " + pick(MetricErrorBudget, m, ""), &h.BurnRate1h},
		{pick(MetricSLIError+"5m", m, "") + " / " + pick(MetricErrorBudget, m, ""), &h.BurnRate5m},
	} {
		series, err := p.rangeQuery(ctx, q.query, start, end, step)
		if err != nil {
			return slo.BudgetHistory{}, err
		}
		*q.dst = []slo.BudgetPoint{}
		if len(series) > 0 {
			for _, pt := range series[0].Points {
				*q.dst = append(*q.dst, slo.BudgetPoint{T: pt.T, V: pt.V})
			}
		}
	}
	return h, nil
}

// vector runs an instant query that may give many series.
func (p *Provider) vector(ctx context.Context, query string, at time.Time) ([]Sample, error) {
	v := url.Values{}
	v.Set("query", query)
	v.Set("time", promTime(at))
	status, body, err := p.get(ctx, "/api/v1/query", v)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", query, err)
	}
	samples, err := DecodeVector(status, body)
	if err != nil {
		return nil, p.answerError(err, "query %q: %s", query)
	}
	return samples, nil
}

// rangeQuery runs /api/v1/query_range.
func (p *Provider) rangeQuery(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]Series, error) {
	v := url.Values{}
	v.Set("query", query)
	v.Set("start", promTime(start))
	v.Set("end", promTime(end))
	v.Set("step", strconv.FormatFloat(step.Seconds(), 'f', -1, 64))
	status, body, err := p.get(ctx, "/api/v1/query_range", v)
	if err != nil {
		return nil, fmt.Errorf("query range %q: %w", query, err)
	}
	series, err := DecodeMatrix(status, body)
	if err != nil {
		return nil, p.answerError(err, "query range %q: %s", query)
	}
	return series, nil
}

// answerError names the query of a refused answer, without secrets; a
// server error stays an outage (sli.ErrUnavailable).
func (p *Provider) answerError(err error, format, query string) error {
	e := fmt.Errorf(format, query, p.redact(err.Error()))
	if errors.Is(err, sli.ErrUnavailable) {
		return sli.Unavailable(e)
	}
	return e
}

func finiteValue(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
