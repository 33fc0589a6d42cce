package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/auth"
	"github.com/tendhq/tend/internal/store"
)

// statusWriter records the status and size of an answer for the access log
// and metrics. Unwrap lets http.ResponseController reach the connection's
// Flush and deadlines, which the event stream needs.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Flush passes on to the connection, for writers that use the old
// http.Flusher interface.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// requestInfo is filled in by inner layers for the access log.
type requestInfo struct {
	tokenName string
}

type requestInfoKey struct{}

// recoverPanics turns a handler's panic into a logged 500 in the JSON error
// format, when the answer has not started yet. http.ErrAbortHandler is
// passed on: it is how a handler asks net/http to drop the connection.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.ErrorContext(r.Context(), "handler_panic", "method", r.Method, "route", routeLabel(r),
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if sw, ok := w.(*statusWriter); ok && sw.status != 0 {
				// The answer has begun; all that is left is to cut it.
				panic(http.ErrAbortHandler)
			}
			writeErrorStatus(w, http.StatusInternalServerError, "internal server error; the server log has the details")
		}()
		next.ServeHTTP(w, r)
	})
}

// observe writes the access log line and the HTTP metrics of every request.
// It logs the route pattern, the status and the duration, never headers,
// query strings or credentials. It sits outside recoverPanics so that a
// recovered panic is counted as the 500 it answered.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.now()
		sw := &statusWriter{ResponseWriter: w}
		info := &requestInfo{}
		r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info))
		s.metrics.inFlight.Inc()
		defer func() {
			s.metrics.inFlight.Dec()
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			d := s.now().Sub(start)
			rl := routeLabel(r)
			s.metrics.requests.WithLabelValues(rl, r.Method, strconv.Itoa(status)).Inc()
			s.metrics.duration.WithLabelValues(rl, r.Method).Observe(d.Seconds())
			if !s.log.Enabled(r.Context(), slog.LevelInfo) {
				return // at level warn the line is not written: skip building it
			}
			attrs := []any{"method", r.Method, "route", rl, "path", r.URL.Path, "status", status,
				"duration_ms", float64(d.Microseconds()) / 1000, "bytes", sw.bytes}
			if info.tokenName != "" {
				attrs = append(attrs, "token_name", info.tokenName)
			}
			s.log.InfoContext(r.Context(), "http_request", attrs...)
		}()
		s.recoverPanics(next).ServeHTTP(sw, r)
	})
}

// routeLabel is the metric and log label of a request: its mux pattern,
// which keeps the label set small whatever paths clients send.
func routeLabel(r *http.Request) string {
	if r.Pattern == "" {
		return "unmatched"
	}
	return r.Pattern
}

// limitBody caps the request body. Reading past the limit fails with
// *http.MaxBytesError, which the handlers answer with 413. The limit is
// applied lazily, after authentication, so an unauthenticated client gets
// 401 whatever it sends.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, s.maxBody)
		}
		next.ServeHTTP(w, r)
	})
}

// route dispatches to the mux, rewriting the mux's own plain-text 404 and
// 405 answers into the JSON error format.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	r = cleanKeptnPath(r)
	h, pattern := s.mux.Handler(r)
	if pattern != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	cw := &captureWriter{header: http.Header{}}
	h.ServeHTTP(cw, r)
	switch {
	case cw.status == http.StatusMethodNotAllowed:
		allow := cw.header.Get("Allow")
		w.Header().Set("Allow", allow)
		writeErrorStatus(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, allow))
	case cw.status >= 300 && cw.status < 400:
		w.Header().Set("Location", cw.header.Get("Location"))
		w.WriteHeader(cw.status)
	default:
		writeErrorStatus(w, http.StatusNotFound, fmt.Sprintf("no route %s %s: the API's routes are listed in /api/v1/openapi.json", r.Method, r.URL.Path))
	}
}

// captureWriter keeps the mux's status and headers and drops its body.
type captureWriter struct {
	header http.Header
	status int
}

func (c *captureWriter) Header() http.Header { return c.header }
func (c *captureWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
}
func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return len(b), nil
}

// authenticate wraps a route's handler with its access rule.
func (s *Server) authenticate(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt.access == accessPublic {
			rt.handler(w, r)
			return
		}
		p, err := s.principal(r)
		if err != nil {
			if errors.Is(err, auth.ErrUnauthenticated) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="tend"`)
			}
			s.writeError(w, r, err)
			return
		}
		if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
			info.tokenName = p.TokenName
		}
		if rt.access == accessAction {
			if err := p.Can(rt.action, r.PathValue("project")); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		rt.handler(w, r.WithContext(auth.NewContext(r.Context(), p)))
	})
}

// principal finds the token a request presents. Every lookup goes to the
// store, with no cache, so a revoked token stops working at once on every
// replica. The store finds the token by the SHA-256 of the secret; the
// stored hash is then compared in constant time.
func (s *Server) principal(r *http.Request) (auth.Principal, error) {
	tok, ok := auth.FromHeader(r.Header)
	if !ok {
		return auth.Principal{}, auth.ErrUnauthenticated
	}
	t, err := s.store.TokenByHash(r.Context(), auth.Sum(tok))
	if errors.Is(err, store.ErrNotFound) {
		return auth.Principal{}, auth.ErrUnauthenticated
	}
	if err != nil {
		return auth.Principal{}, fmt.Errorf("look up API token: %w", err)
	}
	if !auth.VerifySum(t.Hash, tok) {
		return auth.Principal{}, auth.ErrUnauthenticated
	}
	if t.Scope == string(apitypes.ScopeIntake) {
		// An intake token only delivers problems for its project
		// (auth.KindIntake); it has no scope of the API kind.
		return auth.Principal{TokenName: t.Name, Project: t.Project, Kind: auth.KindIntake}, nil
	}
	return auth.Principal{TokenName: t.Name, Scope: auth.Scope(t.Scope), Project: t.Project, Kind: auth.KindAPI}, nil
}

// principalOf returns the principal authenticate stored; handlers behind
// authenticate always have one.
func principalOf(r *http.Request) auth.Principal {
	p, _ := auth.FromContext(r.Context())
	return p
}
