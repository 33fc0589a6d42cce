// Package unleash executes the toggle-feature and featuretoggle remediation
// actions by switching Unleash feature flags on or off in one environment,
// through Unleash's per-environment admin API (docs/keptn.md, "External APIs"):
//
//	GET  /api/admin/projects/<project>/features/<name>            (the state)
//	POST /api/admin/projects/<project>/features/<name>/environments/<env>/on|off
//
// It works with Unleash 4.3 and newer, including 8; the legacy
// /api/admin/features/<name>/toggle/on|off that Keptn's unleash-service used
// was removed in Unleash 5.
//
// Prepare reads every named flag and records its current state in the plan
// ("feature EnablePromotion (production)": on -> off); Apply sets each flag
// to the plan's target state and skips the ones already there, so a replay
// after a crash does nothing more.
package unleash

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tendhq/tend/internal/action"
)

// The action names this executor handles. Keptn 0.7 and later wrote
// toggle-feature with a map value; Keptn 0.6 wrote featuretoggle with a
// "Name:state" string.
const (
	ActionToggleFeature = "toggle-feature"
	ActionFeatureToggle = "featuretoggle"
)

// Defaults for the settings a Config may leave empty.
const (
	// DefaultProject is the project every Unleash installation has.
	DefaultProject = "default"
	// DefaultEnvironment is the environment switched when none is
	// configured: of Unleash's two default environments (development and
	// production) it is the one a self-healing remediation acts on.
	DefaultEnvironment = "production"
	// DefaultTimeout bounds each call to Unleash.
	DefaultTimeout = 10 * time.Second
)

// maxBody bounds how much of an Unleash answer is read.
const maxBody = 1 << 20

// Config says which Unleash to act on, for one project and stage. The
// application fills it from the project's settings.
type Config struct {
	// URL is Unleash's base URL, e.g. https://unleash.example.com (a path
	// prefix such as /unleash is kept).
	URL string
	// Token is an Unleash admin API token, already resolved from its
	// secret reference. It is sent as the Authorization header and never
	// appears in errors or plans.
	Token string
	// Project is the Unleash project of the flags; empty means "default".
	Project string
	// Environment is the Unleash environment switched; empty means
	// "production".
	Environment string
	// Timeout bounds each HTTP call; zero means DefaultTimeout.
	Timeout time.Duration
}

// Resolver returns the Unleash configuration for a request's project and
// stage (and service, if settings go that far). An error wrapping
// action.ErrInvalid (nothing configured) is final.
type Resolver func(ctx context.Context, req action.Request) (Config, error)

// Static returns a Resolver that gives every request the same Config, for
// tests and single-Unleash setups.
func Static(cfg Config) Resolver {
	return func(context.Context, action.Request) (Config, error) { return cfg, nil }
}

// Executor switches Unleash flags. It implements action.Executor for both
// ActionToggleFeature and ActionFeatureToggle; register it under both names.
type Executor struct {
	resolve Resolver
	client  *http.Client
}

// New returns an Executor that looks up each request's Unleash with
// resolve. client may be nil for http.DefaultClient; each call is bounded
// by the Config's Timeout either way.
func New(resolve Resolver, client *http.Client) *Executor {
	if client == nil {
		client = http.DefaultClient
	}
	return &Executor{resolve: resolve, client: client}
}

var _ action.Executor = (*Executor)(nil)

// planData is the executor's part of a Plan: the absolute target state of
// every flag, and what it was when the plan was made.
type planData struct {
	Project     string       `json:"project"`
	Environment string       `json:"environment"`
	Features    []planChange `json:"features"`
}

type planChange struct {
	Feature string `json:"feature"`
	From    bool   `json:"from"`
	To      bool   `json:"to"`
}

// Prepare reads the current state of every flag the request names and
// returns the plan to set each to its requested state. It changes nothing.
func (e *Executor) Prepare(ctx context.Context, req action.Request) (action.Plan, error) {
	toggles, err := ParseValue(req.Value)
	if err != nil {
		return action.Plan{}, invalidf("%s: %v", actionName(req), err)
	}
	c, err := e.target(ctx, req)
	if err != nil {
		return action.Plan{}, err
	}
	data := planData{Project: c.project, Environment: c.env}
	plan := action.Plan{Action: req.Action}
	var todo, already []string
	for _, t := range toggles {
		from, err := c.enabled(ctx, t.Feature)
		if err != nil {
			return action.Plan{}, err
		}
		data.Features = append(data.Features, planChange{Feature: t.Feature, From: from, To: t.On})
		plan.Changes = append(plan.Changes, action.Change{
			Target: changeTarget(t.Feature, c.env),
			From:   onOff(from),
			To:     onOff(t.On),
		})
		if from == t.On {
			already = append(already, t.Feature+" "+onOff(t.On))
		} else {
			todo = append(todo, t.Feature+" "+onOff(t.On))
		}
	}
	plan.Summary = summary(c, todo, already)
	raw, err := json.Marshal(data)
	if err != nil {
		return action.Plan{}, fmt.Errorf("unleash: encode plan: %w", err)
	}
	plan.Data = raw
	return plan, nil
}

