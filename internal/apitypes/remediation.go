package apitypes

// RemediationConfig is the body of PUT
// /api/v1/project/{project}/config/remediation: the safety limits and
// timing of remediation for a project, a stage, a service in every stage
// or a service in one stage. Fields left out are not set at that scope and
// come from a less specific one, else from the server's tend.yaml.
type RemediationConfig struct {
	// MaxReplicas caps what a scaling action may scale to; 0 means no
	// limit.
	MaxReplicas *int `json:"maxReplicas,omitempty"`
	// Cooldown is the least time between the end of one remediation of a
	// service that acted and the start of the next, e.g. "15m"; "0" means
	// none.
	Cooldown string `json:"cooldown,omitempty"`
	// MaxActionsPerHour caps the actions run for one service in any hour;
	// 0 means no limit.
	MaxActionsPerHour *int `json:"maxActionsPerHour,omitempty"`
	// DryRun records each action's plan as what would be done and applies
	// nothing.
	DryRun *bool `json:"dryRun,omitempty"`
	// Settling is the wait between an action and its verification when
	// the shipyard's evaluation task names no triggeredAfter, e.g. "10m".
	Settling string `json:"settling,omitempty"`
	Stage    string `json:"stage,omitempty"`
	Service  string `json:"service,omitempty"`
}

// KubernetesConfig is the body of PUT
// /api/v1/project/{project}/config/kubernetes: where scaling acts. Empty
// fields keep the defaults (namespace <project>-<stage>, deployment
// <service>-primary falling back to <service>).
type KubernetesConfig struct {
	Namespace          string `json:"namespace,omitempty"`
	Deployment         string `json:"deployment,omitempty"`
	FallbackDeployment string `json:"fallbackDeployment,omitempty"`
	// ScaleURL scales through an HTTP scale endpoint (GET and PUT
	// {"replicas": N}) instead of a Deployment.
	ScaleURL string `json:"scaleURL,omitempty"`
	Stage    string `json:"stage,omitempty"`
	Service  string `json:"service,omitempty"`
}

// UnleashConfig is the body of PUT /api/v1/project/{project}/config/unleash:
// the Unleash that toggle-feature and featuretoggle actions switch. Token
// is an admin API token in plain text (the CLI resolves file: and env:);
// no answer ever carries it.
type UnleashConfig struct {
	URL         string `json:"url,omitempty"`
	Token       string `json:"token,omitempty"`
	Project     string `json:"project,omitempty"`
	Environment string `json:"environment,omitempty"`
	Stage       string `json:"stage,omitempty"`
	Service     string `json:"service,omitempty"`
}

// SecretConfig is the body of PUT
// /api/v1/project/{project}/config/secret/{name}: a value that webhook
// actions of the project reference as {{ .Secrets.name }}, and the URL
// prefix it may be sent to: a webhook pointed elsewhere does not get it.
type SecretConfig struct {
	Value string `json:"value"`
	URL   string `json:"url,omitempty"`
}

// PauseRequest is the body of POST
// /api/v1/project/{project}/remediation/pause and .../resume.
type PauseRequest struct {
	// Service limits the pause to one service (in every stage); empty
	// means the whole project.
	Service string `json:"service,omitempty"`
	// Reason is recorded with the pause.
	Reason string `json:"reason,omitempty"`
}

// PauseAnswer answers a pause or resume.
type PauseAnswer struct {
	Project string `json:"project"`
	Service string `json:"service,omitempty"`
	// Paused is true after a pause, false after a resume.
	Paused bool `json:"paused"`
	// Remediations are the running remediations told to pause or resume.
	Remediations []string `json:"remediations"`
}
