// Package deliverer runs tend's built-in delivery executors as durable worker
// jobs (kind delivery.JobKind): for each deployment, test, release or
// rollback task the sequence engine triggers, it decides whether tend carries
// the task out (no integration subscribed to it, a cluster and the service's
// chart for the cluster tasks, a test strategy and a target for tests),
// records that decision with the task's .started, then carries the task out
// through a delivery.Deployer (the Helm adapter) or a Checker (the HTTP test
// adapter) and records its .finished. Each event goes into the event log
// with the sequence's answer job in one transaction, and every event id is
// derived from the task's triggered id, so a run after kill -9 emits
// nothing twice.
//
// The composition root (internal/app) wires the store, the resource
// repositories and the adapters in, and registers Handle on the worker.
package deliverer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/tendhq/tend/internal/chart"
	"github.com/tendhq/tend/internal/delivery"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/eventlog"
	"github.com/tendhq/tend/internal/integration"
	"github.com/tendhq/tend/internal/resource"
	"github.com/tendhq/tend/internal/sequence"
	"github.com/tendhq/tend/internal/settings"
	"github.com/tendhq/tend/internal/store"
	"github.com/tendhq/tend/internal/worker"
)

// DefaultIntegrationWindow is how recently an integration subscribed to a
// task must have been seen (registered or pinged) for tend to leave the task
// to it. Keptn's Go SDK pings every 5 seconds, so five minutes survives a
// restart or a short outage of the integration, while one that is gone for
// longer is not waited for.
const DefaultIntegrationWindow = 5 * time.Minute

// Store is what the runner reads: settings, the event log (whether a task
// was answered already) and the integrations. store.Store satisfies it.
type Store interface {
	settings.Getter
	ListEvents(ctx context.Context, f store.EventFilter) (store.EventPage, error)
	ListIntegrations(ctx context.Context) ([]store.Integration, error)
}

// Resources reads the service's chart; *resource.Repos satisfies it.
type Resources interface {
	Get(ctx context.Context, ref resource.Ref, uri, version string) ([]byte, string, error)
}

// Checker runs a built-in test; internal/action/httpcheck implements it.
// A returned error means the check could not run at all (a bad URL);
// failing requests are counted in the report.
type Checker interface {
	Check(ctx context.Context, req delivery.CheckRequest) (delivery.CheckReport, error)
}

// NamespaceFunc returns the namespace of a service in a stage, and an error
// wrapping ErrNamespace when it is not one tend may deploy to.
type NamespaceFunc func(ctx context.Context, project, stage, service string) (string, error)

// ErrNamespace marks a namespace outside the project's allowed ones.
var ErrNamespace = errors.New("namespace not allowed")

// Options configure a Handler. Store and Resources are required.
type Options struct {
	Store     Store
	Resources Resources
	// Deployer carries out deployment, release and rollback; nil means
	// tend has no usable cluster and leaves those tasks to integrations.
	Deployer delivery.Deployer
	// NoDeployer says why Deployer is nil, for the decline's log line.
	NoDeployer string
	// Checker runs functional and performance tests; nil leaves them to
	// integrations.
	Checker Checker
	// CheckURL returns the outbound policy's objection to a test's URL
	// (field names where it came from), or ""; nil checks only its form.
	// The test target may come from a deployment's finished event, which
	// any writer of the project's events can send, so it is checked
	// before the task is taken, besides by the Checker's client.
	CheckURL func(field, raw string) string
	// Namespace resolves a service's namespace; nil means
	// delivery.Namespace (<project>-<stage>).
	Namespace NamespaceFunc
	// IntegrationWindow is DefaultIntegrationWindow when 0.
	IntegrationWindow time.Duration
	// Logger receives one line per decision and task; nil discards.
	Logger *slog.Logger
	// Now is the clock of events; nil means time.Now.
	Now func() time.Time
}

// Handler runs delivery jobs.
type Handler struct {
	st         Store
	res        Resources
	deployer   delivery.Deployer
	noDeployer string
	checker    Checker
	checkURL   func(field, raw string) string
	namespace  NamespaceFunc
	window     time.Duration
	log        *slog.Logger
	now        func() time.Time
}

