// Package alertrules turns SLOs into monitoring configuration: Prometheus
// alerting rules that fire exactly when an objective's absolute pass
// criteria are violated, and the Alertmanager route and webhook receiver
// that deliver those alerts to tend's intake (alertmanager.go).
//
// It is pure: it takes decoded files and options, returns documents and
// warnings, and does no I/O. Queries come from a Querier, which the Prometheus
// SLI provider implements, so a rule runs the very PromQL an evaluation runs.
//
// How a rule is built (docs/monitoring.md shows examples):
//
//   - One rule per objective with pass criteria. Informational objectives
//     (no pass criteria) get none.
//   - A criterion becomes its violation by inverting the operator, boundary
//     included: <1000 alerts on >= 1000, <= on >, >= on <, > on <=, = on !=.
//     (Keptn stripped "=" from the operator, so a strict <1000 never fired
//     at exactly 1000.)
//   - Criteria inside a block are AND-ed, so a block is violated when any
//     criterion is: the block's violations are joined with "or".
//   - Blocks are OR-ed, so an objective is violated only when every block
//     is: block violations are joined with "and". Both sides of every "or"
//     and "and" are the same query, so their series carry the same labels
//     and match one to one, also for queries that return several series.
//   - The alerts carry the project, stage and service in the labels the
//     intake reads (Options.Labels), and the severity.
//   - Relative criteria (<=+10%) compare with earlier evaluations, which a
//     static rule cannot see: they are dropped with a warning. A block left
//     with no absolute criterion is always met as far as a rule can tell, so
//     its objective gets no rule (also with a warning).
//
// Prometheus semantics apply to the value: a query that returns nothing, or
// NaN, never fires (NaN compares false with every number except through
// !=, which a "=" criterion becomes). The evaluation treats both as a failed
// SLI; an alert on missing data needs an absent() rule of its own.
package alertrules

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tendhq/tend/internal/sli"
	"github.com/tendhq/tend/internal/slo"
)

// Defaults of Options, also the CLI's flag defaults.
const (
	// DefaultWindow is the range of the rate()s in the built-in queries
	// ($DURATION_SECONDS): long enough to smooth single slow requests,
	// short enough that an alert follows a degradation within minutes.
	DefaultWindow = 5 * time.Minute
	// DefaultFor is how long a violation must last before the alert fires.
	// Keptn used 10m; tend chooses 2m because the window already averages
	// over 5m, and remediation that starts 8 minutes later heals nothing
	// sooner.
	DefaultFor = 2 * time.Minute
	// DefaultSeverity labels the alerts. A violated pass criterion is
	// "warning", not "critical": the alert goes to tend, which remediates
	// and escalates when its actions run out, so the escalation is what
	// should page a person, not the first violation.
	DefaultSeverity = "warning"
)

// Querier returns the PromQL of one indicator for a request: the query of
// req.Queries with its placeholders resolved, else a built-in query. The
// Prometheus SLI provider's Query method is one.
type Querier interface {
	Query(name string, req sli.Request) (string, error)
}

// Options say which service the rules watch and how.
type Options struct {
	Project, Stage, Service string
	// Window is $DURATION_SECONDS in the queries (default DefaultWindow).
	Window time.Duration
	// For is the rule's "for"; 0 fires at the first violated evaluation.
	For time.Duration
	// Severity is the severity label (default DefaultSeverity).
	Severity string
	// Queries is the merged sli.yaml (placeholders in place); an indicator
	// missing here uses the Querier's built-in query.
	Queries map[string]string
	// Labels name the labels the rules put the project, stage and service
	// in: the intake's names (tend.yaml intake.labels). The zero value
	// means project, stage and service.
	Labels LabelNames
}

// RuleFile is a Prometheus rule file (the rule_files format).
type RuleFile struct {
	Groups []Group `yaml:"groups"`
}

// Group is one rule group; its rules are evaluated together.
type Group struct {
	Name string `yaml:"name"`
	// Interval is the group's evaluation interval; empty means
	// Prometheus's global one.
	Interval string `yaml:"interval,omitempty"`
	Rules    []Rule `yaml:"rules"`
}

