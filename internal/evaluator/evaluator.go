// Package evaluator runs Keptn's evaluation sequence as durable worker jobs
// (kind evaluation.JobKind). Each run of a job does one step's I/O (read the
// SLO file and the monitoring configuration; query the SLI provider; read
// the earlier evaluations) and hands the inputs to internal/evaluation, which
// decides the step's events and the next step; the step's events, the next
// step and this job's outcome are then recorded in one transaction
// (worker.Result.WithCommit).
//
// The composition root (internal/app) wires the store, the resource
// repositories and the SLI providers in, and registers Handle on the
// worker.
package evaluator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tendhq/tend/internal/evaluation"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/eventlog"
	"github.com/tendhq/tend/internal/resource"
	"github.com/tendhq/tend/internal/sequence"
	"github.com/tendhq/tend/internal/settings"
	"github.com/tendhq/tend/internal/sli"
	"github.com/tendhq/tend/internal/slo"
	"github.com/tendhq/tend/internal/spec"
	"github.com/tendhq/tend/internal/store"
	"github.com/tendhq/tend/internal/worker"
)

// Store is what the steps read: the monitoring settings and the event log
// (earlier evaluations and their invalidations). store.Store satisfies it.
type Store interface {
	settings.Getter
	ListEvents(ctx context.Context, f store.EventFilter) (store.EventPage, error)
}

// Resources reads the SLO and SLI files; *resource.Repos satisfies it.
type Resources interface {
	Get(ctx context.Context, ref resource.Ref, uri, version string) ([]byte, string, error)
	// GetLevels reads a file at the project, stage and service levels
	// of ref, each as Get would, with one head read per branch.
	GetLevels(ctx context.Context, ref resource.Ref, uri string) [3]resource.Level
}

// ProviderFactory builds the SLI provider of a service's resolved, checked
// monitoring setting. Its errors must not contain the setting's secrets.
type ProviderFactory func(sel settings.Selection) (sli.Provider, error)

// DefaultMaxBaselineEvents bounds how many earlier evaluation.finished
// events one evaluation reads to find its baseline.
const DefaultMaxBaselineEvents = 1000

// Options configure a Handler. Store, Resources, Monitoring and Providers
// are required.
type Options struct {
	Store     Store
	Resources Resources
	// Monitoring is the monitoring setting over the registered providers
	// (sli.Monitoring).
	Monitoring *settings.Choice
	Providers  ProviderFactory
	// Logger receives one line per step; nil discards. Secrets never
	// reach it.
	Logger *slog.Logger
	// Now is the clock of event times and default windows; nil means
	// time.Now.
	Now func() time.Time
	// MaxBaselineEvents bounds the baseline search; 0 means
	// DefaultMaxBaselineEvents.
	MaxBaselineEvents int
	// Specs decodes the SLO files, shared with the server's other readers
	// of stored files, so that one version is decoded once; nil decodes
	// each evaluation's SLO file once, in its first step.
	Specs *spec.Cache
}

// Handler runs the steps of evaluation jobs.
type Handler struct {
	st       Store
	res      Resources
	monitor  *settings.Choice
	provide  ProviderFactory
	log      *slog.Logger
	now      func() time.Time
	maxPrevs int
	specs    *spec.Cache
	finished *finishedCache
}

// New checks opts and returns a Handler.
func New(opts Options) (*Handler, error) {
	if opts.Store == nil || opts.Resources == nil || opts.Monitoring == nil || opts.Providers == nil {
		return nil, errors.New("evaluation: Options.Store, Resources, Monitoring and Providers are required")
	}
	h := &Handler{st: opts.Store, res: opts.Resources, monitor: opts.Monitoring, provide: opts.Providers, log: opts.Logger, now: opts.Now, maxPrevs: opts.MaxBaselineEvents, specs: opts.Specs, finished: newFinishedCache()}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.maxPrevs <= 0 {
		h.maxPrevs = DefaultMaxBaselineEvents
	}
	return h, nil
}

