// Package webhook owns tend's outbound HTTP calls to receivers the user
// names: the webhook remediation action, and the escalation notification
// (a Slack-compatible message) that the escalate action and the
// remediation loop send when actions run out.
//
// # The webhook action
//
// Its value is {url, method, headers, body, timeout} (see Config). Header
// values and the body are Go text/template sources over TemplateData:
//
//	headers:
//	  Authorization: "Bearer {{ .Secrets.hooks_token }}"
//	body: '{"title": {{ json .Problem.Title }}, "service": {{ json .Service }}}'
//
// Secrets are referenced by name as {{ .Secrets.name }} and resolved
// through the application's SecretResolver at the moment of the call, in
// headers only. Plans keep the unresolved templates (in fact only the
// header names), and resolved values are redacted from every error and
// result, as is the URL's query.
//
// Prepare changes nothing: it checks the value, compiles the templates,
// checks that the referenced secrets exist, renders the body (which cannot
// use secrets) into the plan and names the call in the summary ("POST
// https://hooks.example.com/restart"). Apply resolves the secrets, renders
// the headers and sends the planned body.
//
// Delivery is at least once. Every call carries Idempotency-Key: the
// request's key, the same on each retry of one action execution, so a
// receiver that must not act twice dedupes on it. A 2xx answer is success;
// 408, 429, 5xx, transport errors and timeouts are retried; every other
// answer (other 4xx, a redirect) is final and wraps action.ErrInvalid.
package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/tendhq/tend/internal/action"
	"github.com/tendhq/tend/internal/outbound"
)

// The action names this package's executors handle.
const (
	ActionWebhook  = "webhook"
	ActionEscalate = "escalate"
)

// SecretResolver returns the value of the secret called name that is
// configured for project (stored server-side, never in remediation.yaml),
// for a call to target. It refuses a target the secret is not bound to.
// An error wrapping action.ErrInvalid (no such secret, another receiver)
// is final; other errors are retried. The value is used for one call and
// never stored.
type SecretResolver func(ctx context.Context, project, name string, target *url.URL) (string, error)

// Executor runs the webhook action. It implements action.Executor; register
// it under ActionWebhook.
type Executor struct {
	secrets  SecretResolver
	http     caller
	outbound *outbound.Policy
}

var _ action.Executor = (*Executor)(nil)

// New returns a webhook Executor. secrets may be nil when no secrets are
// configured; a template that references one then fails in Prepare.
func New(secrets SecretResolver, opts Options) *Executor {
	return &Executor{secrets: secrets, http: newCaller(opts), outbound: opts.Outbound}
}

// planData is the executor's part of a Plan. It holds nothing secret: the
// URL without its query, the header names, and the rendered body (bodies
// cannot use secrets). Digest ties the plan to the action's value so that
// Apply refuses a value changed since.
type planData struct {
	Method  string   `json:"method"`
	URL     string   `json:"url"`
	Headers []string `json:"headers,omitempty"`
	Body    string   `json:"body,omitempty"`
	Digest  string   `json:"digest"`
}

// webhook is a request's checked value with its compiled templates.
type webhook struct {
	cfg     Config
	url     *url.URL
	where   string
	headers map[string]*compiled
	secrets []string
}

// load checks the request's value and compiles its templates. Its errors
// are final and name the field at fault.
func load(req action.Request) (*webhook, error) {
	cfg, err := ParseValue(req.Value)
	if err != nil {
		return nil, invalidf("webhook %s: %v", actionLabel(req), err)
	}
	u, err := checkURL(cfg.URL)
	if err != nil {
		return nil, invalidf("webhook %s: url: %v", actionLabel(req), err)
	}
	w := &webhook{cfg: cfg, url: u, where: displayURL(u), headers: map[string]*compiled{}}
	seen := map[string]bool{}
	for name, src := range cfg.Headers {
		c, err := compile("headers."+name, src)
		if err != nil {
			return nil, invalidf("webhook %s: %v", actionLabel(req), err)
		}
		w.headers[name] = c
		for _, s := range c.secrets {
			if !seen[s] {
				seen[s] = true
				w.secrets = append(w.secrets, s)
			}
		}
	}
	sort.Strings(w.secrets)
	return w, nil
}