// New checks opts and returns a Handler.
func New(opts Options) (*Handler, error) {
	if opts.Store == nil || opts.Resources == nil {
		return nil, errors.New("deliverer: Options.Store and Resources are required")
	}
	h := &Handler{st: opts.Store, res: opts.Resources, deployer: opts.Deployer, noDeployer: opts.NoDeployer,
		checker: opts.Checker, checkURL: opts.CheckURL, namespace: opts.Namespace, window: opts.IntegrationWindow, log: opts.Logger, now: opts.Now}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.window <= 0 {
		h.window = DefaultIntegrationWindow
	}
	if h.namespace == nil {
		h.namespace = func(_ context.Context, project, stage, _ string) (string, error) {
			return delivery.Namespace(project, stage), nil
		}
	}
	if h.noDeployer == "" {
		h.noDeployer = "tend has no Kubernetes cluster to deploy to"
	}
	return h, nil
}

// Handle runs one delivery job: the first run decides, the second carries
// the task out.
func (h *Handler) Handle(ctx context.Context, job store.Job) worker.Result {
	p, err := delivery.DecodePayload(job.Payload)
	if err != nil {
		// Retrying cannot fix a payload; the task's timeout answers it.
		h.log.ErrorContext(ctx, "delivery_job_unreadable", "job_id", job.ID, "err", err)
		return worker.Done()
	}
	c, _ := p.Event.Common()
	t := &task{h: h, job: job, trig: p.Event, common: c, name: p.Task(),
		log: h.log.With("job_id", job.ID, "keptn_context", p.Event.KeptnContext, "triggered_id", p.Event.ID,
			"task", p.Task(), "project", c.Project, "stage", c.Stage, "service", c.Service)}
	if p.Plan == nil {
		return t.decide(ctx)
	}
	return t.carryOut(ctx, *p.Plan)
}

// task is one run of a delivery job.
type task struct {
	h      *Handler
	job    store.Job
	trig   *event.Event
	common event.CommonData
	name   string
	log    *slog.Logger
}

// decline is a decision to leave the task to others.
type decline struct{ reason string }

func (d *decline) Error() string { return d.reason }

func declined(format string, args ...any) error {
	return &decline{reason: fmt.Sprintf(format, args...)}
}

// failure is a decision to take the task and fail it at once (a namespace
// outside the policy, a chart that does not load).
type failure struct{ reason string }

func (f *failure) Error() string { return f.reason }

// decide answers whether tend carries the task out and records the
// decision: nothing for a decline, else the task's .started with the plan.
func (t *task) decide(ctx context.Context) worker.Result {
	other, own, err := t.answered(ctx)
	if err != nil {
		return t.retry(ctx, err)
	}
	if other || own {
		t.log.InfoContext(ctx, "delivery_task_declined", "reason", "the task was answered already")
		return worker.Done()
	}
	plan, err := t.plan(ctx)
	var dec *decline
	var fail *failure
	switch {
	case errors.As(err, &dec):
		t.log.InfoContext(ctx, "delivery_task_declined", "reason", dec.reason)
		return worker.Done()
	case errors.As(err, &fail):
		t.log.InfoContext(ctx, "delivery_task_refused", "reason", fail.reason)
		started, err := t.started()
		if err != nil {
			return worker.Done() // an event tend cannot build: leave it to the timeout
		}
		fin, err := t.finished(event.ResultFail, event.StatusErrored, fail.reason, nil)
		if err != nil {
			return worker.Done()
		}
		return worker.Done().WithCommit(t.emit(started, fin))
	case err != nil:
		return t.retry(ctx, err)
	}
	started, err := t.started()
	if err != nil {
		t.log.ErrorContext(ctx, "delivery_event_unbuildable", "err", err)
		return worker.Done()
	}
	t.log.InfoContext(ctx, "delivery_task_started", "namespace", plan.Namespace, "strategy", string(plan.Strategy), "image", plan.Image)
	next := delivery.Payload{Event: t.trig, Plan: &plan}.Encode()
	return worker.RescheduleAt(time.Time{}, next).WithCommit(t.emit(started))
}

