package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/action"
)

const (
	secretValue = "s3cr3t-token-value-0123456789"
	querySecret = "qs-9876543210-secret"
)

// received is one call as the fake receiver saw it.
type received struct {
	Method string
	Path   string
	Query  string
	Header http.Header
	Body   string
}

// receiver is an httptest webhook receiver that records every call and
// answers them with statuses in order (200 once they run out).
type receiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	calls    []received
	statuses []int
	answer   string
	// hang makes calls wait until the client gives up or the test ends.
	hang bool
}

func newReceiver(t testing.TB, statuses ...int) *receiver {
	t.Helper()
	r := &receiver{statuses: statuses, answer: `{"ok":true}`}
	done := make(chan struct{})
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.calls = append(r.calls, received{Method: req.Method, Path: req.URL.Path, Query: req.URL.RawQuery, Header: req.Header.Clone(), Body: string(body)})
		status := http.StatusOK
		if len(r.statuses) > 0 {
			status, r.statuses = r.statuses[0], r.statuses[1:]
		}
		answer, hang := r.answer, r.hang
		r.mu.Unlock()
		if hang {
			select {
			case <-req.Context().Done():
			case <-done:
			}
			return
		}
		if status >= 300 && status < 400 {
			w.Header().Set("Location", "https://elsewhere.example/next?token="+querySecret)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(func() { close(done); r.srv.Close() })
	return r
}

// set changes how the receiver answers, under its lock.
func (r *receiver) set(answer string, hang bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answer, r.hang = answer, hang
}

func (r *receiver) recorded() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.calls...)
}

// secrets is a SecretResolver over a map, counting lookups per project.
func secrets(m map[string]string) SecretResolver {
	return func(_ context.Context, project, name string, _ *url.URL) (string, error) {
		if project != "sockshop" {
			return "", fmt.Errorf("%w: project %s has no secrets", action.ErrInvalid, project)
		}
		v, ok := m[name]
		if !ok {
			return "", fmt.Errorf("%w: no secret %q is configured", action.ErrInvalid, name)
		}
		return v, nil
	}
}

func hookValue(url string) map[string]any {
	return map[string]any{
		"url":    url + "/hooks/restart?token=" + querySecret,
		"method": "POST",
		"headers": map[string]any{
			"Authorization": "Bearer {{ .Secrets.hooks_token }}",
			"X-Service":     "{{ .Service }}",
		},
		"body": `{"title": {{ json .Problem.Title }}, "stage": {{ json .Stage }}, "severity": {{ json .Problem.Labels.severity }}}`,
	}
}

func newTestExecutor(opts Options) *Executor {
	if opts.Version == "" {
		opts.Version = "1.2.3"
	}
	return New(secrets(map[string]string{"hooks_token": secretValue}), opts)
}

// prepareApply runs both phases and fails the test on a Prepare error.
func prepareApply(t testing.TB, e action.Executor, req action.Request) (action.Plan, action.Result, error) {
	t.Helper()
	plan, err := e.Prepare(context.Background(), req)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	res, err := e.Apply(context.Background(), req, plan)
	return plan, res, err
}