// Handle runs one step of an evaluation job; register it on the worker
// under evaluation.JobKind.
func (h *Handler) Handle(ctx context.Context, job store.Job) worker.Result {
	st, err := evaluation.DecodeState(job.Payload)
	if err != nil {
		// Retrying cannot fix a payload; there is no context to finish.
		h.log.ErrorContext(ctx, "evaluation_job_unreadable", "job_id", job.ID, "err", err)
		return worker.Done()
	}
	log := h.log.With("keptn_context", st.KeptnContext, "project", st.Project, "stage", st.Stage, "service", st.Service, "step", string(st.Step), "job_id", job.ID)
	var r run
	out, err := h.step(ctx, &r, st)
	if err == nil {
		out = h.chain(ctx, &r, log, st, out)
	}
	if err != nil {
		if ctx.Err() != nil || job.Attempt < job.MaxAttempts {
			log.WarnContext(ctx, "evaluation_step_failed", "attempt", job.Attempt, "err", err)
			return worker.Retry(err)
		}
		// The last attempt: finish the evaluation as failed rather than
		// leave it open for ever.
		log.ErrorContext(ctx, "evaluation_aborted", "attempt", job.Attempt, "err", err)
		if out, err = st.Abort(h.now(), err.Error()); err != nil {
			return worker.Retry(err)
		}
	}
	recs, err := eventlog.Records(out.Events)
	if err != nil {
		return worker.Retry(err)
	}
	// An evaluation that a sequence's task triggered tells the sequence
	// of its answers in the same transaction (the outbox).
	var answers []store.JobSpec
	if st.Sequence {
		for _, ev := range out.Events {
			if sequence.IsAnswer(ev) {
				j := sequence.AnswerJob(ev)
				answers = append(answers, store.JobSpec{Kind: j.Kind, Payload: j.Payload, UniqueKey: j.UniqueKey, MaxAttempts: sequence.MaxAttempts})
			}
		}
	}
	commit := func(ctx context.Context, tx store.Tx) error {
		if len(recs) == 0 {
			return nil
		}
		if _, err := tx.AppendEvents(ctx, recs...); err != nil {
			return err
		}
		if len(answers) > 0 {
			_, err := tx.EnqueueJobs(ctx, answers...)
			return err
		}
		return nil
	}
	if out.Next != nil {
		log.DebugContext(ctx, "evaluation_step_done", "next", string(out.Next.Step))
		return worker.RescheduleAt(out.RunAt, out.Next.Payload()).WithCommit(commit)
	}
	log.InfoContext(ctx, "evaluation_finished")
	return worker.Done().WithCommit(commit)
}

// run is what the steps of one run of a job (Handle's chain, Evaluate)
// share: the monitoring setting, resolved once. Step by step, the start
// and the get-sli steps each resolved it, up to four settings reads each;
// chained, the second read would come a moment after the first, and
// reading the setting once is the same as its not changing in that
// moment, which the step-by-step run allows too. A run that is not
// chained (a step after a claim) resolves it afresh, so a change between
// two runs is still seen (fetch's "changed while the evaluation ran").
type run struct {
	resolved bool
	sel      settings.Selection
	selErr   error // nil or an error wrapping settings.ErrNotSet
}

// monitoring resolves the service's monitoring setting, once per run.
// Other errors (the store failing) are not kept: the step fails and runs
// again with a new run.
func (h *Handler) monitoring(ctx context.Context, r *run, st evaluation.State) (settings.Selection, error) {
	if r.resolved {
		return r.sel, r.selErr
	}
	sel, err := h.monitor.Resolve(ctx, h.st, st.Project, st.Stage, st.Service)
	if err == nil || errors.Is(err, settings.ErrNotSet) {
		r.resolved, r.sel, r.selErr = true, sel, err
	}
	return sel, err
}

// step runs the I/O of st's step and decides its outcome.
func (h *Handler) step(ctx context.Context, r *run, st evaluation.State) (evaluation.Outcome, error) {
	switch st.Step {
	case evaluation.StepStart:
		return h.begin(ctx, r, st)
	case evaluation.StepGetSLI:
		return h.getSLIs(ctx, r, st)
	case evaluation.StepEvaluate:
		return h.evaluate(ctx, st)
	}
	return evaluation.Outcome{}, fmt.Errorf("evaluation step %q is unknown", st.Step)
}

