package client

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/apitypes"
)

const testToken = "tok_0123456789abcdefghijklmnopqrstuvwxyz"

// request is what a fake server saw of one call.
type request struct {
	Method      string
	URI         string // the raw request target: escaped path and query
	Token       string
	Auth        bool // whether an x-token header was present at all
	UserAgent   string
	ContentType string
	Body        []byte
	LastEventID string
}

// recorder is a fake tend server: it keeps every request and answers with
// the next canned answer (or the last one, repeatedly).
type recorder struct {
	mu       sync.Mutex
	requests []request
	handle   func(w http.ResponseWriter, r *http.Request, n int)
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	_, auth := r.Header[http.CanonicalHeaderKey(TokenHeader)]
	rec.mu.Lock()
	rec.requests = append(rec.requests, request{
		Method:      r.Method,
		URI:         r.RequestURI,
		Token:       r.Header.Get(TokenHeader),
		Auth:        auth,
		UserAgent:   r.Header.Get("User-Agent"),
		ContentType: r.Header.Get("Content-Type"),
		Body:        body,
		LastEventID: r.Header.Get("Last-Event-ID"),
	})
	n := len(rec.requests) - 1
	rec.mu.Unlock()
	rec.handle(w, r, n)
}

func (rec *recorder) seen() []request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]request(nil), rec.requests...)
}

// newFake starts a fake server with handle and a Client pointed at it.
func newFake(t testing.TB, handle func(w http.ResponseWriter, r *http.Request, n int), opts ...Option) (*Client, *recorder, *httptest.Server) {
	t.Helper()
	rec := &recorder{handle: handle}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	opts = append([]Option{WithUserAgent("tend/test")}, opts...)
	c, err := New(srv.URL, testToken, opts...)
	if err != nil {
		t.Fatalf("New(%q): %v", srv.URL, err)
	}
	return c, rec, srv
}