// Rule is one alerting rule, or a recording rule (Record) of the budget
// rules Sloth generates (budget.go). Fields are in the order Prometheus's
// docs write them.
type Rule struct {
	Record      string            `yaml:"record,omitempty"`
	Alert       string            `yaml:"alert,omitempty"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

// ErrInvalid marks options or SLOs that no rule file can be built from.
var ErrInvalid = errors.New("cannot generate alerting rules")

// place fills the label names' defaults and returns what is wrong with
// where the rules place their alerts: the label names, and an empty
// project, stage or service. Both generators check it first.
func (o *Options) place() []error {
	o.Labels = o.Labels.withDefaults()
	var problems []error
	for _, p := range o.Labels.problems() {
		problems = append(problems, fmt.Errorf("%w: %s", ErrInvalid, p))
	}
	for _, f := range []struct{ name, v string }{{"project", o.Project}, {"stage", o.Stage}, {"service", o.Service}} {
		if strings.TrimSpace(f.v) == "" {
			problems = append(problems, fmt.Errorf("%w: the %s is empty", ErrInvalid, f.name))
		}
	}
	return problems
}

// Generate builds the rule group of one project, stage and service from its
// SLO. Warnings say what could not become a rule and why; they do not stop
// the rest. The error lists every problem (wrapping ErrInvalid): a missing
// project, a non-positive window, unusable label names, an indicator
// without a query.
func Generate(s *slo.SLO, q Querier, opts Options) (*RuleFile, []string, error) {
	if opts.Window == 0 {
		opts.Window = DefaultWindow
	}
	if opts.Severity == "" {
		opts.Severity = DefaultSeverity
	}
	problems := opts.place()
	if opts.Window < time.Second {
		problems = append(problems, fmt.Errorf("%w: window %s is shorter than one second; use e.g. 5m", ErrInvalid, opts.Window))
	}
	if opts.For < 0 {
		problems = append(problems, fmt.Errorf("%w: for %s is negative; use 0 to fire at once, or e.g. 2m", ErrInvalid, opts.For))
	}
	if s == nil {
		problems = append(problems, fmt.Errorf("%w: no SLO", ErrInvalid))
	}
	if len(problems) > 0 {
		return nil, nil, errors.Join(problems...)
	}

	end := time.Unix(0, 0).UTC().Add(opts.Window)
	req := sli.Request{
		Project: opts.Project, Stage: opts.Stage, Service: opts.Service,
		Start: time.Unix(0, 0).UTC(), End: end,
		Queries: opts.Queries, Filters: s.Filter,
	}
	group := Group{Name: GroupName(opts.Project, opts.Stage, opts.Service), Rules: []Rule{}}
	var warnings []string
	names := map[string]int{}
	for _, o := range s.Objectives {
		if o.Informational() {
			continue
		}
		cond, crit, warns := violation(o)
		warnings = append(warnings, warns...)
		if cond == nil {
			continue
		}
		query, err := q.Query(o.SLI, req)
		if err != nil {
			problems = append(problems, fmt.Errorf("%w: SLI %q: %w", ErrInvalid, o.SLI, err))
			continue
		}
		if left := sli.Unresolved(query); len(left) > 0 {
			warnings = append(warnings, fmt.Sprintf("SLI %q: the query still contains %s after placeholders were replaced for project %s, stage %s, service %s; Prometheus will see them literally",
				o.SLI, strings.Join(left, ", "), opts.Project, opts.Stage, opts.Service))
		}
		name := AlertName(o.SLI)
		names[name]++
		if n := names[name]; n > 1 {
			warnings = append(warnings, fmt.Sprintf("SLI %q has %d objectives: the rule of objective %d is named %s_%d so the alerts do not collide",
				o.SLI, n, n, name, n))
			name = fmt.Sprintf("%s_%d", name, n)
		}
		group.Rules = append(group.Rules, Rule{
			Alert: name,
			Expr:  cond.expr(wrap(query)),
			For:   formatDuration(opts.For),
			Labels: map[string]string{
				opts.Labels.Project: escapeTemplate(opts.Project),
				opts.Labels.Stage:   escapeTemplate(opts.Stage),
				opts.Labels.Service: escapeTemplate(opts.Service),
				"severity":          escapeTemplate(opts.Severity),
			},
			Annotations: map[string]string{
				"summary": escapeTemplate(o.SLI),
				"description": escapeTemplate(fmt.Sprintf("%s of service %s (project %s, stage %s) is ", o.SLI, opts.Service, opts.Project, opts.Stage)) +
					"{{ $value }}" + escapeTemplate(", violating the pass criteria "+crit+" of its SLO"),
			},
		})
	}
	if len(problems) > 0 {
		return nil, warnings, errors.Join(problems...)
	}
	if len(group.Rules) == 0 {
		warnings = append(warnings, "no objective has absolute pass criteria: the rule group is empty")
	}
	return &RuleFile{Groups: []Group{group}}, warnings, nil
}

// condition is a violation as a formula over one query: an AND of blocks,
// each an OR of inverted criteria.
type condition [][]slo.Criterion

// expr writes the condition over the query q, which must already be an
// operand (see wrap). "and" binds tighter than "or" in PromQL, so blocks
// with several criteria get parentheses when there are several blocks.
func (c condition) expr(q string) string {
	blocks := make([]string, len(c))
	for i, b := range c {
		parts := make([]string, len(b))
		for j, cr := range b {
			parts[j] = q + " " + inverse(cr.Op) + " " + formatNumber(cr.Amount)
		}
		blocks[i] = strings.Join(parts, " or ")
		if len(c) > 1 && len(b) > 1 {
			blocks[i] = "(" + blocks[i] + ")"
		}
	}
	return strings.Join(blocks, " and ")
}

// violation returns the condition under which objective o's pass blocks are
// all violated, the absolute criteria as people read them ("<1000", or
// "[<1000, >10] or [=5]" for several blocks), and warnings. The condition is
// nil when no rule can be built.
func violation(o slo.Objective) (condition, string, []string) {
	var (
		cond     condition
		texts    []string
		warnings []string
	)
	for i, b := range o.Pass {
		where := fmt.Sprintf("SLI %q", o.SLI)
		if len(o.Pass) > 1 {
			where = fmt.Sprintf("SLI %q, pass block %d", o.SLI, i+1)
		}
		var abs []slo.Criterion
		var rel []string
		for _, c := range b {
			if c.Relative {
				rel = append(rel, strconv.Quote(c.Raw))
			} else {
				abs = append(abs, c)
			}
		}
		switch {
		case len(abs) == 0 && len(rel) > 0:
			warnings = append(warnings, fmt.Sprintf("%s: only relative criteria (%s), which compare with earlier evaluations and cannot become a static alerting rule; no rule for this objective",
				where, strings.Join(rel, ", ")))
			return nil, "", warnings
		case len(abs) == 0:
			warnings = append(warnings, fmt.Sprintf("%s: an empty criteria list is always met; no rule for this objective", where))
			return nil, "", warnings
		case len(rel) > 0:
			warnings = append(warnings, fmt.Sprintf("%s: relative criteria %s skipped (a static rule cannot compare with earlier evaluations); the rule alerts on the absolute part only",
				where, strings.Join(rel, ", ")))
		}
		cond = append(cond, abs)
		raws := make([]string, len(abs))
		for j, c := range abs {
			raws[j] = strings.Join(strings.Fields(c.Raw), "")
		}
		texts = append(texts, strings.Join(raws, " and "))
	}
	text := texts[0]
	if len(texts) > 1 {
		text = "(" + strings.Join(texts, ") or (") + ")"
	}
	return cond, text, warnings
}

// inverse is the operator that holds exactly when op does not.
func inverse(op slo.Operator) string {
	switch op {
	case slo.OpLess:
		return ">="
	case slo.OpLessEqual:
		return ">"
	case slo.OpGreater:
		return "<="
	case slo.OpGreaterEqual:
		return "<"
	case slo.OpEqual:
		return "!="
	}
	panic(fmt.Sprintf("alertrules: unknown operator %q", op))
}

// formatNumber writes a criterion's amount as PromQL reads it: the shortest
// decimal that round-trips, never an exponent.
func formatNumber(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// wrap makes a query an operand of a comparison. A query that is one
// function call or one selector binds tighter than any operator and stays
// as it is; anything else (a division, an "or") is put in parentheses. A
// query with a # comment gets its closing parenthesis on a line of its own,
// or the comment would swallow it.
func wrap(q string) string {
	q = strings.TrimSpace(q)
	if isSingleTerm(q) {
		return q
	}
	if hasComment(q) {
		return "(" + q + "\n)"
	}
	return "(" + q + ")"
}

// isSingleTerm reports whether q is a name (a metric, a recording rule),
// a name followed by one bracketed group that ends the query (f(...),
// metric{...}), or one parenthesised expression, with no comment.
func isSingleTerm(q string) bool {
	i := 0
	for i < len(q) && (isIdentByte(q[i]) || q[i] == ':') {
		i++
	}
	if i == len(q) {
		// A metric or recording rule name, or a number.
		return i > 0
	}
	if q[i] != '(' && q[i] != '{' {
		return false
	}
	end := matching(q, i)
	return end == len(q)-1
}

func isIdentByte(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

// matching returns the index of the bracket closing the one at open, or -1
// when it is not closed or a comment intervenes. String literals are
// skipped, so brackets inside label values do not count.
func matching(q string, open int) int {
	depth := 0
	for i := open; i < len(q); i++ {
		switch c := q[i]; c {
		case '(', '{', '[':
			depth++
		case ')', '}', ']':
			depth--
			if depth == 0 {
				return i
			}
		case '"', '\'', '`':
			j := skipString(q, i)
			if j < 0 {
				return -1
			}
			i = j
		case '#':
			return -1
		}
	}
	return -1
}