// Prepare checks the action's value, its templates and the secrets they
// name, and renders the body. It makes no call to the receiver.
func (e *Executor) Prepare(ctx context.Context, req action.Request) (action.Plan, error) {
	w, err := load(req)
	if err != nil {
		return action.Plan{}, err
	}
	if e.outbound != nil {
		if p := e.outbound.CheckURL("url", w.where); p != "" {
			return action.Plan{}, invalidf("webhook %s: %s", actionLabel(req), p)
		}
	}
	body, err := RenderBody(w.cfg.Body, req)
	if err != nil {
		return action.Plan{}, invalidf("webhook %s: %v", actionLabel(req), err)
	}
	// Check that every secret exists, then forget the values: headers are
	// rendered here with stand-ins only to find template errors early.
	if _, err := e.resolve(ctx, req, w); err != nil {
		return action.Plan{}, err
	}
	stand := map[string]string{}
	for _, s := range w.secrets {
		stand[s] = "secret"
	}
	if _, err := w.renderHeaders(req, stand); err != nil {
		return action.Plan{}, err
	}
	data := planData{Method: w.cfg.Method, URL: w.where, Body: body, Digest: digest(w.cfg)}
	for name := range w.cfg.Headers {
		data.Headers = append(data.Headers, name)
	}
	sort.Strings(data.Headers)
	raw, err := json.Marshal(data)
	if err != nil {
		return action.Plan{}, fmt.Errorf("webhook: encode plan: %w", err)
	}
	return action.Plan{
		Action:  req.Action,
		Summary: w.cfg.Method + " " + w.where,
		Changes: []action.Change{{Target: "webhook " + w.url.Host, From: "", To: "called"}},
		Data:    raw,
	}, nil
}

// Apply makes the planned call. Each call (a retry included) carries the
// same Idempotency-Key, the request's key.
func (e *Executor) Apply(ctx context.Context, req action.Request, plan action.Plan) (action.Result, error) {
	var data planData
	if err := json.Unmarshal(plan.Data, &data); err != nil || data.Method == "" || data.Digest == "" {
		return action.Result{}, invalidf("webhook %s: the plan holds no webhook call (was it made by this executor?)", actionLabel(req))
	}
	w, err := load(req)
	if err != nil {
		return action.Result{}, err
	}
	if digest(w.cfg) != data.Digest {
		return action.Result{}, invalidf("webhook %s: the action's value changed since its plan was made; prepare it again", actionLabel(req))
	}
	secrets, err := e.resolve(ctx, req, w)
	if err != nil {
		return action.Result{}, err
	}
	values := make([]string, 0, len(secrets))
	for _, v := range secrets {
		values = append(values, v)
	}
	red := newRedactor(values, urlForms(w.url, w.where, false))
	headers, err := w.renderHeaders(req, secrets)
	if err != nil {
		return action.Result{}, invalidf("%s", red.apply(err.Error()))
	}
	ans, err := e.http.do(ctx, call{
		op:      "webhook",
		method:  data.Method,
		url:     w.url,
		where:   w.where,
		headers: headers,
		body:    []byte(data.Body),
		key:     req.Key,
		timeout: w.cfg.Timeout,
		redact:  red,
	})
	if err != nil {
		return action.Result{}, err
	}
	return action.Result{
		Message: fmt.Sprintf("%s %s answered %s: %s", data.Method, w.where, ans.status, ans.text),
		Changes: plan.Changes,
	}, nil
}

// resolve looks up every secret the headers name.
func (e *Executor) resolve(ctx context.Context, req action.Request, w *webhook) (map[string]string, error) {
	out := make(map[string]string, len(w.secrets))
	if len(w.secrets) == 0 {
		return out, nil
	}
	if e.secrets == nil {
		return nil, invalidf("webhook %s: headers reference secret %q, but no secrets are configured; configure it for project %s", actionLabel(req), w.secrets[0], req.Project)
	}
	for _, name := range w.secrets {
		v, err := e.secrets(ctx, req.Project, name, w.url)
		if err != nil {
			// The resolver's error names the secret, never its value; it
			// decides whether the failure is final.
			if errors.Is(err, action.ErrInvalid) {
				return nil, invalidf("webhook %s: secret %q of project %s: %v", actionLabel(req), name, req.Project, err)
			}
			return nil, fmt.Errorf("webhook %s: secret %q of project %s: %w", actionLabel(req), name, req.Project, err)
		}
		out[name] = v
	}
	return out, nil
}

// renderHeaders renders every header with the given secrets. A header
// value may not contain line breaks: those would be refused by the HTTP
// client and never succeed.
func (w *webhook) renderHeaders(req action.Request, secrets map[string]string) (http.Header, error) {
	h := http.Header{}
	data := templateData(req)
	data.Secrets = secrets
	for name, c := range w.headers {
		v, err := c.render(data, maxHeaderBytes)
		if err != nil {
			return nil, invalidf("webhook %s: %v", actionLabel(req), err)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return nil, invalidf("webhook %s: headers.%s: the rendered value contains a line break or NUL, which HTTP header values cannot; strip it from the template's data", actionLabel(req), name)
		}
		h.Set(name, strings.TrimSpace(v))
	}
	return h, nil
}

// digest identifies a webhook value, URL query included, without
// revealing it.
func digest(cfg Config) string {
	raw, _ := json.Marshal(cfg)
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// actionLabel names the action in messages: its name from the remediation
// file when it has one.
func actionLabel(req action.Request) string {
	if req.Name != "" {
		return fmt.Sprintf("action %q", req.Name)
	}
	return "action"
}