// answer writes status and body as JSON (body string is written as is).
func answer(w http.ResponseWriter, status int, body any) {
	var data []byte
	switch b := body.(type) {
	case nil:
	case string:
		data = []byte(b)
	default:
		var err error
		if data, err = json.Marshal(b); err != nil {
			panic(err)
		}
	}
	if data != nil {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

// sameJSON compares two JSON documents by value.
func sameJSON(t testing.TB, got []byte, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		return false
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want JSON %q: %v", want, err)
	}
	return reflect.DeepEqual(g, w)
}

func TestRoutes(t *testing.T) {
	created := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	project := apitypes.Project{
		ProjectName: "sockshop", CreationDate: created, ShipyardVersion: "spec.keptn.sh/0.2.3",
		Stages: []apitypes.Stage{{StageName: "production", RemediationEnabled: true,
			Services: []apitypes.Service{{ServiceName: "carts", CreationDate: created}}}},
	}
	carts := apitypes.Service{ServiceName: "carts", CreationDate: created}
	service := ResourceRef{Project: "sockshop", Stage: "production", Service: "carts"}
	event := `{"specversion":"1.0","type":"sh.keptn.event.evaluation.triggered","source":"cli","id":"1","data":{"project":"sockshop"}}`

	tests := []struct {
		name       string
		call       func(ctx context.Context, c *Client) (any, error)
		wantMethod string
		wantURI    string
		wantBody   string // JSON compared by value; "" means no body
		rawBody    bool   // compare the body byte for byte instead
		noToken    bool   // the route is unauthenticated
		status     int
		answer     any
		want       any
	}{
		{
			name: "create token",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.CreateToken(ctx, apitypes.CreateTokenRequest{Name: "ci", Scope: apitypes.ScopeWrite, Project: "sockshop"})
			},
			wantMethod: "POST", wantURI: "/api/v1/token",
			wantBody: `{"name":"ci","scope":"write","project":"sockshop"}`,
			status:   201,
			answer:   apitypes.CreatedToken{Name: "ci", Scope: "write", Project: "sockshop", Token: "new-secret"},
			want:     &apitypes.CreatedToken{Name: "ci", Scope: "write", Project: "sockshop", Token: "new-secret"},
		},
		{
			name:       "list tokens",
			call:       func(ctx context.Context, c *Client) (any, error) { return c.ListTokens(ctx) },
			wantMethod: "GET", wantURI: "/api/v1/token",
			status: 200,
			answer: apitypes.TokenList{Tokens: []apitypes.Token{{Name: "admin", Scope: "admin", CreatedAt: created}}},
			want:   []apitypes.Token{{Name: "admin", Scope: "admin", CreatedAt: created}},
		},
		{
			name:       "delete token",
			call:       func(ctx context.Context, c *Client) (any, error) { return nil, c.DeleteToken(ctx, "ci") },
			wantMethod: "DELETE", wantURI: "/api/v1/token/ci",
			status: 204,
		},
		{
			name: "create project",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.CreateProject(ctx, apitypes.CreateProjectRequest{Name: "sockshop", Shipyard: "apiVersion: spec.keptn.sh/0.2.3\n", GitRemoteURL: "https://git.example/s.git", GitUser: "bot", GitToken: "gt"})
			},
			wantMethod: "POST", wantURI: "/api/v1/project",
			wantBody: `{"name":"sockshop","shipyard":"apiVersion: spec.keptn.sh/0.2.3\n","gitRemoteURL":"https://git.example/s.git","gitUser":"bot","gitToken":"gt"}`,
			status:   201, answer: project, want: &project,
		},
		{
			name: "list projects page",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.ListProjectsPage(ctx, 2, "k/1")
			},
			wantMethod: "GET", wantURI: "/api/v1/project?nextPageKey=k%2F1&pageSize=2",
			status: 200,
			answer: apitypes.ProjectList{Projects: []apitypes.Project{project}, NextPageKey: "k2", TotalCount: 3},
			want:   &apitypes.ProjectList{Projects: []apitypes.Project{project}, NextPageKey: "k2", TotalCount: 3},
		},
		{
			name:       "get project",
			call:       func(ctx context.Context, c *Client) (any, error) { return c.GetProject(ctx, "sockshop") },
			wantMethod: "GET", wantURI: "/api/v1/project/sockshop",
			status: 200, answer: project, want: &project,
		},
		{
			name:       "delete project",
			call:       func(ctx context.Context, c *Client) (any, error) { return nil, c.DeleteProject(ctx, "sockshop") },
			wantMethod: "DELETE", wantURI: "/api/v1/project/sockshop",
			status: 204,
		},
		{
			name:       "create service",
			call:       func(ctx context.Context, c *Client) (any, error) { return c.CreateService(ctx, "sockshop", "carts") },
			wantMethod: "POST", wantURI: "/api/v1/project/sockshop/service",
			wantBody: `{"serviceName":"carts"}`,
			status:   201, answer: carts, want: &carts,
		},
		{
			name:       "list services",
			call:       func(ctx context.Context, c *Client) (any, error) { return c.ListServices(ctx, "sockshop") },
			wantMethod: "GET", wantURI: "/api/v1/project/sockshop/service",
			status: 200, answer: apitypes.ServiceList{Services: []apitypes.Service{carts}},
			want: []apitypes.Service{carts},
		},
		{
			name:       "get service",
			call:       func(ctx context.Context, c *Client) (any, error) { return c.GetService(ctx, "sockshop", "carts") },
			wantMethod: "GET", wantURI: "/api/v1/project/sockshop/service/carts",
			status: 200, answer: carts, want: &carts,
		},
		{
			name: "delete service",
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.DeleteService(ctx, "sockshop", "carts")
			},
			wantMethod: "DELETE", wantURI: "/api/v1/project/sockshop/service/carts",
			status: 204,
		},
		{
			name: "put resources at service level",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.PutResources(ctx, service, []ResourceFile{
					{URI: "slo.yaml", Content: []byte("spec_version: \"1.0\"\n")},
					{URI: "prometheus/sli.yaml", Content: []byte{0, 0xff}},
				})
			},
			wantMethod: "POST", wantURI: "/api/v1/project/sockshop/stage/production/service/carts/resource",
			wantBody: `{"resources":[{"resourceURI":"slo.yaml","resourceContent":"c3BlY192ZXJzaW9uOiAiMS4wIgo="},{"resourceURI":"prometheus/sli.yaml","resourceContent":"AP8="}]}`,
			status:   201, answer: apitypes.Version{CommitID: "c1"}, want: &apitypes.Version{CommitID: "c1"},
		},
		{
			name: "put resources reports a failed push",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.PutResources(ctx, ResourceRef{Project: "sockshop"}, []ResourceFile{{URI: "a.txt"}})
			},
			wantMethod: "POST", wantURI: "/api/v1/project/sockshop/resource",
			// apitypes.Resource omits an empty content: an empty file.
			wantBody: `{"resources":[{"resourceURI":"a.txt"}]}`,
			status:   201, answer: apitypes.Version{CommitID: "c2", PushError: "remote rejected"},
			want: &apitypes.Version{CommitID: "c2", PushError: "remote rejected"},
		},
		{
			name: "get resource at a version with an escaped URI",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.GetResource(ctx, service, "prometheus/sli.yaml", "abc123")
			},
			wantMethod: "GET", wantURI: "/api/v1/project/sockshop/stage/production/service/carts/resource/prometheus%2Fsli.yaml?gitCommitID=abc123",
			status: 200,
			answer: apitypes.Resource{ResourceURI: "prometheus/sli.yaml", ResourceContent: "aGVsbG8=", Version: "abc123"},
			want:   &ResourceFile{URI: "prometheus/sli.yaml", Content: []byte("hello"), Version: "abc123"},
		},
		{
			name: "get newest resource of a stage",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.GetResource(ctx, ResourceRef{Project: "sockshop", Stage: "dev"}, "a b?.yaml", "")
			},
			wantMethod: "GET", wantURI: "/api/v1/project/sockshop/stage/dev/resource/a%20b%3F.yaml",
			status: 200,
			answer: apitypes.Resource{ResourceURI: "a b?.yaml", ResourceContent: "", Version: "c9"},
			want:   &ResourceFile{URI: "a b?.yaml", Content: []byte{}, Version: "c9"},
		},
		{
			name: "list resources",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.ListResources(ctx, ResourceRef{Project: "sockshop"})
			},
			wantMethod: "GET", wantURI: "/api/v1/project/sockshop/resource",
			status: 200,
			answer: apitypes.ResourceList{Resources: []apitypes.Resource{{ResourceURI: "shipyard.yaml", Version: "c1"}}, TotalCount: 1},
			want:   []apitypes.Resource{{ResourceURI: "shipyard.yaml", Version: "c1"}},
		},
		{
			name: "delete resource",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.DeleteResource(ctx, service, "prometheus/sli.yaml")
			},
			wantMethod: "DELETE", wantURI: "/api/v1/project/sockshop/stage/production/service/carts/resource/prometheus%2Fsli.yaml",
			status: 200, answer: apitypes.Version{CommitID: "c3"}, want: &apitypes.Version{CommitID: "c3"},
		},
		{
			name: "resource history",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.ResourceHistory(ctx, service, "prometheus/sli.yaml")
			},
			wantMethod: "GET", wantURI: "/api/v1/project/sockshop/stage/production/service/carts/resource/prometheus%2Fsli.yaml/history",
			status: 200,
			answer: apitypes.ResourceHistory{ResourceURI: "prometheus/sli.yaml", Commits: []apitypes.Commit{{CommitID: "c1", Message: "add", Author: "tend", Time: created}}},
			want:   &apitypes.ResourceHistory{ResourceURI: "prometheus/sli.yaml", Commits: []apitypes.Commit{{CommitID: "c1", Message: "add", Author: "tend", Time: created}}},
		},
		{
			name:       "send event sends the bytes unchanged",
			call:       func(ctx context.Context, c *Client) (any, error) { return c.SendEvent(ctx, []byte(event)) },
			wantMethod: "POST", wantURI: "/api/v1/event",
			wantBody: event, rawBody: true,
			status: 200, answer: apitypes.EventContext{KeptnContext: "6f1d7c3e-0000-4000-8000-000000000001"},
			want: "6f1d7c3e-0000-4000-8000-000000000001",
		},
		{
			name: "list events with a filter",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.ListEvents(ctx, EventFilter{Project: "sockshop", Stage: "production", Service: "carts",
					Type: "sh.keptn.event.evaluation.finished", KeptnContext: "ctx-1", PageSize: 5, NextPageKey: "p2"})
			},
			wantMethod: "GET",
			wantURI:    "/api/v1/event?keptnContext=ctx-1&nextPageKey=p2&pageSize=5&project=sockshop&service=carts&stage=production&type=sh.keptn.event.evaluation.finished",
			status:     200,
			answer:     `{"events":[{"id":"1"}],"nextPageKey":"p3","pageSize":5,"totalCount":9}`,
			want:       &apitypes.EventList{Events: []json.RawMessage{json.RawMessage(`{"id":"1"}`)}, NextPageKey: "p3", PageSize: 5, TotalCount: 9},
		},
		{
			name: "triggered events",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.TriggeredEvents(ctx, "sh.keptn.event.action.triggered", TriggeredFilter{Project: "sockshop", Stage: "production"})
			},
			wantMethod: "GET", wantURI: "/api/controlPlane/v1/event/triggered/sh.keptn.event.action.triggered?project=sockshop&stage=production",
			status: 200, answer: `{"events":[{"id":"a"},{"id":"b"}]}`,
			want: []json.RawMessage{json.RawMessage(`{"id":"a"}`), json.RawMessage(`{"id":"b"}`)},
		},
		{
			name:       "openapi document is returned as served",
			call:       func(ctx context.Context, c *Client) (any, error) { return c.OpenAPI(ctx) },
			wantMethod: "GET", wantURI: "/api/v1/openapi.json",
			status: 200, answer: `{"openapi": "3.0.3",  "paths": {}}`,
			want: []byte(`{"openapi": "3.0.3",  "paths": {}}`),
		},
		{
			name:       "health sends no token",
			call:       func(ctx context.Context, c *Client) (any, error) { return nil, c.Health(ctx) },
			wantMethod: "GET", wantURI: "/healthz", noToken: true,
			status: 200, answer: "ok",
		},
		{
			name:       "ready sends no token",
			call:       func(ctx context.Context, c *Client) (any, error) { return nil, c.Ready(ctx) },
			wantMethod: "GET", wantURI: "/readyz", noToken: true,
			status: 200, answer: "ok",
		},
		{
			name: "raw returns the answer unchanged",
			call: func(ctx context.Context, c *Client) (any, error) {
				status, body, err := c.Raw(ctx, "GET", service.ResourcePath("prometheus/sli.yaml"), url.Values{"gitCommitID": {"c1"}}, nil)
				return [2]any{status, string(body)}, err
			},
			wantMethod: "GET", wantURI: "/api/v1/project/sockshop/stage/production/service/carts/resource/prometheus%2Fsli.yaml?gitCommitID=c1",
			status: 200, answer: "{ \"resourceURI\" : \"prometheus/sli.yaml\" }\n",
			want: [2]any{200, "{ \"resourceURI\" : \"prometheus/sli.yaml\" }\n"},
		},
		{
			name: "raw sends a body",
			call: func(ctx context.Context, c *Client) (any, error) {
				status, body, err := c.Raw(ctx, "POST", PathTokens, nil, []byte(`{"name":"x","scope":"read"}`))
				return [2]any{status, string(body)}, err
			},
			wantMethod: "POST", wantURI: "/api/v1/token",
			wantBody: `{"name":"x","scope":"read"}`, rawBody: true,
			status: 201, answer: `{"name":"x"}`,
			want: [2]any{201, `{"name":"x"}`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rec, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
				answer(w, tt.status, tt.answer)
			})
			got, err := tt.call(t.Context(), c)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			if !isNil(tt.want) || !isNil(got) {
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("result\n got %#v\nwant %#v", got, tt.want)
				}
			}
			reqs := rec.seen()
			if len(reqs) != 1 {
				t.Fatalf("server saw %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Method != tt.wantMethod || r.URI != tt.wantURI {
				t.Errorf("request %s %s, want %s %s", r.Method, r.URI, tt.wantMethod, tt.wantURI)
			}
			if tt.noToken {
				if r.Auth {
					t.Errorf("unauthenticated route got an %s header", TokenHeader)
				}
			} else if r.Token != testToken {
				t.Errorf("%s = %q, want the client's token", TokenHeader, r.Token)
			}
			if r.UserAgent != "tend/test" {
				t.Errorf("User-Agent = %q, want tend/test", r.UserAgent)
			}
			switch {
			case tt.wantBody == "" && len(r.Body) != 0:
				t.Errorf("body %q, want none", r.Body)
			case tt.wantBody != "" && r.ContentType != "application/json":
				t.Errorf("Content-Type = %q, want application/json", r.ContentType)
			case tt.rawBody && string(r.Body) != tt.wantBody:
				t.Errorf("body\n got %s\nwant %s", r.Body, tt.wantBody)
			case !tt.rawBody && tt.wantBody != "" && !sameJSON(t, r.Body, tt.wantBody):
				t.Errorf("body\n got %s\nwant %s", r.Body, tt.wantBody)
			}
		})
	}
}

