package apitypes

import "encoding/json"

// The wire types of Keptn's own API paths (/api/controlPlane/v1/...,
// /api/mongodb-datastore/..., /api/resource-service/v1/...,
// /api/secrets/v1/...), which tend serves beside /api/v1 so that the keptn
// CLI and Keptn integrations work unchanged. Field names and formats are
// Keptn's: times of projects and services are Unix nanoseconds as strings.

// KeptnMetadata answers GET /api/v1/metadata.
type KeptnMetadata struct {
	KeptnVersion    string `json:"keptnversion"`
	KeptnLabel      string `json:"keptnlabel"`
	BridgeVersion   string `json:"bridgeversion"`
	ShipyardVersion string `json:"shipyardversion"`
	Namespace       string `json:"namespace"`
	// AutomaticProvisioning is always present: the keptn CLI reads it
	// without a nil check. true says a project needs no Git upstream,
	// which is so for tend (it keeps the repository itself); the CLI then
	// sends no gitCredentials on create (use update project for them).
	AutomaticProvisioning bool `json:"automaticprovisioning"`
}

// KeptnCreateProject is the body of POST and PUT /api/controlPlane/v1/project.
type KeptnCreateProject struct {
	Name string `json:"name"`
	// Shipyard is the shipyard file, base64-encoded (YAML text is accepted
	// too).
	Shipyard       string               `json:"shipyard,omitempty"`
	GitCredentials *KeptnGitCredentials `json:"gitCredentials,omitempty"`
}

// KeptnGitCredentials is a project's Git upstream as Keptn's API took it.
// tend pushes over HTTP(S) with a token or to local and file:// remotes;
// SSH keys, proxies, custom certificates and insecureSkipTLS are refused.
type KeptnGitCredentials struct {
	RemoteURL string         `json:"remoteURL"`
	User      string         `json:"user,omitempty"`
	HTTPS     *KeptnGitHTTPS `json:"https,omitempty"`
	SSH       *KeptnGitSSH   `json:"ssh,omitempty"`
}

// KeptnGitHTTPS holds the token of an HTTP(S) upstream.
type KeptnGitHTTPS struct {
	Token           string         `json:"token"`
	Certificate     string         `json:"certificate,omitempty"`
	InsecureSkipTLS bool           `json:"insecureSkipTLS"`
	Proxy           *KeptnGitProxy `json:"proxy,omitempty"`
}

// KeptnGitSSH holds an SSH upstream's key (refused by tend).
type KeptnGitSSH struct {
	PrivateKey     string `json:"privateKey"`
	PrivateKeyPass string `json:"privateKeyPass,omitempty"`
}

// KeptnGitProxy is an HTTP proxy for the upstream (refused by tend).
type KeptnGitProxy struct {
	URL      string `json:"url"`
	Scheme   string `json:"scheme"`
	User     string `json:"user,omitempty"`
	Password string `json:"password,omitempty"`
}

// KeptnGitCredentialsSecure is the upstream as answers show it: no token.
type KeptnGitCredentialsSecure struct {
	RemoteURL string `json:"remoteURL"`
	User      string `json:"user,omitempty"`
}

// KeptnEventContextInfo names the newest event of a type.
type KeptnEventContextInfo struct {
	EventID      string `json:"eventId,omitempty"`
	KeptnContext string `json:"keptnContext,omitempty"`
	// Time is Unix nanoseconds.
	Time string `json:"time,omitempty"`
}

// KeptnService is a service in a stage.
type KeptnService struct {
	ServiceName string `json:"serviceName"`
	// CreationDate is Unix nanoseconds.
	CreationDate string `json:"creationDate"`
	// LastEventTypes maps an event type to the newest event of that type
	// of the service in the stage.
	LastEventTypes   map[string]KeptnEventContextInfo `json:"lastEventTypes,omitempty"`
	OpenRemediations []json.RawMessage                `json:"openRemediations"`
	// DeployedImage is the image the service runs in the stage, as
	// Keptn's Bridge showed it: that of the newest deployment, release or
	// rollback finished event with result pass or warning; absent when
	// none reported one.
	DeployedImage string `json:"deployedImage,omitempty"`
}

