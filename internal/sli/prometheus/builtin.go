package prometheus

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/tendhq/tend/internal/sli"
)

// Builtins are the SLIs this provider computes without a configured query,
// from the metrics Keptn's example services export: the counter
// http_requests_total and the histogram http_response_time_milliseconds,
// both with a status and a handler label. docs/sli-providers.md shows the
// exact PromQL.
var Builtins = []string{"throughput", "error_rate", "response_time_p50", "response_time_p90", "response_time_p95"}

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// matcherPrefixes are the PromQL match operators a filter value may start
// with to be used verbatim as the matcher.
var matcherPrefixes = []string{"=~", "!~", "!=", "="}

// selector is the label matcher list of the built-in queries: the job
// `<service>-<project>-<stage>` and one matcher per SLO filter entry, in key
// order. A filter "job" replaces the default job matcher, so services
// scraped under another job name (Keptn's "-primary" jobs) can still use
// the built-ins.
func selector(req sli.Request) (string, error) {
	keys := make([]string, 0, len(req.Filters))
	for k := range req.Filters {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var m []string
	if _, ok := req.Filters["job"]; !ok {
		m = append(m, "job="+quote(req.Service+"-"+req.Project+"-"+req.Stage))
	}
	for _, k := range keys {
		if !labelName.MatchString(k) {
			return "", fmt.Errorf("SLO filter key %q is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*), so the built-in query cannot filter on it", k)
		}
		m = append(m, k+matcher(req.Filters[k]))
	}
	return strings.Join(m, ","), nil
}

// matcher turns a filter value into the operator and value of a label
// matcher: a value starting with =, !=, =~ or !~ is used verbatim (the
// user wrote PromQL), anything else is an exact match.
func matcher(v string) string {
	for _, p := range matcherPrefixes {
		if strings.HasPrefix(v, p) {
			return v
		}
	}
	return "=" + quote(v)
}

// quote writes a PromQL single-quoted string.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`)
	return "'" + r.Replace(s) + "'"
}

// builtinQuery returns the built-in query of name, or ok false when name
// is not a built-in SLI.
func builtinQuery(name string, req sli.Request) (q string, ok bool, err error) {
	if !slices.Contains(Builtins, name) {
		return "", false, nil
	}
	sel, err := selector(req)
	if err != nil {
		return "", true, err
	}
	w := sli.DurationSeconds(req.Start, req.End)
	requests := fmt.Sprintf("sum(rate(http_requests_total{%s}[%s]))", sel, w)
	switch name {
	case "throughput":
		return requests, true, nil
	case "error_rate":
		// No error series at all means no errors: 0, not "no data". The
		// denominator has no such fallback: no request series is no data,
		// and zero traffic gives 0/0 = NaN, which fails the SLI.
		errs := fmt.Sprintf("sum(rate(http_requests_total{%s,status!~'2..'}[%s]))", sel, w)
		return fmt.Sprintf("(%s or vector(0)) / %s", errs, requests), true, nil
	}
	p := map[string]string{"response_time_p50": "0.5", "response_time_p90": "0.9", "response_time_p95": "0.95"}[name]
	return fmt.Sprintf("histogram_quantile(%s, sum by (le) (rate(http_response_time_milliseconds_bucket{%s}[%s])))", p, sel, w), true, nil
}