// plan decides what the task does, or returns a *decline or *failure.
func (t *task) plan(ctx context.Context) (delivery.Plan, error) {
	c := t.common
	if c.Project == "" || c.Stage == "" || c.Service == "" {
		return delivery.Plan{}, declined("the task names no project, stage and service")
	}
	if name, err := t.subscribed(ctx); err != nil {
		return delivery.Plan{}, err
	} else if name != "" {
		return delivery.Plan{}, declined("integration %s subscribes to %s", name, t.trig.Type)
	}
	tr, err := delivery.DecodeTriggered(t.trig.Data)
	if err != nil {
		return delivery.Plan{}, declined("%v", err)
	}
	p := delivery.Plan{Task: t.name, Project: c.Project, Stage: c.Stage, Service: c.Service}
	if t.name == event.TaskTest {
		return t.planTest(ctx, p, tr)
	}
	if t.h.deployer == nil {
		return p, declined("%s", t.h.noDeployer)
	}
	if p.Strategy, err = delivery.ParseStrategy(tr.StrategyOf(t.name)); err != nil {
		return p, declined("%v", err)
	}
	ref := resource.Ref{Project: c.Project, Stage: c.Stage, Service: c.Service}
	data, commit, err := t.h.res.Get(ctx, ref, chart.ResourceURI(c.Service), "")
	switch {
	case errors.Is(err, resource.ErrResourceNotFound), errors.Is(err, resource.ErrStageNotFound),
		errors.Is(err, resource.ErrProjectNotFound), errors.Is(err, resource.ErrInvalidName):
		return p, declined("stage %s holds no chart %s for service %s", c.Stage, chart.ResourceURI(c.Service), c.Service)
	case err != nil:
		return p, fmt.Errorf("read the chart of %s: %w", ref, err)
	}
	if p.Namespace, err = t.h.namespace(ctx, c.Project, c.Stage, c.Service); err != nil {
		if errors.Is(err, ErrNamespace) {
			return p, &failure{reason: err.Error()}
		}
		return p, fmt.Errorf("resolve the namespace: %w", err)
	}
	if p.Timeout, err = rolloutTimeout(ctx, t.h.st, c.Project, c.Stage, c.Service); err != nil {
		return p, fmt.Errorf("resolve the rollout timeout: %w", err)
	}
	if t.name != event.TaskDeployment {
		return p, nil
	}
	if _, err := chart.Load(data); err != nil {
		return p, &failure{reason: fmt.Sprintf("the chart %s of stage %s cannot be used: %v", chart.ResourceURI(c.Service), c.Stage, err)}
	}
	p.GitCommit = commit
	p.Image = tr.ImageRef()
	p.Values = tr.ChartValues(c.Project, c.Stage, c.Service, p.Strategy)
	return p, nil
}

// planTest decides a test task.
func (t *task) planTest(ctx context.Context, p delivery.Plan, tr delivery.Triggered) (delivery.Plan, error) {
	kind, ok := delivery.ParseTestStrategy(tr.Test.Strategy)
	if !ok {
		return p, declined("teststrategy %q is none tend runs (functional, performance, real-user)", tr.Test.Strategy)
	}
	if kind == delivery.RealUser {
		p.Check = &delivery.CheckRequest{Kind: kind}
		return p, nil
	}
	if t.h.checker == nil {
		return p, declined("tend's HTTP checker is not configured")
	}
	target := ""
	if len(tr.Deployment.URIsLocal) > 0 {
		target = tr.Deployment.URIsLocal[0]
	}
	req, err := checkRequest(ctx, t.h.st, kind, p.Project, p.Stage, p.Service, target)
	if err != nil {
		return p, fmt.Errorf("resolve the test settings: %w", err)
	}
	if req.URL == "" {
		return p, declined("no URL to test: the deployment reported no deploymentURIsLocal and the tests setting names no url")
	}
	field := "the tests setting's url"
	if req.URL == target {
		field = "deploymentURIsLocal[0] of the task's data"
	}
	prob := settings.CheckURL(field, req.URL, false)
	if prob == "" && t.h.checkURL != nil {
		prob = t.h.checkURL(field, req.URL)
	}
	if prob != "" {
		return p, &failure{reason: prob}
	}
	p.Check = &req
	return p, nil
}

// subscribed returns the name of an integration seen within the window
// whose subscription covers the task's triggered event, or "".
func (t *task) subscribed(ctx context.Context) (string, error) {
	ins, err := t.h.st.ListIntegrations(ctx)
	if err != nil {
		return "", fmt.Errorf("list integrations: %w", err)
	}
	since := t.h.now().Add(-t.h.window)
	for _, in := range ins {
		if in.LastSeen.Before(since) {
			continue
		}
		for _, sub := range in.Subscriptions {
			if Covers(sub, t.trig.Type, t.common.Project, t.common.Stage, t.common.Service) {
				return in.Name, nil
			}
		}
	}
	return "", nil
}

// Covers reports whether a subscription takes an event of type typ about a
// project, stage and service: the same type (wildcards cannot be polled
// over HTTP, so they take nothing), and filters that are empty or name
// them.
func Covers(sub store.Subscription, typ, project, stage, service string) bool {
	return sub.Event == typ && integration.Covers(sub.Projects, project) &&
		integration.Covers(sub.Stages, stage) && integration.Covers(sub.Services, service)
}

