// Package api is tend's REST API v1: the net/http handlers of every route in
// the API contract (projects, services, Git-backed resources, the event log
// with its live stream, tokens, the OpenAPI document, health and metrics),
// with the middleware they share: authentication by API token, one JSON error
// format for every failure, body limits, panic recovery, access logs and
// Prometheus metrics.
//
// The package wires nothing itself. It declares the small interfaces it needs
// (Store, Resources, ProblemRecorder, ActionAnswers) and the composition root
// (internal/app) hands it the adapters and the self-healing runner's values,
// so the API imports no runner and no adapter.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tendhq/tend/internal/alertrules"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/outbound"
	"github.com/tendhq/tend/internal/resource"
	"github.com/tendhq/tend/internal/settings"
	"github.com/tendhq/tend/internal/spec"
	"github.com/tendhq/tend/internal/store"
)

// DefaultMaxBodyBytes limits request bodies when Options.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 1 << 20

// DefaultKeepAlive is how often a quiet event stream sends a comment, so that
// proxies and load balancers do not close it as idle.
const DefaultKeepAlive = 15 * time.Second

// Store is the durable state the API reads and writes. store.Store satisfies
// it. WithTx writes an accepted event together with the work it causes (an
// evaluation's first job): the outbox.
type Store interface {
	store.Projects
	store.Services
	store.Tokens
	store.Events
	store.Settings
	store.Problems
	store.Remediations
	store.Sequences
	store.Integrations
	store.Deployments
	WithTx(ctx context.Context, fn func(tx store.Tx) error) error
}

// Resources is the Git-backed resource store; *resource.Repos satisfies it.
// Errors wrap the resource package's sentinels and *resource.PushError.
type Resources interface {
	Create(ctx context.Context, project string, init resource.InitOptions) error
	Delete(ctx context.Context, project string) error
	PutMany(ctx context.Context, ref resource.Ref, files []resource.File, msg string) (string, error)
	Get(ctx context.Context, ref resource.Ref, uri, version string) ([]byte, string, error)
	List(ctx context.Context, ref resource.Ref) ([]resource.Resource, error)
	Remove(ctx context.Context, ref resource.Ref, uri string) (string, error)
	History(ctx context.Context, ref resource.Ref, uri string) ([]resource.Commit, error)
	EnsureStage(ctx context.Context, project, stage string) error
	EnsureService(ctx context.Context, project, service string) error
	DeleteService(ctx context.Context, project, service string) error
	// Push sends every branch of a project to a new upstream.
	Push(ctx context.Context, project string, up resource.Upstream) error
}

// ActionAnswers turns an external executor's answer (an action.finished
// that remediation.IsActionAnswer accepts) into the jobs that feed it into
// the remediation waiting for it, none when no running remediation waits
// for it. The API stores the answer and the jobs in one transaction. app
// hands in the self-healing runner's *remediator.Answers.
type ActionAnswers interface {
	AnswerJobs(ctx context.Context, ev *event.Event) ([]store.JobSpec, error)
}

// Options configure the API. Store, Resources, Problems, ActionAnswers and
// Cancel are required.
type Options struct {
	Store     Store
	Resources Resources
	// Problems records the problem notifications of the Alertmanager
	// webhook and of problem events.
	Problems ProblemRecorder
	// ActionAnswers routes external executors' answers to remediations.
	ActionAnswers ActionAnswers
	// Cancel ends a deleted project's running remediations.
	Cancel RemediationCanceller
	// Logger receives access logs and errors; nil discards them.
	Logger *slog.Logger
	// Registry receives the API's metrics and is served at /metrics; nil
	// means a registry of the API's own. It is never the global registry,
	// so two servers can run in one process.
	Registry *prometheus.Registry
	// MaxBodyBytes limits request bodies (413 beyond it); 0 means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// KeepAlive is the event stream's keep-alive interval; 0 means
	// DefaultKeepAlive.
	KeepAlive time.Duration
	// ReadyTimeout bounds the store check of /readyz; 0 means 2 seconds.
	ReadyTimeout time.Duration
	// Intake tunes the problem intake (Alertmanager webhook and problem
	// events); the zero value is right for production.
	Intake IntakeOptions
	// Specs decodes the stored shipyards and SLO files, shared with the
	// server's other readers, so that one version is decoded once; nil
	// decodes on every read. Shipyards and SLO files sent in are validated
	// by decoding them directly.
	Specs *spec.Cache
	// AlertQueries builds the PromQL of the generated alert rules, so a
	// rule runs the very query an evaluation runs. It is passed in because
	// the query builder belongs to the Prometheus adapter, which only app
	// and cli import (docs/ARCHITECTURE.md); app sets
	// prometheus.QueryBuilder{}. nil answers the alert-rules route with 501.
	AlertQueries alertrules.Querier
	// BudgetRules generates the rules of budget SLO files; app builds it
	// with the operator's Sloth plugin directories (budget.pluginDirs).
	// nil means alertrules.NewBudget(): Sloth's built-in plugins only.
	BudgetRules *alertrules.Budget
	// Budgets reads the budget SLOs of GET /api/v1/project/{p}/slos from
	// Prometheus; app passes the Prometheus adapter's. nil answers 501.
	Budgets BudgetReader
	// BudgetTimeout bounds the Prometheus reads of one listing of budget
	// SLOs (504 beyond it); 0 means DefaultBudgetTimeout.
	BudgetTimeout time.Duration
	// Settings are the kinds of setting the config routes serve (one PUT
	// and DELETE each) and mask. app builds it from the adapters' schemas,
	// which the API may not import. nil serves only the listing, masking
	// members by name.
	Settings *settings.Registry
	// Outbound is the policy that URLs stored in settings and projects'
	// Git upstreams must follow; nil means outbound.Default().
	Outbound *outbound.Policy
	// SettingGuard vets settings by who stores them; nil allows what the
	// schemas allow.
	SettingGuard SettingGuard
}

