package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/tendhq/tend/internal/apitypes"
)

// BudgetSLOsPath is GET /api/v1/project/{project}/slos.
func BudgetSLOsPath(project string) string { return ProjectPath(project) + "/slos" }

// GetBudgetSLOs lists a project's budget SLOs (of one stage and one
// service when those are not empty) as the project's Prometheus reports
// them.
func (c *Client) GetBudgetSLOs(ctx context.Context, project, stage, service string) (*apitypes.BudgetSLOs, error) {
	if err := checkName("project", project); err != nil {
		return nil, fmt.Errorf("get slos: %w", err)
	}
	q := url.Values{}
	for _, f := range []struct{ key, v string }{{"stage", stage}, {"service", service}} {
		if f.v == "" {
			continue
		}
		if err := checkName(f.key, f.v); err != nil {
			return nil, fmt.Errorf("get slos: %w", err)
		}
		q.Set(f.key, f.v)
	}
	var out apitypes.BudgetSLOs
	if err := c.call(ctx, http.MethodGet, BudgetSLOsPath(project), q, nil, &out); err != nil {
		return nil, fmt.Errorf("get the budget SLOs of project %q: %w", project, err)
	}
	return &out, nil
}
