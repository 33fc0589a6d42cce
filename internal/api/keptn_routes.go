package api

import (
	"net/http"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/auth"
)

// Keptn's own API paths, served beside tend's /api/v1 so that the keptn CLI
// 1.4.5 and Keptn integrations work against tend unchanged. They run the
// same code as tend's routes (the same tokens, scopes and validation) and
// answer in Keptn's shapes. docs/api.md maps each to tend's own route.
const (
	keptnControlPlane = "/api/controlPlane/v1"
	keptnDatastore    = "/api/mongodb-datastore"
	keptnResources    = "/api/resource-service/v1"
	keptnSecrets      = "/api/secrets/v1"
)

// keptnRoutes are Keptn's paths of projects, stages, services, events,
// resources and secrets.
func (s *Server) keptnRoutes() []route {
	project := keptnControlPlane + "/project/{project}"
	stage := project + "/stage/{stage}"
	rs := []route{
		{method: http.MethodPost, path: "/api/v1/auth", access: accessHandler, tag: "keptn", op: "keptnAuth",
			summary: "Keptn's auth check (keptn auth): 200 for a valid token, 401 otherwise.", status: http.StatusOK, handler: s.keptnAuth},
		{method: http.MethodGet, path: "/api/v1/metadata", access: accessHandler, tag: "keptn", op: "keptnMetadata",
			summary:  "Keptn's metadata. automaticprovisioning is true: a tend project needs no Git upstream.",
			response: apitypes.KeptnMetadata{}, status: http.StatusOK, handler: s.keptnMetadata},

		{method: http.MethodPost, path: keptnControlPlane + "/project", access: accessAction, action: auth.ActionCreateProject, tag: "keptn", op: "keptnCreateProject",
			summary: "Create a project from Keptn's body (base64 shipyard, optional gitCredentials with an HTTPS token).",
			request: apitypes.KeptnCreateProject{}, response: apitypes.KeptnProject{}, status: http.StatusCreated, handler: s.keptnCreateProject},
		{method: http.MethodPut, path: keptnControlPlane + "/project", access: accessHandler, tag: "keptn", op: "keptnUpdateProject",
			summary: "Update a project's shipyard and/or Git upstream (Keptn's body; the project is its name field). A new upstream gets every branch pushed first.",
			request: apitypes.KeptnCreateProject{}, response: apitypes.KeptnProject{}, status: http.StatusOK, handler: s.keptnUpdateProject},
		{method: http.MethodGet, path: keptnControlPlane + "/project", access: accessHandler, tag: "keptn", op: "keptnListProjects",
			summary: "List projects in Keptn's shape (creationDate in Unix nanoseconds), paged. A project-restricted token sees only its project.",
			query:   pageParams, response: apitypes.KeptnProjects{}, status: http.StatusOK, handler: s.keptnListProjects},
		{method: http.MethodGet, path: project, access: accessAction, action: auth.ActionReadProject, tag: "keptn", op: "keptnGetProject",
			summary: "Get a project in Keptn's shape with its stages, services and lastEventTypes.", response: apitypes.KeptnProject{}, status: http.StatusOK, handler: s.keptnGetProject},
		{method: http.MethodDelete, path: project, access: accessAction, action: auth.ActionDeleteProject, tag: "keptn", op: "keptnDeleteProject",
			summary: "Delete a project (as DELETE /api/v1/project/{project}); answers 200 with a message.", response: apitypes.KeptnMessage{}, status: http.StatusOK, handler: s.keptnDeleteProject},
		{method: http.MethodPost, path: project + "/service", access: accessAction, action: auth.ActionWriteProject, tag: "keptn", op: "keptnCreateService",
			summary: "Create a service ({serviceName}); it exists in every stage.", request: apitypes.CreateServiceRequest{}, response: apitypes.Service{}, status: http.StatusCreated, handler: s.createService},
		{method: http.MethodDelete, path: project + "/service/{service}", access: accessAction, action: auth.ActionWriteProject, tag: "keptn", op: "keptnDeleteService",
			summary: "Delete a service (as DELETE /api/v1/project/{project}/service/{service}); answers 200 with a message.", response: apitypes.KeptnMessage{}, status: http.StatusOK, handler: s.keptnDeleteService},
		{method: http.MethodGet, path: project + "/stage", access: accessAction, action: auth.ActionReadProject, tag: "keptn", op: "keptnListStages",
			summary: "List a project's stages with their services, paged.", query: pageParams, response: apitypes.KeptnStages{}, status: http.StatusOK, handler: s.keptnListStages},
		{method: http.MethodGet, path: stage, access: accessAction, action: auth.ActionReadProject, tag: "keptn", op: "keptnGetStage",
			summary: "Get a stage with its services.", response: apitypes.KeptnStage{}, status: http.StatusOK, handler: s.keptnGetStage},
		{method: http.MethodGet, path: stage + "/service", access: accessAction, action: auth.ActionReadProject, tag: "keptn", op: "keptnListStageServices",
			summary: "List the services of a stage with their lastEventTypes, paged.", query: pageParams, response: apitypes.KeptnServices{}, status: http.StatusOK, handler: s.keptnListServices},
		{method: http.MethodGet, path: stage + "/service/{service}", access: accessAction, action: auth.ActionReadProject, tag: "keptn", op: "keptnGetStageService",
			summary: "Get a service of a stage with its lastEventTypes.", response: apitypes.KeptnService{}, status: http.StatusOK, handler: s.keptnGetService},

		{method: http.MethodGet, path: keptnDatastore + "/event", access: accessHandler, tag: "keptn", op: "keptnEvents",
			summary: "Keptn's datastore: events newest first. fromTime and beforeTime compare at millisecond precision, fromTime exclusive, so a watcher passing the newest time it saw gets each event once.",
			query: append([]param{
				{name: "project", desc: "Only events of this project; required for a project-restricted token unless it is the token's own."},
				{name: "stage", desc: "Only events of this stage."},
				{name: "service", desc: "Only events of this service."},
				{name: "keptnContext", desc: "Only events of this Keptn context."},
				{name: "type", desc: "Only events of this type (the short form is accepted)."},
				{name: "eventID", desc: "Only the event with this id."},
				{name: "fromTime", desc: "Only events later than this RFC 3339 time (millisecond precision)."},
				{name: "beforeTime", desc: "Only events earlier than this RFC 3339 time."},
				{name: "root", desc: "true: only the first event of each Keptn context."},
			}, pageParams...),
			response: apitypes.KeptnEvents{}, status: http.StatusOK, handler: s.keptnEvents},
		{method: http.MethodGet, path: keptnDatastore + "/event/type/{type}", access: accessHandler, tag: "keptn", op: "keptnEventsByType",
			summary: "Keptn's datastore: events of one type, newest first, e.g. evaluation history.",
			query: []param{
				{name: "filter", desc: "Clauses key:value joined by \" AND \"; keys data.project, data.stage, data.service, shkeptncontext, triggeredid, id, source, or any other data.FIELD[.FIELD] matched against the event's data."},
				{name: "excludeInvalidated", desc: "true: leave out evaluation.finished events withdrawn by evaluation.invalidated."},
				{name: "limit", desc: "At most this many events (default and maximum 500).", integer: true},
			},
			response: apitypes.KeptnEvents{}, status: http.StatusOK, handler: s.keptnEventsByType},

		{method: http.MethodGet, path: keptnSecrets + "/secret", access: accessAction, action: auth.ActionReadProject, tag: "keptn", op: "keptnListSecrets",
			summary: "List Keptn secrets: names, scopes and keys, never values (unrestricted token).", response: apitypes.KeptnSecretList{}, status: http.StatusOK, handler: s.keptnListSecrets},
		{method: http.MethodPost, path: keptnSecrets + "/secret", access: accessAction, action: auth.ActionWriteProject, tag: "keptn", op: "keptnCreateSecret",
			summary: "Create a server-wide secret {name, scope, data}; webhooks read NAME.KEY of scopes keptn-default and keptn-webhook-service (unrestricted write token).",
			request: apitypes.KeptnSecret{}, response: apitypes.KeptnSecretInfo{}, status: http.StatusCreated, handler: s.keptnCreateSecret},
		{method: http.MethodPut, path: keptnSecrets + "/secret", access: accessAction, action: auth.ActionWriteProject, tag: "keptn", op: "keptnUpdateSecret",
			summary: "Replace the data of a secret of the same name and scope.", request: apitypes.KeptnSecret{}, response: apitypes.KeptnSecretInfo{}, status: http.StatusOK, handler: s.keptnUpdateSecret},
		{method: http.MethodDelete, path: keptnSecrets + "/secret", access: accessAction, action: auth.ActionWriteProject, tag: "keptn", op: "keptnDeleteSecret",
			summary: "Delete a secret.", query: []param{{name: "name", desc: "The secret's name."}, {name: "scope", desc: "Its scope (default keptn-default)."}},
			response: apitypes.KeptnMessage{}, status: http.StatusOK, handler: s.keptnDeleteSecret},
		{method: http.MethodGet, path: keptnSecrets + "/scope", access: accessAction, action: auth.ActionReadProject, tag: "keptn", op: "keptnSecretScopes",
			summary: "The secret scopes tend knows and those in use.", response: apitypes.KeptnScopeList{}, status: http.StatusOK, handler: s.keptnSecretScopes},
	}
	for _, lv := range []level{
		{name: "Project", path: keptnResources + "/project/{project}"},
		{name: "Stage", path: keptnResources + "/project/{project}/stage/{stage}"},
		{name: "Service", path: keptnResources + "/project/{project}/stage/{stage}/service/{service}"},
	} {
		rs = append(rs, s.keptnResourceRoutes(lv)...)
	}
	return rs
}

