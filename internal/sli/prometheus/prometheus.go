// Package prometheus is the SLI provider over the Prometheus HTTP API: it
// runs each SLI's PromQL as an instant query at the end of the evaluation
// window and turns the answer into one SLI value or a failed result that
// says why (docs/keptn.md, "SLI files" and "External APIs"; docs/sli-providers.md).
//
// It talks to /api/v1/query with net/http rather than client_golang's API
// client: the provider needs the raw status and body of every answer to
// classify it (error envelope, proxy page, malformed JSON) and to quote it
// in messages, one GET is all it sends, and decoding the envelope itself
// keeps that decoder small enough to fuzz. It also keeps the modules
// client_golang's API client pulls in out of the build.
package prometheus

import (
	"context"
	"encoding/base64"
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

// DefaultTimeout bounds one query when Config.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// maxBody bounds how much of an answer is read: an SLI answer is one
// sample, so anything near this size is a wrong query anyway.
const maxBody = 8 << 20

// Config says where Prometheus is and how to authenticate. Secrets arrive
// resolved (no file: or env: references) and never appear in logs or
// messages.
type Config struct {
	// URL is Prometheus's base URL, e.g. http://prometheus:9090 or
	// https://proxy/prometheus; /api/v1/query is appended to its path.
	URL string
	// User and Password select HTTP basic authentication.
	User, Password string
	// BearerToken selects "Authorization: Bearer <token>"; it cannot be
	// combined with User and Password.
	BearerToken string
	// Timeout bounds each query, also sent to Prometheus as its own query
	// timeout (default DefaultTimeout).
	Timeout time.Duration
	// Concurrency is how many queries run at once (default
	// sli.DefaultConcurrency).
	Concurrency int
	// HTTPClient sends the queries; nil means a client of its own.
	// Timeouts come from Timeout, not from the client.
	HTTPClient *http.Client
	// Logger receives one debug line per query; nil discards.
	Logger *slog.Logger
	// Labels name the labels that carry tend's project, stage and service
	// on the series of Sloth's rules (tend.yaml intake.labels); the zero
	// value means project, stage and service.
	Labels Labels
}

// Provider is the Prometheus SLI provider. It is safe for concurrent use.
type Provider struct {
	base    *url.URL
	cfg     Config
	client  *http.Client
	log     *slog.Logger
	secrets []string
	labels  Labels
}

var _ sli.Provider = (*Provider)(nil)

// New checks cfg and returns a provider. It does not contact Prometheus.
func New(cfg Config) (*Provider, error) {
	u, err := sli.ParseBaseURL("prometheus provider", cfg.URL, "http://prometheus:9090")
	if err != nil {
		return nil, err
	}
	if u.User != nil {
		return nil, fmt.Errorf("prometheus provider: URL %s carries credentials; give them as user and password instead, so they are stored as secrets", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("prometheus provider: URL %s has a query or fragment; give the base URL only", u.Redacted())
	}
	if cfg.BearerToken != "" && (cfg.User != "" || cfg.Password != "") {
		return nil, errors.New("prometheus provider: both a bearer token and a user/password are set; use one")
	}
	if cfg.Password != "" && cfg.User == "" {
		return nil, errors.New("prometheus provider: a password without a user; set the user too")
	}
	o, err := sli.HTTPOptions{Timeout: cfg.Timeout, Concurrency: cfg.Concurrency, Client: cfg.HTTPClient, Logger: cfg.Logger}.WithDefaults("prometheus provider", DefaultTimeout)
	if err != nil {
		return nil, err
	}
	cfg.Timeout, cfg.Concurrency = o.Timeout, o.Concurrency
	labels := cfg.Labels.WithDefaults()
	if err := checkLabels(labels); err != nil {
		return nil, err
	}
	p := &Provider{base: u, cfg: cfg, client: o.Client, log: o.Logger, labels: labels}
	// The base64 form of basic credentials is what travels in the header,
	// so that is what an echoing proxy would quote back.
	if cfg.Password != "" {
		p.secrets = append(p.secrets, base64.StdEncoding.EncodeToString([]byte(cfg.User+":"+cfg.Password)), cfg.Password)
	}
	if cfg.BearerToken != "" {
		p.secrets = append(p.secrets, cfg.BearerToken)
	}
	return p, nil
}

// Query returns the PromQL that GetSLIs runs for the indicator name: the
// configured query with placeholders replaced, or the built-in one. It
// fails for an indicator that has neither, and for a built-in query whose
// filter keys are not label names.
func (p *Provider) Query(name string, req sli.Request) (string, error) {
	return query(name, req, sli.NewReplacer(req), p.labels)
}

// QueryBuilder builds the PromQL of an indicator exactly as the provider
// does, without a Prometheus to ask: its zero value is ready to use. It
// lets code that only needs queries (the alert rules) take them from the
// outside without importing this adapter or inventing a Prometheus URL.
type QueryBuilder struct{}

// Query returns the PromQL of the indicator name, as Provider.Query does
// with the default label names.
func (QueryBuilder) Query(name string, req sli.Request) (string, error) {
	return query(name, req, sli.NewReplacer(req), Labels{}.WithDefaults())
}

// query builds the PromQL of the indicator name; l names the labels that
// place the budget indicators' series.
func query(name string, req sli.Request, r *sli.Replacer, l Labels) (string, error) {
	if q, ok := req.Queries[name]; ok && strings.TrimSpace(q) != "" {
		return r.Replace(q), nil
	}
	if b, ok := slo.ParseBudgetIndicator(name); ok {
		return budgetQuery(b, req, l), nil
	}
	q, ok, err := builtinQuery(name, req)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("no query configured in prometheus/sli.yaml and no built-in SLI of that name (built-ins: %s)", strings.Join(Builtins, ", "))
	}
	return q, nil
}

// GetSLIs implements sli.Provider.
func (p *Provider) GetSLIs(ctx context.Context, req sli.Request) ([]slo.SLIResult, error) {
	if err := req.Validate(); err != nil {
		return nil, fmt.Errorf("prometheus get slis: %w", err)
	}
	r := sli.NewReplacer(req)
	var outages sli.Outages
	values, err := sli.Collect(ctx, req.Indicators, p.cfg.Concurrency, func(ctx context.Context, name string) slo.SLIResult {
		q, err := query(name, req, r, p.labels)
		if err != nil {
			return sli.Failed(name, "%s", err)
		}
		hint := `; if no data means zero here, append "or vector(0)" to the query`
		if b, ok := slo.ParseBudgetIndicator(name); ok {
			hint = budgetNoDataHint(b, req)
		}
		res, cause := p.fetch(ctx, name, q, hint, req.End)
		outages.Add(cause)
		return res
	})
	if err != nil {
		return values, err
	}
	return values, outages.Err("prometheus", len(req.Indicators))
}

// fetch runs one instant query and turns its answer into a result; the
// error is why it failed (matching sli.ErrUnavailable for an outage), with
// its secrets removed. noData is added to the message of an empty answer.
func (p *Provider) fetch(ctx context.Context, name, query, noData string, at time.Time) (slo.SLIResult, error) {
	started := time.Now()
	res, err := p.instant(ctx, query, at)
	p.log.DebugContext(ctx, "prometheus_query", "sli", name, "duration_ms", time.Since(started).Milliseconds(), "ok", err == nil)
	if err != nil {
		msg := p.redact(err.Error())
		if errors.Is(err, ErrNoData) {
			msg += noData
		}
		cause := errors.New(msg)
		if errors.Is(err, sli.ErrUnavailable) {
			cause = sli.Unavailable(cause)
		}
		return sli.Failed(name, "query %q: %s%s", query, msg, sli.UnresolvedHint(query)), cause
	}
	out := slo.SLIResult{Metric: name, Value: res.Value, Success: true}
	if len(res.Warnings) > 0 {
		out.Message = p.redact("prometheus warnings: " + strings.Join(res.Warnings, "; "))
	}
	return out, nil
}

// instant sends GET /api/v1/query and decodes the answer.
func (p *Provider) instant(ctx context.Context, query string, at time.Time) (Result, error) {
	v := url.Values{}
	v.Set("query", query)
	v.Set("time", promTime(at))
	status, body, err := p.get(ctx, "/api/v1/query", v)
	if err != nil {
		return Result{}, err
	}
	return DecodeQuery(status, body)
}

// promTime writes t as the Prometheus HTTP API's Unix seconds.
func promTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
}

