package prometheus

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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

// Labels name the labels that place a series of Sloth's rules in tend's
// project, stage and service: tend.yaml intake.labels, which every rule
// tend generates carries (docs/error-budgets.md, "Labels"). Empty fields
// are project, stage and service (sli.LabelNames.WithDefaults).
type Labels = sli.LabelNames

// checkLabels says which name cannot be a label a query names: one that is not
// UTF-8, has a space or control character (as tend.yaml refuses), or
// names the label of another field or one of Sloth's or Prometheus's own.
// The defaults must be filled.
func checkLabels(l Labels) error {
	fields := []struct{ key, name string }{{"project", l.Project}, {"stage", l.Stage}, {"service", l.Service}}
	for i, f := range fields {
		if !utf8.ValidString(f.name) || strings.ContainsFunc(f.name, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return fmt.Errorf("prometheus provider: the %s label name %q is not UTF-8 or has a space or control character; want a label name such as k8s_namespace", f.key, f.name)
		}
		if slices.Contains(reservedLabels, f.name) || strings.HasPrefix(f.name, "__") {
			return fmt.Errorf("prometheus provider: the %s label name %q is a label of Sloth's or Prometheus's own; want a label of tend's", f.key, f.name)
		}
		for _, g := range fields[:i] {
			if g.name == f.name {
				return fmt.Errorf("prometheus provider: the %s and %s label names are both %q; each needs a label of its own", g.key, f.key, f.name)
			}
		}
	}
	return nil
}

// reservedLabels are the labels of Sloth's rules that the budget queries
// match themselves, so none may place a series in tend.
var reservedLabels = []string{"sloth_id", "sloth_slo", "sloth_service", "sloth_severity", "sloth_window", "sloth_mode", "sloth_version", "sloth_spec", "sloth_objective"}

// labelRef writes a label name into PromQL: bare when it has the classic
// syntax, else quoted, the form of Prometheus 3's UTF-8 label names (which
// tend.yaml intake.labels allows).
func labelRef(name string) string {
	if labelName.MatchString(name) {
		return name
	}
	return strconv.Quote(name)
}

// placeMatchers are the matchers that keep a query to the series of one
// place: for each of project, stage and service that is not empty, the
// series carries that value in the label, or does not carry the label at
// all (rules written without tend's labels, which the project's own
// Prometheus holds). The value is a literal: regexp.QuoteMeta keeps a
// crafted name from widening the match.
func placeMatchers(l Labels, f BudgetFilter) []string {
	var m []string
	for _, p := range []struct{ label, value string }{{l.Project, f.Project}, {l.Stage, f.Stage}, {l.Service, f.Service}} {
		if p.value != "" {
			m = append(m, labelRef(p.label)+"=~"+quote(regexp.QuoteMeta(p.value)+"|"))
		}
	}
	return m
}

// budgetMatchers are the label matchers that find a budget SLO's series
// in a place: its sloth_id, or its sloth_slo within the sloth_service.
// Both are tried (PromQL "or"), so slo.yaml may name an SLO either way.
func budgetMatchers(name, service string, place []string) []string {
	return []string{
		strings.Join(append([]string{"sloth_id=" + quote(name)}, place...), ","),
		strings.Join(append([]string{"sloth_slo=" + quote(name), "sloth_service=" + quote(service)}, place...), ","),
	}
}