func TestWebhookCall(t *testing.T) {
	rcv := newReceiver(t)
	req := testRequest(hookValue(rcv.srv.URL))
	req.Problem.Title = "p90 \"slow\"\nsee <runbook>"
	plan, res, err := prepareApply(t, newTestExecutor(Options{}), req)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	calls := rcv.recorded()
	if len(calls) != 1 {
		t.Fatalf("receiver got %d calls, want 1", len(calls))
	}
	c := calls[0]
	if c.Method != "POST" || c.Path != "/hooks/restart" || c.Query != "token="+querySecret {
		t.Errorf("call = %s %s?%s, want POST /hooks/restart?token=...", c.Method, c.Path, c.Query)
	}
	for name, want := range map[string]string{
		"Authorization":   "Bearer " + secretValue,
		"X-Service":       "carts",
		"Idempotency-Key": "rem-1/2",
		"User-Agent":      "tend/1.2.3",
		"Content-Type":    "application/json",
	} {
		if got := c.Header.Get(name); got != want {
			t.Errorf("header %s = %q, want %q", name, got, want)
		}
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(c.Body), &body); err != nil {
		t.Fatalf("body %q is not JSON: %v", c.Body, err)
	}
	want := map[string]string{"title": req.Problem.Title, "stage": "production", "severity": "critical"}
	if !reflect.DeepEqual(body, want) {
		t.Errorf("body = %v, want %v", body, want)
	}

	wantSummary := "POST " + rcv.srv.URL + "/hooks/restart"
	if plan.Summary != wantSummary {
		t.Errorf("plan summary = %q, want %q", plan.Summary, wantSummary)
	}
	host := strings.TrimPrefix(rcv.srv.URL, "http://")
	wantChanges := []action.Change{{Target: "webhook " + host, From: "", To: "called"}}
	if !reflect.DeepEqual(plan.Changes, wantChanges) || !reflect.DeepEqual(res.Changes, wantChanges) {
		t.Errorf("changes = %v / %v, want %v", plan.Changes, res.Changes, wantChanges)
	}
	if wantMsg := wantSummary + ` answered 200 OK: {"ok":true}`; res.Message != wantMsg {
		t.Errorf("result message = %q, want %q", res.Message, wantMsg)
	}
	raw, _ := json.Marshal(plan)
	for _, s := range []string{secretValue, querySecret} {
		if strings.Contains(string(raw), s) {
			t.Errorf("plan JSON %s contains %q", raw, s)
		}
	}
	if !strings.Contains(string(raw), "{{ .Secrets.hooks_token }}") && !strings.Contains(string(raw), `"Authorization"`) {
		t.Errorf("plan JSON %s does not name the Authorization header", raw)
	}
}

func TestWebhookRetryKeepsIdempotencyKey(t *testing.T) {
	rcv := newReceiver(t, http.StatusServiceUnavailable, http.StatusTooManyRequests)
	e := newTestExecutor(Options{})
	req := testRequest(hookValue(rcv.srv.URL))
	plan, err := e.Prepare(context.Background(), req)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	for i := range 3 {
		_, err = e.Apply(context.Background(), req, plan)
		if i < 2 && (err == nil || errors.Is(err, action.ErrInvalid)) {
			t.Fatalf("Apply %d: error = %v, want a retryable error", i, err)
		}
	}
	if err != nil {
		t.Fatalf("third Apply: %v", err)
	}
	calls := rcv.recorded()
	if len(calls) != 3 {
		t.Fatalf("receiver got %d calls, want 3", len(calls))
	}
	for i, c := range calls {
		if got := c.Header.Get("Idempotency-Key"); got != "rem-1/2" {
			t.Errorf("call %d Idempotency-Key = %q, want rem-1/2 on every retry", i, got)
		}
		if c.Body != calls[0].Body {
			t.Errorf("call %d body %q differs from the first %q", i, c.Body, calls[0].Body)
		}
	}
}

func TestWebhookStatusClassification(t *testing.T) {
	tests := []struct {
		status int
		final  bool
	}{
		{200, false}, {201, false}, {204, false},
		{302, true}, {400, true}, {401, true}, {403, true}, {404, true}, {422, true},
		{408, false}, {429, false}, {500, false}, {502, false}, {503, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			rcv := newReceiver(t, tt.status)
			_, _, err := prepareApply(t, newTestExecutor(Options{}), testRequest(hookValue(rcv.srv.URL)))
			ok := tt.status < 300
			switch {
			case ok && err != nil:
				t.Fatalf("status %d: Apply error %v, want success", tt.status, err)
			case !ok && err == nil:
				t.Fatalf("status %d: Apply succeeded, want an error", tt.status)
			case !ok && errors.Is(err, action.ErrInvalid) != tt.final:
				t.Fatalf("status %d: error %v final = %v, want %v", tt.status, err, errors.Is(err, action.ErrInvalid), tt.final)
			}
			if err != nil {
				checkRedacted(t, err.Error())
				if !strings.Contains(err.Error(), fmt.Sprint(tt.status)) {
					t.Errorf("error %q does not name status %d", err, tt.status)
				}
			}
		})
	}
}

func TestWebhookConnectionRefusedIsRetryable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, _, err := prepareApply(t, newTestExecutor(Options{}), testRequest(hookValue(url)))
	if err == nil || errors.Is(err, action.ErrInvalid) {
		t.Fatalf("Apply to a closed port: error = %v, want a retryable error", err)
	}
	if !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("error %q does not say the connection was refused", err)
	}
	checkRedacted(t, err.Error())
}

