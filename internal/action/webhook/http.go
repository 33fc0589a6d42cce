package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tendhq/tend/internal/action"
	"github.com/tendhq/tend/internal/outbound"
)

// DefaultTimeout bounds each outbound call unless Options or the action's
// value say otherwise.
const DefaultTimeout = 10 * time.Second

// MaxAnswer is how much of a receiver's answer body is kept in a Result
// message or an error, after sanitizing: a short excerpt, since results
// and errors become events that every reader of the project sees. Answer
// headers are never kept.
const MaxAnswer = 256

// Options are what the webhook Executor and the Notifier share.
type Options struct {
	// Client makes the calls; nil means a client like http.DefaultClient.
	// Either way redirects are not followed: a redirect could carry secret
	// headers to another host, so a 3xx answer is a final error.
	Client *http.Client
	// Timeout bounds each call; zero means DefaultTimeout.
	Timeout time.Duration
	// Version is tend's version, sent as User-Agent: tend/<version>;
	// empty means "dev".
	Version string
	// Outbound, when set, refuses a webhook URL the policy denies when
	// the action is prepared, with the rule in the error; Client's
	// transport enforces it again at every connection.
	Outbound *outbound.Policy
}

// caller makes one kind of outbound call with the shared rules.
type caller struct {
	client    *http.Client
	timeout   time.Duration
	userAgent string
}

func newCaller(opts Options) caller {
	c := http.Client{}
	if opts.Client != nil {
		c = *opts.Client
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	v := opts.Version
	if v == "" {
		v = "dev"
	}
	t := opts.Timeout
	if t <= 0 {
		t = DefaultTimeout
	}
	return caller{client: &c, timeout: t, userAgent: "tend/" + v}
}

// call is one outbound request.
type call struct {
	// op prefixes errors, e.g. "webhook".
	op      string
	method  string
	url     *url.URL
	where   string // the URL as errors show it
	headers http.Header
	body    []byte
	key     string
	timeout time.Duration
	redact  *redactor
}

// answer is a 2xx answer.
type answer struct {
	status string
	text   string // sanitized, redacted, truncated
}

// do makes the call with its own timeout. A 2xx is an answer; 408, 429,
// 5xx, transport errors and timeouts are retryable errors; any other status
// (3xx, 4xx) is final, wrapping action.ErrInvalid. No error contains a
// secret or the URL's query.
func (c caller) do(ctx context.Context, k call) (answer, error) {
	timeout := k.timeout
	if timeout <= 0 {
		timeout = c.timeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var body io.Reader = http.NoBody
	if len(k.body) > 0 {
		body = bytes.NewReader(k.body)
	}
	req, err := http.NewRequestWithContext(ctx, k.method, k.url.String(), body)
	if err != nil {
		return answer{}, invalidf("%s: %s %s: %s", k.op, k.method, k.where, k.redact.apply(transportError(err, timeout)))
	}
	for name, vs := range k.headers {
		req.Header[name] = vs
	}
	if len(k.body) > 0 && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", contentType(k.body))
	}
	if k.key != "" {
		req.Header.Set("Idempotency-Key", k.key)
	}
	req.Header.Set("User-Agent", c.userAgent)
	resp, err := c.client.Do(req)
	if errors.Is(err, outbound.ErrDenied) {
		return answer{}, invalidf("%s: %s %s: %s", k.op, k.method, k.where, k.redact.apply(transportError(err, timeout)))
	}
	if err != nil {
		return answer{}, fmt.Errorf("%s: %s %s: %s", k.op, k.method, k.where, k.redact.apply(transportError(err, timeout)))
	}
	defer resp.Body.Close()
	// Read a little more than is kept, so a secret that straddles the cut
	// is still redacted whole.
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4*MaxAnswer))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	text := sanitize(k.redact.apply(string(raw)), MaxAnswer)
	if text == "" {
		text = "(empty answer)"
	}
	status := resp.Status
	if status == "" {
		status = fmt.Sprint(resp.StatusCode)
	}
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		return answer{status: status, text: text}, nil
	case Retryable(code):
		return answer{}, fmt.Errorf("%s: %s %s answered %s: %s", k.op, k.method, k.where, status, text)
	case code >= 300 && code < 400:
		return answer{}, invalidf("%s: %s %s answered %s, a redirect; tend does not follow redirects (they could carry secret headers to another host), so configure the final URL", k.op, k.method, k.where, status)
	}
	return answer{}, invalidf("%s: %s %s answered %s: %s", k.op, k.method, k.where, status, text)
}

