package webhook

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Config is a webhook action's value, as remediation.yaml gives it:
//
//	value:
//	  url: https://hooks.example.com/restart
//	  method: POST                         # default POST
//	  headers:
//	    Authorization: "Bearer {{ .Secrets.hooks_token }}"
//	  body: '{"title": {{ json .Problem.Title }}}'
//	  timeout: 5s                          # default: the executor's (10s)
//
// Headers and Body are Go text/template sources (see the package comment);
// they are kept unrendered here.
type Config struct {
	URL     string            `json:"url"`
	Method  string            `json:"method"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body"`
	Timeout time.Duration     `json:"timeout,omitempty"`
}

// DefaultBody is the body sent when the value has no body key and the
// method takes one: a JSON object describing the request and its problem,
// so a receiver gets something useful with no template written.
const DefaultBody = `{"key":{{ json .Key }},"project":{{ json .Project }},"stage":{{ json .Stage }},"service":{{ json .Service }},` +
	`"action":{"name":{{ json .Action.Name }},"action":{{ json .Action.Type }},"description":{{ json .Action.Description }}},` +
	`"problem":{{ json .Problem }}}`

// MaxTimeout is the longest per-call timeout a value may ask for: a
// remediation step should not hang on one receiver for longer.
const MaxTimeout = 5 * time.Minute

// methods are the HTTP methods a webhook may use; the value says whether
// the method carries a body.
var methods = map[string]bool{
	"GET":    false,
	"HEAD":   false,
	"DELETE": false,
	"POST":   true,
	"PUT":    true,
	"PATCH":  true,
}

var valueKeys = []string{"url", "method", "headers", "body", "timeout"}

// ParseValue reads a webhook action's value: a map with the keys url
// (required), method, headers, body and timeout, or a plain string that is
// the URL. It checks everything that does not need a template rendered:
// the URL (http or https, with a host and without credentials), the method,
// header names, and the timeout. A missing body means DefaultBody for
// methods that carry one. Errors never quote the URL's query.
func ParseValue(value any) (Config, error) {
	m, err := valueMap(value)
	if err != nil {
		return Config{}, err
	}
	var unknown []string
	for k := range m {
		if !contains(valueKeys, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return Config{}, fmt.Errorf("unknown key(s) %s; a webhook value has the keys %s", strings.Join(quoteAll(unknown), ", "), strings.Join(valueKeys, ", "))
	}

	var cfg Config
	rawURL, ok := m["url"].(string)
	if !ok || strings.TrimSpace(rawURL) == "" {
		if v, present := m["url"]; present && v != nil && !ok {
			return Config{}, fmt.Errorf("url is a %T; want an http(s) URL string, e.g. https://hooks.example.com/restart", v)
		}
		return Config{}, fmt.Errorf("url is missing; want an http(s) URL, e.g. url: https://hooks.example.com/restart")
	}
	if _, err := checkURL(rawURL); err != nil {
		return Config{}, fmt.Errorf("url: %w", err)
	}
	cfg.URL = strings.TrimSpace(rawURL)

	cfg.Method = "POST"
	if v, present := m["method"]; present && v != nil {
		s, ok := v.(string)
		if !ok {
			return Config{}, fmt.Errorf("method is a %T; want one of GET, HEAD, POST, PUT, PATCH, DELETE", v)
		}
		cfg.Method = strings.ToUpper(strings.TrimSpace(s))
		if _, known := methods[cfg.Method]; !known {
			return Config{}, fmt.Errorf("method %q is not one of GET, HEAD, POST, PUT, PATCH, DELETE", s)
		}
	}

	if v, present := m["headers"]; present && v != nil {
		hm, err := valueMap(v)
		if err != nil {
			return Config{}, fmt.Errorf("headers: %w", err)
		}
		cfg.Headers = make(map[string]string, len(hm))
		seen := map[string]string{}
		for name, hv := range hm {
			if err := checkHeaderName(name); err != nil {
				return Config{}, fmt.Errorf("headers: %w", err)
			}
			canon := canonicalHeader(name)
			if prev, dup := seen[canon]; dup {
				return Config{}, fmt.Errorf("headers: %q and %q are the same header; give it once", prev, name)
			}
			seen[canon] = name
			s, err := scalarString(hv)
			if err != nil {
				return Config{}, fmt.Errorf("headers.%s: %w", name, err)
			}
			cfg.Headers[name] = s
		}
	}

	body, hasBody := m["body"]
	switch {
	case hasBody && body != nil:
		s, ok := body.(string)
		if !ok {
			return Config{}, fmt.Errorf("body is a %T; want a string (a text/template, e.g. '{\"title\": {{ json .Problem.Title }}}')", body)
		}
		if s != "" && !methods[cfg.Method] {
			return Config{}, fmt.Errorf("body is set but method %s sends none; use POST, PUT or PATCH, or drop the body", cfg.Method)
		}
		cfg.Body = s
	case !hasBody && methods[cfg.Method]:
		cfg.Body = DefaultBody
	}

	if v, present := m["timeout"]; present && v != nil {
		d, err := parseTimeout(v)
		if err != nil {
			return Config{}, fmt.Errorf("timeout: %w", err)
		}
		cfg.Timeout = d
	}
	return cfg, nil
}

// valueMap turns the shapes YAML and JSON decoders give a map into one
// map[string]any; a plain string is taken as {url: string}.
func valueMap(value any) (map[string]any, error) {
	switch v := value.(type) {
	case nil:
		return nil, fmt.Errorf("the value is empty; want a map with at least url, e.g. {url: https://hooks.example.com/restart}")
	case string:
		return map[string]any{"url": v}, nil
	case map[string]any:
		return v, nil
	case map[string]string:
		out := make(map[string]any, len(v))
		for k, s := range v {
			out[k] = s
		}
		return out, nil
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("key %v is a %T; want a string", k, k)
			}
			out[ks] = x
		}
		return out, nil
	}
	return nil, fmt.Errorf("the value is a %T; want a map with the keys %s", value, strings.Join(valueKeys, ", "))
}

