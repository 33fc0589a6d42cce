package apitypes

import "time"

// The wire types of Keptn's uniform API (/api/controlPlane/v1/uniform/...
// and /api/controlPlane/v1/log), through which an integration built on
// Keptn's Go SDK registers, learns its subscriptions and sends log lines.
// Field names are Keptn's.

// KeptnIntegration is a registration (the body of POST
// /api/controlPlane/v1/uniform/registration) and the answer of a ping and
// of the listing.
type KeptnIntegration struct {
	// ID is ignored in a registration: tend derives it.
	ID            string                   `json:"id,omitempty"`
	Name          string                   `json:"name"`
	MetaData      KeptnIntegrationMetadata `json:"metadata"`
	Subscriptions []KeptnSubscription      `json:"subscriptions"`
}

// KeptnIntegrationMetadata says where and in which version an integration
// runs.
type KeptnIntegrationMetadata struct {
	// Hostname is the node the integration runs on; with the name and the
	// namespace it determines the id.
	Hostname           string                  `json:"hostname"`
	IntegrationVersion string                  `json:"integrationversion"`
	DistributorVersion string                  `json:"distributorversion"`
	Location           string                  `json:"location"`
	KubernetesMetaData KeptnKubernetesMetadata `json:"kubernetesmetadata"`
	// LastSeen is the time of the latest registration or ping; it is
	// ignored in a registration.
	LastSeen *time.Time `json:"lastseen,omitempty"`
}

// KeptnKubernetesMetadata is where in a cluster an integration runs.
type KeptnKubernetesMetadata struct {
	Namespace      string `json:"namespace"`
	PodName        string `json:"podname"`
	DeploymentName string `json:"deploymentname"`
}

// KeptnSubscription is an integration's subscription to one event type
// (e.g. sh.keptn.event.hello.triggered); the body of the subscription
// routes.
type KeptnSubscription struct {
	// ID is set by tend; it is ignored in a request body.
	ID     string                  `json:"id,omitempty"`
	Event  string                  `json:"event"`
	Filter KeptnSubscriptionFilter `json:"filter"`
}

// KeptnSubscriptionFilter narrows a subscription; an empty list means all.
type KeptnSubscriptionFilter struct {
	Projects []string `json:"projects"`
	Stages   []string `json:"stages"`
	Services []string `json:"services"`
}

// KeptnID answers a registration or a subscription's creation.
type KeptnID struct {
	ID string `json:"id"`
}

// KeptnLogEntry is one log line of an integration about a task.
type KeptnLogEntry struct {
	IntegrationID string `json:"integrationid"`
	Message       string `json:"message"`
	// Time is set by tend when the entry has none.
	Time         *time.Time `json:"time,omitempty"`
	KeptnContext string     `json:"shkeptncontext"`
	Task         string     `json:"task"`
	TriggeredID  string     `json:"triggeredid"`
	// GitCommitID is accepted for Keptn's sake and not stored.
	GitCommitID string `json:"gitcommitid,omitempty"`
}

// KeptnLogs is the body of POST /api/controlPlane/v1/log.
type KeptnLogs struct {
	Logs []KeptnLogEntry `json:"logs"`
}

// KeptnLogList answers GET /api/controlPlane/v1/log, newest first. Keptn's
// page key is a number: the offset of the next page, 0 on the last.
type KeptnLogList struct {
	NextPageKey int64           `json:"nextPageKey,omitempty"`
	PageSize    int64           `json:"pageSize,omitempty"`
	TotalCount  int64           `json:"totalCount,omitempty"`
	Logs        []KeptnLogEntry `json:"logs"`
}