// alertMatchers are the matchers of the SLO a page alert names, in the
// place of its problem: its sloth_id, else its sloth_slo and
// sloth_service.
func alertMatchers(b remediation.BurnAlert, place []string) []string {
	var m []string
	switch {
	case b.ID != "":
		m = []string{"sloth_id=" + quote(b.ID)}
	default:
		m = []string{"sloth_slo=" + quote(b.SLO)}
		if b.Service != "" {
			m = append(m, "sloth_service="+quote(b.Service))
		}
	}
	return []string{strings.Join(append(m, place...), ",")}
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
// in slo.yaml, in the evaluation's project, stage and service (labels l):
// the remaining budget from slo:period_error_budget_remaining:ratio, and
// the burn rate over the evaluation window as the mean of Sloth's 5-minute
// SLI error ratio over the window divided by the budget ratio
// (docs/error-budgets.md).
func budgetQuery(b slo.BudgetIndicator, req sli.Request, l Labels) string {
	m := budgetMatchers(b.SLO, req.Service, placeMatchers(l, BudgetFilter{Project: req.Project, Stage: req.Stage, Service: req.Service}))
	if !b.BurnRate {
		return pick(MetricPeriodBudgetRemain, m, "")
	}
	w := sli.DurationSeconds(req.Start, req.End)
	return pick(MetricSLIError+"5m", m, "avg_over_time(%s["+w+"])") + " / " + pick(MetricErrorBudget, m, "")
}

// budgetNoDataHint says why a budget gate's query may find nothing, for
// the evaluation's message: tend wrote the query, so "or vector(0)" is no
// help; the rules or the SLO's name are.
func budgetNoDataHint(b slo.BudgetIndicator, req sli.Request) string {
	return fmt.Sprintf("; Prometheus holds no series of Sloth's rules for budget SLO %q in project %s, stage %s, service %s: "+
		"are the rules of tend generate alert-rules for this stage loaded, and does slo name the SLO's sloth_slo or sloth_id?",
		b.SLO, req.Project, req.Stage, req.Service)
}

// ShortBurn reads what remediation.VerifyBurn needs of the SLO of a page
// alert at the moment at, from the series of the problem's project, stage
// and service (where): the same SLO burning in another stage is not this
// problem's burn. A rule without data gives NaN (the verification fails on
// it); the period defaults to 30 days, also when the rule's is none an SLO
// has.
func (p *Provider) ShortBurn(ctx context.Context, b remediation.BurnAlert, where BudgetFilter, at time.Time) (remediation.BurnSample, error) {
	m := alertMatchers(b, placeMatchers(p.labels, where))
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
			return remediation.BurnSample{}, p.answerError(err, "query %q: %s", q.query)
		}
	}
	// A period no SLO has would scale the page factors out of reach (a
	// burn "stopped" under a factor of millions): take the default.
	if !(s.PeriodDays > 0 && s.PeriodDays <= maxPeriodDays) {
		s.PeriodDays = 0
	}
	return s, nil
}

// BudgetFilter places budget SLOs in tend's project, stage and service.
// Empty fields match all.
type BudgetFilter struct {
	Project, Stage, Service string
}

// matches reports whether a listed series' labels pass f: a label the
// rules do not carry does not exclude (the project's Prometheus already
// scopes the listing, and the query asked for f's project and stage), a
// service must equal tend's service label or sloth_service.
func (f BudgetFilter) matches(names Labels, l map[string]string) bool {
	if f.Project != "" && l[names.Project] != "" && l[names.Project] != f.Project {
		return false
	}
	if f.Stage != "" && l[names.Stage] != "" && l[names.Stage] != f.Stage {
		return false
	}
	if f.Service != "" && l[names.Service] != f.Service && l["sloth_service"] != f.Service {
		return false
	}
	return true
}

// maxPeriodDays is the longest SLO period Budgets takes from the rules;
// a longer (or non-positive) one leaves Sloth's default, 30 days.
const maxPeriodDays = 3660

// budgetWindows are the windows whose burn rate Budgets reports.
var budgetWindows = []string{"5m", "30m", "1h", "2h", "6h", "1d", "3d"}

