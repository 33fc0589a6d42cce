package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/tendhq/tend/internal/apitypes"
)

// AlertRulesPath is GET /api/v1/project/{project}/service/{service}/alert-rules.
func AlertRulesPath(project, service string) string {
	return ServicePath(project, service) + "/alert-rules"
}

// AlertRulesOptions narrow and tune the generated rules; the zero value
// asks for every stage with self-healing enabled and the server's defaults.
type AlertRulesOptions struct {
	// Stage asks for this stage only, whether self-healing is on or not.
	Stage string
	// Window and For are sent when not zero; SetFor sends For even when
	// it is zero (fire at once).
	Window, For time.Duration
	SetFor      bool
	// Severity is sent when not empty.
	Severity string
}

// Query is the route's query string.
func (o AlertRulesOptions) Query() url.Values {
	q := url.Values{}
	if o.Stage != "" {
		q.Set("stage", o.Stage)
	}
	if o.Window != 0 {
		q.Set("window", o.Window.String())
	}
	if o.For != 0 || o.SetFor {
		q.Set("for", o.For.String())
	}
	if o.Severity != "" {
		q.Set("severity", o.Severity)
	}
	return q
}

// GetAlertRules returns the Prometheus alerting rules the server generates
// from a service's SLOs, with what happened in each stage.
func (c *Client) GetAlertRules(ctx context.Context, project, service string, opts AlertRulesOptions) (*apitypes.AlertRules, error) {
	if err := checkName("project", project); err != nil {
		return nil, fmt.Errorf("get alert rules: %w", err)
	}
	if err := checkName("service", service); err != nil {
		return nil, fmt.Errorf("get alert rules: %w", err)
	}
	if opts.Stage != "" {
		if err := checkName("stage", opts.Stage); err != nil {
			return nil, fmt.Errorf("get alert rules: %w", err)
		}
	}
	var out apitypes.AlertRules
	if err := c.call(ctx, http.MethodGet, AlertRulesPath(project, service), opts.Query(), nil, &out); err != nil {
		return nil, fmt.Errorf("get alert rules of service %q in project %q: %w", service, project, err)
	}
	return &out, nil
}
