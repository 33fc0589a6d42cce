// Package ui is tend's web UI: server-rendered html/template pages with a
// little htmx, for the places a person looks during an incident and a
// release. It owns the login with an API token and the browser session that
// follows, the project board, a service's evaluation heatmap and charts
// (SVG rendered on the server), the remediation timeline with its live
// updates, shipyard sequences with their stages, tasks, approvals and
// controls, live as well, the event browser of a keptn context and a service's resources
// with their Git history, and the Keptn integrations connected to the
// server.
//
// Every asset is embedded (go:embed); there is no JavaScript build step. The
// only third-party file is htmx's minified release (static/README.md), and
// pages read fine without JavaScript: htmx and the small live-update script
// only spare full page loads.
//
// The package wires nothing. It declares the small interfaces it needs
// (Store, Resources, Invalidator, Sequencer) and the composition root (internal/app)
// mounts it beside the API on one http.ServeMux.
package ui

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/tendhq/tend/internal/resource"
	"github.com/tendhq/tend/internal/spec"
	"github.com/tendhq/tend/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Defaults of Options.
const (
	// DefaultIdleTimeout ends a session nobody used for this long.
	DefaultIdleTimeout = 12 * time.Hour
	// DefaultMaxLifetime ends any session this long after its login.
	DefaultMaxLifetime = 7 * 24 * time.Hour
	// DefaultKeepAlive is how often a quiet live-update stream sends a
	// comment, so that proxies do not close it as idle.
	DefaultKeepAlive = 15 * time.Second
	// maxFormBytes bounds the body of every form the UI accepts.
	maxFormBytes = 64 << 10
	// historyLen is how many evaluations a service page shows.
	historyLen = 50
)

// Store is what the UI reads, and where it keeps sessions (Settings).
// store.Store satisfies it.
type Store interface {
	store.Projects
	store.Services
	store.Tokens
	store.Events
	store.Settings
	store.Problems
	store.Remediations
	store.Integrations
	store.Sequences
	store.Deployments
}

// Resources reads the Git-backed resources; *resource.Repos satisfies it.
type Resources interface {
	Get(ctx context.Context, ref resource.Ref, uri, version string) ([]byte, string, error)
	List(ctx context.Context, ref resource.Ref) ([]resource.Resource, error)
	History(ctx context.Context, ref resource.Ref, uri string) ([]resource.Commit, error)
}

// Invalidator withdraws the finished evaluations of a keptn context from
// later comparisons, emitting sh.keptn.event.evaluation.invalidated. The
// API server implements it, so the UI's button and the API's route run the
// same code. It returns an error matching store.ErrNotFound when the
// context holds no finished evaluation of that service.
type Invalidator interface {
	InvalidateEvaluation(ctx context.Context, project, stage, service, keptnContext string) error
}

// Options configure the UI. Store, Resources, Invalidator and Sequencer
// are required.
type Options struct {
	Store       Store
	Resources   Resources
	Invalidator Invalidator
	Sequencer   Sequencer
	// Logger receives login and error logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// SecureCookies marks cookies Secure even on plain-HTTP requests, for a
	// server behind a TLS-terminating proxy (the app sets it when the
	// configured UI URL is https). Requests that arrive over TLS always
	// get Secure cookies.
	SecureCookies bool
	// IdleTimeout and MaxLifetime end sessions; 0 means the defaults.
	IdleTimeout time.Duration
	MaxLifetime time.Duration
	// KeepAlive is the live stream's keep-alive interval; 0 means
	// DefaultKeepAlive.
	KeepAlive time.Duration
	// Specs decodes the stored shipyards, shared with the server's other
	// readers, so that one version is decoded once; nil decodes on every
	// read.
	Specs *spec.Cache
	// Budgets reads the budget SLOs the service page shows; nil hides them.
	Budgets BudgetSource
}

