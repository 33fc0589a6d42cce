package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"

	"github.com/tendhq/tend/internal/apitypes"
)

// maxPages stops a paged listing whose server keeps answering new page keys.
const maxPages = 100000

// checkName refuses names that would change the route's shape instead of
// naming something; the server checks the full naming rule.
func checkName(kind, name string) error {
	switch name {
	case "":
		return fmt.Errorf("%s name is empty", kind)
	case ".", "..":
		return fmt.Errorf("%s name %q is not a name", kind, name)
	}
	return nil
}

// Health asks /healthz whether the server process is up. It sends no
// token.
func (c *Client) Health(ctx context.Context) error {
	if _, _, err := c.send(ctx, http.MethodGet, PathHealth, nil, nil, false); err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	return nil
}

// Ready asks /readyz whether the server can take requests (its store is
// open). It sends no token.
func (c *Client) Ready(ctx context.Context) error {
	if _, _, err := c.send(ctx, http.MethodGet, PathReady, nil, nil, false); err != nil {
		return fmt.Errorf("readiness check: %w", err)
	}
	return nil
}

// OpenAPI returns the server's OpenAPI 3 document as served.
func (c *Client) OpenAPI(ctx context.Context) ([]byte, error) {
	_, data, err := c.send(ctx, http.MethodGet, PathOpenAPI, nil, nil, true)
	if err != nil {
		return nil, fmt.Errorf("get openapi document: %w", err)
	}
	return data, nil
}

// CreateToken issues a token. The answer is the only place its secret is
// ever shown.
func (c *Client) CreateToken(ctx context.Context, req apitypes.CreateTokenRequest) (*apitypes.CreatedToken, error) {
	if err := checkName("token", req.Name); err != nil {
		return nil, fmt.Errorf("create token: %w", err)
	}
	var out apitypes.CreatedToken
	if err := c.call(ctx, http.MethodPost, PathTokens, nil, req, &out); err != nil {
		return nil, fmt.Errorf("create token %q: %w", req.Name, err)
	}
	return &out, nil
}

// ListTokens lists the tokens without their secrets.
func (c *Client) ListTokens(ctx context.Context) ([]apitypes.Token, error) {
	var out apitypes.TokenList
	if err := c.call(ctx, http.MethodGet, PathTokens, nil, nil, &out); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out.Tokens, nil
}

// DeleteToken revokes a token at once.
func (c *Client) DeleteToken(ctx context.Context, name string) error {
	if err := checkName("token", name); err != nil {
		return fmt.Errorf("delete token: %w", err)
	}
	if err := c.call(ctx, http.MethodDelete, TokenPath(name), nil, nil, nil); err != nil {
		return fmt.Errorf("delete token %q: %w", name, err)
	}
	return nil
}

// CreateProject creates a project from a shipyard.
func (c *Client) CreateProject(ctx context.Context, req apitypes.CreateProjectRequest) (*apitypes.Project, error) {
	if err := checkName("project", req.Name); err != nil {
		return nil, fmt.Errorf("create project: %w", err)
	}
	var out apitypes.Project
	if err := c.call(ctx, http.MethodPost, PathProjects, nil, req, &out); err != nil {
		return nil, fmt.Errorf("create project %q: %w", req.Name, err)
	}
	return &out, nil
}

// ListProjectsPage fetches one page of projects. pageSize 0 leaves the size
// to the server; nextPageKey "" starts at the first page.
func (c *Client) ListProjectsPage(ctx context.Context, pageSize int, nextPageKey string) (*apitypes.ProjectList, error) {
	var out apitypes.ProjectList
	if err := c.call(ctx, http.MethodGet, PathProjects, pageQuery(nil, pageSize, nextPageKey), nil, &out); err != nil {
		return nil, fmt.Errorf("list projects: %w", err)
	}
	return &out, nil
}

// ListProjects fetches every project the token may see, following
// nextPageKey to the last page.
func (c *Client) ListProjects(ctx context.Context) ([]apitypes.Project, error) {
	var all []apitypes.Project
	err := followPages("list projects", "", func(key string) (string, error) {
		page, err := c.ListProjectsPage(ctx, 0, key)
		if err != nil {
			return "", err
		}
		all = append(all, page.Projects...)
		return page.NextPageKey, nil
	})
	if err != nil {
		return nil, err
	}
	return all, nil
}

