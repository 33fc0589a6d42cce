package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on what an error answer may put into an error message: a proxy's
// HTML page or a runaway server must not flood the user's terminal.
const (
	maxErrorBody    = 1 << 20 // bytes of an error answer that are read
	maxErrorMessage = 4 << 10 // bytes of a message that are kept
	maxErrorSnippet = 200     // bytes of a non-JSON body that are quoted
)

// APIError is an answer of the tend server outside 2xx. Callers branch on
// Status (IsNotFound and friends); Message is the server's explanation, fit
// for showing to a user.
type APIError struct {
	// Status is the HTTP status of the answer.
	Status int
	// Code is the "code" field of the JSON error body; 0 when the body had
	// none (a proxy's answer, for example).
	Code int
	// Message is the server's "message", or the status text when the body
	// was not tend's JSON error format. It is truncated when huge.
	Message string
}

// Error says what the server answered, status first so a user sees at once
// whether the request or the server was at fault.
func (e *APIError) Error() string {
	status := fmt.Sprintf("%d %s", e.Status, http.StatusText(e.Status))
	if e.Message == "" || e.Message == http.StatusText(e.Status) {
		return "server answered " + strings.TrimSpace(status)
	}
	return "server answered " + strings.TrimSpace(status) + ": " + e.Message
}

// UnreachableError reports that no answer came from the server: the
// connection was refused or broke, a name did not resolve, or the per-call
// timeout ran out. The CLI exits with status 3 on it.
type UnreachableError struct {
	// Endpoint is the server's base URL, as given to New.
	Endpoint string
	// Err is the underlying network error.
	Err error
	// Timeout is set when the per-call timeout ran out.
	Timeout time.Duration
}

// Error names the endpoint, so a user with a wrong `tend auth` sees which
// address was tried.
func (e *UnreachableError) Error() string {
	if e.Timeout > 0 {
		return fmt.Sprintf("the tend server at %s did not answer within %s", e.Endpoint, e.Timeout)
	}
	inner := e.Err
	// *url.Error repeats method and URL; the caller's prefix already says
	// what was attempted.
	if ue, ok := inner.(*url.Error); ok {
		inner = ue.Err
	}
	return fmt.Sprintf("cannot reach the tend server at %s: %v", e.Endpoint, inner)
}

// Unwrap exposes the network error to errors.Is and errors.As.
func (e *UnreachableError) Unwrap() error { return e.Err }

// badAnswerError reports a 2xx answer the client cannot use: not JSON, or
// too large. It counts as a server failure.
type badAnswerError struct {
	what string
	err  error
}

func (e *badAnswerError) Error() string {
	if e.err == nil {
		return "unusable answer from the server: " + e.what
	}
	return fmt.Sprintf("unusable answer from the server: %s: %v", e.what, e.err)
}

func (e *badAnswerError) Unwrap() error { return e.err }

// IsNotFound reports whether err is a 404 answer: an unknown project,
// service, resource or token.
func IsNotFound(err error) bool { return hasStatus(err, http.StatusNotFound) }

// IsUnauthorized reports whether err is a 401 answer: no token, or one the
// server does not know.
func IsUnauthorized(err error) bool { return hasStatus(err, http.StatusUnauthorized) }

// IsForbidden reports whether err is a 403 answer: the token's scope or
// project does not allow the call.
func IsForbidden(err error) bool { return hasStatus(err, http.StatusForbidden) }

// IsConflict reports whether err is a 409 answer: the thing to create
// exists already.
func IsConflict(err error) bool { return hasStatus(err, http.StatusConflict) }

// IsServerFailure reports whether err means the server failed or could not
// be reached (the CLI's exit status 3): a network failure, a timeout, a 5xx
// answer, or a success answer the client could not read. A request the
// caller cancelled is not a server failure.
func IsServerFailure(err error) bool {
	if err == nil {
		return false
	}
	if _, ok := errors.AsType[*UnreachableError](err); ok {
		return true
	}
	if _, ok := errors.AsType[*badAnswerError](err); ok {
		return true
	}
	if ae, ok := errors.AsType[*APIError](err); ok {
		return ae.Status >= 500
	}
	return false
}

func hasStatus(err error, status int) bool {
	ae, ok := errors.AsType[*APIError](err)
	return ok && ae.Status == status
}

// decodeAPIError turns an error answer into an *APIError. The body is
// tend's {"code","message"} when the server wrote it, and anything at all
// when a proxy or a crashed handler did. secret is removed from the
// message, so a server that echoes a token never puts it on a terminal.
func decodeAPIError(status int, body []byte, secret string) *APIError {
	e := &APIError{Status: status}
	var wire struct {
		Code    *int    `json:"code"`
		Message *string `json:"message"`
	}
	if err := json.Unmarshal(body, &wire); err == nil && (wire.Code != nil || wire.Message != nil) {
		if wire.Code != nil {
			e.Code = *wire.Code
		}
		if wire.Message != nil {
			e.Message = cleanMessage(*wire.Message, maxErrorMessage, secret)
		}
	} else if snippet := textSnippet(body, secret); snippet != "" {
		e.Message = statusText(status) + ": " + snippet
	}
	if e.Message == "" {
		e.Message = statusText(status)
	}
	return e
}

func statusText(status int) string {
	if t := http.StatusText(status); t != "" {
		return t
	}
	return fmt.Sprintf("HTTP status %d", status)
}

// textSnippet quotes the first line of a short plain-text body (Go's
// http.Error, a proxy's "Bad Gateway" line); HTML pages are noise and are
// left out.
func textSnippet(body []byte, secret string) string {
	s := strings.TrimSpace(string(body))
	if s == "" || strings.HasPrefix(s, "<") {
		return ""
	}
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	return cleanMessage(s, maxErrorSnippet, secret)
}

// cleanMessage makes server text safe to print: the secret is redacted,
// control characters other than newline and tab are dropped (no terminal
// escapes), invalid UTF-8 is replaced, and the text is cut at max bytes on
// a rune boundary.
func cleanMessage(s string, max int, secret string) string {
	s = strings.Map(func(r rune) rune {
		if r != '\n' && r != '\t' && unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	if secret != "" {
		s = strings.ReplaceAll(s, secret, "[redacted]")
	}
	s = strings.TrimSpace(s)
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.TrimSpace(s[:cut]) + " …(truncated)"
}

// networkError classifies a failed round trip. A cancelled or expired
// caller context is the caller's business and is returned as is; anything
// else means the server could not be reached.
func (c *Client) networkError(parent context.Context, err error, timeout time.Duration) error {
	if parent.Err() != nil {
		return err
	}
	ue := &UnreachableError{Endpoint: c.endpointText, Err: err}
	if timeout > 0 && errors.Is(err, context.DeadlineExceeded) {
		ue.Timeout = timeout
	}
	return ue
}
