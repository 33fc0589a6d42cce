package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/auth"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/jsonpos"
	"github.com/tendhq/tend/internal/resource"
	"github.com/tendhq/tend/internal/store"
)

// unauthorizedMessage is the one answer to a missing or unknown credential.
// It says how to send one and nothing about why the given one failed.
const unauthorizedMessage = "missing or invalid API token: send it as x-token or Authorization: Bearer"

// httpError is an error with the status and the message the client sees.
type httpError struct {
	status int
	msg    string
	// err is the cause, for logs; it is never shown to the client.
	err error
}

func (e *httpError) Error() string { return e.msg }
func (e *httpError) Unwrap() error { return e.err }

// errorf makes an httpError with a formatted client message.
func errorf(status int, format string, args ...any) *httpError {
	return &httpError{status: status, msg: fmt.Sprintf(format, args...)}
}

// classify maps an error to the status and message the client sees. Errors
// it does not recognise are 500s whose details stay in the server's log:
// they may name database internals.
func classify(err error) (int, string) {
	var he *httpError
	var mbe *http.MaxBytesError
	var fe *auth.ForbiddenError
	switch {
	case errors.As(err, &he):
		return he.status, he.msg
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than the server's limit of %d bytes", mbe.Limit)
	case errors.As(err, &fe):
		return http.StatusForbidden, fe.Error()
	case errors.Is(err, auth.ErrForbidden):
		return http.StatusForbidden, err.Error()
	case errors.Is(err, auth.ErrUnauthenticated):
		return http.StatusUnauthorized, unauthorizedMessage
	case errors.Is(err, event.ErrInvalid):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, store.ErrNotFound),
		errors.Is(err, resource.ErrProjectNotFound),
		errors.Is(err, resource.ErrStageNotFound),
		errors.Is(err, resource.ErrResourceNotFound),
		errors.Is(err, resource.ErrVersionNotFound):
		return http.StatusNotFound, err.Error()
	case errors.Is(err, store.ErrExists), errors.Is(err, resource.ErrProjectExists):
		return http.StatusConflict, err.Error()
	case errors.Is(err, store.ErrInvalid),
		errors.Is(err, resource.ErrInvalidURI),
		errors.Is(err, resource.ErrInvalidName):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, resource.ErrUpstreamNotEmpty):
		return http.StatusConflict, err.Error()
	case errors.Is(err, resource.ErrUpstreamUnreachable):
		return http.StatusBadGateway, err.Error()
	case errors.Is(err, store.ErrClosed):
		return http.StatusServiceUnavailable, "the server is shutting down; try again"
	case errors.Is(err, store.ErrUnavailable):
		return http.StatusServiceUnavailable, "the database is unavailable; try again"
	}
	return http.StatusInternalServerError, "internal server error; the server log has the details"
}

// writeError answers with the one JSON error format. Server-side failures
// are logged with their cause; client mistakes are not, the access log has
// them.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := classify(err)
	if status >= 500 {
		s.log.ErrorContext(r.Context(), "request_failed", "method", r.Method, "route", routeLabel(r), "status", status, "err", err)
	}
	writeErrorStatus(w, status, msg)
}

// writeErrorStatus writes apitypes.Error with status.
func writeErrorStatus(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, apitypes.Error{Code: status, Message: msg})
}

// writeJSON writes v as the answer. Encoding errors cannot happen for the
// API's own types; a failed write means the client went away.
func writeJSON(w http.ResponseWriter, status int, v any) {
	// Messages quote spec criteria such as "<=+10%"; HTML escaping would
	// make them unreadable, and the answer is never HTML.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		_ = enc.Encode(apitypes.Error{Code: status, Message: "internal server error: the answer could not be encoded"})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// readBody reads the whole (size-limited) request body.
func readBody(r *http.Request) ([]byte, error) {
	b, err := readAllSized(r.Body, r.ContentLength)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, errorf(http.StatusBadRequest, "read request body: %v", err)
	}
	return b, nil
}

// maxPresize bounds the buffer readAllSized makes from the announced
// length: Content-Length is the sender's word, so a larger body grows the
// buffer as it arrives instead.
const maxPresize = 256 << 10

// readAllSized is io.ReadAll into a buffer of the announced size (n, -1
// when unknown), so that a body of a few kilobytes is not copied over and
// over as the buffer grows from io.ReadAll's 512 bytes.
func readAllSized(body io.Reader, n int64) ([]byte, error) {
	size := int64(512)
	if n > 0 {
		size = min(n+1, maxPresize) // +1: room for the read that sees EOF
	}
	b := make([]byte, 0, size)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		m, err := body.Read(b[len(b):cap(b)])
		b = b[:len(b)+m]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// decodeJSON reads the request body into v. Unknown fields are refused, so
// a misspelt field is reported instead of silently ignored; errors name the
// line and column (and byte offset) of the problem.
func decodeJSON(r *http.Request, v any) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	return unmarshalStrict(b, v)
}

// readDecoded reads the request body and decodes it with decode, for
// bodies with a decoder of their own (Keptn's shapes, the uniform's).
func readDecoded[T any](r *http.Request, decode func([]byte) (T, error)) (T, error) {
	b, err := readBody(r)
	if err != nil {
		var zero T
		return zero, err
	}
	return decode(b)
}

// unmarshalStrict decodes exactly one JSON value from b into v.
func unmarshalStrict(b []byte, v any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return errorf(http.StatusBadRequest, "request body is empty: send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(b, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		off := int(dec.InputOffset())
		line, col := jsonpos.LineCol(b, int64(off))
		return errorf(http.StatusBadRequest, "invalid JSON at line %d, column %d (byte %d): unexpected data after the JSON object", line, col, off)
	}
	return nil
}

// jsonError turns an encoding/json error into a 400 that says where.
func jsonError(b []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		// Offset counts the bytes read, the bad one included.
		off := max(se.Offset-1, 0)
		line, col := jsonpos.LineCol(b, off)
		return errorf(http.StatusBadRequest, "invalid JSON at line %d, column %d (byte %d): %s", line, col, off, se.Error())
	case errors.As(err, &te):
		line, col := jsonpos.LineCol(b, te.Offset)
		field := te.Field
		if field == "" {
			field = "the body"
		}
		return errorf(http.StatusBadRequest, "invalid JSON at line %d, column %d (byte %d): %s must be %s, not a JSON %s", line, col, te.Offset, field, jsonKind(te.Type.Kind().String()), te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		line, col := jsonpos.LineCol(b, int64(len(b)))
		return errorf(http.StatusBadRequest, "invalid JSON at line %d, column %d (byte %d): the body ends before the JSON value does", line, col, len(b))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return errorf(http.StatusBadRequest, "invalid request: %s; check its spelling against the API documentation", strings.TrimPrefix(err.Error(), "json: "))
	}
	return errorf(http.StatusBadRequest, "invalid JSON: %v", err)
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "a list"
	case "bool":
		return "true or false"
	}
	return "a number"
}
