// Package remediator is self-healing's runner: the I/O around the pure
// decisions of internal/remediation. It owns two write paths.
//
// The Recorder records problem notifications durably and deduplicated, and
// starts or joins the remediations they call for: it is the write path
// behind the Alertmanager webhook and the problem events of /api/v1/event,
// which the API reaches through an interface that app fills with it. For
// each notification it checks where the problem is (project, stage,
// service). A delivery that only repeats problems recorded in their state
// is answered from one read of the placement and the problems' rows
// (Recorder.repeats), without a transaction. Otherwise, in one store
// transaction, it reads the problem already
// recorded under the notification's key and the service's running
// remediation, lets remediation.Decide judge, and writes the outcome: the
// problem, a new remediation with the job that starts it, a join, or a
// close with the job that tells the remediation. Concurrent deliveries of
// one problem, on one replica or several, cannot both win: the store keeps
// problem keys unique and one running remediation per service, and a
// transaction that loses such a race is retried and then sees the winner.
//
// The Loop runs the remediation durably: it is the worker handler of the
// jobs of kind remediation.JobKind. Each job does one step's I/O (ask an
// executor for its plan, apply the recorded plan, wait for an external
// executor, evaluate the SLO, notify), turns its outcome into a
// remediation.Event, lets the pure state machine
// (remediation.Remediation.Apply) decide, and records the new state (a
// compare-and-set on the remediation's version), the step's Keptn events
// and the jobs of the next steps in the one transaction that completes the
// job (worker.Result.WithCommit).
//
// Why it never doubles an effect: an action's plan is recorded, with its
// action.started event, before Apply runs; the apply job reads that plan
// and applies exactly it (executors make applying a plan twice a no-op);
// and a prepare job whose action already has a plan is stale and does
// nothing, so a replay after a crash can never turn "1 -> 2" into "2 -> 3".
//
// The package also owns the job that an external executor's answer causes
// (Answers) and the escalation message's history (History). The scoped
// settings it reads (limits, dry run, settling, pause) are
// internal/settings'. It imports no adapter: app hands it the executors and
// the evaluator.
package remediator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/tendhq/tend/internal/action"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/eventlog"
	"github.com/tendhq/tend/internal/remediation"
	"github.com/tendhq/tend/internal/settings"
	"github.com/tendhq/tend/internal/sli"
	"github.com/tendhq/tend/internal/slo"
	"github.com/tendhq/tend/internal/spec"
	"github.com/tendhq/tend/internal/store"
	"github.com/tendhq/tend/internal/worker"
)

// EvaluationRequest asks for one SLO evaluation of a service over a
// window, in the remediation's Keptn context. TriggeredID is the
// evaluation.triggered event the remediation emitted; the evaluation's
// baseline search skips the evaluation it answers.
type EvaluationRequest struct {
	Project, Stage, Service string
	Start, End              time.Time
	KeptnContext            string
	TriggeredID             string
}

// Evaluator runs an evaluation with the quality-gate machinery and returns
// its result without storing events (the remediation tells the story in
// its own context). An evaluation that cannot run (no SLO file, no SLI
// provider) is a failed slo.Evaluation with a message, not an error;
// errors are transient (the store or the resource repository failed).
type Evaluator interface {
	Evaluate(ctx context.Context, r EvaluationRequest) (slo.Evaluation, error)
}

// EvaluatorFunc adapts a function to Evaluator.
type EvaluatorFunc func(ctx context.Context, r EvaluationRequest) (slo.Evaluation, error)

// Evaluate calls f.
func (f EvaluatorFunc) Evaluate(ctx context.Context, r EvaluationRequest) (slo.Evaluation, error) {
	return f(ctx, r)
}

// BurnRequest names the budget SLO whose burn a verification reads, and
// the service whose Prometheus holds its recording rules.
type BurnRequest struct {
	Project, Stage, Service string
	Alert                   remediation.BurnAlert
	// At is when to read the rules (the end of the settling window).
	At time.Time
}

// BurnReader reads Sloth's recording rules of one budget SLO from the
// service's Prometheus. An unreachable Prometheus is an error matching
// sli.ErrUnavailable, as for an evaluation; a rule without data is a
// sample with NaN, which VerifyBurn fails.
type BurnReader interface {
	ShortBurn(ctx context.Context, r BurnRequest) (remediation.BurnSample, error)
}

// Notifier sends the escalation notification; *webhook.Notifier satisfies
// it. An error wrapping action.ErrNotConfigured is logged, not retried.
type Notifier interface {
	Notify(ctx context.Context, esc action.Escalation) error
}

