// Package apitypes holds the wire types of tend's REST API v1: the JSON bodies
// that the server (internal/api) writes and the typed client (internal/client)
// reads. Field names follow Keptn's APIs where Keptn had an equivalent, so
// scripts written against Keptn keep working.
package apitypes

import (
	"encoding/json"
	"time"
)

// Error is the one error body every failing API call answers with.
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// Scope is the permission level of an API token.
type Scope string

// The scopes of an API token, weakest first.
const (
	ScopeRead  Scope = "read"
	ScopeWrite Scope = "write"
	ScopeAdmin Scope = "admin"
)

// CreateTokenRequest is the body of POST /api/v1/token.
type CreateTokenRequest struct {
	Name  string `json:"name"`
	Scope Scope  `json:"scope"`
	// Project restricts the token to one project; empty means all projects.
	Project string `json:"project,omitempty"`
}

// CreatedToken answers POST /api/v1/token; it is the only answer that ever
// carries a token's secret.
type CreatedToken struct {
	Name    string `json:"name"`
	Scope   Scope  `json:"scope"`
	Project string `json:"project"`
	Token   string `json:"token"`
}

// Token describes a token without its secret.
type Token struct {
	Name      string    `json:"name"`
	Scope     Scope     `json:"scope"`
	Project   string    `json:"project"`
	CreatedAt time.Time `json:"createdAt"`
}

// TokenList answers GET /api/v1/token.
type TokenList struct {
	Tokens []Token `json:"tokens"`
}

// CreateProjectRequest is the body of POST /api/v1/project. Shipyard is the
// shipyard file's YAML text; like Keptn's API, a base64-encoded text is
// accepted too.
type CreateProjectRequest struct {
	Name         string `json:"name"`
	Shipyard     string `json:"shipyard"`
	GitRemoteURL string `json:"gitRemoteURL,omitempty"`
	GitUser      string `json:"gitUser,omitempty"`
	// GitToken is accepted on write and never returned.
	GitToken string `json:"gitToken,omitempty"`
}

// Project describes a project with its stages and services.
type Project struct {
	ProjectName     string    `json:"projectName"`
	CreationDate    time.Time `json:"creationDate"`
	ShipyardVersion string    `json:"shipyardVersion,omitempty"`
	GitRemoteURL    string    `json:"gitRemoteURL,omitempty"`
	GitUser         string    `json:"gitUser,omitempty"`
	Stages          []Stage   `json:"stages"`
}

// Stage is one stage of a project's shipyard.
type Stage struct {
	StageName string    `json:"stageName"`
	Services  []Service `json:"services"`
	// RemediationEnabled says whether self-healing runs in this stage.
	RemediationEnabled bool `json:"remediationEnabled"`
}

// Service is a service of a project; it exists in every stage.
type Service struct {
	ServiceName  string    `json:"serviceName"`
	CreationDate time.Time `json:"creationDate"`
	// Stages are the project's stages in shipyard order with what the
	// service runs there. Service answers carry them; the services listed
	// in a project's stages do not.
	Stages []ServiceStage `json:"stages,omitempty"`
}

// ServiceStage is what a service runs in one stage, as the event log says:
// the newest deployment, release or rollback finished event with result
// pass or warning that names an image.
type ServiceStage struct {
	StageName string `json:"stageName"`
	// DeployedImage is "" (and the other fields absent) when no delivery
	// reported an image in the stage.
	DeployedImage string `json:"deployedImage,omitempty"`
	// DeployedAt is the time of that event; KeptnContext its delivery's
	// context; EventType its type.
	DeployedAt   *time.Time `json:"deployedAt,omitempty"`
	KeptnContext string     `json:"keptnContext,omitempty"`
	EventType    string     `json:"eventType,omitempty"`
}

// ProjectList answers GET /api/v1/project.
type ProjectList struct {
	Projects    []Project `json:"projects"`
	NextPageKey string    `json:"nextPageKey,omitempty"`
	TotalCount  int       `json:"totalCount"`
}

// CreateServiceRequest is the body of POST /api/v1/project/{project}/service.
type CreateServiceRequest struct {
	ServiceName string `json:"serviceName"`
}

// ServiceList answers GET /api/v1/project/{project}/service.
type ServiceList struct {
	Services []Service `json:"services"`
}

// Resource is one file of a project's resource repository. In a list answer
// ResourceContent is empty; Version is the Git commit id.
type Resource struct {
	ResourceURI string `json:"resourceURI"`
	// ResourceContent is base64-encoded, as in Keptn's configuration API.
	ResourceContent string `json:"resourceContent,omitempty"`
	Version         string `json:"version,omitempty"`
}

// ResourceList answers GET .../resource.
type ResourceList struct {
	Resources   []Resource `json:"resources"`
	NextPageKey string     `json:"nextPageKey,omitempty"`
	TotalCount  int        `json:"totalCount"`
}

// PutResourcesRequest is the body of POST and PUT .../resource: every
// resource of one request is written in one commit.
type PutResourcesRequest struct {
	Resources []Resource `json:"resources"`
}

// Version answers a resource write with the commit it made.
type Version struct {
	CommitID string `json:"commitID"`
	// PushError is set when the commit was stored but pushing it to the
	// project's upstream remote failed.
	PushError string `json:"pushError,omitempty"`
}

// Commit is one entry of a resource's Git history.
type Commit struct {
	CommitID string    `json:"commitID"`
	Message  string    `json:"message"`
	Author   string    `json:"author"`
	Time     time.Time `json:"time"`
}

// ResourceHistory answers GET .../resource/{uri}/history.
type ResourceHistory struct {
	ResourceURI string   `json:"resourceURI"`
	Commits     []Commit `json:"commits"`
}

// EventContext answers POST /api/v1/event.
type EventContext struct {
	KeptnContext string `json:"keptnContext"`
}

// EventList answers GET /api/v1/event. Events are structured-JSON
// CloudEvents, newest first.
type EventList struct {
	Events      []json.RawMessage `json:"events"`
	NextPageKey string            `json:"nextPageKey,omitempty"`
	PageSize    int               `json:"pageSize"`
	TotalCount  int               `json:"totalCount"`
}

// TriggeredEventList answers Keptn's polling endpoint
// GET /api/controlPlane/v1/event/triggered/{type}.
type TriggeredEventList struct {
	Events []json.RawMessage `json:"events"`
	// NextPageKey, PageSize and TotalCount page the open events (Keptn's
	// fields); without pageSize one page holds them all.
	NextPageKey string `json:"nextPageKey,omitempty"`
	PageSize    int    `json:"pageSize"`
	TotalCount  int    `json:"totalCount"`
}
