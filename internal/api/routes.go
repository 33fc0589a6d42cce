package api

import (
	"net/http"
	"strings"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/auth"
)

// access says what a route needs of its caller.
type access int

const (
	// accessAction: an authenticated principal that may do the route's
	// action on the project named by the {project} path segment ("" when
	// the route has none). Checked before anything is looked up, so an
	// answer never tells whether a project the caller may not see exists.
	accessAction access = iota
	// accessHandler: an authenticated principal; the handler decides,
	// because the project comes from the body or the query (events) or the
	// rule is special (tokens).
	accessHandler
	// accessPublic: no credential. Only /healthz, /readyz and /metrics.
	accessPublic
)

// param documents a query parameter.
type param struct {
	name, desc string
	integer    bool
}

// route is one row of the API's route table: how the mux matches it, who
// may call it, and how the OpenAPI document describes it. Everything the
// server answers is in this table, so the document cannot miss a route.
type route struct {
	method string
	// path is the route as the OpenAPI document shows it.
	path string
	// muxPath is the mux pattern's path when it differs from path (a
	// {name...} wildcard that also takes unescaped multi-segment URIs).
	muxPath string
	// aliases are further paths served by the same handler (Keptn 0.6's
	// /v1/event); each is documented as its own path.
	aliases []string
	access  access
	action  auth.Action

	tag, op, summary string
	query            []param
	request          any // a zero value of the body type, or nil
	// requestDoc documents a body described by a settings schema rather
	// than a Go type.
	requestDoc *bodyDoc
	response   any // a zero value of the answer type, or nil
	status     int
	// contentType is the answer's media type when it is not JSON.
	contentType string
	handler     http.HandlerFunc
}

// patterns returns the mux patterns of the route.
func (rt route) patterns() []string {
	p := rt.path
	if rt.muxPath != "" {
		p = rt.muxPath
	}
	out := []string{rt.method + " " + p}
	for _, a := range rt.aliases {
		out = append(out, rt.method+" "+a)
	}
	return out
}

// docPaths returns the paths the OpenAPI document lists for the route.
func (rt route) docPaths() []string {
	return append([]string{rt.path}, rt.aliases...)
}

var pageParams = []param{
	{name: "pageSize", desc: "Number of items per page (default 20, at most 500).", integer: true},
	{name: "nextPageKey", desc: "The nextPageKey of the previous page; omit for the first page."},
}