func TestWebhookTimeoutIsRetryable(t *testing.T) {
	for _, tt := range []struct {
		name  string
		opts  Options
		value func(string) map[string]any
	}{
		{name: "executor timeout", opts: Options{Timeout: 50 * time.Millisecond}, value: hookValue},
		{name: "value timeout", value: func(u string) map[string]any {
			v := hookValue(u)
			v["timeout"] = "50ms"
			return v
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rcv := newReceiver(t)
			rcv.set("", true)
			_, _, err := prepareApply(t, newTestExecutor(tt.opts), testRequest(tt.value(rcv.srv.URL)))
			if err == nil || errors.Is(err, action.ErrInvalid) {
				t.Fatalf("Apply to a receiver that never answers: error = %v, want a retryable error", err)
			}
			if !strings.Contains(err.Error(), "no answer within 50ms") {
				t.Errorf("error %q does not say the call timed out", err)
			}
			checkRedacted(t, err.Error())
		})
	}
}

func TestWebhookAnswerIsRedactedAndTruncated(t *testing.T) {
	rcv := newReceiver(t, http.StatusBadRequest)
	rcv.set("bad token "+secretValue+" for query token="+querySecret+"\n\x1b[31m"+strings.Repeat("é", 2000), false)
	_, _, err := prepareApply(t, newTestExecutor(Options{}), testRequest(hookValue(rcv.srv.URL)))
	if err == nil {
		t.Fatal("Apply succeeded on 400")
	}
	msg := err.Error()
	checkRedacted(t, msg)
	if !strings.Contains(msg, "bad token <redacted> for query <redacted>") {
		t.Errorf("error %q does not keep the redacted answer", msg)
	}
	if strings.ContainsAny(msg, "\n\x1b") || !strings.HasSuffix(msg, "…(truncated)") || len(msg) > 2*MaxAnswer {
		t.Errorf("error %q is not a sanitized, truncated line", msg)
	}

	rcv = newReceiver(t)
	rcv.set("echo "+secretValue, false)
	_, res, err := prepareApply(t, newTestExecutor(Options{}), testRequest(hookValue(rcv.srv.URL)))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(res.Message, secretValue) || !strings.Contains(res.Message, "echo <redacted>") {
		t.Errorf("result message %q is not redacted", res.Message)
	}
}

func TestWebhookRefusals(t *testing.T) {
	base := "https://hooks.example"
	tests := []struct {
		name    string
		value   any
		secrets SecretResolver
		wantErr string
	}{
		{name: "bad value", value: 3, wantErr: `webhook action "Restart carts": the value is a int`},
		{name: "credentials in the url", value: "https://u:p@hooks.example/x", wantErr: "carries credentials"},
		{name: "bad body template", value: map[string]any{"url": base, "body": "{{ .Problem.Title"}, wantErr: "body: template: body:1: unclosed action"},
		{name: "bad header template", value: map[string]any{"url": base, "headers": map[string]any{"X-A": "{{ end }}"}}, wantErr: "headers.X-A: template"},
		{name: "unknown secret", value: map[string]any{"url": base, "headers": map[string]any{"X-A": "{{ .Secrets.nope }}"}}, wantErr: `secret "nope" of project sockshop`},
		{name: "no secret resolver", value: map[string]any{"url": base, "headers": map[string]any{"X-A": "{{ .Secrets.x }}"}}, secrets: nil, wantErr: "no secrets are configured"},
		{name: "line break in a header", value: map[string]any{"url": base, "headers": map[string]any{"X-A": "{{ .Problem.Title }}\nInjected: 1"}}, wantErr: "headers.X-A: the rendered value contains a line break"},
		{name: "secret in the body", value: map[string]any{"url": base, "body": "{{ .Secrets.hooks_token }}"}, wantErr: "secrets may be used only in headers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := secrets(map[string]string{"hooks_token": secretValue})
			if tt.name == "no secret resolver" {
				res = nil
			}
			_, err := New(res, Options{}).Prepare(context.Background(), testRequest(tt.value))
			if err == nil || !errors.Is(err, action.ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Prepare error = %v, want a final one containing %q", err, tt.wantErr)
			}
			checkRedacted(t, err.Error())
		})
	}
}

