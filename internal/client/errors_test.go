package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tendhq/tend/internal/apitypes"
)

func TestAPIErrors(t *testing.T) {
	huge := strings.Repeat("x", 512<<10)
	tooHuge := strings.Repeat("y", 2<<20)
	tests := []struct {
		name        string
		status      int
		body        string
		wantCode    int
		wantMessage string // the whole Message, or its prefix when wantPrefix
		wantPrefix  bool
		is          func(error) bool
		serverFail  bool
	}{
		{name: "401 no token", status: 401, body: `{"code":401,"message":"missing API token"}`,
			wantCode: 401, wantMessage: "missing API token", is: IsUnauthorized},
		{name: "403 read token writes", status: 403, body: `{"code":403,"message":"token \"ci\" may only read"}`,
			wantCode: 403, wantMessage: `token "ci" may only read`, is: IsForbidden},
		{name: "404 unknown project", status: 404, body: `{"code":404,"message":"project \"nope\" does not exist"}`,
			wantCode: 404, wantMessage: `project "nope" does not exist`, is: IsNotFound},
		{name: "409 project exists", status: 409, body: `{"code":409,"message":"project \"sockshop\" exists already"}`,
			wantCode: 409, wantMessage: `project "sockshop" exists already`, is: IsConflict},
		{name: "413 body too large", status: 413, body: `{"code":413,"message":"request body larger than 1 MiB"}`,
			wantCode: 413, wantMessage: "request body larger than 1 MiB"},
		{name: "400 keeps file line col lines", status: 400, body: `{"code":400,"message":"slo.yaml:3:5: bad\nslo.yaml:9:1: worse"}`,
			wantCode: 400, wantMessage: "slo.yaml:3:5: bad\nslo.yaml:9:1: worse"},
		{name: "500 internal error", status: 500, body: `{"code":500,"message":"store: disk full"}`,
			wantCode: 500, wantMessage: "store: disk full", serverFail: true},
		{name: "502 proxy HTML page", status: 502, body: "<html><body><h1>502 Bad Gateway</h1></body></html>",
			wantMessage: "Bad Gateway", serverFail: true},
		{name: "502 plain text line", status: 502, body: "upstream connect error\nreset reason: overflow",
			wantMessage: "Bad Gateway: upstream connect error", serverFail: true},
		{name: "404 from a plain mux", status: 404, body: "404 page not found\n",
			wantMessage: "Not Found: 404 page not found", is: IsNotFound},
		{name: "empty body", status: 503, body: "", wantMessage: "Service Unavailable", serverFail: true},
		{name: "unknown status", status: 599, body: "", wantMessage: "HTTP status 599", serverFail: true},
		{name: "huge message is truncated", status: 400, body: `{"code":400,"message":"` + huge + `"}`,
			wantCode: 400, wantMessage: strings.Repeat("x", 100), wantPrefix: true},
		{name: "JSON body beyond the read limit falls back to the status", status: 400, body: `{"code":400,"message":"` + tooHuge + `"}`,
			wantMessage: `Bad Request: {"code":400,"message":"yyy`, wantPrefix: true},
		{name: "huge non-JSON body", status: 500, body: huge, wantMessage: "Internal Server Error: xxx", wantPrefix: true, serverFail: true},
		{name: "echoed token is redacted", status: 401, body: `{"code":401,"message":"unknown token ` + testToken + `"}`,
			wantCode: 401, wantMessage: "unknown token [redacted]", is: IsUnauthorized},
		{name: "terminal escapes are dropped", status: 400, body: `{"code":400,"message":"bad \u001b[31mred\u001b[0m"}`,
			wantCode: 400, wantMessage: "bad [31mred[0m"},
		{name: "code without message", status: 409, body: `{"code":409}`, wantCode: 409, wantMessage: "Conflict", is: IsConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			})
			_, err := c.GetProject(t.Context(), "sockshop")
			ae, ok := errors.AsType[*APIError](err)
			if !ok {
				t.Fatalf("error %v (%T), want an *APIError", err, err)
			}
			if ae.Status != tt.status || ae.Code != tt.wantCode {
				t.Errorf("status %d code %d, want %d and %d", ae.Status, ae.Code, tt.status, tt.wantCode)
			}
			if tt.wantPrefix {
				if !strings.HasPrefix(ae.Message, tt.wantMessage) || len(ae.Message) > maxErrorMessage+20 {
					t.Errorf("message %.60q… (%d bytes), want a truncated message starting %.30q", ae.Message, len(ae.Message), tt.wantMessage)
				}
			} else if ae.Message != tt.wantMessage {
				t.Errorf("message %q, want %q", ae.Message, tt.wantMessage)
			}
			if tt.is != nil && !tt.is(err) {
				t.Errorf("the helper for status %d does not recognise %v", tt.status, err)
			}
			if got := IsServerFailure(err); got != tt.serverFail {
				t.Errorf("IsServerFailure = %v, want %v", got, tt.serverFail)
			}
			if !strings.HasPrefix(err.Error(), `get project "sockshop": server answered `) {
				t.Errorf("error %.100q does not say what failed", err)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error shows the token: %q", err)
			}
		})
	}
}