// routes is the API's route table.
func (s *Server) routes() []route {
	rs := []route{
		{method: http.MethodGet, path: "/healthz", access: accessPublic, tag: "health", op: "health",
			summary: "Liveness: the process is up.", response: statusAnswer{}, status: http.StatusOK, handler: s.health},
		{method: http.MethodGet, path: "/readyz", access: accessPublic, tag: "health", op: "ready",
			summary: "Readiness: the store answers. 503 while it does not or while the server shuts down.", response: statusAnswer{}, status: http.StatusOK, handler: s.ready},
		{method: http.MethodGet, path: "/metrics", access: accessPublic, tag: "health", op: "metrics",
			summary: "Prometheus metrics of this server.", status: http.StatusOK, contentType: "text/plain", handler: s.metricsHandler().ServeHTTP},
		{method: http.MethodGet, path: "/api/v1/openapi.json", access: accessHandler, tag: "meta", op: "openAPI",
			summary: "This OpenAPI document.", status: http.StatusOK, contentType: "application/json", handler: s.openAPI},

		{method: http.MethodPost, path: "/api/v1/token", access: accessHandler, tag: "tokens", op: "createToken",
			summary: "Create an API token (admin). The answer is the only place its secret ever appears.",
			request: apitypes.CreateTokenRequest{}, response: apitypes.CreatedToken{}, status: http.StatusCreated, handler: s.createToken},
		{method: http.MethodGet, path: "/api/v1/token", access: accessHandler, tag: "tokens", op: "listTokens",
			summary:  "List API tokens without their secrets (admin; a project-restricted admin sees its project's tokens).",
			response: apitypes.TokenList{}, status: http.StatusOK, handler: s.listTokens},
		{method: http.MethodDelete, path: "/api/v1/token/{name}", access: accessHandler, tag: "tokens", op: "deleteToken",
			summary: "Revoke an API token at once (admin).", status: http.StatusNoContent, handler: s.deleteToken},

		{method: http.MethodPost, path: "/api/v1/project", access: accessAction, action: auth.ActionCreateProject, tag: "projects", op: "createProject",
			summary: "Create a project from a shipyard (YAML text or its base64); its stages become Git branches.",
			request: apitypes.CreateProjectRequest{}, response: apitypes.Project{}, status: http.StatusCreated, handler: s.createProject},
		{method: http.MethodGet, path: "/api/v1/project", access: accessHandler, tag: "projects", op: "listProjects",
			summary: "List projects, paged. A project-restricted token sees only its project.", query: pageParams,
			response: apitypes.ProjectList{}, status: http.StatusOK, handler: s.listProjects},
		{method: http.MethodGet, path: "/api/v1/project/{project}", access: accessAction, action: auth.ActionReadProject, tag: "projects", op: "getProject",
			summary: "Get a project with its stages and services.", response: apitypes.Project{}, status: http.StatusOK, handler: s.getProject},
		{method: http.MethodDelete, path: "/api/v1/project/{project}", access: accessAction, action: auth.ActionDeleteProject, tag: "projects", op: "deleteProject",
			summary: "Delete a project with its services, tokens and resource repository; its events stay.", status: http.StatusNoContent, handler: s.deleteProject},

		{method: http.MethodPost, path: "/api/v1/project/{project}/service", access: accessAction, action: auth.ActionWriteProject, tag: "services", op: "createService",
			summary: "Create a service; it exists in every stage.", request: apitypes.CreateServiceRequest{}, response: apitypes.Service{}, status: http.StatusCreated, handler: s.createService},
		{method: http.MethodGet, path: "/api/v1/project/{project}/service", access: accessAction, action: auth.ActionReadProject, tag: "services", op: "listServices",
			summary: "List a project's services.", response: apitypes.ServiceList{}, status: http.StatusOK, handler: s.listServices},
		{method: http.MethodGet, path: "/api/v1/project/{project}/service/{service}", access: accessAction, action: auth.ActionReadProject, tag: "services", op: "getService",
			summary: "Get a service.", response: apitypes.Service{}, status: http.StatusOK, handler: s.getService},
		{method: http.MethodDelete, path: "/api/v1/project/{project}/service/{service}", access: accessAction, action: auth.ActionWriteProject, tag: "services", op: "deleteService",
			summary: "Delete a service and its folder in every stage.", status: http.StatusNoContent, handler: s.deleteService},

		{method: http.MethodPost, path: "/api/v1/event", aliases: []string{"/v1/event"}, access: accessHandler, tag: "events", op: "sendEvent",
			summary: "Send a structured-JSON CloudEvent (Keptn 0.6's /v1/event too). It is durable when the answer comes.",
			request: cloudEvent{}, response: apitypes.EventContext{}, status: http.StatusOK, handler: s.postEvent},
		{method: http.MethodGet, path: "/api/v1/event", access: accessHandler, tag: "events", op: "listEvents",
			summary: "Page through the event log, newest first.",
			query: append([]param{
				{name: "project", desc: "Only events of this project."},
				{name: "stage", desc: "Only events of this stage."},
				{name: "service", desc: "Only events of this service."},
				{name: "type", desc: "Only events of this type; the short form (evaluation.finished) is accepted."},
				{name: "keptnContext", desc: "Only events of this Keptn context."},
			}, pageParams...),
			response: apitypes.EventList{}, status: http.StatusOK, handler: s.listEvents},
		{method: http.MethodGet, path: "/api/v1/event/stream", access: accessHandler, tag: "events", op: "streamEvents",
			summary: "Server-Sent Events of new events (id: sequence number, event: type, data: the CloudEvent). Resumes after the Last-Event-ID header (or lastEventId query).",
			query: []param{
				{name: "project", desc: "Only events of this project; required for a project-restricted token unless it is the token's own."},
				{name: "lastEventId", desc: "Resume after this event id, for clients that cannot send the Last-Event-ID header."},
			},
			status: http.StatusOK, contentType: "text/event-stream", handler: s.streamEvents},
		{method: http.MethodGet, path: "/api/controlPlane/v1/event/triggered/{type}", access: accessHandler, tag: "events", op: "triggeredEvents",
			summary: "Keptn's polling endpoint: the .triggered events of a type that have no .finished answer yet.",
			query: []param{
				{name: "project", desc: "Only events of this project."},
				{name: "stage", desc: "Only events of this stage."},
				{name: "service", desc: "Only events of this service."},
			},
			response: apitypes.TriggeredEventList{}, status: http.StatusOK, handler: s.triggeredEvents},
	}
	for _, lv := range levels {
		rs = append(rs, s.resourceRoutes(lv)...)
	}
	rs = append(rs, s.settingsRoutes()...)
	rs = append(rs, s.evaluationRoutes()...)
	rs = append(rs, s.problemRoutes()...)
	rs = append(rs, s.remediationRoutes()...)
	rs = append(rs, s.alertRuleRoutes()...)
	rs = append(rs, s.budgetRoutes()...)
	rs = append(rs, s.keptnRoutes()...)
	rs = append(rs, s.sequenceRoutes()...)
	rs = append(rs, s.uniformRoutes()...)
	return rs
}

