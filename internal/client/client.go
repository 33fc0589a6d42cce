// Package client is the typed Go client of tend's REST API v1 (see
// internal/apitypes for the wire types). The CLI uses it for every online
// command and the end-to-end tests drive the server through it. It owns the
// details every caller would otherwise get wrong: the x-token header that
// never leaks into URLs, errors or redirects, path escaping of resource
// URIs, paging, the Server-Sent Events stream, and errors typed so the CLI
// can pick its exit status.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// TokenHeader is the header that carries the API token; it is Keptn's, so
// scripts written for Keptn keep working.
const TokenHeader = "x-token"

// Defaults of a new Client.
const (
	DefaultTimeout     = 30 * time.Second
	DefaultUserAgent   = "tend"
	DefaultStreamRetry = time.Second
)

// maxAnswer bounds a success answer. A resource is at most the server's
// body limit (1 MiB by default) in base64; a misbehaving server must not
// make the CLI allocate without end.
const maxAnswer = 64 << 20

// Client talks to one tend server with one token. It is safe for concurrent
// use.
type Client struct {
	base         *url.URL // scheme, host and an optional path prefix
	endpointText string   // base as shown in errors
	token        string
	hc           *http.Client
	userAgent    string
	timeout      time.Duration
	streamRetry  time.Duration
}

// Option changes a Client built by New.
type Option func(*Client)

// WithHTTPClient makes the Client send its requests through hc (a custom
// transport, TLS settings, a proxy). Leave hc.Timeout at zero: it would cut
// off the event stream; per-call timeouts come from WithTimeout. The client
// is copied, so the caller's value is not changed.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// WithUserAgent sets the User-Agent header, e.g. "tend/1.2.0", so server
// logs show which CLI version called.
func WithUserAgent(ua string) Option {
	return func(c *Client) { c.userAgent = ua }
}

// WithTimeout sets how long one call may take, from sending the request to
// reading the whole answer. Zero means no limit beyond the caller's context.
// The event stream has no per-call timeout.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) { c.timeout = d }
}

// WithStreamRetry sets the first delay before StreamEvents reconnects; the
// delay doubles after each failed attempt up to 30 times the first. A
// server's SSE "retry:" field overrides it.
func WithStreamRetry(d time.Duration) Option {
	return func(c *Client) {
		if d > 0 {
			c.streamRetry = d
		}
	}
}

// New returns a Client for the server at endpoint (for example
// "http://127.0.0.1:8080") that authenticates with token. The endpoint may
// carry a path prefix when tend sits behind a reverse proxy; a trailing
// "/api", as Keptn users write it, is dropped because every route already
// starts with it. An empty token is allowed for /healthz and /readyz.
func New(endpoint, token string, opts ...Option) (*Client, error) {
	base, err := parseEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	if err := checkToken(token); err != nil {
		return nil, err
	}
	c := &Client{
		base:         base,
		endpointText: base.String(),
		token:        token,
		hc:           &http.Client{},
		userAgent:    DefaultUserAgent,
		timeout:      DefaultTimeout,
		streamRetry:  DefaultStreamRetry,
	}
	for _, o := range opts {
		o(c)
	}
	// Go forwards custom headers such as x-token on every redirect, to any
	// host. Copy the caller's client and drop the token when a redirect
	// leaves the endpoint's scheme and host.
	hc := *c.hc
	next := hc.CheckRedirect
	hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Scheme != c.base.Scheme || req.URL.Host != c.base.Host {
			req.Header.Del(TokenHeader)
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	c.hc = &hc
	return c, nil
}

func parseEndpoint(endpoint string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(endpoint))
	if err != nil {
		// url's errors quote the input, which may hold a password.
		return nil, errors.New("endpoint: not a URL; want http://HOST:PORT or https://HOST")
	}
	shown := u.Redacted()
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("endpoint %q: scheme must be http or https, like http://127.0.0.1:8080", shown)
	case u.Host == "":
		return nil, fmt.Errorf("endpoint %q: no host; want http://HOST:PORT", shown)
	case u.User != nil:
		return nil, fmt.Errorf("endpoint %q: user and password do not belong in the URL; give an API token instead", shown)
	case u.RawQuery != "" || u.ForceQuery:
		return nil, fmt.Errorf("endpoint %q: must not have a query", shown)
	case u.Fragment != "":
		return nil, fmt.Errorf("endpoint %q: must not have a fragment", shown)
	}
	p := strings.TrimRight(u.EscapedPath(), "/")
	p = strings.TrimSuffix(p, "/api")
	unescaped, err := url.PathUnescape(p)
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: bad path escape", shown)
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host, Path: unescaped, RawPath: p}, nil
}

