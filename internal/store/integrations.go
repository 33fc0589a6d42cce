package store

import (
	"context"
	"time"
)

// Integrations stores the Keptn integrations that registered through the
// uniform API (an executor outside tend: a job-executor, a webhook service,
// a team's own Go SDK service), their subscriptions and the log lines they
// send. What a registration or a ping changes is the API's to decide; the
// store keeps an integration and its subscriptions together, replaced in
// one transaction.
type Integrations interface {
	// UpdateIntegration reads the integration with id (found is false
	// when there is none, and in is then the zero value), calls fn and
	// stores what fn returns, all in one write transaction, so concurrent
	// registrations and pings of one integration never lose a change. An
	// error from fn rolls back and is returned unchanged. fn must not
	// block. The result keeps id whatever fn sets.
	UpdateIntegration(ctx context.Context, id string, fn func(in Integration, found bool) (Integration, error)) (Integration, error)
	// GetIntegration returns an integration with its subscriptions, or
	// ErrNotFound.
	GetIntegration(ctx context.Context, id string) (Integration, error)
	// ListIntegrations returns every integration ordered by name and id.
	ListIntegrations(ctx context.Context) ([]Integration, error)
	// DeleteIntegration removes an integration and its subscriptions; its
	// logs stay as history. It returns ErrNotFound for an unknown id.
	DeleteIntegration(ctx context.Context, id string) error
	// AppendIntegrationLogs stores log lines in the order given.
	AppendIntegrationLogs(ctx context.Context, logs ...IntegrationLog) error
	// ListIntegrationLogs returns one page of log lines, newest first.
	ListIntegrationLogs(ctx context.Context, f IntegrationLogFilter) (IntegrationLogPage, error)
}

// Integration is a registered integration.
type Integration struct {
	// ID is derived from the name, namespace and node, so the same
	// deployment registering again gets the same id.
	ID   string
	Name string
	// Project is the project of the token that registered it ("" for an
	// unrestricted token): only tokens that may write to it manage it.
	Project            string
	Hostname           string
	IntegrationVersion string
	DistributorVersion string
	Location           string
	Namespace          string
	PodName            string
	DeploymentName     string
	Subscriptions      []Subscription
	RegisteredAt       time.Time
	LastSeen           time.Time
}

// Subscription is an integration's interest in one event type, optionally
// narrowed to projects, stages and services (empty means all).
type Subscription struct {
	ID       string
	Event    string
	Projects []string
	Stages   []string
	Services []string
}

// IntegrationLog is one log line an integration sent about a task.
type IntegrationLog struct {
	// Seq is assigned by the store.
	Seq           int64
	IntegrationID string
	// Project is the project of the task the line is about ("" when it
	// names none), for scoping reads.
	Project      string
	KeptnContext string
	TriggeredID  string
	Task         string
	Message      string
	Time         time.Time
}

// IntegrationLogFilter selects log lines. Empty fields match everything.
type IntegrationLogFilter struct {
	IntegrationID string
	// Project, when set, keeps only the lines of that project.
	Project string
	// KeptnContext keeps only the lines of one Keptn context.
	KeptnContext string
	// FromTime keeps lines at or after it; BeforeTime those before it.
	FromTime, BeforeTime time.Time
	// PageSize defaults to DefaultPageSize and is capped at MaxPageSize.
	PageSize int
	// Offset is the number of matching lines to skip (Keptn's log API
	// pages by offset).
	Offset int
}

// EffectivePageSize is the page size ListIntegrationLogs uses.
func (f IntegrationLogFilter) EffectivePageSize() int {
	return EventFilter{PageSize: f.PageSize}.EffectivePageSize()
}

// IntegrationLogPage is one page of log lines; NextOffset is 0 on the last
// page.
type IntegrationLogPage struct {
	Logs       []IntegrationLog
	NextOffset int
	TotalCount int
}