func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map:
		return rv.IsNil()
	}
	return false
}

func TestEndpointPrefix(t *testing.T) {
	tests := []struct {
		name     string
		suffix   string
		wantPath string
	}{
		{name: "bare host", suffix: "", wantPath: "/api/v1/project/sockshop"},
		{name: "trailing slash", suffix: "/", wantPath: "/api/v1/project/sockshop"},
		{name: "keptn style /api is dropped", suffix: "/api", wantPath: "/api/v1/project/sockshop"},
		{name: "reverse proxy prefix", suffix: "/tend/", wantPath: "/tend/api/v1/project/sockshop"},
		{name: "escaped prefix stays escaped", suffix: "/a%2Fb", wantPath: "/a%2Fb/api/v1/project/sockshop"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{handle: func(w http.ResponseWriter, r *http.Request, n int) {
				answer(w, 200, apitypes.Project{ProjectName: "sockshop"})
			}}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			c, err := New(srv.URL+tt.suffix, testToken)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.GetProject(t.Context(), "sockshop"); err != nil {
				t.Fatal(err)
			}
			if got := rec.seen()[0].URI; got != tt.wantPath {
				t.Errorf("request path %q, want %q", got, tt.wantPath)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name     string
		endpoint string
		token    string
		wantErr  string
	}{
		{name: "no scheme", endpoint: "127.0.0.1:8080", wantErr: "http://"},
		{name: "other scheme", endpoint: "ftp://example.com", wantErr: "scheme must be http or https"},
		{name: "no host", endpoint: "http://", wantErr: "no host"},
		{name: "query", endpoint: "http://example.com/?a=1", wantErr: "must not have a query"},
		{name: "fragment", endpoint: "http://example.com/#x", wantErr: "fragment"},
		{name: "password in URL", endpoint: "http://admin:hunter2@example.com", wantErr: "user and password"},
		{name: "token with a newline", endpoint: "http://example.com", token: "abc\r\nx-evil: 1", wantErr: "character 4"},
		{name: "token with a space", endpoint: "http://example.com", token: "abc def", wantErr: "printable ASCII"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.endpoint, tt.token)
			if err == nil {
				t.Fatalf("New(%q) succeeded, want an error", tt.endpoint)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not mention %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "hunter2") || (tt.token != "" && strings.Contains(err.Error(), tt.token)) {
				t.Errorf("error %q shows a secret", err)
			}
		})
	}
}