// checkToken refuses tokens that cannot be a header value. Its errors never
// contain the token.
func checkToken(token string) error {
	for i := 0; i < len(token); i++ {
		if b := token[i]; b <= ' ' || b >= 0x7f {
			return fmt.Errorf("api token: character %d is a space, control or non-ASCII character; tokens are printable ASCII", i+1)
		}
	}
	return nil
}

// Endpoint returns the server's base URL as the Client uses it.
func (c *Client) Endpoint() string { return c.endpointText }

// Raw sends one request and returns the status and the answer's body
// unchanged; the CLI's `-o json` prints that body. path is the escaped path
// below the endpoint without a query (build it with the *Path functions of
// this package); body, when not nil, is sent as JSON. A status outside 2xx is returned
// together with an *APIError, so callers can both print the body and pick
// an exit status.
func (c *Client) Raw(ctx context.Context, method, path string, query url.Values, body []byte) (int, []byte, error) {
	status, data, err := c.send(ctx, method, path, query, body, true)
	if err != nil {
		return status, data, fmt.Errorf("%s %s: %w", method, path, err)
	}
	return status, data, nil
}

// send makes one call. escPath is already escaped. On a status outside 2xx
// it returns the status, the body and an *APIError.
func (c *Client) send(ctx context.Context, method, escPath string, query url.Values, body []byte, auth bool) (int, []byte, error) {
	u, err := c.url(escPath, query)
	if err != nil {
		return 0, nil, err
	}
	parent := ctx
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return 0, nil, fmt.Errorf("build request: %w", err)
	}
	req.URL = u // keep RawPath exactly as built
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c.decorate(req, auth)
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, c.networkError(parent, err, c.timeout)
	}
	defer resp.Body.Close()
	limit := int64(maxAnswer)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		limit = maxErrorBody
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return resp.StatusCode, nil, c.networkError(parent, err, c.timeout)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		if int64(len(data)) > limit {
			data = data[:limit]
		}
		return resp.StatusCode, data, decodeAPIError(resp.StatusCode, data, c.token)
	}
	if int64(len(data)) > limit {
		return resp.StatusCode, nil, &badAnswerError{what: fmt.Sprintf("answer larger than %d bytes", limit)}
	}
	return resp.StatusCode, data, nil
}

// url joins the endpoint and an escaped path, keeping escapes such as %2F
// intact: Path holds the decoded form and RawPath the exact wire form.
func (c *Client) url(escPath string, query url.Values) (*url.URL, error) {
	if strings.ContainsAny(escPath, "?#") {
		return nil, fmt.Errorf("path %q: holds a query or fragment; pass query parameters separately", escPath)
	}
	if !strings.HasPrefix(escPath, "/") {
		escPath = "/" + escPath
	}
	raw := c.base.EscapedPath() + escPath
	decoded, err := url.PathUnescape(raw)
	if err != nil {
		return nil, fmt.Errorf("path %q: bad escape: %w", escPath, err)
	}
	u := &url.URL{Scheme: c.base.Scheme, Host: c.base.Host, Path: decoded, RawPath: raw}
	if len(query) > 0 {
		u.RawQuery = query.Encode()
	}
	return u, nil
}

func (c *Client) decorate(req *http.Request, auth bool) {
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	if auth && c.token != "" {
		req.Header.Set(TokenHeader, c.token)
	}
}

// call sends in (when not nil) as JSON and decodes the answer into out
// (when not nil).
func (c *Client) call(ctx context.Context, method, escPath string, query url.Values, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
	}
	_, data, err := c.send(ctx, method, escPath, query, body, true)
	if err != nil {
		return err
	}
	return decodeAnswer(data, out)
}

func decodeAnswer(data []byte, out any) error {
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return &badAnswerError{what: "not the expected JSON", err: err}
	}
	return nil
}