// get sends GET path with the query parameters v (and the query timeout)
// and returns the answer's status and body.
func (p *Provider) get(ctx context.Context, path string, v url.Values) (int, []byte, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, p.cfg.Timeout, errQueryTimeout)
	defer cancel()

	u := *p.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawPath = ""
	v.Set("timeout", strconv.FormatInt(p.cfg.Timeout.Milliseconds(), 10)+"ms")
	u.RawQuery = v.Encode()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	switch {
	case p.cfg.BearerToken != "":
		req.Header.Set("Authorization", "Bearer "+p.cfg.BearerToken)
	case p.cfg.User != "":
		req.SetBasicAuth(p.cfg.User, p.cfg.Password)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, p.transportError(ctx, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return 0, nil, p.transportError(ctx, err)
	}
	if len(body) > maxBody {
		// Cut off, the answer would only fail as JSON that "ends
		// unexpectedly"; say what happened instead.
		return 0, nil, fmt.Errorf("prometheus at %s answered with more than %d MiB, more than tend reads; narrow the query", p.base.Redacted(), maxBody>>20)
	}
	return resp.StatusCode, body, nil
}

var errQueryTimeout = errors.New("query timeout")

// transportError says why no answer arrived: the per-query timeout, the
// caller giving up, or the network (unreachable, refused, reset). All but
// the caller giving up are outages (sli.ErrUnavailable).
func (p *Provider) transportError(ctx context.Context, err error) error {
	if context.Cause(ctx) == errQueryTimeout {
		return sli.Unavailable(fmt.Errorf("no answer from prometheus at %s within %s (the per-query timeout)", p.base.Redacted(), p.cfg.Timeout))
	}
	if ctx.Err() != nil {
		return fmt.Errorf("canceled before prometheus answered: %w", context.Cause(ctx))
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return sli.Unavailable(fmt.Errorf("prometheus at %s unreachable: %w", p.base.Redacted(), err))
}

// redact removes the configured secrets from a message, however they got
// into it (an echoing proxy, a misconfigured query).
func (p *Provider) redact(s string) string {
	for _, secret := range p.secrets {
		s = strings.ReplaceAll(s, secret, "<redacted>")
	}
	return s
}