func TestNamesAreRequired(t *testing.T) {
	c, rec, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) { answer(w, 200, "{}") })
	ctx := t.Context()
	calls := map[string]func() error{
		"get project without name": func() error { _, err := c.GetProject(ctx, ""); return err },
		"project named dot dot":    func() error { return c.DeleteProject(ctx, "..") },
		"service without project":  func() error { _, err := c.CreateService(ctx, "", "carts"); return err },
		"resource of service no stage": func() error {
			_, err := c.GetResource(ctx, ResourceRef{Project: "p", Service: "carts"}, "slo.yaml", "")
			return err
		},
		"resource without uri": func() error { _, err := c.DeleteResource(ctx, ResourceRef{Project: "p"}, ""); return err },
		"put with empty uri": func() error {
			_, err := c.PutResources(ctx, ResourceRef{Project: "p"}, []ResourceFile{{URI: ""}})
			return err
		},
		"empty event": func() error { _, err := c.SendEvent(ctx, nil); return err },
		"stage named dot dot": func() error {
			_, err := c.ListResources(ctx, ResourceRef{Project: "p", Stage: ".."})
			return err
		},
		"raw path with a query": func() error {
			_, _, err := c.Raw(ctx, http.MethodGet, PathProjects+"?pageSize=1", nil, nil)
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			if err := call(); err == nil {
				t.Error("call succeeded, want an error before any request")
			}
		})
	}
	if n := len(rec.seen()); n != 0 {
		t.Errorf("server saw %d requests, want none", n)
	}
}