// chain runs the steps that follow out at once in the same run of the job,
// and returns the outcome of the last with the events of all, in order, so
// that one transaction records them: an evaluation whose SLIs tend queries
// itself then takes one claim and one commit instead of three of each.
// The events and their ids are the same as step by step (each step's
// events are decided from its own inputs, at its own time). A crash before
// the commit runs the job again from the step it was claimed at, as it
// would after a crash in that step alone. Steps are not chained when
// something outside must see the earlier events before the next step runs:
// an integration that answers get-sli.triggered (ExternalProvider), and a
// shipyard sequence, which is handed each answer (evaluation.started,
// .finished) as a job of its own. A chained step that fails is not an
// error: the steps before it are recorded, and it runs again as the job's
// next step, as it would have.
func (h *Handler) chain(ctx context.Context, r *run, log *slog.Logger, st evaluation.State, out evaluation.Outcome) evaluation.Outcome {
	for out.Next != nil && !st.Sequence && out.Next.ExternalProvider == "" &&
		(out.Next.Step == evaluation.StepGetSLI || out.Next.Step == evaluation.StepEvaluate) &&
		!out.RunAt.After(h.now()) {
		next, err := h.step(ctx, r, *out.Next)
		if err != nil {
			log.DebugContext(ctx, "evaluation_chained_step_failed", "next", string(out.Next.Step), "err", err)
			return out
		}
		next.Events = append(out.Events, next.Events...)
		out = next
	}
	return out
}

// begin reads the SLO file and which provider is configured.
func (h *Handler) begin(ctx context.Context, r *run, st evaluation.State) (evaluation.Outcome, error) {
	in := evaluation.StartInput{Specs: h.specs}
	ref := resource.Ref{Project: st.Project, Stage: st.Stage, Service: st.Service}
	// A gitcommitid pins the SLO file to that commit, as Keptn's
	// lighthouse read it.
	data, version, err := h.res.Get(ctx, ref, "slo.yaml", st.GitCommitID)
	switch {
	case err == nil:
		in.SLO, in.SLOVersion = data, version
	case errors.Is(err, resource.ErrVersionNotFound):
		in.SLOProblem = fmt.Sprintf("commit %s (gitcommitid) is not in the history of stage %s of project %s", st.GitCommitID, st.Stage, st.Project)
	case errors.Is(err, resource.ErrResourceNotFound):
	case errors.Is(err, resource.ErrProjectNotFound):
		in.SLOProblem = fmt.Sprintf("project %s does not exist, so it has no SLO file", st.Project)
	case errors.Is(err, resource.ErrStageNotFound):
		in.SLOProblem = fmt.Sprintf("stage %s does not exist in project %s, so there is no SLO file", st.Stage, st.Project)
	case errors.Is(err, resource.ErrInvalidName):
		in.SLOProblem = fmt.Sprintf("no SLO file can exist for project %q, stage %q, service %q: %v", st.Project, st.Stage, st.Service, err)
	default:
		return evaluation.Outcome{}, fmt.Errorf("read slo.yaml of %s: %w", ref, err)
	}
	sel, err := h.monitoring(ctx, r, st)
	switch {
	case err == nil:
		in.Provider = sel.Variant
	case errors.Is(err, settings.ErrNotSet):
	default:
		return evaluation.Outcome{}, err
	}
	if in.Provider == sli.ExternalKey {
		// A Keptn integration serves the SLIs: the task is handed out
		// under the provider name it answers for.
		ext, err := sli.ExternalSchema.Decode(sel.Value)
		if err != nil || ext.Name == "" {
			return evaluation.Outcome{}, fmt.Errorf("read the external SLI provider setting: %v", err)
		}
		in.External, in.Timeout = ext.Name, ext.TimeoutOrDefault()
	}
	return st.Begin(h.now(), in)
}