// Apply sets every flag of the plan to its target state. Flags already in
// that state are left alone, so applying a plan twice changes nothing the
// second time.
func (e *Executor) Apply(ctx context.Context, req action.Request, plan action.Plan) (action.Result, error) {
	var data planData
	if err := json.Unmarshal(plan.Data, &data); err != nil || len(data.Features) == 0 {
		return action.Result{}, invalidf("%s: the plan holds no Unleash features (was it made by this executor?)", actionName(req))
	}
	c, err := e.target(ctx, req)
	if err != nil {
		return action.Result{}, err
	}
	// The plan's project and environment were recorded with its intent;
	// they win over settings changed since.
	c.project, c.env = data.Project, data.Environment
	var switched, already []string
	res := action.Result{}
	for _, f := range data.Features {
		now, err := c.enabled(ctx, f.Feature)
		if err != nil {
			return action.Result{}, err
		}
		if now != f.To {
			if err := c.set(ctx, f.Feature, f.To); err != nil {
				return action.Result{}, err
			}
			switched = append(switched, f.Feature+" "+onOff(f.To))
		} else {
			already = append(already, f.Feature+" "+onOff(f.To))
		}
		res.Changes = append(res.Changes, action.Change{
			Target: changeTarget(f.Feature, c.env),
			From:   onOff(f.From),
			To:     onOff(f.To),
		})
	}
	var parts []string
	if len(switched) > 0 {
		parts = append(parts, "switched "+strings.Join(switched, ", "))
	}
	if len(already) > 0 {
		parts = append(parts, "already "+strings.Join(already, ", "))
	}
	res.Message = fmt.Sprintf("Unleash project %s, environment %s: %s", c.project, c.env, strings.Join(parts, "; "))
	return res, nil
}

// changeTarget names a flag in one environment, as plans and results do.
func changeTarget(feature, env string) string {
	return fmt.Sprintf("feature %s (%s)", feature, env)
}

func summary(c *conn, todo, already []string) string {
	where := fmt.Sprintf("in Unleash project %s, environment %s", c.project, c.env)
	switch {
	case len(todo) == 0:
		return fmt.Sprintf("nothing to switch %s: already %s", where, strings.Join(already, ", "))
	case len(already) == 0:
		return fmt.Sprintf("switch %s %s", strings.Join(todo, ", "), where)
	}
	return fmt.Sprintf("switch %s %s (already %s)", strings.Join(todo, ", "), where, strings.Join(already, ", "))
}

func actionName(req action.Request) string {
	if req.Action != "" {
		return req.Action
	}
	return ActionToggleFeature
}

// conn is one request's view of Unleash: where it is, how to authenticate,
// and which project and environment to act on.
type conn struct {
	client  *http.Client
	base    *url.URL
	token   string
	project string
	env     string
	timeout time.Duration
	// scope says where the settings came from, for messages.
	scope string
}

// target resolves and checks the request's configuration.
func (e *Executor) target(ctx context.Context, req action.Request) (*conn, error) {
	scope := fmt.Sprintf("project %s stage %s", req.Project, req.Stage)
	cfg, err := e.resolve(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("unleash: settings of %s: %w", scope, err)
	}
	if strings.TrimSpace(cfg.URL) == "" {
		return nil, invalidf("unleash: no Unleash URL is configured for %s; set the Unleash URL and admin token in its settings", scope)
	}
	base, err := url.Parse(strings.TrimSpace(cfg.URL))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, invalidf("unleash: the Unleash URL configured for %s is not an http(s) URL; want e.g. https://unleash.example.com", scope)
	}
	if cfg.Token == "" {
		return nil, invalidf("unleash: no Unleash admin API token is configured for %s", scope)
	}
	c := &conn{
		client:  e.client,
		base:    base,
		token:   cfg.Token,
		project: cfg.Project,
		env:     cfg.Environment,
		timeout: cfg.Timeout,
		scope:   scope,
	}
	if c.project == "" {
		c.project = DefaultProject
	}
	if c.env == "" {
		c.env = DefaultEnvironment
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	return c, nil
}