// GetProject fetches a project with its stages and services.
func (c *Client) GetProject(ctx context.Context, project string) (*apitypes.Project, error) {
	if err := checkName("project", project); err != nil {
		return nil, fmt.Errorf("get project: %w", err)
	}
	var out apitypes.Project
	if err := c.call(ctx, http.MethodGet, ProjectPath(project), nil, nil, &out); err != nil {
		return nil, fmt.Errorf("get project %q: %w", project, err)
	}
	return &out, nil
}

// DeleteProject deletes a project with its services, resources and
// events.
func (c *Client) DeleteProject(ctx context.Context, project string) error {
	if err := checkName("project", project); err != nil {
		return fmt.Errorf("delete project: %w", err)
	}
	if err := c.call(ctx, http.MethodDelete, ProjectPath(project), nil, nil, nil); err != nil {
		return fmt.Errorf("delete project %q: %w", project, err)
	}
	return nil
}

// CreateService adds a service to every stage of a project.
func (c *Client) CreateService(ctx context.Context, project, service string) (*apitypes.Service, error) {
	if err := checkName("project", project); err != nil {
		return nil, fmt.Errorf("create service: %w", err)
	}
	if err := checkName("service", service); err != nil {
		return nil, fmt.Errorf("create service: %w", err)
	}
	var out apitypes.Service
	req := apitypes.CreateServiceRequest{ServiceName: service}
	if err := c.call(ctx, http.MethodPost, ServicesPath(project), nil, req, &out); err != nil {
		return nil, fmt.Errorf("create service %q in project %q: %w", service, project, err)
	}
	return &out, nil
}

// ListServices lists a project's services.
func (c *Client) ListServices(ctx context.Context, project string) ([]apitypes.Service, error) {
	if err := checkName("project", project); err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	var out apitypes.ServiceList
	if err := c.call(ctx, http.MethodGet, ServicesPath(project), nil, nil, &out); err != nil {
		return nil, fmt.Errorf("list services of project %q: %w", project, err)
	}
	return out.Services, nil
}

// GetService fetches one service of a project.
func (c *Client) GetService(ctx context.Context, project, service string) (*apitypes.Service, error) {
	if err := checkName("project", project); err != nil {
		return nil, fmt.Errorf("get service: %w", err)
	}
	if err := checkName("service", service); err != nil {
		return nil, fmt.Errorf("get service: %w", err)
	}
	var out apitypes.Service
	if err := c.call(ctx, http.MethodGet, ServicePath(project, service), nil, nil, &out); err != nil {
		return nil, fmt.Errorf("get service %q of project %q: %w", service, project, err)
	}
	return &out, nil
}

// DeleteService removes a service from a project.
func (c *Client) DeleteService(ctx context.Context, project, service string) error {
	if err := checkName("project", project); err != nil {
		return fmt.Errorf("delete service: %w", err)
	}
	if err := checkName("service", service); err != nil {
		return fmt.Errorf("delete service: %w", err)
	}
	if err := c.call(ctx, http.MethodDelete, ServicePath(project, service), nil, nil, nil); err != nil {
		return fmt.Errorf("delete service %q of project %q: %w", service, project, err)
	}
	return nil
}

// ResourceFile is one resource with its content decoded; the wire carries
// it base64-encoded (apitypes.Resource).
type ResourceFile struct {
	// URI is the resource's path in the level, e.g. "prometheus/sli.yaml".
	URI string
	// Content is the file's bytes.
	Content []byte
	// Version is the Git commit the content was read at; ignored on write.
	Version string
}

// PutResources writes files to a level in one Git commit and returns that
// commit. A Version with PushError set means the commit is stored but the
// upstream push failed; the caller must report it.
func (c *Client) PutResources(ctx context.Context, ref ResourceRef, files []ResourceFile) (*apitypes.Version, error) {
	if err := ref.Validate(); err != nil {
		return nil, fmt.Errorf("write resources: %w", err)
	}
	req := apitypes.PutResourcesRequest{Resources: make([]apitypes.Resource, 0, len(files))}
	for _, f := range files {
		if f.URI == "" {
			return nil, fmt.Errorf("write resources to %s: a resource has an empty URI", ref)
		}
		req.Resources = append(req.Resources, apitypes.Resource{
			ResourceURI:     f.URI,
			ResourceContent: base64.StdEncoding.EncodeToString(f.Content),
		})
	}
	var out apitypes.Version
	if err := c.call(ctx, http.MethodPost, ref.ResourcesPath(), nil, req, &out); err != nil {
		return nil, fmt.Errorf("write resources to %s: %w", ref, err)
	}
	return &out, nil
}

