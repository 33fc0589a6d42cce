package client

import (
	"errors"
	"fmt"
	"net/url"
)

// The fixed routes of the API. Paths with names in them are built by the
// functions below, which escape every name; hand them to Raw unchanged.
const (
	PathHealth      = "/healthz"
	PathReady       = "/readyz"
	PathOpenAPI     = "/api/v1/openapi.json"
	PathTokens      = "/api/v1/token"
	PathProjects    = "/api/v1/project"
	PathEvents      = "/api/v1/event"
	PathEventStream = "/api/v1/event/stream"
	pathTriggered   = "/api/controlPlane/v1/event/triggered/"
)

// TokenPath is the route of the token called name.
func TokenPath(name string) string { return PathTokens + "/" + url.PathEscape(name) }

// ProjectPath is the route of one project.
func ProjectPath(project string) string { return PathProjects + "/" + url.PathEscape(project) }

// ServicesPath is the route of a project's services.
func ServicesPath(project string) string { return ProjectPath(project) + "/service" }

// ServicePath is the route of one service of a project.
func ServicePath(project, service string) string {
	return ServicesPath(project) + "/" + url.PathEscape(service)
}

// TriggeredEventsPath is Keptn's polling route for open events of one type,
// e.g. "sh.keptn.event.action.triggered".
func TriggeredEventsPath(eventType string) string {
	return pathTriggered + url.PathEscape(eventType)
}

// ResourceRef names the level a resource lives on: a project, a stage of a
// project, or a service in a stage. It mirrors keptn add-resource's
// --project, --stage and --service flags.
type ResourceRef struct {
	Project string
	Stage   string
	Service string
}

// Validate says what is missing: every level needs a project, and a
// service needs its stage (services exist in every stage, so the stage
// picks the Git branch).
func (r ResourceRef) Validate() error {
	switch {
	case r.Project == "":
		return errors.New("resource level: a project is required")
	case r.Service != "" && r.Stage == "":
		return fmt.Errorf("resource level: service %q needs a stage too", r.Service)
	}
	for kind, name := range map[string]string{"project": r.Project, "stage": r.Stage, "service": r.Service} {
		if name == "." || name == ".." {
			return fmt.Errorf("resource level: %s name %q is not a name", kind, name)
		}
	}
	return nil
}

// String names the level for messages: "project sockshop, stage
// production, service carts".
func (r ResourceRef) String() string {
	s := "project " + r.Project
	if r.Stage != "" {
		s += ", stage " + r.Stage
	}
	if r.Service != "" {
		s += ", service " + r.Service
	}
	return s
}

// LevelPath is the contract's {level}: the route of the project, the stage
// or the service.
func (r ResourceRef) LevelPath() string {
	p := ProjectPath(r.Project)
	if r.Stage != "" {
		p += "/stage/" + url.PathEscape(r.Stage)
	}
	if r.Service != "" {
		p += "/service/" + url.PathEscape(r.Service)
	}
	return p
}

// ResourcesPath is the route listing and writing the level's resources.
func (r ResourceRef) ResourcesPath() string { return r.LevelPath() + "/resource" }

// ResourcePath is the route of one resource. The URI is escaped as one
// segment, so "prometheus/sli.yaml" becomes "prometheus%2Fsli.yaml".
func (r ResourceRef) ResourcePath(uri string) string {
	return r.ResourcesPath() + "/" + url.PathEscape(uri)
}

// ResourceHistoryPath is the route of one resource's Git history.
func (r ResourceRef) ResourceHistoryPath(uri string) string {
	return r.ResourcePath(uri) + "/history"
}
