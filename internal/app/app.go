// Package app is tend's composition root: the only place that wires
// adapters. Options come in, New builds every component in one readable
// function (the store, the resource repositories, the API, the HTTP
// listener), registering a named cleanup after each step, and Close runs the
// cleanups in reverse. There is no signal handling and no global state, so a
// test can run two servers in one process; the serve command turns signals
// into context cancellation.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/tendhq/tend/internal/alertrules"
	"github.com/tendhq/tend/internal/api"
	"github.com/tendhq/tend/internal/config"
	"github.com/tendhq/tend/internal/evaluator"
	"github.com/tendhq/tend/internal/outbound"
	"github.com/tendhq/tend/internal/remediator"
	"github.com/tendhq/tend/internal/resource"
	"github.com/tendhq/tend/internal/resource/pgstorer"
	"github.com/tendhq/tend/internal/spec"
	"github.com/tendhq/tend/internal/store"
	"github.com/tendhq/tend/internal/store/postgres"
	"github.com/tendhq/tend/internal/store/sqlite"
	"github.com/tendhq/tend/internal/ui"
	"github.com/tendhq/tend/internal/worker"
)

// Defaults of Options.
const (
	DefaultListen       = "127.0.0.1:8080"
	DefaultDataDir      = "./tend-data"
	DefaultMaxBodyBytes = api.DefaultMaxBodyBytes
)

// specCacheSize bounds the decoded shipyards and SLO files the server
// keeps: one per project and one per service and stage, each a few
// kilobytes decoded, so a few megabytes at most.
const specCacheSize = 4096

// AdminTokenFile is the file in the data directory that receives the admin
// token on first start.
const AdminTokenFile = "admin-token"

// Options configure a server. The zero value runs the embedded default:
// SQLite and local Git repositories under ./tend-data, on 127.0.0.1:8080.
type Options struct {
	// Listen is the TCP address to serve on; port 0 picks a free port
	// (see App.Addr).
	Listen string
	// DataDir holds the SQLite database (tend.db), the project
	// repositories (projects/<project>.git) and the admin-token file. It is
	// created with mode 0700.
	DataDir string
	// Database is "" for SQLite at <DataDir>/tend.db, or a postgres:// URL
	// to keep state, events and the Git repositories in PostgreSQL, shared
	// by every replica.
	Database string
	// MaxBodyBytes limits request bodies; 0 means 1 MiB.
	MaxBodyBytes int64
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// Registry receives every metric; nil means a new registry. Never the
	// global one.
	Registry *prometheus.Registry
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// SLIQueryTimeout bounds each SLI query of an evaluation; 0 means 30
	// seconds.
	SLIQueryTimeout time.Duration
	// SLIProviders builds the SLI provider of a monitoring configuration;
	// nil means the real Prometheus and Dynatrace providers. Tests and the
	// overhead benchmark put a fake here.
	SLIProviders evaluator.ProviderFactory
	// WorkerConcurrency is how many jobs (evaluation steps) run at once;
	// 0 means the worker's default.
	WorkerConcurrency int
	// Intake tunes the problem intake (Alertmanager webhook, problem
	// events): alert label names and the overload limits. The zero value
	// is right for production.
	Intake api.IntakeOptions
	// Config is the server-wide configuration (tend.yaml and the TEND_*
	// variables) with its secrets resolved; nil means config.Default().
	// Its remediation defaults, escalation webhook, UI URL and kubeconfig
	// configure the remediation loop.
	Config *config.Config
	// Remediation replaces parts of the remediation loop; tests use it.
	// The zero value is right for production.
	Remediation RemediationOptions
	// Delivery replaces parts of the built-in delivery executors; tests
	// use it. The zero value is right for production.
	Delivery DeliveryOptions
}

// App is a running (or runnable) tend server.
type App struct {
	opts       Options
	log        *slog.Logger
	store      store.Store
	api        *api.Server
	ui         *ui.UI
	handler    http.Handler
	srv        *http.Server
	ln         net.Listener
	adminToken string
	runner     *worker.Runner
	// specs decodes the stored shipyards and SLO files for every component,
	// so that one version of a file is decoded once.
	specs *spec.Cache
	// outbound is the policy on user-named addresses and httpClient the
	// client that enforces it at every connection.
	outbound   *outbound.Policy
	httpClient *http.Client
	stopWorker context.CancelFunc
	workerDone chan struct{}

	mu       sync.Mutex
	cleanups []cleanup
	closed   bool
	serveErr chan error
}

// cleanup is one step of Close, named for its error message.
type cleanup struct {
	name string
	fn   func() error
}