// GetResource reads one resource; version "" reads the newest, a commit id
// reads the content at that commit.
func (c *Client) GetResource(ctx context.Context, ref ResourceRef, uri, version string) (*ResourceFile, error) {
	if err := ref.Validate(); err != nil {
		return nil, fmt.Errorf("get resource: %w", err)
	}
	if uri == "" {
		return nil, fmt.Errorf("get resource of %s: the resource URI is empty", ref)
	}
	var q url.Values
	if version != "" {
		q = url.Values{"gitCommitID": {version}}
	}
	var out apitypes.Resource
	if err := c.call(ctx, http.MethodGet, ref.ResourcePath(uri), q, nil, &out); err != nil {
		return nil, fmt.Errorf("get resource %q of %s: %w", uri, ref, err)
	}
	content, err := base64.StdEncoding.DecodeString(out.ResourceContent)
	if err != nil {
		return nil, fmt.Errorf("get resource %q of %s: %w", uri, ref,
			&badAnswerError{what: "resourceContent is not base64", err: err})
	}
	got := out.ResourceURI
	if got == "" {
		got = uri
	}
	return &ResourceFile{URI: got, Content: content, Version: out.Version}, nil
}

// ListResources lists a level's resources (URIs and versions, no content),
// following nextPageKey to the last page.
func (c *Client) ListResources(ctx context.Context, ref ResourceRef) ([]apitypes.Resource, error) {
	if err := ref.Validate(); err != nil {
		return nil, fmt.Errorf("list resources: %w", err)
	}
	var all []apitypes.Resource
	err := followPages("list resources of "+ref.String(), "", func(key string) (string, error) {
		var page apitypes.ResourceList
		if err := c.call(ctx, http.MethodGet, ref.ResourcesPath(), pageQuery(nil, 0, key), nil, &page); err != nil {
			return "", fmt.Errorf("list resources of %s: %w", ref, err)
		}
		all = append(all, page.Resources...)
		return page.NextPageKey, nil
	})
	if err != nil {
		return nil, err
	}
	return all, nil
}

// DeleteResource removes a resource in one commit and returns it.
func (c *Client) DeleteResource(ctx context.Context, ref ResourceRef, uri string) (*apitypes.Version, error) {
	if err := ref.Validate(); err != nil {
		return nil, fmt.Errorf("delete resource: %w", err)
	}
	if uri == "" {
		return nil, fmt.Errorf("delete resource of %s: the resource URI is empty", ref)
	}
	var out apitypes.Version
	if err := c.call(ctx, http.MethodDelete, ref.ResourcePath(uri), nil, nil, &out); err != nil {
		return nil, fmt.Errorf("delete resource %q of %s: %w", uri, ref, err)
	}
	return &out, nil
}

// ResourceHistory lists the commits that changed a resource.
func (c *Client) ResourceHistory(ctx context.Context, ref ResourceRef, uri string) (*apitypes.ResourceHistory, error) {
	if err := ref.Validate(); err != nil {
		return nil, fmt.Errorf("resource history: %w", err)
	}
	if uri == "" {
		return nil, fmt.Errorf("resource history of %s: the resource URI is empty", ref)
	}
	var out apitypes.ResourceHistory
	if err := c.call(ctx, http.MethodGet, ref.ResourceHistoryPath(uri), nil, nil, &out); err != nil {
		return nil, fmt.Errorf("history of resource %q of %s: %w", uri, ref, err)
	}
	return &out, nil
}

// SendEvent posts a structured-JSON CloudEvent unchanged and returns the
// keptnContext the server filed it under (generated when the event had
// none).
func (c *Client) SendEvent(ctx context.Context, event []byte) (string, error) {
	if len(event) == 0 {
		return "", fmt.Errorf("send event: the event is empty")
	}
	_, data, err := c.send(ctx, http.MethodPost, PathEvents, nil, event, true)
	if err != nil {
		return "", fmt.Errorf("send event: %w", err)
	}
	var out apitypes.EventContext
	if err := decodeAnswer(data, &out); err != nil {
		return "", fmt.Errorf("send event: %w", err)
	}
	return out.KeptnContext, nil
}