func TestResourcePathEscaping(t *testing.T) {
	ref := ResourceRef{Project: "sockshop", Stage: "production", Service: "carts"}
	tests := []struct {
		uri  string
		want string
	}{
		{uri: "slo.yaml", want: "slo.yaml"},
		{uri: "prometheus/sli.yaml", want: "prometheus%2Fsli.yaml"},
		{uri: "dir/sub/file.json", want: "dir%2Fsub%2Ffile.json"},
		{uri: "a b.yaml", want: "a%20b.yaml"},
		{uri: "q?x=1#f", want: "q%3Fx=1%23f"},
		{uri: "already%2Fescaped", want: "already%252Fescaped"},
		{uri: "ünï.yaml", want: "%C3%BCn%C3%AF.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			var gotURI, gotPath string
			c, _, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
				gotURI, gotPath = r.RequestURI, r.URL.Path
				answer(w, 200, apitypes.Resource{ResourceURI: tt.uri})
			})
			if _, err := c.GetResource(t.Context(), ref, tt.uri, ""); err != nil {
				t.Fatal(err)
			}
			want := "/api/v1/project/sockshop/stage/production/service/carts/resource/" + tt.want
			if gotURI != want {
				t.Errorf("request target %q, want %q", gotURI, want)
			}
			if wantPath := "/api/v1/project/sockshop/stage/production/service/carts/resource/" + tt.uri; gotPath != wantPath {
				t.Errorf("server decoded path %q, want %q", gotPath, wantPath)
			}
		})
	}
}

func TestRedirectToOtherHostDropsToken(t *testing.T) {
	var gotToken string
	var sawAuth bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotToken = r.Header.Get(TokenHeader)
		_, sawAuth = r.Header[http.CanonicalHeaderKey(TokenHeader)]
		answer(w, 200, apitypes.TokenList{})
	}))
	defer other.Close()
	c, rec, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, other.URL+"/api/v1/token", http.StatusFound)
			return
		}
		http.Redirect(w, r, "/moved", http.StatusFound)
	})
	if _, err := c.ListTokens(t.Context()); err != nil {
		t.Fatal(err)
	}
	reqs := rec.seen()
	if len(reqs) != 2 || reqs[1].Token != testToken {
		t.Errorf("same-host redirect: requests %+v, want the token sent twice", reqs)
	}
	if sawAuth || gotToken != "" {
		t.Errorf("the other host received %s %q", TokenHeader, gotToken)
	}
}