// featureAnswer is the part of GET .../features/<name> the executor reads.
type featureAnswer struct {
	Name         string `json:"name"`
	Environments []struct {
		Name    string `json:"name"`
		Enabled bool   `json:"enabled"`
	} `json:"environments"`
}

// enabled reads whether feature is on in the connection's environment.
func (c *conn) enabled(ctx context.Context, feature string) (bool, error) {
	body, err := c.do(ctx, http.MethodGet, c.featurePath(feature), feature)
	if err != nil {
		return false, err
	}
	var f featureAnswer
	if err := json.Unmarshal(body, &f); err != nil {
		return false, fmt.Errorf("unleash: read feature %s from %s: the answer is not Unleash's feature JSON: %w", feature, c.where(), err)
	}
	var names []string
	for _, e := range f.Environments {
		if e.Name == c.env {
			return e.Enabled, nil
		}
		names = append(names, e.Name)
	}
	return false, invalidf("unleash: feature %s in Unleash project %s has no environment %s (it has: %s); configure one of those as the Unleash environment for %s, or enable %s in the project",
		feature, c.project, c.env, strings.Join(names, ", "), c.scope, c.env)
}

// set switches feature on or off in the connection's environment.
func (c *conn) set(ctx context.Context, feature string, on bool) error {
	p := c.featurePath(feature) + "/environments/" + url.PathEscape(c.env) + "/" + onOff(on)
	_, err := c.do(ctx, http.MethodPost, p, feature)
	return err
}

func (c *conn) featurePath(feature string) string {
	return "/api/admin/projects/" + url.PathEscape(c.project) + "/features/" + url.PathEscape(feature)
}

// where names the Unleash server in messages, without credentials.
func (c *conn) where() string { return c.base.Redacted() }

// do makes one call to Unleash with its own timeout and turns its answer
// into a body or an error: 4xx (except 408 and 429) are final, wrapping
// action.ErrInvalid; 5xx, 408, 429 and transport errors may be retried.
func (c *conn) do(ctx context.Context, method, path, feature string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	u := *c.base
	u.RawQuery, u.Fragment = "", ""
	// The on/off endpoints take no body; http.NoBody sends Content-Length 0.
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(u.String(), "/")+path, http.NoBody)
	if err != nil {
		return nil, fmt.Errorf("unleash: %s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", c.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "tend")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("unleash: %s %s at %s: %s", method, path, c.where(), c.redact(transportError(err)))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("unleash: %s %s at %s: read the answer: %s", method, path, c.where(), c.redact(err.Error()))
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return body, nil
	}
	said := c.redact(unleashMessage(body))
	status := resp.Status
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return nil, invalidf("unleash: Unleash at %s refused the admin API token configured for %s (%s): %s", c.where(), c.scope, status, said)
	case resp.StatusCode == http.StatusForbidden:
		return nil, invalidf("unleash: the token configured for %s may not change flags in Unleash at %s (%s): %s; it must be an admin API token (or a personal access token) with access to project %s", c.scope, c.where(), status, said, c.project)
	case resp.StatusCode == http.StatusNotFound && method == http.MethodGet:
		return nil, invalidf("unleash: feature %s does not exist in Unleash project %s at %s: %s", feature, c.project, c.where(), said)
	case resp.StatusCode == http.StatusNotFound:
		return nil, invalidf("unleash: %s %s at %s (%s): %s", method, path, c.where(), status, said)
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return nil, fmt.Errorf("unleash: %s %s at %s: %s: %s", method, path, c.where(), status, said)
	}
	return nil, invalidf("unleash: %s %s at %s (%s): %s", method, path, c.where(), status, said)
}

// transportError shortens a client error to its cause: *url.Error repeats
// the method and URL that the message already names.
func transportError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return "no answer in time (" + ue.Err.Error() + ")"
		}
		return ue.Err.Error()
	}
	return err.Error()
}

// redact removes the token from text that may echo it.
func (c *conn) redact(s string) string {
	if c.token == "" {
		return s
	}
	return strings.ReplaceAll(s, c.token, "<redacted>")
}

// unleashMessage pulls the message out of Unleash's error JSON
// ({"name","message","details"}), else returns the start of the body.
func unleashMessage(body []byte) string {
	var e struct {
		Message string `json:"message"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil {
		if e.Message != "" {
			return e.Message
		}
		if e.Error != "" {
			return e.Error
		}
	}
	s := strings.TrimSpace(string(body))
	if s == "" {
		return "(no message)"
	}
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// invalidError is a final error: its message is the whole story, and it
// matches action.ErrInvalid without repeating that error's text.
type invalidError struct{ msg string }

func (e *invalidError) Error() string { return e.msg }
func (e *invalidError) Unwrap() error { return action.ErrInvalid }

func invalidf(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}
