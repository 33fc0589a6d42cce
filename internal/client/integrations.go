package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/tendhq/tend/internal/apitypes"
)

// IntegrationFilter narrows ListIntegrations; empty fields match all.
type IntegrationFilter struct {
	ID, Name, Project, Stage, Service string
}

// ListIntegrations lists the Keptn integrations registered through the
// uniform API, with their subscriptions and last seen time.
func (c *Client) ListIntegrations(ctx context.Context, f IntegrationFilter) ([]apitypes.KeptnIntegration, error) {
	q := url.Values{}
	for k, v := range map[string]string{"id": f.ID, "name": f.Name, "project": f.Project, "stage": f.Stage, "service": f.Service} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var out []apitypes.KeptnIntegration
	if err := c.call(ctx, http.MethodGet, "/api/controlPlane/v1/uniform/registration", q, nil, &out); err != nil {
		return nil, fmt.Errorf("list integrations: %w", err)
	}
	return out, nil
}

// LogFilter narrows ListIntegrationLogs; empty fields match all.
type LogFilter struct {
	IntegrationID string
	KeptnContext  string
	FromTime      time.Time
	PageSize      int
	// NextPageKey is the previous page's NextPageKey; 0 for the first.
	NextPageKey int64
}

// ListIntegrationLogs returns one page of integrations' log lines, newest
// first.
func (c *Client) ListIntegrationLogs(ctx context.Context, f LogFilter) (*apitypes.KeptnLogList, error) {
	q := url.Values{}
	if f.IntegrationID != "" {
		q.Set("integrationId", f.IntegrationID)
	}
	if f.KeptnContext != "" {
		q.Set("keptnContext", f.KeptnContext)
	}
	if !f.FromTime.IsZero() {
		q.Set("fromTime", f.FromTime.UTC().Format(time.RFC3339Nano))
	}
	if f.PageSize > 0 {
		q.Set("pageSize", strconv.Itoa(f.PageSize))
	}
	if f.NextPageKey > 0 {
		q.Set("nextPageKey", strconv.FormatInt(f.NextPageKey, 10))
	}
	var out apitypes.KeptnLogList
	if err := c.call(ctx, http.MethodGet, "/api/controlPlane/v1/log", q, nil, &out); err != nil {
		return nil, fmt.Errorf("list integration logs: %w", err)
	}
	return &out, nil
}