// Store is what the loop reads and writes; store.Store satisfies it.
type Store interface {
	settings.Getter
	GetRemediation(ctx context.Context, id string) (store.RemediationRecord, error)
	RunningRemediation(ctx context.Context, project, stage, service string) (store.RemediationRecord, error)
	ListRemediations(ctx context.Context, f store.RemediationFilter) (store.RemediationPage, error)
	ListEvents(ctx context.Context, f store.EventFilter) (store.EventPage, error)
	GetProject(ctx context.Context, name string) (store.Project, error)
	ListJobs(ctx context.Context, f store.JobFilter) ([]store.Job, error)
	WithTx(ctx context.Context, fn func(tx store.Tx) error) error
}

// OutageRetry says how a verification whose monitoring was unavailable is
// tried again: after Initial, doubling up to Max between tries, at most
// Attempts runs in all; then the remediation escalates.
type OutageRetry struct {
	Initial  time.Duration
	Max      time.Duration
	Attempts int
}

// The defaults of OutageRetry: 30s, 1m, 2m, 4m, 5m between six runs,
// about twelve minutes of outage before a person is told.
const (
	DefaultOutageInitial  = 30 * time.Second
	DefaultOutageMax      = 5 * time.Minute
	DefaultOutageAttempts = 6
)

// Delay is the wait before the run that follows the failed run attempt
// (1-based).
func (o OutageRetry) Delay(attempt int) time.Duration {
	d := o.Initial
	for i := 1; i < attempt && d < o.Max; i++ {
		d *= 2
	}
	return min(d, o.Max)
}

func (o OutageRetry) withDefaults() OutageRetry {
	if o.Initial <= 0 {
		o.Initial = DefaultOutageInitial
	}
	if o.Max <= 0 {
		o.Max = DefaultOutageMax
	}
	if o.Max < o.Initial {
		o.Max = o.Initial
	}
	if o.Attempts <= 0 {
		o.Attempts = DefaultOutageAttempts
	}
	return o
}

// Options configure a Loop. Store, Evaluator and Executors are required.
type Options struct {
	Store Store
	// Executors run the built-in actions by action name (scaling,
	// toggle-feature, featuretoggle, webhook, escalate). Any other action
	// goes to external executors.
	Executors map[string]action.Executor
	Evaluator Evaluator
	// Burn reads the short-window burn of a budget SLO for remediations
	// that Sloth's page alert started (remediation.Remediation.Burn); nil
	// verifies those with Evaluator like any other.
	Burn BurnReader
	// Notifier sends the escalation when actions run out; nil logs it.
	Notifier Notifier
	// Defaults are the server-wide limits and settling time.
	Defaults settings.Defaults
	// ExternalTimeout is how long an external executor may take; 0 means
	// 10 minutes.
	ExternalTimeout time.Duration
	// StepTimeout bounds one executor call or evaluation; 0 means 2
	// minutes.
	StepTimeout time.Duration
	// MaxActionAttempts is how often a failing Prepare or Apply is tried
	// before the action fails for good; 0 means 5.
	MaxActionAttempts int
	// StepAttempts is how often the worker runs one of the loop's step
	// jobs that keeps failing before the remediation escalates (see
	// Halted); 0 means remediation.MaxStepAttempts.
	StepAttempts int
	// OutageRetry spaces the verifications tried again while the
	// monitoring is unavailable; zero fields take the defaults.
	OutageRetry OutageRetry
	Logger      *slog.Logger
	Now         func() time.Time
	// Specs decodes the stored shipyards, shared with the server's other
	// readers, so that one version is decoded once; nil decodes on every
	// read.
	Specs *spec.Cache
}

// Loop is the remediation loop's job handler.
type Loop struct {
	st          Store
	exec        map[string]action.Executor
	eval        Evaluator
	burn        BurnReader
	notify      Notifier
	defaults    settings.Defaults
	extTimeout  time.Duration
	stepTimeout time.Duration
	maxAttempts int
	stepTries   int
	outage      OutageRetry
	log         *slog.Logger
	now         func() time.Time
	specs       *spec.Cache
}