// New builds every component of the server and binds the listener, but
// serves nothing until Start or Run. On failure everything built so far is
// closed again.
func New(ctx context.Context, opts Options) (_ *App, err error) {
	if opts.Listen == "" {
		opts.Listen = DefaultListen
	}
	if opts.DataDir == "" {
		opts.DataDir = DefaultDataDir
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Config == nil {
		c := config.Default()
		opts.Config = &c
	}
	opts.Intake = intakeLimits(intakeLabels(opts.Intake, opts.Config), opts.Config)
	a := &App{opts: opts, log: opts.Logger, specs: spec.NewCache(specCacheSize), serveErr: make(chan error, 1)}
	defer func() {
		if err != nil {
			_ = a.Close()
		}
	}()

	// The policy on the addresses tend connects to for users.
	if a.outbound, a.httpClient, err = newOutbound(opts.Config.Outbound); err != nil {
		return nil, err
	}

	// The error-budget rule generator, with the operator's Sloth plugin
	// directories loaded now: a missing one stops the start.
	budgetRules, err := alertrules.NewBudgetWithPlugins(opts.Config.Budget.PluginDirs)
	if err != nil {
		return nil, fmt.Errorf("budget.pluginDirs: %w", err)
	}

	// The data directory holds the admin token and, with SQLite, all
	// state: only its owner may read it.
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory %s: %w", opts.DataDir, err)
	}

	// Process metrics on the app's own registry.
	if err := opts.Registry.Register(collectors.NewGoCollector()); err != nil {
		return nil, fmt.Errorf("register go metrics: %w", err)
	}
	if err := opts.Registry.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, fmt.Errorf("register process metrics: %w", err)
	}

	// The store, and where resource repositories live.
	var storage resource.Storage
	if isPostgres(opts.Database) {
		pg, err := postgres.Open(ctx, opts.Database, postgres.Options{Now: opts.Now, Logger: opts.Logger})
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL store: %w", err)
		}
		a.store = pg
		a.onClose("store", pg.Close)

		pool, err := pgxpool.New(ctx, opts.Database)
		if err != nil {
			return nil, fmt.Errorf("connect the Git storage to PostgreSQL: %w", err)
		}
		a.onClose("git storage pool", func() error { pool.Close(); return nil })
		gs := pgstorer.New(pool)
		if err := gs.Migrate(ctx); err != nil {
			return nil, fmt.Errorf("prepare the Git storage in PostgreSQL: %w", err)
		}
		storage = gs
		a.log.Info("store_opened", "driver", "postgres")
	} else {
		if opts.Database != "" {
			return nil, fmt.Errorf("database %q is not supported: leave it empty for SQLite in the data directory, or give a postgres:// URL", opts.Database)
		}
		path := filepath.Join(opts.DataDir, "tend.db")
		sq, err := sqlite.Open(ctx, path, sqlite.Options{Now: opts.Now})
		if err != nil {
			return nil, fmt.Errorf("open SQLite store: %w", err)
		}
		a.store = sq
		a.onClose("store", sq.Close)

		fs, err := resource.NewFSStorage(filepath.Join(opts.DataDir, "projects"))
		if err != nil {
			return nil, fmt.Errorf("open resource repositories: %w", err)
		}
		storage = fs
		a.log.Info("store_opened", "driver", "sqlite", "path", path)
	}

	// Resource repositories, pushing to each project's upstream with the
	// credentials kept in the store.
	repos, err := resource.New(resource.Options{
		Storage:       storage,
		Upstream:      a.upstream,
		Now:           opts.Now,
		CheckUpstream: a.outbound.CheckUpstream,
	})
	if err != nil {
		return nil, fmt.Errorf("resource repositories: %w", err)
	}

	// The first start's admin token.
	tok, err := ensureAdminToken(ctx, a.store, opts.DataDir, a.log)
	if err != nil {
		return nil, err
	}
	a.adminToken = tok

	// The self-healing runner's entry points that the API calls: problem
	// recording and external executors' answers (see remediation.go). The
	// API declares what it needs of them and imports no runner.
	problems, err := a.newProblemRecorder(repos)
	if err != nil {
		return nil, err
	}

	// The API.
	a.api, err = api.New(api.Options{
		Store:         a.store,
		Resources:     repos,
		Problems:      problems,
		ActionAnswers: remediator.NewAnswers(a.store),
		Cancel:        remediator.Canceller{},
		Logger:        opts.Logger,
		Registry:      opts.Registry,
		MaxBodyBytes:  opts.MaxBodyBytes,
		Intake:        opts.Intake,
		AlertQueries:  alertQueries,
		BudgetRules:   budgetRules,
		Budgets:       budgets{a},
		Settings:      Settings(),
		Specs:         a.specs,
		Now:           opts.Now,
		Outbound:      a.outbound,
		SettingGuard:  a.settingGuard,
	})
	if err != nil {
		return nil, err
	}
	a.onClose("api", func() error { a.api.Close(); return nil })

	// The web UI, beside the API on one mux: the UI's paths go to the UI,
	// everything else to the API.
	a.ui, err = ui.New(ui.Options{
		Store:         a.store,
		Resources:     repos,
		Invalidator:   a.api,
		Sequencer:     a.api,
		Logger:        opts.Logger,
		Now:           opts.Now,
		SecureCookies: strings.HasPrefix(opts.Config.UIURL, "https://"),
		Specs:         a.specs,
		Budgets:       budgets{a},
	})
	if err != nil {
		return nil, err
	}
	a.onClose("ui", func() error { a.ui.Close(); return nil })
	root := http.NewServeMux()
	a.ui.Mount(root)
	root.Handle("/", a.api)
	a.handler = root

	// The durable worker and the evaluation sequence it runs; Start starts
	// it, Close stops it before the store closes.
	if err := a.newWorker(repos); err != nil {
		return nil, err
	}

	// The listener, bound now so Addr is known before Start.
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", opts.Listen, err)
	}
	a.ln = ln
	a.onClose("listener", func() error {
		if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			return err
		}
		return nil
	})
	a.srv = &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	// Shutdown waits for active requests; event streams end only when
	// told, so Shutdown tells them.
	a.srv.RegisterOnShutdown(a.api.Close)
	a.srv.RegisterOnShutdown(a.ui.Close)
	return a, nil
}

