// Package dynatrace is the SLI provider over Dynatrace's Metrics API v2,
// with the query prefixes of Keptn's dynatrace-service: SLO; (an SLO's
// evaluated percentage), PV2; (a problem count) and MV2; (unit conversion).
// See docs/keptn.md ("SLI files") and docs/sli-providers.md.
//
// Dynatrace has no Go SDK here; the provider sends a few GET requests with
// net/http and decodes the documented JSON itself.
package dynatrace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tendhq/tend/internal/sli"
	"github.com/tendhq/tend/internal/slo"
)

// DefaultTimeout bounds one request when Config.Timeout is zero.
const DefaultTimeout = 30 * time.Second

const maxBody = 8 << 20

// Config says which tenant to ask and with which API token. The token
// arrives resolved and never appears in logs or messages.
type Config struct {
	// URL is the tenant's base URL, e.g. https://abc12345.live.dynatrace.com
	// or https://managed.example.com/e/<environment-id>.
	URL string
	// Token is an API token with the metrics.read (and, for SLO; and PV2;,
	// slo.read and problems.read) scopes.
	Token string
	// Timeout bounds each request (default DefaultTimeout).
	Timeout time.Duration
	// Concurrency is how many requests run at once (default
	// sli.DefaultConcurrency).
	Concurrency int
	// HTTPClient sends the requests; nil means a client of its own.
	HTTPClient *http.Client
	// Logger receives one debug line per request; nil discards.
	Logger *slog.Logger
}

// Provider is the Dynatrace SLI provider. It is safe for concurrent use.
type Provider struct {
	base   *url.URL
	cfg    Config
	client *http.Client
	log    *slog.Logger
}

var _ sli.Provider = (*Provider)(nil)

// New checks cfg and returns a provider. It does not contact Dynatrace.
func New(cfg Config) (*Provider, error) {
	u, err := sli.ParseBaseURL("dynatrace provider", cfg.URL, "https://abc12345.live.dynatrace.com")
	if err != nil {
		return nil, err
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("dynatrace provider: URL %s must be the tenant's base URL, without credentials, query or fragment", u.Redacted())
	}
	if cfg.Token == "" {
		return nil, errors.New("dynatrace provider: no API token; give one with metrics.read scope")
	}
	o, err := sli.HTTPOptions{Timeout: cfg.Timeout, Concurrency: cfg.Concurrency, Client: cfg.HTTPClient, Logger: cfg.Logger}.WithDefaults("dynatrace provider", DefaultTimeout)
	if err != nil {
		return nil, err
	}
	cfg.Timeout, cfg.Concurrency = o.Timeout, o.Concurrency
	p := &Provider{base: u, cfg: cfg, client: o.Client, log: o.Logger}
	return p, nil
}

// Kind is the kind of a Dynatrace SLI query.
type Kind string

// The query kinds, by prefix.
const (
	KindMetrics  Kind = "metrics" // no prefix, or MV2;<unit>;
	KindSLO      Kind = "SLO"     // SLO;<id>
	KindProblems Kind = "PV2"     // PV2;<problem selector or parameters>
)

// Unit is an MV2; unit and how a value in it is converted.
type Unit struct {
	Name string
	// Divisor turns a value in Name into the reported unit.
	Divisor float64
	// Reported is the unit the SLI value is in afterwards.
	Reported string
}

// Units are the MV2; units tend converts, as Keptn's dynatrace-service did:
// MicroSecond to milliseconds (÷1000) and Byte to kilobytes (÷1024, Keptn's
// factor). Percent is accepted unconverted because Keptn 0.8's own files
// used MV2;Percent;. Any other unit fails the SLI, as in later Keptn
// versions, rather than reporting a value in a unit the SLO did not mean.
var Units = []Unit{
	{Name: "MicroSecond", Divisor: 1000, Reported: "millisecond"},
	{Name: "Byte", Divisor: 1024, Reported: "kilobyte (1024 bytes)"},
	{Name: "Percent", Divisor: 1, Reported: "percent"},
}

// responseTimeMetric is converted from microseconds to milliseconds even
// without MV2;, as Keptn did, so Keptn's SLOs in milliseconds keep working.
const responseTimeMetric = "builtin:service.response.time"

// Query is a parsed Dynatrace SLI query.
type Query struct {
	Kind Kind
	// Params are the request parameters (metricSelector, entitySelector,
	// problemSelector, ...) before from, to and resolution are added.
	Params url.Values
	// SLOID is the SLO of a KindSLO query.
	SLOID string
	// Divisor is the unit conversion of a metrics query (1: none).
	Divisor float64
}

// paramsByKind are the parameters a query of each kind may set; from, to
// and resolution belong to tend.
var paramsByKind = map[Kind][]string{
	KindMetrics:  {"metricSelector", "entitySelector", "mzSelector"},
	KindProblems: {"problemSelector", "entitySelector"},
}

// tendParams are the request parameters tend sets itself.
var tendParams = []string{"from", "to", "resolution"}