// getSLIs queries the provider for every indicator, or looks for an
// external provider's answer.
func (h *Handler) getSLIs(ctx context.Context, r *run, st evaluation.State) (evaluation.Outcome, error) {
	if st.ExternalProvider != "" {
		a, found, err := h.sliAnswer(ctx, st)
		if err != nil {
			return evaluation.Outcome{}, err
		}
		if !found {
			return st.SLIWait(h.now())
		}
		return st.SLIsAnswered(a)
	}
	values, err := h.fetch(ctx, r, st)
	if errors.Is(err, sli.ErrUnavailable) && ctx.Err() == nil {
		h.log.WarnContext(ctx, "evaluation_monitoring_unavailable", "project", st.Project, "stage", st.Stage, "service", st.Service, "err", err)
		return st.MonitoringUnavailable(h.now(), values, err.Error())
	}
	if err != nil {
		return evaluation.Outcome{}, err
	}
	return st.SLIsFetched(h.now(), values)
}

func (h *Handler) fetch(ctx context.Context, r *run, st evaluation.State) ([]slo.SLIResult, error) {
	failAll := func(format string, args ...any) []slo.SLIResult {
		out := make([]slo.SLIResult, len(st.Indicators))
		for i, name := range st.Indicators {
			out[i] = sli.Failed(name, format, args...)
		}
		return out
	}
	sel, err := h.monitoring(ctx, r, st)
	switch {
	case errors.Is(err, settings.ErrNotSet):
		return failAll("the monitoring configuration was removed while the evaluation ran"), nil
	case err != nil:
		return nil, err
	}
	if sel.Variant != st.Provider {
		return failAll("the monitoring configuration changed from %s to %s while the evaluation ran", st.Provider, sel.Variant), nil
	}
	if err := h.monitor.Check(sel); err != nil {
		return failAll("the %s configuration is unusable: %v", sel.Variant, err), nil
	}
	p, err := h.provide(sel)
	if err != nil {
		return failAll("the %s provider cannot be built: %v", sel.Variant, err), nil
	}
	levels := []resource.Ref{
		{Project: st.Project},
		{Project: st.Project, Stage: st.Stage},
		{Project: st.Project, Stage: st.Stage, Service: st.Service},
	}
	var layers [3]map[string]string
	uri := sel.Variant + "/sli.yaml"
	read := h.res.GetLevels(ctx, levels[2], uri)
	for i, ref := range levels {
		data, err := read[i].Data, read[i].Err
		switch {
		case err == nil:
		case errors.Is(err, resource.ErrResourceNotFound), errors.Is(err, resource.ErrProjectNotFound), errors.Is(err, resource.ErrStageNotFound), errors.Is(err, resource.ErrInvalidName):
			continue
		default:
			return nil, fmt.Errorf("read %s of %s: %w", uri, ref, err)
		}
		f, diags := spec.DecodeSLI(uri, data)
		if f == nil || diags.HasErrors() {
			return failAll("%s of %s is invalid: %v", uri, ref, diags), nil
		}
		layers[i] = f.Indicators
	}
	req := sli.Request{
		Project: st.Project, Stage: st.Stage, Service: st.Service, Deployment: st.Deployment,
		Start: st.Start, End: st.End,
		Indicators: st.Indicators,
		Queries:    sli.Merge(layers[0], layers[1], layers[2]),
		Filters:    st.Filters,
		Labels:     st.Labels,
	}
	values, err := p.GetSLIs(ctx, req)
	switch {
	case err == nil:
		return values, nil
	case ctx.Err() != nil:
		return nil, fmt.Errorf("get slis: %w", context.Cause(ctx))
	case errors.Is(err, sli.ErrInvalidRequest):
		return failAll("%v", err), nil
	case errors.Is(err, sli.ErrUnavailable):
		// Every SLI failed for a transport reason: the values go on,
		// with the outage as the error (see getSLIs).
		return values, err
	}
	return nil, err
}

// evaluate reads the baseline and scores the values.
func (h *Handler) evaluate(ctx context.Context, st evaluation.State) (evaluation.Outcome, error) {
	prev, err := h.baseline(ctx, st)
	if err != nil {
		return evaluation.Outcome{}, err
	}
	return st.Evaluate(h.now(), prev)
}

// baselinePage is how many events one read of the baseline search takes.
const baselinePage = 100