// isPostgres tells a PostgreSQL URL.
func isPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// onClose registers a cleanup; Close runs them in reverse order.
func (a *App) onClose(name string, fn func() error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cleanups = append(a.cleanups, cleanup{name: name, fn: fn})
}

// upstream looks up a project's Git upstream for the resource store. The
// token stays in the store and is handed to go-git per push only.
func (a *App) upstream(ctx context.Context, project string) (*resource.Upstream, error) {
	p, err := a.store.GetProject(ctx, project)
	if err != nil {
		return nil, err
	}
	if p.UpstreamURL == "" {
		return nil, nil
	}
	tok, err := a.store.ProjectUpstreamToken(ctx, project)
	if err != nil {
		return nil, err
	}
	return &resource.Upstream{URL: p.UpstreamURL, User: p.UpstreamUser, Token: tok}, nil
}

// Addr returns the address the server listens on, with the port chosen
// when Options.Listen asked for port 0.
func (a *App) Addr() string { return a.ln.Addr().String() }

// URL returns the server's base URL, e.g. http://127.0.0.1:8080.
func (a *App) URL() string { return "http://" + a.Addr() }

// AdminToken returns the admin token created by this start, and "" when
// the store had one already. Print it once; it is also in the data
// directory's admin-token file.
func (a *App) AdminToken() string { return a.adminToken }

// Handler returns the server's handler (the API and the web UI), for tests
// that need no listener.
func (a *App) Handler() http.Handler { return a.handler }

// Store returns the store the server uses, for tests and later components
// wired by this package.
func (a *App) Store() store.Store { return a.store }

// Start serves on the listener and runs the worker in the background. Run
// or Shutdown end both.
func (a *App) Start() {
	a.startWorker()
	go func() {
		err := a.srv.Serve(a.ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		a.serveErr <- err
	}()
	a.log.Info("server_started", "addr", a.Addr())
}

// Run serves until ctx ends, then shuts down gracefully, giving active
// requests up to shutdownTimeout to finish, and closes everything. It
// returns the server's error, or nil after a clean shutdown.
func (a *App) Run(ctx context.Context, shutdownTimeout time.Duration) error {
	a.Start()
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-a.serveErr:
		a.serveErr <- serveErr
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	return errors.Join(serveErr, a.Shutdown(sctx))
}

// Shutdown stops accepting connections, ends event streams, waits for
// active requests until ctx ends, and then closes every component in
// reverse order of construction.
func (a *App) Shutdown(ctx context.Context) error {
	a.log.Info("server_stopping")
	err := a.srv.Shutdown(ctx)
	if err != nil {
		// Requests still running after the grace period are cut.
		err = errors.Join(fmt.Errorf("graceful shutdown: %w", err), a.srv.Close())
	}
	return errors.Join(err, a.Close())
}

// Close releases every component at once, in reverse order of
// construction. It is safe to call more than once; Shutdown calls it.
func (a *App) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	cs := a.cleanups
	a.cleanups = nil
	a.mu.Unlock()
	if a.srv != nil {
		_ = a.srv.Close()
	}
	var errs []error
	for i := len(cs) - 1; i >= 0; i-- {
		if err := cs[i].fn(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", cs[i].name, err))
		}
	}
	return errors.Join(errs...)
}