// Budgets discovers the budget SLOs of f's project and stage from the
// series of slo:objective:ratio and reads their remaining budget and burn
// rates at the moment at, with one query per number (not per SLO). An SLO
// is its sloth_id in one project, stage and service: Sloth's id is the
// same in every stage, and the rules tend generates record each stage's
// series apart (with its labels), so each stage is listed on its own.
func (p *Provider) Budgets(ctx context.Context, f BudgetFilter, at time.Time) ([]slo.BudgetStatus, error) {
	names := p.labels
	sel := "{" + strings.Join(placeMatchers(names, BudgetFilter{Project: f.Project, Stage: f.Stage}), ",") + "}"
	if sel == "{}" {
		sel = ""
	}
	by := "max by (" + strings.Join([]string{"sloth_id", labelRef(names.Project), labelRef(names.Stage), labelRef(names.Service)}, ", ") + ") "
	key := func(l map[string]string) string {
		return strings.Join([]string{l["sloth_id"], l[names.Project], l[names.Stage], l[names.Service]}, "\x00")
	}
	objectives, err := p.vector(ctx, MetricObjective+sel, at)
	if err != nil {
		return nil, err
	}
	byKey := map[string]*slo.BudgetStatus{}
	var out []*slo.BudgetStatus
	for _, s := range objectives {
		id, k := s.Labels["sloth_id"], key(s.Labels)
		if id == "" || byKey[k] != nil || !f.matches(names, s.Labels) {
			continue
		}
		st := &slo.BudgetStatus{
			ID: id, SLO: s.Labels["sloth_slo"], Service: s.Labels["sloth_service"],
			Project: s.Labels[names.Project], Stage: s.Labels[names.Stage], TendService: s.Labels[names.Service],
			Objective: s.Value, BurnRates: map[string]float64{},
		}
		byKey[k] = st
		out = append(out, st)
	}
	if len(out) == 0 {
		return []slo.BudgetStatus{}, nil
	}
	byKeys := func(query string, set func(*slo.BudgetStatus, float64)) error {
		samples, err := p.vector(ctx, query, at)
		if err != nil {
			return err
		}
		for _, s := range samples {
			if st := byKey[key(s.Labels)]; st != nil && finiteValue(s.Value) {
				set(st, s.Value)
			}
		}
		return nil
	}
	// A period outside (0, maxPeriodDays] is no SLO's: the rules are
	// wrong, and charts over it would ask Prometheus for nonsense ranges.
	setPeriod := func(st *slo.BudgetStatus, v float64) {
		if v > 0 && v <= maxPeriodDays {
			st.PeriodDays = v
		}
	}
	if err := byKeys(by+"("+MetricPeriodDays+sel+")", setPeriod); err != nil {
		return nil, err
	}
	if err := byKeys(by+"("+MetricPeriodBudgetRemain+sel+")", func(st *slo.BudgetStatus, v float64) { st.Remaining = &v }); err != nil {
		return nil, err
	}
	if err := byKeys(by+"("+MetricPeriodBurnRate+sel+")", func(st *slo.BudgetStatus, v float64) { st.BurnRates["period"] = round3(v) }); err != nil {
		return nil, err
	}
	for _, w := range budgetWindows {
		q := by + "(" + MetricSLIError + w + sel + ") / " + by + "(" + MetricErrorBudget + sel + ")"
		if err := byKeys(q, func(st *slo.BudgetStatus, v float64) { st.BurnRates[w] = round3(v) }); err != nil {
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
	slices.SortFunc(res, func(a, b slo.BudgetStatus) int {
		return cmp.Or(strings.Compare(a.ID, b.ID), strings.Compare(a.Project, b.Project), strings.Compare(a.Stage, b.Stage), strings.Compare(a.TendService, b.TendService))
	})
	return res, nil
}

// History reads the remaining budget and burn rates of the budget SLO b
// (as Budgets listed it) from start to end, one point per step: the series
// of its sloth_id with exactly its project, stage and service labels (an
// empty one: the label is absent), so the charts of one stage never draw
// another stage's or project's series of the same id.
func (p *Provider) History(ctx context.Context, b slo.BudgetStatus, start, end time.Time, step time.Duration) (slo.BudgetHistory, error) {
	m := []string{strings.Join([]string{
		"sloth_id=" + quote(b.ID),
		labelRef(p.labels.Project) + "=" + quote(b.Project),
		labelRef(p.labels.Stage) + "=" + quote(b.Stage),
		labelRef(p.labels.Service) + "=" + quote(b.TendService),
	}, ",")}
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
			return slo.BudgetHistory{}, fmt.Errorf("budget SLO %s: %w", b.ID, err)
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