// checkURL parses an http(s) URL and refuses what the executor will not
// call: other schemes, no host, credentials in the URL. Its errors name the
// URL without its query.
func checkURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		// url.Error repeats the whole URL, query included; keep only the cause.
		var cause error = err
		if ue, ok := err.(*url.Error); ok {
			cause = ue.Err
		}
		return nil, fmt.Errorf("not a URL (%v); want e.g. https://hooks.example.com/restart", cause)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("scheme %q is not http or https; want e.g. https://hooks.example.com/restart", u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("%s has no host; want e.g. https://hooks.example.com/restart", displayURL(u))
	}
	if u.User != nil {
		return nil, fmt.Errorf("%s carries credentials (user:password@); put them in a header that references a secret, e.g. Authorization: \"Basic {{ .Secrets.hooks_basic }}\"", displayURL(u))
	}
	return u, nil
}

// displayURL is how a webhook URL appears in plans, results and errors:
// scheme, host and path, never the credentials, query or fragment.
func displayURL(u *url.URL) string {
	d := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return d.String()
}

// reserved headers are set by the executor or the HTTP transport.
var reserved = []string{"Idempotency-Key", "User-Agent", "Host", "Content-Length", "Transfer-Encoding", "Connection"}

func checkHeaderName(name string) error {
	if name == "" {
		return fmt.Errorf("a header name is empty")
	}
	for i := 0; i < len(name); i++ {
		if !isTokenChar(name[i]) {
			return fmt.Errorf("header name %q is not a valid HTTP header name (letters, digits and !#$%%&'*+-.^_`|~ only)", name)
		}
	}
	canon := canonicalHeader(name)
	for _, r := range reserved {
		if canon == r {
			return fmt.Errorf("header %s is set by tend and cannot be given", r)
		}
	}
	return nil
}

func canonicalHeader(name string) string {
	// Only the case matters for comparison; textproto's canonical form is
	// what net/http sends.
	var b strings.Builder
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case upper && 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		case !upper && 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		b.WriteByte(c)
		upper = c == '-'
	}
	return b.String()
}

func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// scalarString accepts a header value as YAML may decode it.
func scalarString(v any) (string, error) {
	switch s := v.(type) {
	case string:
		return s, nil
	case bool, int, int64, uint64, float64:
		return fmt.Sprint(s), nil
	case nil:
		return "", nil
	}
	return "", fmt.Errorf("is a %T; want a string", v)
}

// parseTimeout reads "5s"-style durations, or a number of seconds.
func parseTimeout(v any) (time.Duration, error) {
	var secs float64
	switch t := v.(type) {
	case string:
		t = strings.TrimSpace(t)
		if d, err := time.ParseDuration(t); err == nil {
			secs = d.Seconds()
		} else if n, nerr := strconv.ParseFloat(t, 64); nerr == nil {
			secs = n
		} else {
			return 0, fmt.Errorf("%q is not a duration; want e.g. 5s or 1m", t)
		}
	case int:
		secs = float64(t)
	case int64:
		secs = float64(t)
	case uint64:
		secs = float64(t)
	case float64:
		secs = t
	default:
		return 0, fmt.Errorf("is a %T; want a duration such as 5s", v)
	}
	// Checked in seconds, before converting, so that huge numbers and NaN
	// cannot wrap around into range.
	if !(secs > 0 && secs <= MaxTimeout.Seconds()) {
		return 0, fmt.Errorf("%v seconds is out of range; want more than 0 and at most %v", secs, MaxTimeout)
	}
	d := time.Duration(secs * float64(time.Second))
	if d <= 0 {
		return 0, fmt.Errorf("%v seconds is out of range; want more than 0 and at most %v", secs, MaxTimeout)
	}
	return d, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func quoteAll(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = strconv.Quote(s)
	}
	return out
}