// UI is the web UI's handler. Create it with New, mount it with Mount and
// call Close when the HTTP server shuts down, so that live streams end.
type UI struct {
	store     Store
	res       Resources
	inv       Invalidator
	seq       Sequencer
	log       *slog.Logger
	now       func() time.Time
	secure    bool
	idle      time.Duration
	lifetime  time.Duration
	keepAlive time.Duration
	specs     *spec.Cache
	budgets   BudgetSource

	pages map[string]*template.Template
	mux   *http.ServeMux

	closeOnce sync.Once
	closing   chan struct{}
}

// New checks opts, parses the templates and builds the UI's routes.
func New(opts Options) (*UI, error) {
	if opts.Store == nil || opts.Resources == nil || opts.Invalidator == nil || opts.Sequencer == nil {
		return nil, errors.New("ui: Options.Store, Options.Resources, Options.Invalidator and Options.Sequencer are required")
	}
	u := &UI{
		store: opts.Store, res: opts.Resources, inv: opts.Invalidator, seq: opts.Sequencer,
		log: opts.Logger, now: opts.Now, secure: opts.SecureCookies,
		idle: opts.IdleTimeout, lifetime: opts.MaxLifetime, keepAlive: opts.KeepAlive,
		specs:   opts.Specs,
		budgets: opts.Budgets,
		closing: make(chan struct{}),
	}
	if u.log == nil {
		u.log = slog.New(slog.DiscardHandler)
	}
	if u.now == nil {
		u.now = time.Now
	}
	if u.idle <= 0 {
		u.idle = DefaultIdleTimeout
	}
	if u.lifetime <= 0 {
		u.lifetime = DefaultMaxLifetime
	}
	if u.keepAlive <= 0 {
		u.keepAlive = DefaultKeepAlive
	}
	pages, err := parsePages()
	if err != nil {
		return nil, fmt.Errorf("ui: %w", err)
	}
	u.pages = pages
	u.mux = u.routes()
	return u, nil
}

// Paths are the URL patterns the UI serves; the composition root sends
// them to the UI and everything else to the API. None starts with /api/,
// /v1/, /healthz, /readyz or /metrics.
var Paths = []string{"/{$}", "/login", "/logout", "/static/", "/projects/", "/contexts/", "/remediations/", "/integrations", "/sequences", "/bridge", "/bridge/"}

// Mount registers the UI's paths on mux.
func (u *UI) Mount(mux *http.ServeMux) {
	for _, p := range Paths {
		mux.Handle(p, u)
	}
}

// ServeHTTP serves every page of the UI with its security headers.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Scripts and styles come only from /static; nothing inline runs, so
	// an injected tag could not either.
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	u.mux.ServeHTTP(w, r)
}

// Close ends the open live streams. http.Server.Shutdown waits for active
// requests and a stream never ends by itself, so the composition root calls
// Close through RegisterOnShutdown.
func (u *UI) Close() {
	u.closeOnce.Do(func() { close(u.closing) })
}

// routes builds the UI's mux. Every page but the login page and the static
// assets needs a session (see withSession).
func (u *UI) routes() *http.ServeMux {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	fileServer := http.StripPrefix("/static/", http.FileServer(http.FS(static)))
	mux.Handle("GET /static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fileServer.ServeHTTP(w, r)
	}))
	mux.HandleFunc("GET /login", u.loginPage)
	mux.HandleFunc("POST /login", u.login)
	mux.Handle("POST /logout", u.withSession(u.logout))

	mux.Handle("GET /{$}", u.withSession(u.projectsPage))
	mux.Handle("GET /projects/{project}", u.withSession(u.boardPage))
	svc := "/projects/{project}/stages/{stage}/services/{service}"
	mux.Handle("GET "+svc, u.withSession(u.servicePage))
	mux.Handle("POST "+svc+"/evaluations/{keptnContext}/invalidate", u.withSession(u.invalidate))
	mux.Handle("GET "+svc+"/resources", u.withSession(u.resourcesPage))
	mux.Handle("GET /contexts/{keptnContext}", u.withSession(u.eventsPage))
	mux.Handle("GET /contexts/{keptnContext}/remediation", u.withSession(u.timelinePage))
	mux.Handle("GET /contexts/{keptnContext}/remediation/timeline", u.withSession(u.timelineFragment))
	mux.Handle("GET /contexts/{keptnContext}/stream", u.withSession(u.stream))
	mux.Handle("GET /remediations/{id}", u.withSession(u.remediationRedirect))
	mux.Handle("GET /integrations", u.withSession(u.integrationsPage))
	mux.Handle("GET /sequences", u.withSession(u.sequencesPage))
	seqs := "/projects/{project}/sequences"
	mux.Handle("GET "+seqs, u.withSession(u.sequencesPage))
	mux.Handle("GET "+seqs+"/{keptnContext}", u.withSession(u.sequencePage))
	mux.Handle("GET "+seqs+"/{keptnContext}/body", u.withSession(u.sequenceFragment))
	mux.Handle("POST "+seqs+"/{keptnContext}/approvals/{triggeredID}", u.withSession(u.answerApproval))
	mux.Handle("POST "+seqs+"/{keptnContext}/control", u.withSession(u.controlSequence))
	mux.HandleFunc("GET /bridge", bridgeRedirect)
	mux.HandleFunc("GET /bridge/", bridgeRedirect)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		u.renderError(w, r, http.StatusNotFound, "There is no page at "+r.URL.Path+".")
	})
	return mux
}