func TestWebhookSecretLookupFailureIsRetryable(t *testing.T) {
	down := func(context.Context, string, string, *url.URL) (string, error) {
		return "", errors.New("store unavailable")
	}
	v := map[string]any{"url": "https://hooks.example/x", "headers": map[string]any{"X-A": "{{ .Secrets.a }}"}}
	_, err := New(down, Options{}).Prepare(context.Background(), testRequest(v))
	if err == nil || errors.Is(err, action.ErrInvalid) {
		t.Fatalf("Prepare error = %v, want a retryable one", err)
	}
}

func TestWebhookApplyRefusesForeignOrStalePlans(t *testing.T) {
	e := newTestExecutor(Options{})
	req := testRequest(hookValue("https://hooks.example"))
	plan, err := e.Prepare(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	changed := testRequest(hookValue("https://other.example"))
	for name, tc := range map[string]struct {
		req  action.Request
		plan action.Plan
		want string
	}{
		"foreign plan":  {req, action.Plan{Data: json.RawMessage(`{"replicas":2}`)}, "the plan holds no webhook call"},
		"value changed": {changed, plan, "the action's value changed since its plan was made"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.Apply(context.Background(), tc.req, tc.plan)
			if err == nil || !errors.Is(err, action.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Apply error = %v, want a final one containing %q", err, tc.want)
			}
		})
	}
}

func TestWebhookGetSendsNoBody(t *testing.T) {
	rcv := newReceiver(t)
	v := map[string]any{"url": rcv.srv.URL + "/ping", "method": "get"}
	plan, _, err := prepareApply(t, newTestExecutor(Options{}), testRequest(v))
	if err != nil {
		t.Fatal(err)
	}
	c := rcv.recorded()[0]
	if c.Method != "GET" || c.Body != "" || c.Header.Get("Content-Type") != "" {
		t.Errorf("call = %s with body %q and Content-Type %q, want a GET without body", c.Method, c.Body, c.Header.Get("Content-Type"))
	}
	if !strings.HasPrefix(plan.Summary, "GET ") {
		t.Errorf("summary = %q, want GET ...", plan.Summary)
	}
}

// checkRedacted fails when text holds the test's secret or URL query.
func checkRedacted(t testing.TB, text string) {
	t.Helper()
	for _, s := range []string{secretValue, querySecret} {
		if strings.Contains(text, s) {
			t.Errorf("%q contains the secret %q", text, s)
		}
	}
}

// TestWebhookAnswerExcerpt: what a receiver answers reaches the action's
// result (and so the project's events) only as its status and a short
// excerpt of the body; its headers never do, not even a redirect's
// Location.
func TestWebhookAnswerExcerpt(t *testing.T) {
	body := strings.Repeat("a", 300) + "tail-marker"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Internal", "header-marker")
		if r.URL.Path == "/moved" {
			w.Header().Set("Location", "https://internal-host.example/next")
			w.WriteHeader(http.StatusFound)
			return
		}
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, body)
	}))
	defer srv.Close()
	_, res, err := prepareApply(t, newTestExecutor(Options{}), testRequest(map[string]any{"url": srv.URL + "/hook"}))
	if err != nil {
		t.Fatal(err)
	}
	excerpt, ok := strings.CutPrefix(res.Message, "POST "+srv.URL+"/hook answered 200 OK: ")
	if !ok {
		t.Fatalf("result %q does not start with the call and its status", res.Message)
	}
	if strings.Contains(res.Message, "tail-marker") || strings.Contains(res.Message, "header-marker") ||
		len(strings.TrimSuffix(excerpt, " …(truncated)")) > 256 {
		t.Errorf("result %q carries more than a 256-byte excerpt of the body", res.Message)
	}
	_, _, err = prepareApply(t, newTestExecutor(Options{}), testRequest(map[string]any{"url": srv.URL + "/moved"}))
	if err == nil || strings.Contains(err.Error(), "internal-host") || strings.Contains(err.Error(), "header-marker") {
		t.Errorf("redirect error = %v; want one that shows no answer header", err)
	}
}