// answered reports whether someone else finished the task already (its
// timeout, an abort, an integration), and whether tend's own .finished is
// recorded (a run after the task was carried out).
func (t *task) answered(ctx context.Context) (other, own bool, err error) {
	pg, err := t.h.st.ListEvents(ctx, store.EventFilter{KeptnContext: t.trig.KeptnContext, TriggeredID: t.trig.ID,
		Type: event.TaskType(t.name, event.PhaseFinished), PageSize: store.MaxPageSize})
	if err != nil {
		return false, false, fmt.Errorf("read the task's answers: %w", err)
	}
	mine := t.id("finished")
	for _, r := range pg.Events {
		if r.ID == mine && r.Source == sequence.Source {
			own = true
		} else {
			other = true
		}
	}
	return other, own, nil
}

// carryOut does what the plan says and records the task's .finished.
func (t *task) carryOut(ctx context.Context, p delivery.Plan) worker.Result {
	other, own, err := t.answered(ctx)
	if err != nil {
		return t.retry(ctx, err)
	}
	if other || own {
		// Carried out already, or aborted or timed out while it
		// waited: do nothing more.
		t.log.InfoContext(ctx, "delivery_task_dropped", "reason", "the task was answered already")
		return worker.Done()
	}
	var data map[string]any
	switch p.Task {
	case event.TaskDeployment:
		data, err = t.deploy(ctx, p)
	case event.TaskRelease, event.TaskRollback:
		data, err = t.release(ctx, p)
	case event.TaskTest:
		data, err = t.test(ctx, p)
	default:
		err = &failure{reason: fmt.Sprintf("task %q is not a delivery task", p.Task)}
	}
	result, status, msg := event.ResultPass, event.StatusSucceeded, ""
	var fail *failure
	switch {
	case err == nil:
	case errors.As(err, &fail):
		result, msg = event.ResultFail, fail.reason
		if p.Task != event.TaskTest {
			// As Keptn's helm-service: a deployment that failed is an
			// errored task.
			status = event.StatusErrored
		}
	case delivery.IsRolloutError(err):
		result, status, msg = event.ResultFail, event.StatusErrored, err.Error()
	case ctx.Err() != nil || t.job.Attempt < t.job.MaxAttempts:
		return t.retry(ctx, err)
	default:
		t.log.ErrorContext(ctx, "delivery_task_errored", "attempt", t.job.Attempt, "err", err)
		result, status, msg = event.ResultFail, event.StatusErrored, err.Error()
	}
	fin, err := t.finished(result, status, msg, data)
	if err != nil {
		t.log.ErrorContext(ctx, "delivery_event_unbuildable", "err", err)
		return worker.Done()
	}
	t.log.InfoContext(ctx, "delivery_task_finished", "result", result, "status", status, "message", msg)
	return worker.Done().WithCommit(t.emit(fin))
}

// deploy installs or upgrades the chart of the plan's commit.
func (t *task) deploy(ctx context.Context, p delivery.Plan) (map[string]any, error) {
	ref := resource.Ref{Project: p.Project, Stage: p.Stage, Service: p.Service}
	data, _, err := t.h.res.Get(ctx, ref, chart.ResourceURI(p.Service), p.GitCommit)
	switch {
	case errors.Is(err, resource.ErrResourceNotFound), errors.Is(err, resource.ErrVersionNotFound),
		errors.Is(err, resource.ErrStageNotFound), errors.Is(err, resource.ErrProjectNotFound):
		return nil, &failure{reason: fmt.Sprintf("the chart %s of stage %s at commit %s is gone: %v", chart.ResourceURI(p.Service), p.Stage, p.GitCommit, err)}
	case err != nil:
		return nil, fmt.Errorf("read the chart: %w", err)
	}
	ctx, cancel := bounded(ctx, p.Timeout)
	defer cancel()
	d, err := t.h.deployer.Deploy(ctx, delivery.DeployRequest{
		Target: delivery.Target{Namespace: p.Namespace, Service: p.Service, Project: p.Project}, Chart: data,
		Strategy: p.Strategy, Values: p.Values, Timeout: p.Timeout,
	})
	if err != nil {
		return nil, err
	}
	if d.Strategy == "" {
		d.Strategy = p.Strategy
	}
	return delivery.DeploymentData(d, p.GitCommit), nil
}