// ParseQuery parses an SLI query whose placeholders are already replaced.
// Forms:
//
//	builtin:service.response.time:merge("dt.entity.service"):avg           a metric selector
//	metricSelector=<selector>&entitySelector=<selector>                    parameters
//	MV2;<unit>;<either form above>                                         with unit conversion
//	SLO;<id>                                                               an SLO's evaluatedPercentage
//	PV2;problemSelector=<selector>&entitySelector=<selector>, or PV2;<problem selector>
//
// Parameter values are taken literally (do not URL-encode them in
// sli.yaml); tend encodes them. A '&' splits parameters only where a known
// parameter name and '=' follow it, so selectors may contain '&'.
func ParseQuery(q string) (Query, error) {
	q = strings.TrimSpace(q)
	prefix, rest, hasPrefix := strings.Cut(q, ";")
	if !hasPrefix || strings.ContainsAny(prefix, "=:(&") {
		return parseMetrics(q, 1)
	}
	switch prefix {
	case "SLO":
		id := strings.TrimSpace(rest)
		if id == "" || strings.Contains(id, ";") {
			return Query{}, fmt.Errorf("SLO query %q: want SLO;<slo id>", q)
		}
		return Query{Kind: KindSLO, SLOID: id}, nil
	case "PV2":
		rest = strings.TrimSpace(rest)
		if rest == "" {
			return Query{}, fmt.Errorf("PV2 query %q: want PV2;problemSelector=...&entitySelector=... or PV2;<problem selector>", q)
		}
		if !startsWithParam(rest, paramsByKind[KindProblems]) {
			return Query{Kind: KindProblems, Params: url.Values{"problemSelector": {rest}}}, nil
		}
		params, err := splitParams(rest, paramsByKind[KindProblems])
		if err != nil {
			return Query{}, fmt.Errorf("PV2 query %q: %w", q, err)
		}
		return Query{Kind: KindProblems, Params: params}, nil
	case "MV2":
		unit, metric, ok := strings.Cut(rest, ";")
		if !ok || unit == "" {
			return Query{}, fmt.Errorf("MV2 query %q: want MV2;<unit>;<metric query> with unit one of %s", q, unitNames())
		}
		for _, u := range Units {
			if u.Name == unit {
				return parseMetrics(metric, u.Divisor)
			}
		}
		return Query{}, fmt.Errorf("MV2 query %q: unknown unit %q; tend converts %s", q, unit, unitNames())
	case "USQL", "SECPV2":
		return Query{}, fmt.Errorf("query %q: the %s; prefix of Keptn's dynatrace-service is not supported by tend (supported: SLO;, PV2;, MV2;)", q, prefix)
	}
	return Query{}, fmt.Errorf("query %q: unknown prefix %q; supported are SLO;, PV2; and MV2;, or a metric selector without prefix", q, prefix+";")
}

func parseMetrics(q string, divisor float64) (Query, error) {
	q = strings.TrimSpace(q)
	if q == "" {
		return Query{}, errors.New("empty metric query")
	}
	if strings.Contains(q, "?scope=") || strings.HasPrefix(q, "com.dynatrace.builtin:") {
		return Query{}, fmt.Errorf("query %q is a Metrics API v1 query; tend speaks Metrics API v2: write metricSelector=<selector>&entitySelector=<selector>", q)
	}
	var params url.Values
	if startsWithParam(q, paramsByKind[KindMetrics]) {
		var err error
		if params, err = splitParams(q, paramsByKind[KindMetrics]); err != nil {
			return Query{}, fmt.Errorf("metric query %q: %w", q, err)
		}
		if params.Get("metricSelector") == "" {
			return Query{}, fmt.Errorf("metric query %q: no metricSelector", q)
		}
	} else {
		params = url.Values{"metricSelector": {q}}
	}
	if divisor == 1 && strings.HasPrefix(params.Get("metricSelector"), responseTimeMetric) {
		divisor = 1000
	}
	return Query{Kind: KindMetrics, Params: params, Divisor: divisor}, nil
}

func startsWithParam(s string, names []string) bool {
	for _, n := range names {
		if strings.HasPrefix(s, n+"=") {
			return true
		}
	}
	return false
}