// New checks opts and returns a Loop.
func New(opts Options) (*Loop, error) {
	if opts.Store == nil || opts.Evaluator == nil {
		return nil, errors.New("remediator: Options.Store and Options.Evaluator are required")
	}
	l := &Loop{
		st: opts.Store, exec: opts.Executors, eval: opts.Evaluator, burn: opts.Burn, notify: opts.Notifier,
		defaults: opts.Defaults, extTimeout: opts.ExternalTimeout, stepTimeout: opts.StepTimeout,
		maxAttempts: opts.MaxActionAttempts, stepTries: opts.StepAttempts, outage: opts.OutageRetry.withDefaults(),
		log: opts.Logger, now: opts.Now, specs: opts.Specs,
	}
	if l.stepTries <= 0 {
		l.stepTries = remediation.MaxStepAttempts
	}
	if l.exec == nil {
		l.exec = map[string]action.Executor{}
	}
	if l.extTimeout <= 0 {
		l.extTimeout = 10 * time.Minute
	}
	if l.stepTimeout <= 0 {
		l.stepTimeout = 2 * time.Minute
	}
	if l.maxAttempts <= 0 {
		l.maxAttempts = 5
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.defaults.Settling <= 0 {
		l.defaults.Settling = remediation.DefaultSettling
	}
	return l, nil
}

// Handle runs one step; register it on the worker under remediation.JobKind.
func (l *Loop) Handle(ctx context.Context, job store.Job) worker.Result {
	var p remediation.Payload
	if err := json.Unmarshal(job.Payload, &p); err != nil || p.RemediationID == "" {
		l.log.ErrorContext(ctx, "remediation_job_unreadable", "job_id", job.ID, "err", err)
		return worker.Done()
	}
	rec, err := l.st.GetRemediation(ctx, p.RemediationID)
	if errors.Is(err, store.ErrNotFound) {
		l.log.WarnContext(ctx, "remediation_job_orphaned", "job_id", job.ID, "remediation_id", p.RemediationID)
		return worker.Done()
	}
	if err != nil {
		return worker.Retry(fmt.Errorf("read remediation %s: %w", p.RemediationID, err))
	}
	rem, err := decodeRemediation(rec)
	if err != nil {
		l.log.ErrorContext(ctx, "remediation_unreadable", "remediation_id", p.RemediationID, "err", err)
		return worker.Done()
	}
	log := l.log.With("remediation_id", rem.ID, "step", stepName(p), "job_id", job.ID)
	s := &step{l: l, job: job, p: p, rec: rec, rem: rem, log: log}
	return s.run(ctx)
}

func stepName(p remediation.Payload) string {
	switch {
	case p.Step != "":
		return string(p.Step)
	case p.ProblemClosed != "":
		return "problem-closed"
	}
	return "start"
}

// step is one job's run.
type step struct {
	l   *Loop
	job store.Job
	p   remediation.Payload
	rec store.RemediationRecord
	rem *remediation.Remediation
	log *slog.Logger
}

func (s *step) run(ctx context.Context) worker.Result {
	if s.p.Step == remediation.StepEscalate {
		return s.escalate(ctx)
	}
	if s.rem.State.Terminal() {
		return worker.Done()
	}
	switch s.p.Step {
	case remediation.StepStart:
		if s.p.ProblemClosed != "" {
			return s.advance(ctx, remediation.ProblemClosed{ProblemID: s.p.ProblemClosed})
		}
		return s.start(ctx)
	case remediation.StepPause:
		return s.advance(ctx, remediation.Paused{Reason: s.p.Reason})
	case remediation.StepResume:
		return s.advance(ctx, remediation.Resumed{})
	case remediation.StepPrepare:
		return s.prepare(ctx)
	case remediation.StepApply, remediation.StepAnswer:
		return s.apply(ctx)
	case remediation.StepSettled:
		return s.settled(ctx)
	case remediation.StepEvaluate:
		return s.evaluate(ctx)
	}
	s.log.ErrorContext(ctx, "remediation_job_unknown_step")
	return worker.Done()
}

// start admits a waiting remediation: the pause, the cooldown, and the
// service's policy (dry run, settling) fixed for its whole run.
func (s *step) start(ctx context.Context) worker.Result {
	r := s.rem
	if r.State != remediation.StateWaiting {
		return worker.Done()
	}
	pol, err := settings.ResolvePolicy(ctx, s.l.st, s.l.defaults, r.Project, r.Stage, r.Service)
	if err != nil {
		return s.retry(ctx, err)
	}
	// The policy is fixed now, while nothing has happened yet: the
	// remediation runs with the dry run and settling time of its start.
	// The intake chose the settling time from the shipyard, else the
	// server default; a configured one beats the default only.
	r.Settings.DryRun = pol.Limits.DryRun
	if pol.SettlingSet && !s.l.shipyardSettling(ctx, r.Project, r.Stage) {
		r.Settings.Settling = pol.Settling
	}
	paused, why, err := settings.Paused(ctx, s.l.st, r.Project, r.Service)
	if err != nil {
		return s.retry(ctx, err)
	}
	hist, err := s.l.history(ctx, r)
	if err != nil {
		return s.retry(ctx, err)
	}
	ev := remediation.Admit(pol.Limits, hist, paused, s.l.now())
	if p, ok := ev.(remediation.Paused); ok {
		p.Reason = why
		ev = p
	}
	return s.advance(ctx, ev)
}

// shipyardSettling reports whether the stage's shipyard names the settling
// time (its remediation sequence's evaluation triggeredAfter), which the
// intake already applied and which wins over settings.
func (l *Loop) shipyardSettling(ctx context.Context, project, stage string) bool {
	p, err := l.st.GetProject(ctx, project)
	if err != nil {
		return false
	}
	sy, _ := l.specs.Shipyard("shipyard.yaml", p.Shipyard)
	if sy == nil {
		return false
	}
	st, ok := sy.Stage(stage)
	if !ok {
		return false
	}
	_, ok = st.EvaluationDelay()
	return ok
}

// history collects what the limits need: when the service's last
// remediation that acted ended, and when its actions ran in the last hour.
func (l *Loop) history(ctx context.Context, self *remediation.Remediation) (remediation.History, error) {
	var h remediation.History
	since := l.now().Add(-time.Hour)
	f := store.RemediationFilter{Project: self.Project, Stage: self.Stage, Service: self.Service, PageSize: 50}
	for pages := 0; pages < 4; pages++ {
		pg, err := l.st.ListRemediations(ctx, f)
		if err != nil {
			return h, fmt.Errorf("read remediation history: %w", err)
		}
		old := false
		for _, rec := range pg.Remediations {
			r, err := decodeRemediation(rec)
			if err != nil {
				continue
			}
			acted := false
			for i, a := range r.Actions {
				if a.StartedAt.IsZero() || a.State == remediation.ActionStateDryRun {
					continue
				}
				if r.ID == self.ID && i == self.CurrentAction && a.State == remediation.ActionStateIntended {
					continue
				}
				acted = true
				if a.StartedAt.After(since) {
					h.Actions = append(h.Actions, a.StartedAt)
				}
			}
			if r.ID != self.ID && acted && r.State.Terminal() && r.FinishedAt.After(h.LastFinished) {
				h.LastFinished = r.FinishedAt
			}
			if !rec.CreatedAt.IsZero() && rec.CreatedAt.Before(since) && !h.LastFinished.IsZero() {
				old = true
			}
		}
		if old || pg.NextPageKey == "" {
			break
		}
		f.PageKey = pg.NextPageKey
	}
	return h, nil
}

// current returns the current action when the remediation is in state
// want with action index i in state as; otherwise the job is stale.
func (s *step) current(want remediation.State, as remediation.ActionState) (*remediation.ActionRecord, bool) {
	r := s.rem
	i := s.p.Index
	if r.State != want || r.CurrentAction != i || i < 0 || i >= len(r.Actions) || r.Actions[i].State != as {
		return nil, false
	}
	return &r.Actions[i], true
}

// prepare asks the action's executor for its plan, after checking the
// actions-per-hour limit. Once a plan is recorded the action is no longer
// intended, so a replay of this job does nothing.
func (s *step) prepare(ctx context.Context) worker.Result {
	a, ok := s.current(remediation.StatePreparing, remediation.ActionStateIntended)
	if !ok {
		return worker.Done()
	}
	r := s.rem
	pol, err := settings.ResolvePolicy(ctx, s.l.st, s.l.defaults, r.Project, r.Stage, r.Service)
	if err != nil {
		return s.retry(ctx, err)
	}
	if !r.Settings.DryRun {
		hist, err := s.l.history(ctx, r)
		if err != nil {
			return s.retry(ctx, err)
		}
		if ok, why := pol.Limits.MayAct(hist, s.l.now()); !ok {
			return s.advance(ctx, remediation.LimitReached{Reason: why})
		}
	}
	ex, builtin := s.l.exec[a.Request.Action]
	if !builtin {
		plan := action.Plan{Action: a.Request.Action,
			Summary: fmt.Sprintf("offer action %q to external executors (action.triggered %s) and wait up to %s for their action.finished", a.Request.Action, a.TriggeredEventID, s.l.extTimeout)}
		return s.advance(ctx, remediation.ActionPrepared{Index: a.Index, Plan: plan, External: true})
	}
	cctx, cancel := context.WithTimeout(ctx, s.l.stepTimeout)
	plan, err := ex.Prepare(cctx, a.Request)
	cancel()
	if err != nil {
		return s.actionFailed(ctx, a, err)
	}
	s.log.InfoContext(ctx, "remediation_action_planned", "action", a.Request.Action, "plan", plan.Summary)
	return s.advance(ctx, remediation.ActionPrepared{Index: a.Index, Plan: plan})
}

// actionFailed reports an executor error: final when it wraps
// action.ErrInvalid or the attempts are used up.
func (s *step) actionFailed(ctx context.Context, a *remediation.ActionRecord, err error) worker.Result {
	if ctx.Err() != nil {
		return worker.Retry(err) // shutting down or lease lost: not the action's fault
	}
	final := errors.Is(err, action.ErrInvalid) || a.Attempts+1 >= s.l.maxAttempts
	s.log.WarnContext(ctx, "remediation_action_failed", "action", a.Request.Action, "attempt", a.Attempts+1, "final", final, "err", err)
	return s.advance(ctx, remediation.ActionFailed{Index: a.Index, Err: err.Error(), Final: final})
}

// apply applies the recorded plan, or for an external action, looks for
// the executor's answer and fails the action once the timeout has passed.
func (s *step) apply(ctx context.Context) worker.Result {
	a, ok := s.current(remediation.StateApplying, remediation.ActionStateStarted)
	if !ok || a.Plan == nil {
		return worker.Done()
	}
	if a.External {
		return s.awaitExternal(ctx, a)
	}
	if s.p.Step == remediation.StepAnswer {
		return worker.Done()
	}
	ex, ok := s.l.exec[a.Request.Action]
	if !ok {
		return s.advance(ctx, remediation.ActionFailed{Index: a.Index, Final: true,
			Err: fmt.Sprintf("no executor for action %q on this server any more", a.Request.Action)})
	}
	cctx, cancel := context.WithTimeout(ctx, s.l.stepTimeout)
	res, err := ex.Apply(cctx, a.Request, *a.Plan)
	cancel()
	if errors.Is(err, action.ErrConflict) {
		// Someone changed the target since the plan: neither retry (it
		// would overwrite that change) nor go on (the next action would
		// act on a state nobody planned for). A person must look.
		s.log.WarnContext(ctx, "remediation_action_conflict", "action", a.Request.Action, "err", err)
		return s.advance(ctx, remediation.Halted{Reason: fmt.Sprintf("action %d (%s) was not applied: %v", a.Index+1, actionLabel(a), err)})
	}
	if err != nil {
		return s.actionFailed(ctx, a, err)
	}
	s.log.InfoContext(ctx, "remediation_action_applied", "action", a.Request.Action, "message", res.Message)
	return s.advance(ctx, remediation.ActionApplied{Index: a.Index, Result: res})
}

// awaitExternal feeds an external executor's action.finished into the
// machine, or fails the action after the timeout.
func (s *step) awaitExternal(ctx context.Context, a *remediation.ActionRecord) worker.Result {
	pg, err := s.l.st.ListEvents(ctx, store.EventFilter{TriggeredID: a.TriggeredEventID, Type: event.TypeActionFinished, PageSize: 20})
	if err != nil {
		return s.retry(ctx, fmt.Errorf("look for the external executor's answer: %w", err))
	}
	for _, rec := range pg.Events {
		if rec.Source == event.DefaultSource {
			continue
		}
		// Only an answer about the remediation's own service counts (the
		// API lets no one else answer; this keeps an answer stored under
		// another project, before its triggered event existed, out).
		if rec.Project != s.rem.Project || rec.Stage != s.rem.Stage || rec.Service != s.rem.Service {
			continue
		}
		var ev event.Event
		if err := json.Unmarshal(rec.JSON, &ev); err != nil {
			continue
		}
		c, _ := ev.Common()
		msg := c.Message
		if c.Result == event.ResultFail || c.Status == event.StatusErrored {
			if msg == "" {
				msg = fmt.Sprintf("the external executor %s answered status %s, result %s", rec.Source, c.Status, c.Result)
			}
			return s.advance(ctx, remediation.ActionFailed{Index: a.Index, Err: msg, Final: true, Reported: true})
		}
		if msg == "" {
			msg = "done by external executor " + rec.Source
		}
		return s.advance(ctx, remediation.ActionApplied{Index: a.Index, Result: action.Result{Message: msg}, Reported: true})
	}
	deadline := a.StartedAt.Add(s.l.extTimeout)
	if s.l.now().Before(deadline) {
		if s.p.Step == remediation.StepAnswer {
			return worker.Done()
		}
		return worker.RescheduleAt(deadline, nil)
	}
	return s.advance(ctx, remediation.ActionFailed{Index: a.Index, Final: true,
		Err: fmt.Sprintf("no external executor answered action %q within %s", a.Request.Action, s.l.extTimeout)})
}

// settled ends the settling time; a timer left over from before a pause
// that fires early waits for the current one.
func (s *step) settled(ctx context.Context) worker.Result {
	a, ok := s.current(remediation.StateSettling, remediation.ActionStateFinished)
	if !ok {
		return worker.Done()
	}
	if now := s.l.now(); now.Before(s.rem.SettleUntil) {
		return worker.RescheduleAt(s.rem.SettleUntil, nil)
	}
	return s.advance(ctx, remediation.SettlingElapsed{Index: a.Index})
}

// maxEvaluationAttempts bounds the retries of an evaluation whose store or
// resources failed before it counts as one that could not run.
const maxEvaluationAttempts = 5

// evaluate verifies the current action with an SLO evaluation over the
// settling window.
func (s *step) evaluate(ctx context.Context) worker.Result {
	r := s.rem
	n := len(r.Evaluations)
	if r.State != remediation.StateVerifying || n == 0 {
		return worker.Done()
	}
	rec := r.Evaluations[n-1]
	if rec.Index != s.p.Index || rec.State != remediation.EvaluationStateRunning {
		return worker.Done()
	}
	cctx, cancel := context.WithTimeout(ctx, s.l.stepTimeout)
	ev, err := s.verify(cctx, rec)
	cancel()
	if err != nil && ctx.Err() == nil && errors.Is(err, sli.ErrUnavailable) {
		// An outage says nothing about the action: try the same window
		// again after a backoff, and escalate once the tries are used
		// up; never go on to the next action (see OutageRetry).
		final := rec.Attempts+1 >= s.l.outage.Attempts
		s.log.WarnContext(ctx, "remediation_monitoring_unavailable", "action_index", rec.Index, "attempt", rec.Attempts+1, "final", final, "err", err)
		return s.advance(ctx, remediation.MonitoringUnavailable{Index: rec.Index, Reason: err.Error(), Final: final})
	}
	if err != nil {
		if ctx.Err() != nil || s.job.Attempt < maxEvaluationAttempts {
			return worker.Retry(fmt.Errorf("evaluate: %w", err))
		}
		return s.advance(ctx, remediation.EvaluationFailed{Index: rec.Index, Err: err.Error()})
	}
	if ev.Result != slo.Pass && ev.Result != slo.Warning && ev.Result != slo.Fail {
		return s.advance(ctx, remediation.EvaluationFailed{Index: rec.Index, Err: fmt.Sprintf("the evaluation gave no result (%q): %s", ev.Result, ev.Message)})
	}
	s.log.InfoContext(ctx, "remediation_evaluated", "action_index", rec.Index, "result", string(ev.Result), "score", ev.Score)
	return s.advance(ctx, remediation.EvaluationFinished{Index: rec.Index, Evaluation: ev})
}

// verify runs the verifying evaluation of rec: for a remediation that
// Sloth's page alert started, whether the burn stopped
// (remediation.VerifyBurn over the short windows, at the end of the
// settling window); for any other, the SLO evaluation over the window.
func (s *step) verify(ctx context.Context, rec remediation.EvaluationRecord) (slo.Evaluation, error) {
	r := s.rem
	if r.Burn != nil && s.l.burn != nil {
		sample, err := s.l.burn.ShortBurn(ctx, BurnRequest{Project: r.Project, Stage: r.Stage, Service: r.Service, Alert: *r.Burn, At: rec.To})
		if err != nil {
			return slo.Evaluation{}, fmt.Errorf("read the burn of %s: %w", r.Burn.Name(), err)
		}
		ev := remediation.VerifyBurn(*r.Burn, sample)
		ev.TimeStart, ev.TimeEnd = rec.From.UTC().Format(time.RFC3339Nano), rec.To.UTC().Format(time.RFC3339Nano)
		return ev, nil
	}
	return s.l.eval.Evaluate(ctx, EvaluationRequest{
		Project: r.Project, Stage: r.Stage, Service: r.Service, Start: rec.From, End: rec.To,
		KeptnContext: r.KeptnContext, TriggeredID: rec.TriggeredEventID,
	})
}

// escalate sends the escalation notification of an escalated remediation.
func (s *step) escalate(ctx context.Context) worker.Result {
	r := s.rem
	if s.l.notify == nil {
		s.log.WarnContext(ctx, "remediation_escalated_without_notifier", "reason", s.p.Reason)
		return worker.Done()
	}
	err := s.l.notify.Notify(ctx, escalation(r, s.p.Reason))
	switch {
	case err == nil:
		s.log.InfoContext(ctx, "remediation_escalation_sent")
	case errors.Is(err, action.ErrNotConfigured):
		s.log.WarnContext(ctx, "remediation_escalated_no_webhook", "reason", s.p.Reason,
			"hint", "set escalation.url in tend.yaml (or TEND_ESCALATION_URL) to be told")
	case ctx.Err() != nil || (!errors.Is(err, action.ErrInvalid) && s.job.Attempt < s.l.maxAttempts):
		return worker.Retry(err)
	default:
		s.log.ErrorContext(ctx, "remediation_escalation_failed", "err", err)
	}
	return worker.Done()
}

// escalation describes an escalated remediation for a person.
func escalation(r *remediation.Remediation, reason string) action.Escalation {
	esc := action.Escalation{
		Key: r.ID + "/escalate", RemediationID: r.ID, Project: r.Project, Stage: r.Stage, Service: r.Service,
		Problem: action.Problem{Title: r.Title, RootCause: r.RootCause, URL: r.ProblemURL, State: "open"},
		Reason:  reason,
	}
	if r.OpenProblems() == 0 {
		esc.Problem.State = "closed"
	}
	if len(r.Problems) > 0 {
		esc.Problem.ID = r.Problems[0].ID
	}
	for _, a := range r.Actions {
		if a.State == "" {
			continue
		}
		at := action.EscalationAttempt{Name: a.Request.Name, Action: a.Request.Action, Failed: a.State == remediation.ActionStateFailed}
		switch {
		case a.Error != "" && at.Failed:
			at.Message = a.Error
		case a.Result != nil:
			at.Message = a.Result.Message
			at.Changes = a.Result.Changes
		case a.Plan != nil:
			at.Message = a.Plan.Summary
		}
		if at.Changes == nil && a.Plan != nil && !at.Failed {
			at.Changes = a.Plan.Changes
		}
		esc.Actions = append(esc.Actions, at)
	}
	if n := len(r.Evaluations); n > 0 {
		e := r.Evaluations[n-1]
		esc.LastEvaluation = &action.EscalationEvaluation{Result: string(e.Result), Score: e.Score}
	}
	return esc
}

// retry records a failed attempt of the step, or, when it was the job's
// last attempt, escalates the remediation with the error (Halted) rather
// than leave it running with no work behind it.
func (s *step) retry(ctx context.Context, err error) worker.Result {
	if ctx.Err() != nil || s.job.MaxAttempts <= 0 || s.job.Attempt < s.job.MaxAttempts {
		return worker.Retry(err)
	}
	s.log.ErrorContext(ctx, "remediation_step_gave_up", "attempt", s.job.Attempt, "err", err)
	return s.advance(ctx, remediation.Halted{Reason: fmt.Sprintf("its %s step failed %d times; last error: %v", stepName(s.p), s.job.Attempt, err)})
}

// advance applies ev and returns the job's result: done, with the new
// state, the events and the next jobs recorded in its transaction. An
// illegal or stale move means the step was handled already.
func (s *step) advance(ctx context.Context, ev remediation.Event) worker.Result {
	commit, err := s.move(ctx, ev)
	if err != nil {
		return worker.Retry(err)
	}
	if commit == nil {
		return worker.Done()
	}
	return worker.Done().WithCommit(commit)
}

// move applies ev to the remediation and returns what records it: the new
// state (a compare-and-set on the version read), the events and the next
// jobs. A nil commit and error means the move was illegal or stale.
func (s *step) move(ctx context.Context, ev remediation.Event) (worker.CommitFunc, error) {
	now := s.l.now()
	cmds, err := s.rem.Apply(ev, now)
	if errors.Is(err, remediation.ErrIllegal) {
		s.log.DebugContext(ctx, "remediation_step_stale", "event", string(ev.Kind()), "err", err)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	events, err := s.events(cmds, now)
	if err != nil {
		return nil, err
	}
	rem, version := s.rem, s.rec.Version
	for _, c := range cmds {
		if f, ok := c.(remediation.Finish); ok {
			s.log.InfoContext(ctx, "remediation_finished", "state", string(f.State), "reason", f.Reason)
		}
	}
	return func(ctx context.Context, tx store.Tx) error {
		upd, err := tx.UpdateRemediation(ctx, remediationRecord(rem, version))
		if err != nil {
			return fmt.Errorf("record remediation %s: %w", rem.ID, err)
		}
		if len(events) > 0 {
			if _, err := tx.AppendEvents(ctx, events...); err != nil {
				return fmt.Errorf("append remediation events: %w", err)
			}
		}
		jobs := s.l.jobs(rem, upd.Version, cmds, now)
		if len(jobs) > 0 {
			if _, err := tx.EnqueueJobs(ctx, jobs...); err != nil {
				return fmt.Errorf("enqueue remediation steps: %w", err)
			}
		}
		return nil
	}, nil
}

// events builds the event records of the Emit commands.
func (s *step) events(cmds []remediation.Command, now time.Time) ([]store.EventRecord, error) {
	return emitted(s.rem, cmds, now)
}

// emitted turns the Emit commands of a transition of r into event records,
// with the IDs the state machine chose, so that a replayed transition
// emits the same events.
func emitted(r *remediation.Remediation, cmds []remediation.Command, now time.Time) ([]store.EventRecord, error) {
	var out []store.EventRecord
	for _, c := range cmds {
		e, ok := c.(remediation.Emit)
		if !ok {
			continue
		}
		id := e.ID
		b := event.Builder{Source: event.DefaultSource, Now: func() time.Time { return now }, NewID: func() string { return id }}
		ev, err := b.New(e.Type, r.KeptnContext, e.TriggeredID, e.Data)
		if err != nil {
			return nil, fmt.Errorf("remediation %s: %w", r.ID, err)
		}
		rec, err := eventlog.Record(ev)
		if err != nil {
			return nil, fmt.Errorf("remediation %s: %w", r.ID, err)
		}
		out = append(out, rec)
	}
	return out, nil
}

// jobs turns the commands that need I/O into the next steps' jobs. Their
// unique keys name the remediation's new version, so a transition's jobs
// are enqueued once however often its commit is attempted.
func (l *Loop) jobs(r *remediation.Remediation, version int64, cmds []remediation.Command, now time.Time) []store.JobSpec {
	var out []store.JobSpec
	add := func(i int, p remediation.Payload, runAt time.Time) {
		p.RemediationID = r.ID
		b, _ := json.Marshal(p)
		out = append(out, store.JobSpec{
			Kind: remediation.JobKind, Payload: b, RunAt: runAt, MaxAttempts: l.stepTries,
			UniqueKey: "remediation/" + r.ID + "/v" + strconv.FormatInt(version, 10) + "/" + strconv.Itoa(i) + "/" + string(p.Step),
		})
	}
	for i, c := range cmds {
		switch c := c.(type) {
		case remediation.PrepareAction:
			add(i, remediation.Payload{Step: remediation.StepPrepare, Index: c.Index}, retryAt(r.Actions[c.Index], now))
		case remediation.ApplyAction:
			// An external action's job looks for the answer at once (it
			// may have come while the plan was made), then waits for it
			// until the timeout.
			add(i, remediation.Payload{Step: remediation.StepApply, Index: c.Index}, retryAt(r.Actions[c.Index], now))
		case remediation.StartTimer:
			add(i, remediation.Payload{Step: remediation.StepSettled, Index: r.CurrentAction}, c.At)
		case remediation.StartEvaluation:
			// Tried again after an outage: wait the backoff first.
			var at time.Time
			if n := len(r.Evaluations); n > 0 && r.Evaluations[n-1].Attempts > 0 {
				at = now.Add(l.outage.Delay(r.Evaluations[n-1].Attempts))
			}
			add(i, remediation.Payload{Step: remediation.StepEvaluate, Index: c.Index}, at)
		case remediation.Escalate:
			add(i, remediation.Payload{Step: remediation.StepEscalate, Reason: c.Reason}, time.Time{})
		}
	}
	return out
}

// retryAt delays a step tried again after a failure: one second, doubling
// with every failed attempt.
func retryAt(a remediation.ActionRecord, now time.Time) time.Time {
	if a.Attempts == 0 {
		return time.Time{}
	}
	return now.Add(store.RetryDelay(a.Attempts))
}

// actionLabel names an action for a person: its name, else its type.
func actionLabel(a *remediation.ActionRecord) string {
	if a.Request.Name != "" {
		return a.Request.Name
	}
	return a.Request.Action
}
