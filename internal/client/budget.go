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

// GetBudgetSLOs lists a project's budget SLOs (of one service when service
// is not empty) as the project's Prometheus reports them.
func (c *Client) GetBudgetSLOs(ctx context.Context, project, service string) (*apitypes.BudgetSLOs, error) {
	if err := checkName("project", project); err != nil {
		return nil, fmt.Errorf("get slos: %w", err)
	}
	q := url.Values{}
	if service != "" {
		if err := checkName("service", service); err != nil {
			return nil, fmt.Errorf("get slos: %w", err)
		}
		q.Set("service", service)
	}
	var out apitypes.BudgetSLOs
	if err := c.call(ctx, http.MethodGet, BudgetSLOsPath(project), q, nil, &out); err != nil {
		return nil, fmt.Errorf("get the budget SLOs of project %q: %w", project, err)
	}
	return &out, nil
}