func TestStatusHelpersAreExclusive(t *testing.T) {
	helpers := map[int]func(error) bool{401: IsUnauthorized, 403: IsForbidden, 404: IsNotFound, 409: IsConflict}
	for status := range helpers {
		err := fmt.Errorf("op: %w", &APIError{Status: status})
		for other, is := range helpers {
			if got := is(err); got != (other == status) {
				t.Errorf("helper for %d on a %d error = %v", other, status, got)
			}
		}
	}
	if IsNotFound(nil) || IsServerFailure(nil) || IsNotFound(errors.New("404")) {
		t.Error("helpers report a status for an error without one")
	}
}

func TestRawReturnsErrorBodies(t *testing.T) {
	c, _, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		answer(w, 404, `{"code":404,"message":"no such project"}`)
	})
	status, body, err := c.Raw(t.Context(), http.MethodGet, ProjectPath("nope"), nil, nil)
	if status != 404 || string(body) != `{"code":404,"message":"no such project"}` {
		t.Errorf("Raw = %d %q, want 404 and the body unchanged", status, body)
	}
	if !IsNotFound(err) {
		t.Errorf("Raw error %v, want a not-found *APIError", err)
	}
}

// refusedEndpoint returns an address on 127.0.0.1 where nothing listens.
func refusedEndpoint(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func TestConnectionRefused(t *testing.T) {
	endpoint := refusedEndpoint(t)
	c, err := New(endpoint, testToken)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListProjects(t.Context())
	ue, ok := errors.AsType[*UnreachableError](err)
	if !ok {
		t.Fatalf("error %v (%T), want an *UnreachableError", err, err)
	}
	if !IsServerFailure(err) {
		t.Error("IsServerFailure = false for a refused connection")
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("error %v does not unwrap to connection refused", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "cannot reach the tend server at "+endpoint) || !strings.HasPrefix(msg, "list projects: ") {
		t.Errorf("error %q, want the operation and the endpoint", msg)
	}
	if strings.Contains(msg, testToken) || ue.Timeout != 0 {
		t.Errorf("error %q shows the token or claims a timeout", msg)
	}
}

func TestTimeoutIsUnreachable(t *testing.T) {
	c, _, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		<-r.Context().Done() // never answer
	}, WithTimeout(50*time.Millisecond))
	_, err := c.GetProject(t.Context(), "sockshop")
	ue, ok := errors.AsType[*UnreachableError](err)
	if !ok || ue.Timeout != 50*time.Millisecond {
		t.Fatalf("error %v, want an *UnreachableError naming the 50ms timeout", err)
	}
	if !strings.Contains(err.Error(), "did not answer within 50ms") {
		t.Errorf("error %q does not say the server was too slow", err)
	}
}

func TestCancelledCallIsNotAServerFailure(t *testing.T) {
	started := make(chan struct{})
	c, _, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		close(started)
		<-r.Context().Done()
	})
	ctx, cancel := context.WithCancel(t.Context())
	go func() { <-started; cancel() }()
	_, err := c.ListTokens(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if IsServerFailure(err) {
		t.Error("a cancelled call counts as a server failure")
	}
}

func TestUnusableSuccessAnswers(t *testing.T) {
	tests := []struct {
		name   string
		answer string
		call   func(*Client) error
	}{
		{name: "not JSON", answer: "<html>login</html>", call: func(c *Client) error {
			_, err := c.GetProject(context.Background(), "p")
			return err
		}},
		{name: "content not base64", answer: `{"resourceURI":"a","resourceContent":"@@@"}`, call: func(c *Client) error {
			_, err := c.GetResource(context.Background(), ResourceRef{Project: "p"}, "a", "")
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) { answer(w, 200, tt.answer) })
			err := tt.call(c)
			if err == nil || !IsServerFailure(err) {
				t.Errorf("error %v, want a server failure", err)
			}
		})
	}
}

func TestListProjectsFollowsPages(t *testing.T) {
	pages := map[string]apitypes.ProjectList{
		"":    {Projects: []apitypes.Project{{ProjectName: "a"}, {ProjectName: "b"}}, NextPageKey: "k1", TotalCount: 4},
		"k1":  {Projects: []apitypes.Project{{ProjectName: "c"}}, NextPageKey: "k 2", TotalCount: 4},
		"k 2": {Projects: []apitypes.Project{{ProjectName: "d"}}, TotalCount: 4},
	}
	c, rec, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		page, ok := pages[r.URL.Query().Get("nextPageKey")]
		if !ok {
			answer(w, 400, `{"code":400,"message":"bad page key"}`)
			return
		}
		answer(w, 200, page)
	})
	got, err := c.ListProjects(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range got {
		names = append(names, p.ProjectName)
	}
	if strings.Join(names, ",") != "a,b,c,d" {
		t.Errorf("projects %v, want a,b,c,d", names)
	}
	var uris []string
	for _, r := range rec.seen() {
		uris = append(uris, r.URI)
	}
	want := "/api/v1/project /api/v1/project?nextPageKey=k1 /api/v1/project?nextPageKey=k+2"
	if strings.Join(uris, " ") != want {
		t.Errorf("requests %q, want %q", uris, want)
	}
}