// evaluationRoutes are the routes of issue 4: triggering evaluations and
// invalidating them. The SLI provider configuration is a setting
// (settings.go).
func (s *Server) evaluationRoutes() []route {
	svc := "/api/v1/project/{project}/stage/{stage}/service/{service}/evaluation"
	return []route{
		{method: http.MethodPost, path: svc, aliases: []string{"/api/controlPlane/v1/project/{project}/stage/{stage}/service/{service}/evaluation"},
			access: accessAction, action: auth.ActionWriteProject, tag: "evaluations", op: "triggerEvaluation",
			summary: "Trigger Keptn's evaluation sequence in a new keptn context (Keptn's controlPlane path too). The window: timeframe, start (until now), start+end or start+timeframe; none means the last 5 minutes.",
			request: apitypes.TriggerEvaluationRequest{}, response: apitypes.EventContext{}, status: http.StatusOK, handler: s.triggerEvaluation},
		{method: http.MethodPost, path: svc + "/{keptnContext}/invalidate", access: accessAction, action: auth.ActionWriteProject, tag: "evaluations", op: "invalidateEvaluation",
			summary:  "Withdraw the finished evaluation of a keptn context from later comparisons (sh.keptn.event.evaluation.invalidated).",
			response: apitypes.EventContext{}, status: http.StatusOK, handler: s.invalidateEvaluation},
	}
}

// level is one of the contract's {level} prefixes of resource routes.
type level struct {
	name, path string
}

var levels = []level{
	{name: "Project", path: "/api/v1/project/{project}"},
	{name: "Stage", path: "/api/v1/project/{project}/stage/{stage}"},
	{name: "Service", path: "/api/v1/project/{project}/stage/{stage}/service/{service}"},
}

func (s *Server) resourceRoutes(lv level) []route {
	list := lv.path + "/resource"
	item := list + "/{resourceURI}"
	where := strings.ToLower(lv.name)
	return []route{
		{method: http.MethodGet, path: list, access: accessAction, action: auth.ActionReadProject, tag: "resources", op: "list" + lv.name + "Resources",
			summary: "List the " + where + "'s resources with the commit that last changed each.", query: pageParams,
			response: apitypes.ResourceList{}, status: http.StatusOK, handler: s.listResources},
		{method: http.MethodPost, path: list, access: accessAction, action: auth.ActionWriteProject, tag: "resources", op: "create" + lv.name + "Resources",
			summary: "Write resources (base64 contents) to the " + where + " in one Git commit. Known spec files are validated first.",
			request: apitypes.PutResourcesRequest{}, response: apitypes.Version{}, status: http.StatusCreated, handler: s.putResources},
		{method: http.MethodPut, path: list, access: accessAction, action: auth.ActionWriteProject, tag: "resources", op: "put" + lv.name + "Resources",
			summary: "Same as POST: write resources to the " + where + " in one Git commit.",
			request: apitypes.PutResourcesRequest{}, response: apitypes.Version{}, status: http.StatusCreated, handler: s.putResources},
		{method: http.MethodGet, path: item, muxPath: list + "/{resourceURI...}", access: accessAction, action: auth.ActionReadProject, tag: "resources", op: "get" + lv.name + "Resource",
			summary: "Read a resource (base64 content), at the newest commit or at ?gitCommitID= (or ?version=). The URI is one escaped segment (prometheus%2Fsli.yaml) or plain segments.",
			query: []param{
				{name: "gitCommitID", desc: "Read the resource as it was at this commit (40 hex digits)."},
				{name: "version", desc: "Same as gitCommitID."},
			},
			response: apitypes.Resource{}, status: http.StatusOK, handler: s.getResource},
		{method: http.MethodDelete, path: item, muxPath: list + "/{resourceURI...}", access: accessAction, action: auth.ActionWriteProject, tag: "resources", op: "delete" + lv.name + "Resource",
			summary: "Delete a resource in one Git commit.", response: apitypes.Version{}, status: http.StatusOK, handler: s.deleteResource},
		{method: http.MethodGet, path: item + "/history", access: accessAction, action: auth.ActionReadProject, tag: "resources", op: "history" + lv.name + "Resource",
			summary: "The commits that changed a resource, newest first.", response: apitypes.ResourceHistory{}, status: http.StatusOK, handler: s.resourceHistory},
	}
}

// statusAnswer answers /healthz and /readyz.
type statusAnswer struct {
	Status string `json:"status"`
}

// cloudEvent documents the body of POST /api/v1/event in the OpenAPI
// document; the handler reads the raw bytes with event.Parse.
type cloudEvent struct {
	SpecVersion    string         `json:"specversion"`
	ID             string         `json:"id,omitempty"`
	Source         string         `json:"source"`
	Type           string         `json:"type"`
	Time           string         `json:"time,omitempty"`
	ContentType    string         `json:"datacontenttype,omitempty"`
	Shkeptncontext string         `json:"shkeptncontext,omitempty"`
	Triggeredid    string         `json:"triggeredid,omitempty"`
	Data           map[string]any `json:"data"`
}