// pageFiles are the page templates; each is parsed with the layout and the
// shared partials.
var pageFiles = []string{"login", "projects", "board", "service", "resources", "events", "timeline", "integrations", "sequences", "sequence", "error"}

func parsePages() (map[string]*template.Template, error) {
	out := make(map[string]*template.Template, len(pageFiles))
	for _, name := range pageFiles {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS,
			"templates/layout.html", "templates/partials.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// render writes a whole page: the layout around the page's content. It
// renders into a buffer first, so a template error becomes a clean 500
// rather than half a page.
func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, page string, data any) {
	u.execute(w, r, status, page, "layout", data)
}

// renderFragment writes one named template of a page, for htmx swaps and
// the live timeline.
func (u *UI) renderFragment(w http.ResponseWriter, r *http.Request, page, name string, data any) {
	u.execute(w, r, http.StatusOK, page, name, data)
}

func (u *UI) execute(w http.ResponseWriter, r *http.Request, status int, page, name string, data any) {
	var buf bytes.Buffer
	if err := u.pages[page].ExecuteTemplate(&buf, name, data); err != nil {
		u.log.ErrorContext(r.Context(), "ui_render_failed", "page", page, "template", name, "err", err)
		http.Error(w, "the page could not be rendered; the server log has the details", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// Pages show project data: no shared cache may keep them.
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// errorPage is the data of the error page.
type errorPage struct {
	pageBase
	Status  int
	Message string
}

// renderError shows a message on a page of its own. The message must not
// hold secrets; internal errors are logged and replaced by a general text.
func (u *UI) renderError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s, _ := sessionFrom(r.Context())
	u.render(w, r, status, "error", errorPage{pageBase: base(s, http.StatusText(status)), Status: status, Message: msg})
}

// internalError logs err and shows a general message.
func (u *UI) internalError(w http.ResponseWriter, r *http.Request, err error) {
	u.log.ErrorContext(r.Context(), "ui_request_failed", "path", r.URL.Path, "err", err)
	u.renderError(w, r, http.StatusInternalServerError, "Something went wrong on the server; its log has the details.")
}

// bridgeRedirect takes the links the keptn CLI prints (<endpoint>/bridge,
// .../bridge/project/P/..., .../bridge/project/P/sequence/CTX/...) to the
// matching page of tend's UI.
func bridgeRedirect(w http.ResponseWriter, r *http.Request) {
	to := "/"
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/bridge"), "/"), "/")
	if len(parts) >= 2 && parts[0] == "project" && parts[1] != "" {
		to = "/projects/" + url.PathEscape(parts[1])
		for i := 2; i+1 < len(parts); i++ {
			if (parts[i] == "sequence" || parts[i] == "context") && parts[i+1] != "" {
				to = "/contexts/" + url.PathEscape(parts[i+1])
				break
			}
		}
	}
	http.Redirect(w, r, to, http.StatusFound)
}