// Server is the API's http.Handler. Create it with New; call Close when the
// HTTP server shuts down so that open event streams end.
type Server struct {
	store     Store
	res       Resources
	log       *slog.Logger
	reg       *prometheus.Registry
	maxBody   int64
	now       func() time.Time
	keepAlive time.Duration
	readyWait time.Duration
	metrics   *metrics
	intake    *intakeGate
	answers   ActionAnswers
	cancel    RemediationCanceller
	// alertQueries is Options.AlertQueries.
	alertQueries alertrules.Querier
	// budgetRules generates the rules of budget SLO files (slo/*.yaml)
	// with Sloth's library (Options.BudgetRules).
	budgetRules *alertrules.Budget
	budgets     BudgetReader
	budgetWait  time.Duration
	settings    *settings.Registry
	specs       *spec.Cache
	outbound    *outbound.Policy
	guard       SettingGuard

	mux     *http.ServeMux
	handler http.Handler
	// patterns are the mux patterns registered, in order, for the test
	// that keeps the OpenAPI document complete.
	patterns []string

	closeOnce sync.Once
	closing   chan struct{}
}

// New builds the API. It registers its metrics on opts.Registry and fails
// when they are registered there already.
func New(opts Options) (*Server, error) {
	if opts.Store == nil || opts.Resources == nil || opts.Problems == nil || opts.ActionAnswers == nil || opts.Cancel == nil {
		return nil, errors.New("api: Options.Store, Options.Resources, Options.Problems, Options.ActionAnswers and Options.Cancel are required")
	}
	s := &Server{
		store:     opts.Store,
		res:       opts.Resources,
		log:       opts.Logger,
		reg:       opts.Registry,
		maxBody:   opts.MaxBodyBytes,
		now:       opts.Now,
		keepAlive: opts.KeepAlive,
		readyWait: opts.ReadyTimeout,
		mux:       http.NewServeMux(),
		closing:   make(chan struct{}),
		answers:   opts.ActionAnswers,
		cancel:    opts.Cancel,

		alertQueries: opts.AlertQueries,
		budgetRules:  opts.BudgetRules,
		budgets:      opts.Budgets,
		budgetWait:   opts.BudgetTimeout,
		settings:     opts.Settings,
		specs:        opts.Specs,
		outbound:     defaultOutbound(opts.Outbound),
		guard:        opts.SettingGuard,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.budgetRules == nil {
		s.budgetRules = alertrules.NewBudget()
	}
	if s.reg == nil {
		s.reg = prometheus.NewRegistry()
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.keepAlive <= 0 {
		s.keepAlive = DefaultKeepAlive
	}
	if s.readyWait <= 0 {
		s.readyWait = 2 * time.Second
	}
	if s.budgetWait <= 0 {
		s.budgetWait = DefaultBudgetTimeout
	}
	m, err := newMetrics(s.reg)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	s.metrics = m
	if s.intake, err = newIntakeGate(s, opts.Problems, opts.Intake); err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	if err := s.register(); err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	s.handler = s.observe(s.limitBody(http.HandlerFunc(s.route)))
	return s, nil
}

// ServeHTTP serves every route of the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// Close ends the open event streams and makes /readyz answer 503, so a load
// balancer stops sending new requests. http.Server.Shutdown waits for active
// requests, and a stream never ends by itself, so the composition root calls
// Close (through RegisterOnShutdown) when it shuts the server down.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
}

// Patterns returns the mux patterns the API registered, e.g.
// "GET /api/v1/project/{project}".
func (s *Server) Patterns() []string {
	return append([]string(nil), s.patterns...)
}

// register adds every route of the table to the mux. The mux panics on
// conflicting patterns; that is turned into an error here.
func (s *Server) register() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("register routes: %v", r)
		}
	}()
	for _, rt := range s.routes() {
		for _, p := range rt.patterns() {
			s.mux.Handle(p, s.authenticate(rt))
			s.patterns = append(s.patterns, p)
		}
	}
	return nil
}

// closed reports whether Close was called.
func (s *Server) closed() bool {
	select {
	case <-s.closing:
		return true
	default:
		return false
	}
}