func (s *Server) keptnResourceRoutes(lv level) []route {
	list := lv.path + "/resource"
	item := list + "/{resourceURI}"
	return []route{
		{method: http.MethodGet, path: list, access: accessAction, action: auth.ActionReadProject, tag: "keptn", op: "keptnList" + lv.name + "Resources",
			summary: "Keptn's resource service: list resources with metadata{branch, upstreamURL, version}.", query: pageParams,
			response: apitypes.KeptnResources{}, status: http.StatusOK, handler: s.keptnListResources},
		{method: http.MethodPost, path: list, access: accessAction, action: auth.ActionWriteProject, tag: "keptn", op: "keptnCreate" + lv.name + "Resources",
			summary: "Keptn's resource service: write resources (base64) in one commit. A doubled slash before /resource (the keptn CLI's project-level call) is served without a redirect.",
			request: apitypes.KeptnResources{}, response: apitypes.KeptnWriteResult{}, status: http.StatusCreated, handler: s.keptnWriteResources},
		{method: http.MethodPut, path: list, access: accessAction, action: auth.ActionWriteProject, tag: "keptn", op: "keptnUpdate" + lv.name + "Resources",
			summary: "Same as POST.", request: apitypes.KeptnResources{}, response: apitypes.KeptnWriteResult{}, status: http.StatusOK, handler: s.keptnWriteResources},
		{method: http.MethodGet, path: item, muxPath: list + "/{resourceURI...}", access: accessAction, action: auth.ActionReadProject, tag: "keptn", op: "keptnGet" + lv.name + "Resource",
			summary:  "Keptn's resource service: read a resource (base64) at the newest commit or ?gitCommitID=.",
			query:    []param{{name: "gitCommitID", desc: "Read the resource as it was at this commit."}},
			response: apitypes.KeptnResource{}, status: http.StatusOK, handler: s.keptnGetResource},
		{method: http.MethodPut, path: item, muxPath: list + "/{resourceURI...}", access: accessAction, action: auth.ActionWriteProject, tag: "keptn", op: "keptnPut" + lv.name + "Resource",
			summary: "Keptn's resource service: write one resource ({resourceContent} in base64) at the path's URI.",
			request: apitypes.KeptnResource{}, response: apitypes.KeptnWriteResult{}, status: http.StatusOK, handler: s.keptnPutResource},
		{method: http.MethodDelete, path: item, muxPath: list + "/{resourceURI...}", access: accessAction, action: auth.ActionWriteProject, tag: "keptn", op: "keptnDelete" + lv.name + "Resource",
			summary: "Keptn's resource service: delete a resource in one commit.", response: apitypes.KeptnWriteResult{}, status: http.StatusOK, handler: s.keptnDeleteResource},
	}
}