// KeptnStage is a stage with its services.
type KeptnStage struct {
	StageName    string         `json:"stageName"`
	Services     []KeptnService `json:"services"`
	ParentStages []string       `json:"parentStages,omitempty"`
}

// KeptnProject is a project with its stages.
type KeptnProject struct {
	ProjectName string `json:"projectName"`
	// CreationDate is Unix nanoseconds.
	CreationDate              string                     `json:"creationDate"`
	Shipyard                  string                     `json:"shipyard"`
	ShipyardVersion           string                     `json:"shipyardVersion,omitempty"`
	Stages                    []KeptnStage               `json:"stages"`
	GitCredentials            *KeptnGitCredentialsSecure `json:"gitCredentials,omitempty"`
	IsUpstreamAutoProvisioned bool                       `json:"isUpstreamAutoProvisioned"`
}

// KeptnProjects is a page of projects.
type KeptnProjects struct {
	Projects    []KeptnProject `json:"projects"`
	NextPageKey string         `json:"nextPageKey,omitempty"`
	PageSize    int            `json:"pageSize"`
	TotalCount  int            `json:"totalCount"`
}

// KeptnStages is a page of stages.
type KeptnStages struct {
	Stages      []KeptnStage `json:"stages"`
	NextPageKey string       `json:"nextPageKey,omitempty"`
	PageSize    int          `json:"pageSize"`
	TotalCount  int          `json:"totalCount"`
}

// KeptnServices is a page of services.
type KeptnServices struct {
	Services    []KeptnService `json:"services"`
	NextPageKey string         `json:"nextPageKey,omitempty"`
	PageSize    int            `json:"pageSize"`
	TotalCount  int            `json:"totalCount"`
}

// KeptnMessage answers Keptn's deletes: the keptn CLI decodes a body.
type KeptnMessage struct {
	Message string `json:"message"`
}

// KeptnEvents is a page of events from Keptn's datastore paths.
type KeptnEvents struct {
	Events      []json.RawMessage `json:"events"`
	NextPageKey string            `json:"nextPageKey,omitempty"`
	PageSize    int               `json:"pageSize"`
	TotalCount  int               `json:"totalCount"`
}

// KeptnResourceMetadata says where a resource version lives.
type KeptnResourceMetadata struct {
	// Branch is the Git branch: the stage, or the default branch for
	// project-level resources.
	Branch string `json:"branch"`
	// UpstreamURL is the project's upstream, credentials removed.
	UpstreamURL string `json:"upstreamURL,omitempty"`
	// Version is the commit id.
	Version string `json:"version"`
}

// KeptnResource is one resource of the resource service.
type KeptnResource struct {
	ResourceURI string `json:"resourceURI"`
	// ResourceContent is base64.
	ResourceContent string                 `json:"resourceContent,omitempty"`
	Metadata        *KeptnResourceMetadata `json:"metadata,omitempty"`
}

// KeptnResources is a page of resources, and the body of writes.
type KeptnResources struct {
	Resources   []KeptnResource `json:"resources"`
	NextPageKey string          `json:"nextPageKey,omitempty"`
	PageSize    int             `json:"pageSize,omitempty"`
	TotalCount  int             `json:"totalCount,omitempty"`
}

// KeptnWriteResult answers a resource write or delete.
type KeptnWriteResult struct {
	CommitID string                `json:"commitID"`
	Metadata KeptnResourceMetadata `json:"metadata"`
	// PushError is tend's: set when the commit was kept but pushing it to
	// the upstream failed.
	PushError string `json:"pushError,omitempty"`
}

// KeptnSecret is the body of POST and PUT /api/secrets/v1/secret.
type KeptnSecret struct {
	Name string `json:"name"`
	// Scope defaults to "keptn-default".
	Scope string            `json:"scope,omitempty"`
	Data  map[string]string `json:"data"`
}

// KeptnSecretInfo lists a secret without its values.
type KeptnSecretInfo struct {
	Name  string   `json:"name"`
	Scope string   `json:"scope"`
	Keys  []string `json:"keys"`
}

// KeptnSecretList answers GET /api/secrets/v1/secret.
type KeptnSecretList struct {
	Secrets []KeptnSecretInfo `json:"secrets"`
}

// KeptnScopeList answers GET /api/secrets/v1/scope.
type KeptnScopeList struct {
	Scopes []string `json:"scopes"`
}