func TestListResourcesFollowsPages(t *testing.T) {
	c, _, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if r.URL.Query().Get("nextPageKey") == "" {
			answer(w, 200, apitypes.ResourceList{Resources: []apitypes.Resource{{ResourceURI: "a"}}, NextPageKey: "2"})
			return
		}
		answer(w, 200, apitypes.ResourceList{Resources: []apitypes.Resource{{ResourceURI: "b"}}})
	})
	got, err := c.ListResources(t.Context(), ResourceRef{Project: "p", Stage: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ResourceURI != "a" || got[1].ResourceURI != "b" {
		t.Errorf("resources %+v, want a and b", got)
	}
}

func TestRepeatedPageKeyStops(t *testing.T) {
	c, rec, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		next := map[string]string{"": "k1", "k1": "k2", "k2": "k1"}[r.URL.Query().Get("nextPageKey")]
		answer(w, 200, apitypes.ProjectList{Projects: []apitypes.Project{{ProjectName: "x"}}, NextPageKey: next})
	})
	_, err := c.ListProjects(t.Context())
	if err == nil || !IsServerFailure(err) || !strings.Contains(err.Error(), `nextPageKey "k1" repeats`) {
		t.Errorf("error %v, want a server failure about the repeated key", err)
	}
	if n := len(rec.seen()); n != 3 {
		t.Errorf("server saw %d requests, want 3", n)
	}
}

func TestEventsIterates(t *testing.T) {
	c, rec, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		switch r.URL.Query().Get("nextPageKey") {
		case "":
			answer(w, 200, `{"events":[{"id":"3"},{"id":"2"}],"nextPageKey":"p2","pageSize":2}`)
		case "p2":
			answer(w, 200, `{"events":[{"id":"1"}],"pageSize":2}`)
		}
	})
	t.Run("reads every page", func(t *testing.T) {
		var ids []string
		for ev, err := range c.Events(t.Context(), EventFilter{Project: "sockshop", PageSize: 2}) {
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, string(ev))
		}
		if strings.Join(ids, "") != `{"id":"3"}{"id":"2"}{"id":"1"}` {
			t.Errorf("events %s, want ids 3, 2, 1", ids)
		}
		if n := len(rec.seen()); n != 2 {
			t.Errorf("server saw %d requests, want 2", n)
		}
	})
	t.Run("break fetches no more pages", func(t *testing.T) {
		before := len(rec.seen())
		for range c.Events(t.Context(), EventFilter{}) {
			break
		}
		if n := len(rec.seen()) - before; n != 1 {
			t.Errorf("server saw %d requests after a break on the first event, want 1", n)
		}
	})
	t.Run("an error ends the sequence", func(t *testing.T) {
		bad, _, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
			answer(w, 403, `{"code":403,"message":"other project"}`)
		})
		var errs []error
		for ev, err := range bad.Events(t.Context(), EventFilter{Project: "x"}) {
			if ev != nil {
				t.Errorf("event %s yielded with an error", ev)
			}
			errs = append(errs, err)
		}
		if len(errs) != 1 || !IsForbidden(errs[0]) {
			t.Errorf("errors %v, want one forbidden error", errs)
		}
	})
}

// FuzzDecodeAPIError feeds arbitrary error answers to the decoder: whatever
// a server or proxy sends, the error must be safe to print.
func FuzzDecodeAPIError(f *testing.F) {
	const secret = "s3cr3t-token-value-0123456789abcdef"
	f.Add(404, []byte(`{"code":404,"message":"project \"x\" not found"}`))
	f.Add(502, []byte("<html>Bad Gateway</html>"))
	f.Add(500, []byte("panic: runtime error\ngoroutine 1"))
	f.Add(401, []byte(`{"code":401,"message":"bad token s3cr3t-token-value-0123456789abcdef"}`))
	f.Add(400, []byte(`{"code":"400","message":5}`))
	f.Add(400, []byte(`{"message":"\u001b]0;title\u0007 \xff\xfe"}`))
	f.Add(0, []byte(nil))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		e := decodeAPIError(status, body, secret)
		if e.Status != status {
			t.Fatalf("Status %d, want %d", e.Status, status)
		}
		if e.Message == "" {
			t.Fatal("empty message")
		}
		if len(e.Message) > maxErrorMessage+len(" …(truncated)")+len("Network Authentication Required: ") {
			t.Fatalf("message of %d bytes, want it truncated", len(e.Message))
		}
		if !utf8.ValidString(e.Message) {
			t.Fatalf("message %q is not UTF-8", e.Message)
		}
		for _, r := range e.Message {
			if r != '\n' && r != '\t' && unicode.IsControl(r) {
				t.Fatalf("message %q has control character %U", e.Message, r)
			}
		}
		if strings.Contains(e.Message, secret) || strings.Contains(e.Error(), secret) {
			t.Fatalf("message %q shows the secret", e.Message)
		}
	})
}