// Retryable says whether an HTTP status may succeed when the same call is
// made again: 408 Request Timeout, 429 Too Many Requests and every 5xx.
// Other non-2xx statuses mean the request itself is wrong.
func Retryable(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || (code >= 500 && code < 600)
}

func contentType(body []byte) string {
	t := bytes.TrimSpace(body)
	if len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		return "application/json"
	}
	return "text/plain; charset=utf-8"
}

// transportError shortens a client error to its cause: *url.Error repeats
// the method and the whole URL, query included.
func transportError(err error, timeout time.Duration) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("no answer within %v (the call's timeout)", timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return fmt.Sprintf("no answer within %v (the call's timeout)", timeout)
		}
		return ue.Err.Error()
	}
	return err.Error()
}

// redactor replaces secrets, and the URL parts that may hold them, in text
// bound for errors, results and logs.
type redactor struct {
	r *strings.Replacer
}

// newRedactor redacts each non-empty secret (longest first, so a secret
// containing another is replaced whole) and the given URL forms.
func newRedactor(secrets []string, urlForms map[string]string) *redactor {
	type pair struct{ old, new string }
	var pairs []pair
	for _, s := range secrets {
		if s != "" {
			pairs = append(pairs, pair{s, "<redacted>"})
		}
	}
	for old, repl := range urlForms {
		if old != "" {
			pairs = append(pairs, pair{old, repl})
		}
	}
	if len(pairs) == 0 {
		return &redactor{}
	}
	sort.SliceStable(pairs, func(i, j int) bool { return len(pairs[i].old) > len(pairs[j].old) })
	args := make([]string, 0, 2*len(pairs))
	for _, p := range pairs {
		args = append(args, p.old, p.new)
	}
	return &redactor{r: strings.NewReplacer(args...)}
}

func (r *redactor) apply(s string) string {
	if r == nil || r.r == nil {
		return s
	}
	return r.r.Replace(s)
}

// urlForms lists the ways u may show up in text (whole, query, both raw
// and unescaped) and what each is replaced with. When hidePath is set (an
// escalation URL, whose path often is the secret), the path goes too.
func urlForms(u *url.URL, shown string, hidePath bool) map[string]string {
	forms := map[string]string{u.String(): shown}
	if u.RawQuery != "" {
		forms[u.RawQuery] = "<redacted>"
		if q, err := url.QueryUnescape(u.RawQuery); err == nil {
			forms[q] = "<redacted>"
		}
	}
	if hidePath && u.Path != "" && u.Path != "/" {
		forms[u.EscapedPath()] = "/<redacted>"
		forms[u.Path] = "/<redacted>"
	}
	return forms
}

// sanitize makes a receiver's answer fit a one-line message: valid UTF-8,
// control and formatting characters as spaces, runs of white space as one,
// at most limit bytes (cut on a rune boundary, marked).
func sanitize(s string, limit int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Zl, r) || unicode.Is(unicode.Zp, r) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + " …(truncated)"
}

// invalidError is a final error: its message is the whole story, and it
// matches action.ErrInvalid without repeating that error's text.
type invalidError struct{ msg string }

func (e *invalidError) Error() string { return e.msg }
func (e *invalidError) Unwrap() error { return action.ErrInvalid }

func invalidf(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}