// baseline reads the earlier evaluations of the project, stage and service,
// newest first, until the SLO's comparison has what it needs.
func (h *Handler) baseline(ctx context.Context, st evaluation.State) ([]slo.Previous, error) {
	comparison := st.Comparison()
	// The first page of earlier evaluations holds a few more than the
	// comparison needs (some may not count: errored, invalidated, a
	// result it excludes); later pages double up to baselinePage. The
	// evaluation compares with the newest usable ones only
	// (slo.Evaluate), so stopping once there are enough gives the result
	// reading more would: reading and decoding a hundred earlier
	// evaluations each time was a third of the CPU of an evaluation of a
	// service evaluated often (issue 16).
	//
	// The invalidations are read all (up to maxPrevs) in pages of the
	// same sizes. Both reads are one statement of the store (ListEvents
	// by project, stage, service and type), and SQLite plans with the
	// value bound to LIMIT, so a statement bound to another LIMIT than in
	// its last run is compiled again: with pages of MaxPageSize for the
	// invalidations and of 4 for the evaluations that was every read, a
	// tenth of the benchmark process's CPU (BenchmarkEvaluationsOverhead).
	// A service with more invalidations than a first page takes more
	// reads; invalidations are rare.
	first := min(2*evaluation.Wanted(comparison)+2, baselinePage)
	f := store.EventFilter{Project: st.Project, Stage: st.Stage, Service: st.Service, Type: event.TypeEvaluationInvalidated, PageSize: first}
	var invalidations [][]byte
	for len(invalidations) < h.maxPrevs {
		pg, err := h.st.ListEvents(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("read evaluation invalidations: %w", err)
		}
		for _, e := range pg.Events {
			invalidations = append(invalidations, e.JSON)
		}
		if pg.NextPageKey == "" {
			break
		}
		f.PageKey, f.PageSize = pg.NextPageKey, min(2*f.PageSize, baselinePage)
	}
	f.Type, f.PageKey, f.PageSize = event.TypeEvaluationFinished, "", first
	var finished []evaluation.Finished
	var prev []slo.Previous
	for len(finished) < h.maxPrevs {
		pg, err := h.st.ListEvents(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("read earlier evaluations: %w", err)
		}
		for _, e := range pg.Events {
			if e.KeptnContext == st.KeptnContext && e.TriggeredID == st.TriggeredID {
				continue // this evaluation, finished by an earlier attempt
			}
			finished = append(finished, h.finished.decode(e))
		}
		prev = evaluation.BaselineOf(finished, invalidations)
		if pg.NextPageKey == "" || evaluation.Enough(comparison, prev) {
			break
		}
		f.PageKey, f.PageSize = pg.NextPageKey, min(2*f.PageSize, baselinePage)
	}
	return prev, nil
}

// finishedCacheSize bounds finishedCache: a few earlier evaluations of each
// of a few thousand services.
const finishedCacheSize = 4096

// finishedCache keeps the earlier evaluations that baseline searches
// decoded. Each evaluation of a service reads the newest few of its earlier
// evaluations, so without it every stored evaluation.finished event was
// decoded again by each of the next few evaluations (decoding was 6% of
// the CPU of BenchmarkEvaluationsOverhead). Stored events never change,
// and an event's sequence number, source and id name it alone.
type finishedCache struct {
	mu sync.Mutex
	m  map[finishedKey]evaluation.Finished
}

type finishedKey struct {
	seq        int64
	source, id string
}

func newFinishedCache() *finishedCache {
	return &finishedCache{m: make(map[finishedKey]evaluation.Finished)}
}

// decode returns what the baseline needs of e, decoding it only the first
// time.
func (c *finishedCache) decode(e store.EventRecord) evaluation.Finished {
	k := finishedKey{seq: e.Seq, source: e.Source, id: e.ID}
	c.mu.Lock()
	f, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return f
	}
	f = evaluation.DecodeFinished(e.JSON)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= finishedCacheSize {
		for old := range c.m { // any one: map order is arbitrary
			delete(c.m, old)
			break
		}
	}
	c.m[k] = f
	return f
}