// skipString returns the index of the quote closing the string literal that
// starts at i, or -1.
func skipString(q string, i int) int {
	quote := q[i]
	for j := i + 1; j < len(q); j++ {
		switch {
		case q[j] == '\\' && quote != '`':
			j++
		case q[j] == quote:
			return j
		}
	}
	return -1
}

// hasComment reports whether q has a # outside string literals.
func hasComment(q string) bool {
	for i := 0; i < len(q); i++ {
		switch q[i] {
		case '"', '\'', '`':
			j := skipString(q, i)
			if j < 0 {
				return false
			}
			i = j
		case '#':
			return true
		}
	}
	return false
}

// escapeTemplate keeps text literal in a rule's labels and annotations,
// which Prometheus expands as Go templates: text containing "{{" or "}}"
// becomes a template that prints it as a string constant.
func escapeTemplate(s string) string {
	if !strings.Contains(s, "{{") && !strings.Contains(s, "}}") {
		return s
	}
	return "{{ " + strconv.Quote(s) + " }}"
}

// AlertName derives a valid Prometheus alert name from an SLI name:
// characters outside [a-zA-Z0-9_:] become "_", and a leading digit gets a
// "_" prefix. Usual SLI names (response_time_p90) stay as they are.
func AlertName(sliName string) string {
	b := []byte(sliName)
	for i, c := range b {
		if !isIdentByte(c) && c != ':' {
			b[i] = '_'
		}
	}
	if len(b) == 0 || ('0' <= b[0] && b[0] <= '9') {
		b = append([]byte{'_'}, b...)
	}
	return string(b)
}

// GroupName is the rule group of one project, stage and service:
// tend-<project>-<stage>-<service>. Prometheus requires group names to be
// unique per file only; tend's make them unique across files too.
func GroupName(project, stage, service string) string {
	return "tend-" + project + "-" + stage + "-" + service
}

// formatDuration writes d in Prometheus's duration syntax ("2m", "1h30m",
// "1500ms"); 0 is "" so the rule omits "for".
func formatDuration(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	var b strings.Builder
	for _, u := range []struct {
		suffix string
		size   time.Duration
	}{{"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}, {"ms", time.Millisecond}} {
		if n := d / u.size; n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10) + u.suffix)
			d -= n * u.size
		}
	}
	if b.Len() == 0 {
		// Below a millisecond: Prometheus cannot say it; round up.
		return "1ms"
	}
	return b.String()
}

// FormatDuration is formatDuration for callers that print durations the
// way the rules do (flag defaults, messages).
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	return formatDuration(d)
}