// EventFilter selects events of GET /api/v1/event. Empty fields do not
// filter. Type is the full type, e.g. "sh.keptn.event.evaluation.finished".
type EventFilter struct {
	Project      string
	Stage        string
	Service      string
	Type         string
	KeptnContext string
	// PageSize 0 leaves the size to the server.
	PageSize int
	// NextPageKey continues after an earlier page.
	NextPageKey string
}

// Query is the filter as the route's query parameters; Raw callers use it.
func (f EventFilter) Query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{
		"project": f.Project, "stage": f.Stage, "service": f.Service,
		"type": f.Type, "keptnContext": f.KeptnContext,
	} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return pageQuery(q, f.PageSize, f.NextPageKey)
}

// ListEvents fetches one page of events, newest first. Pass the answer's
// NextPageKey in the next filter to continue, or use Events.
func (c *Client) ListEvents(ctx context.Context, f EventFilter) (*apitypes.EventList, error) {
	var out apitypes.EventList
	if err := c.call(ctx, http.MethodGet, PathEvents, f.Query(), nil, &out); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return &out, nil
}

// Events yields every event the filter selects, newest first, fetching
// pages as the loop goes; breaking out of the loop fetches no more. An
// error is yielded once, with a nil event, and ends the sequence.
func (c *Client) Events(ctx context.Context, f EventFilter) iter.Seq2[json.RawMessage, error] {
	return func(yield func(json.RawMessage, error) bool) {
		stop := false
		err := followPages("list events", f.NextPageKey, func(key string) (string, error) {
			f.NextPageKey = key
			page, err := c.ListEvents(ctx, f)
			if err != nil {
				return "", err
			}
			for _, e := range page.Events {
				if !yield(e, nil) {
					stop = true
					return "", nil
				}
			}
			return page.NextPageKey, nil
		})
		if err != nil && !stop {
			yield(nil, err)
		}
	}
}

// TriggeredFilter narrows Keptn's triggered-events polling route.
type TriggeredFilter struct {
	Project string
	Stage   string
	Service string
}

// TriggeredEvents lists the open ".triggered" events of one type, as
// Keptn's external executors poll them.
func (c *Client) TriggeredEvents(ctx context.Context, eventType string, f TriggeredFilter) ([]json.RawMessage, error) {
	if err := checkName("event type", eventType); err != nil {
		return nil, fmt.Errorf("list triggered events: %w", err)
	}
	q := url.Values{}
	for k, v := range map[string]string{"project": f.Project, "stage": f.Stage, "service": f.Service} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var out apitypes.TriggeredEventList
	if err := c.call(ctx, http.MethodGet, TriggeredEventsPath(eventType), q, nil, &out); err != nil {
		return nil, fmt.Errorf("list triggered %s events: %w", eventType, err)
	}
	return out.Events, nil
}

func pageQuery(q url.Values, pageSize int, nextPageKey string) url.Values {
	if pageSize > 0 || nextPageKey != "" {
		if q == nil {
			q = url.Values{}
		}
		if pageSize > 0 {
			q.Set("pageSize", strconv.Itoa(pageSize))
		}
		if nextPageKey != "" {
			q.Set("nextPageKey", nextPageKey)
		}
	}
	return q
}

// followPages calls fetch with each page key, starting at start ("" is the
// first page), until a page answers no next key. A server that hands out a
// key twice would loop forever, so that is an error, prefixed with op;
// fetch's own errors are returned unchanged.
func followPages(op, start string, fetch func(key string) (next string, err error)) error {
	key := start
	seen := map[string]bool{}
	for range maxPages {
		next, err := fetch(key)
		if err != nil || next == "" {
			return err
		}
		seen[key] = true
		if seen[next] {
			return fmt.Errorf("%s: %w", op, &badAnswerError{what: fmt.Sprintf("nextPageKey %q repeats an earlier page", next)})
		}
		key = next
	}
	return fmt.Errorf("%s: %w", op, &badAnswerError{what: fmt.Sprintf("more than %d pages", maxPages)})
}