// splitParams splits name=value&name=value where names are from known.
func splitParams(s string, known []string) (url.Values, error) {
	out := url.Values{}
	for s != "" {
		name, rest, _ := strings.Cut(s, "=")
		if !contains(known, name) {
			return nil, fmt.Errorf("unknown parameter %q; allowed are %s", name, strings.Join(known, ", "))
		}
		// The value runs to the next "&<known>=" or the end.
		end := len(rest)
		for i := 0; i < len(rest); i++ {
			if rest[i] == '&' && startsWithParam(rest[i+1:], known) {
				end = i
				break
			}
		}
		for _, own := range tendParams {
			if strings.Contains(rest[:end], "&"+own+"=") {
				return nil, fmt.Errorf("parameter %q is set by tend (from and to are the evaluation window, resolution is Inf); remove it", own)
			}
		}
		if out.Has(name) {
			return nil, fmt.Errorf("parameter %q given twice", name)
		}
		if strings.TrimSpace(rest[:end]) == "" {
			return nil, fmt.Errorf("parameter %q is empty", name)
		}
		out.Set(name, rest[:end])
		s = rest[end:]
		s = strings.TrimPrefix(s, "&")
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func unitNames() string {
	names := make([]string, len(Units))
	for i, u := range Units {
		names[i] = u.Name
	}
	return strings.Join(names, ", ")
}

// GetSLIs implements sli.Provider. Every indicator needs a query in
// dynatrace/sli.yaml; the provider has no built-in SLIs.
func (p *Provider) GetSLIs(ctx context.Context, req sli.Request) ([]slo.SLIResult, error) {
	if err := req.Validate(); err != nil {
		return nil, fmt.Errorf("dynatrace get slis: %w", err)
	}
	r := sli.NewReplacer(req)
	var outages sli.Outages
	values, err := sli.Collect(ctx, req.Indicators, p.cfg.Concurrency, func(ctx context.Context, name string) slo.SLIResult {
		raw, ok := req.Queries[name]
		if !ok || strings.TrimSpace(raw) == "" {
			return sli.Failed(name, "no query configured in dynatrace/sli.yaml (the Dynatrace provider has no built-in SLIs)")
		}
		q := r.Replace(raw)
		parsed, err := ParseQuery(q)
		if err != nil {
			return sli.Failed(name, "%s%s", p.redact(err.Error()), sli.UnresolvedHint(q))
		}
		started := time.Now()
		v, err := p.run(ctx, parsed, req.Start, req.End)
		p.log.DebugContext(ctx, "dynatrace_query", "sli", name, "kind", string(parsed.Kind), "duration_ms", time.Since(started).Milliseconds(), "ok", err == nil)
		if err != nil {
			if errors.Is(err, sli.ErrUnavailable) {
				outages.Add(sli.Unavailable(errors.New(p.redact(err.Error()))))
			}
			return sli.Failed(name, "query %q: %s%s", q, p.redact(err.Error()), sli.UnresolvedHint(q))
		}
		out := slo.SLIResult{Metric: name, Value: v.Value, Success: true}
		if len(v.Warnings) > 0 {
			out.Message = p.redact("dynatrace warnings: " + strings.Join(v.Warnings, "; "))
		}
		return out
	})
	if err != nil {
		return values, err
	}
	return values, outages.Err("dynatrace", len(req.Indicators))
}

// run sends one parsed query for the window [start, end].
func (p *Provider) run(ctx context.Context, q Query, start, end time.Time) (Value, error) {
	params := url.Values{}
	for k, v := range q.Params {
		params[k] = v
	}
	params.Set("from", strconv.FormatInt(start.UnixMilli(), 10))
	params.Set("to", strconv.FormatInt(end.UnixMilli(), 10))
	switch q.Kind {
	case KindSLO:
		// timeFrame=GTF: evaluate over from/to, not the SLO's own frame.
		params.Set("timeFrame", "GTF")
		return p.get(ctx, "/api/v2/slo/"+url.PathEscape(q.SLOID), params, DecodeSLO)
	case KindProblems:
		return p.get(ctx, "/api/v2/problems", params, DecodeProblems)
	default:
		params.Set("resolution", "Inf")
		v, err := p.get(ctx, "/api/v2/metrics/query", params, DecodeMetrics)
		if err == nil && q.Divisor != 0 && q.Divisor != 1 {
			v.Value /= q.Divisor
		}
		return v, err
	}
}

var errRequestTimeout = errors.New("request timeout")

func (p *Provider) get(ctx context.Context, path string, params url.Values, decode func(int, []byte) (Value, error)) (Value, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, p.cfg.Timeout, errRequestTimeout)
	defer cancel()
	u := *p.base
	// path arrives escaped (an SLO id went through PathEscape); set both
	// forms so an id with reserved characters stays one path segment.
	u.RawPath = strings.TrimSuffix(p.base.EscapedPath(), "/") + path
	unescaped, err := url.PathUnescape(u.RawPath)
	if err != nil {
		return Value{}, fmt.Errorf("build request path: %w", err)
	}
	u.Path = unescaped
	u.RawQuery = params.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Value{}, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Api-Token "+p.cfg.Token)
	resp, err := p.client.Do(req)
	if err != nil {
		return Value{}, p.transportError(ctx, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return Value{}, p.transportError(ctx, err)
	}
	return decode(resp.StatusCode, body)
}

func (p *Provider) transportError(ctx context.Context, err error) error {
	if context.Cause(ctx) == errRequestTimeout {
		return sli.Unavailable(fmt.Errorf("no answer from dynatrace at %s within %s (the per-request timeout)", p.base.Redacted(), p.cfg.Timeout))
	}
	if ctx.Err() != nil {
		return fmt.Errorf("canceled before dynatrace answered: %w", context.Cause(ctx))
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return sli.Unavailable(fmt.Errorf("dynatrace at %s unreachable: %w", p.base.Redacted(), err))
}

func (p *Provider) redact(s string) string {
	return strings.ReplaceAll(s, p.cfg.Token, "<redacted>")
}
