package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/tendhq/tend/internal/apitypes"
)

// The problem intake's routes.
const (
	PathAlertmanager = "/api/v1/integrations/alertmanager"
	PathProblems     = "/api/v1/problem"
	PathRemediations = "/api/v1/remediation"
)

// ProblemPath is the route of one problem.
func ProblemPath(id string) string { return PathProblems + "/" + url.PathEscape(id) }

// RemediationPath is the route of one remediation.
func RemediationPath(id string) string { return PathRemediations + "/" + url.PathEscape(id) }

// ProblemFilter selects problems and remediations; empty fields match
// anything. State is open, closed or unmatched for problems, a
// remediation state for remediations.
type ProblemFilter struct {
	Project string
	Stage   string
	Service string
	State   string
	// Running keeps only remediations that have not ended.
	Running bool
}

// Query returns the filter as the routes' query parameters.
func (f ProblemFilter) Query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"project": f.Project, "stage": f.Stage, "service": f.Service, "state": f.State} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Running {
		q.Set("running", "true")
	}
	return q
}

// ListProblems fetches every problem matching f, newest first, following
// nextPageKey to the last page.
func (c *Client) ListProblems(ctx context.Context, f ProblemFilter) ([]apitypes.Problem, error) {
	all := []apitypes.Problem{}
	err := followPages("list problems", "", func(key string) (string, error) {
		var page apitypes.ProblemList
		if err := c.call(ctx, http.MethodGet, PathProblems, pageQuery(f.Query(), 0, key), nil, &page); err != nil {
			return "", fmt.Errorf("list problems: %w", err)
		}
		all = append(all, page.Problems...)
		return page.NextPageKey, nil
	})
	if err != nil {
		return nil, err
	}
	return all, nil
}

// GetProblem fetches one problem.
func (c *Client) GetProblem(ctx context.Context, id string) (*apitypes.Problem, error) {
	if err := checkName("problem", id); err != nil {
		return nil, fmt.Errorf("get problem: %w", err)
	}
	var out apitypes.Problem
	if err := c.call(ctx, http.MethodGet, ProblemPath(id), nil, nil, &out); err != nil {
		return nil, fmt.Errorf("get problem %q: %w", id, err)
	}
	return &out, nil
}

// ListRemediations fetches every remediation matching f, newest first.
func (c *Client) ListRemediations(ctx context.Context, f ProblemFilter) ([]apitypes.Remediation, error) {
	all := []apitypes.Remediation{}
	err := followPages("list remediations", "", func(key string) (string, error) {
		var page apitypes.RemediationList
		if err := c.call(ctx, http.MethodGet, PathRemediations, pageQuery(f.Query(), 0, key), nil, &page); err != nil {
			return "", fmt.Errorf("list remediations: %w", err)
		}
		all = append(all, page.Remediations...)
		return page.NextPageKey, nil
	})
	if err != nil {
		return nil, err
	}
	return all, nil
}

// GetRemediation fetches one remediation with its problems, actions and
// evaluations.
func (c *Client) GetRemediation(ctx context.Context, id string) (*apitypes.Remediation, error) {
	if err := checkName("remediation", id); err != nil {
		return nil, fmt.Errorf("get remediation: %w", err)
	}
	var out apitypes.Remediation
	if err := c.call(ctx, http.MethodGet, RemediationPath(id), nil, nil, &out); err != nil {
		return nil, fmt.Errorf("get remediation %q: %w", id, err)
	}
	return &out, nil
}
