package apitypes

import (
	"encoding/json"
	"time"
)

// MonitoringConfig is the body of PUT /api/v1/project/{project}/config/monitoring:
// the SLI provider of a project, stage, service in every stage, or service
// in one stage (Stage and Service, or the stage and service query
// parameters; the most specific configuration wins). Secrets are plain
// values here (send them over TLS or loopback); the CLI resolves its
// file:PATH and env:NAME forms before sending. No answer ever carries them.
type MonitoringConfig struct {
	// Provider is "prometheus" or "dynatrace".
	Provider string `json:"provider"`
	// URL is Prometheus's base URL or the Dynatrace tenant's.
	URL string `json:"url"`
	// User and Password select basic authentication (Prometheus).
	User     string `json:"user,omitempty"`
	Password string `json:"password,omitempty"`
	// BearerToken selects "Authorization: Bearer" (Prometheus).
	BearerToken string `json:"bearerToken,omitempty"`
	// Token is the Dynatrace API token.
	Token   string `json:"token,omitempty"`
	Stage   string `json:"stage,omitempty"`
	Service string `json:"service,omitempty"`
}

// SecretState says whether a masked secret is set.
type SecretState struct {
	Set bool `json:"set"`
}

// ConfigSetting is one stored setting of a project with its secrets
// masked: each secret that is set reads "****" in Value and is listed in
// Secrets by its JSON path.
type ConfigSetting struct {
	Stage     string                 `json:"stage,omitempty"`
	Service   string                 `json:"service,omitempty"`
	Key       string                 `json:"key"`
	Value     json.RawMessage        `json:"value"`
	Secrets   map[string]SecretState `json:"secrets,omitempty"`
	UpdatedAt time.Time              `json:"updatedAt"`
}

// ProjectConfig answers GET /api/v1/project/{project}/config: every
// setting of the project at every level, ordered by stage, service and key.
type ProjectConfig struct {
	Project  string          `json:"project"`
	Settings []ConfigSetting `json:"settings"`
}

// TriggerEvaluationRequest is the body of POST
// /api/v1/project/{p}/stage/{s}/service/{svc}/evaluation (Keptn's body).
// The window: timeframe alone (ending now), start alone (until now), start
// and end, or start and timeframe; all empty means the last 5 minutes.
// Times are RFC 3339, the timeframe a duration such as "5m".
type TriggerEvaluationRequest struct {
	Timeframe string            `json:"timeframe,omitempty"`
	Start     string            `json:"start,omitempty"`
	End       string            `json:"end,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	// GitCommitID pins the SLO file to this resource version (a commit
	// id of the stage's history), as Keptn's gitcommitid did.
	GitCommitID string `json:"gitcommitid,omitempty"`
}