// release releases or rolls back a blue/green service.
func (t *task) release(ctx context.Context, p delivery.Plan) (map[string]any, error) {
	req := delivery.ReleaseRequest{Target: delivery.Target{Namespace: p.Namespace, Service: p.Service, Project: p.Project}, Timeout: p.Timeout}
	do := t.h.deployer.Release
	if p.Task == event.TaskRollback {
		do = t.h.deployer.Rollback
	}
	ctx, cancel := bounded(ctx, p.Timeout)
	defer cancel()
	d, err := do(ctx, req)
	if err != nil {
		return nil, err
	}
	if d.Strategy == "" {
		d.Strategy = p.Strategy
	}
	return delivery.DeploymentData(d, ""), nil
}

// test runs the plan's check; failing requests fail the task.
func (t *task) test(ctx context.Context, p delivery.Plan) (map[string]any, error) {
	if p.Check == nil {
		return nil, &failure{reason: "the test has no check"}
	}
	if p.Check.Kind == delivery.RealUser {
		return delivery.TestData(*p.Check, delivery.CheckReport{}), nil
	}
	r, err := t.h.checker.Check(ctx, *p.Check)
	if err != nil {
		return nil, err
	}
	data := delivery.TestData(*p.Check, r)
	if r.Failures > 0 || r.Requests == 0 {
		msg := fmt.Sprintf("%d of %d requests to %s failed", r.Failures, r.Requests, p.Check.URL)
		if len(r.Problems) > 0 {
			msg += ": " + r.Problems[0]
		}
		// The data still carries the window and the numbers.
		return data, &failure{reason: msg}
	}
	return data, nil
}

// bounded gives a cluster call the rollout timeout and a minute's margin
// on top of the deployer's own wait, so a hung call cannot hold the job for
// ever.
func bounded(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout <= 0 {
		timeout = DefaultRolloutTimeout
	}
	return context.WithTimeout(ctx, timeout+time.Minute)
}

// retry records a failed attempt.
func (t *task) retry(ctx context.Context, err error) worker.Result {
	t.log.WarnContext(ctx, "delivery_task_retry", "attempt", t.job.Attempt, "err", err)
	return worker.Retry(err)
}

// id derives the id of the runner's event of a role.
func (t *task) id(role string) string { return sequence.DerivedID(t.trig.ID, "delivery", role) }

func (t *task) data() map[string]any {
	c := t.common
	m := map[string]any{"project": c.Project, "stage": c.Stage, "service": c.Service}
	if len(c.Labels) > 0 {
		m["labels"] = c.Labels
	}
	return m
}

func (t *task) started() (*event.Event, error) {
	b := event.Builder{Source: sequence.Source, Now: t.h.now, NewID: func() string { return t.id("started") }}
	return b.Reply(t.trig, event.PhaseStarted, t.data())
}

func (t *task) finished(result, status, msg string, extra map[string]any) (*event.Event, error) {
	d := t.data()
	for k, v := range extra {
		d[k] = v
	}
	d["result"], d["status"] = result, status
	if msg != "" {
		d["message"] = shorten(msg, maxMessage)
	}
	b := event.Builder{Source: sequence.Source, Now: t.h.now, NewID: func() string { return t.id("finished") }}
	return b.Reply(t.trig, event.PhaseFinished, d)
}

// maxMessage bounds a .finished event's message. Messages quote Helm, the
// API server and the chart's own templates (`fail`), which a chart's
// author controls; the event log, the API and the UI carry them on.
const maxMessage = 4 << 10

// shorten cuts s to at most n bytes, on a rune boundary, saying how much
// was left out.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s ... (%d more bytes)", s[:cut], len(s)-cut)
}

// emit appends the events and hands each to the sequence, in the job's
// transaction.
func (t *task) emit(evs ...*event.Event) worker.CommitFunc {
	return func(ctx context.Context, tx store.Tx) error {
		recs, err := eventlog.Records(evs)
		if err != nil {
			return err
		}
		if _, err := tx.AppendEvents(ctx, recs...); err != nil {
			return err
		}
		jobs := make([]store.JobSpec, 0, len(evs))
		for _, ev := range evs {
			j := sequence.AnswerJob(ev)
			jobs = append(jobs, store.JobSpec{Kind: j.Kind, Payload: j.Payload, UniqueKey: j.UniqueKey, MaxAttempts: sequence.MaxAttempts})
		}
		_, err = tx.EnqueueJobs(ctx, jobs...)
		return err
	}
}
