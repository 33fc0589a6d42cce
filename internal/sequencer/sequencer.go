// Package sequencer runs shipyard sequences as durable worker jobs: it reads
// a project's shipyard and a sequence's stored state, hands them with the
// job's input to internal/sequence, which decides, and records the decision
// (the sequence's new state, its events, its timer, the built-in
// evaluation's first job, the built-in delivery executors' jobs, the
// follow-up sequences, the next queued sequence) in the job's own transaction (worker.Result.WithCommit). A
// crash at any point loses no step: the job runs again and, the event ids
// being derived, emits nothing twice.
//
// The composition root (internal/app) registers Handle for the job kinds
// sequence.JobStart, sequence.JobAnswer and sequence.JobInput.
package sequencer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tendhq/tend/internal/delivery"
	"github.com/tendhq/tend/internal/evaluation"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/sequence"
	"github.com/tendhq/tend/internal/spec"
	"github.com/tendhq/tend/internal/store"
	"github.com/tendhq/tend/internal/worker"
)

// Store is what the runner reads outside its transactions; store.Store
// satisfies it.
type Store interface {
	GetProject(ctx context.Context, name string) (store.Project, error)
	ListSequences(ctx context.Context, f store.SequenceFilter) (store.SequencePage, error)
}

// Options configure a Handler. Store is required.
type Options struct {
	Store Store
	// TaskTimeout is how long a triggered task waits for an executor's
	// .started; sequence.DefaultTaskTimeout when 0.
	TaskTimeout time.Duration
	// Logger receives one line per step; nil discards.
	Logger *slog.Logger
	// Now is the clock of events and timers; nil means time.Now.
	Now func() time.Time
}

// Handler runs sequence jobs.
type Handler struct {
	st      Store
	timeout time.Duration
	log     *slog.Logger
	now     func() time.Time
}

// New checks opts and returns a Handler.
func New(opts Options) (*Handler, error) {
	if opts.Store == nil {
		return nil, errors.New("sequencer: Options.Store is required")
	}
	h := &Handler{st: opts.Store, timeout: opts.TaskTimeout, log: opts.Logger, now: opts.Now}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	return h, nil
}

// Kinds are the job kinds Handle serves.
var Kinds = []string{sequence.JobStart, sequence.JobAnswer, sequence.JobInput}

// Handle runs one sequence job.
func (h *Handler) Handle(ctx context.Context, job store.Job) worker.Result {
	log := h.log.With("job_id", job.ID, "kind", job.Kind)
	var commit worker.CommitFunc
	var err error
	switch job.Kind {
	case sequence.JobStart:
		commit, err = h.start(ctx, job, log)
	case sequence.JobAnswer:
		commit, err = h.answer(ctx, job, log)
	case sequence.JobInput:
		commit, err = h.input(job, log)
	default:
		err = fmt.Errorf("unknown job kind %q", job.Kind)
	}
	if errors.Is(err, errUnreadable) {
		// Retrying cannot fix a payload.
		log.ErrorContext(ctx, "sequence_job_unreadable", "err", err)
		return worker.Done()
	}
	if err != nil {
		log.WarnContext(ctx, "sequence_step_failed", "attempt", job.Attempt, "err", err)
		return worker.Retry(err)
	}
	return worker.Done().WithCommit(commit)
}

var errUnreadable = errors.New("unreadable job")

// start creates the sequence of a trigger event and starts it when its
// project, stage and service is free.
func (h *Handler) start(ctx context.Context, job store.Job, log *slog.Logger) (worker.CommitFunc, error) {
	ev, err := sequence.DecodeEvent(job.Payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUnreadable, err)
	}
	c, _ := ev.Common()
	log = log.With("keptn_context", ev.KeptnContext, "project", c.Project, "event_type", ev.Type)
	p, err := h.st.GetProject(ctx, c.Project)
	if errors.Is(err, store.ErrNotFound) {
		log.WarnContext(ctx, "sequence_project_unknown")
		return h.refuse(ev, fmt.Sprintf("project %q does not exist", c.Project))
	}
	if err != nil {
		return nil, err
	}
	sy, diags := spec.DecodeShipyard("shipyard.yaml", p.Shipyard)
	if sy == nil {
		return h.refuse(ev, "the project's shipyard cannot be read: "+diags.Error())
	}
	now := h.now()
	seq, err := sequence.New(sy, ev, now, sequence.Options{TaskTimeout: h.timeout})
	if errors.Is(err, sequence.ErrUnknown) {
		log.WarnContext(ctx, "sequence_unknown", "err", err)
		return h.refuse(ev, err.Error())
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUnreadable, err)
	}
	return func(ctx context.Context, tx store.Tx) error {
		rec, err := tx.CreateSequence(ctx, record(seq))
		if errors.Is(err, store.ErrExists) {
			return nil // a replay: the first run created and started it
		}
		if err != nil {
			return err
		}
		if _, err := tx.ActiveSequence(ctx, seq.Project, seq.Stage, seq.Service); err == nil {
			log.InfoContext(ctx, "sequence_waiting", "sequence_id", seq.ID)
			return nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return h.apply(ctx, tx, rec, seq, sequence.InputStart, nil)
	}, nil
}

// refuse records that a trigger names no sequence tend can run: the
// sequence's finished event, errored, so the sender sees why.
func (h *Handler) refuse(ev *event.Event, msg string) (worker.CommitFunc, error) {
	t, _ := event.ParseType(ev.Type)
	c, _ := ev.Common()
	data := map[string]any{"project": c.Project, "stage": t.Stage, "service": c.Service,
		"result": event.ResultFail, "status": event.StatusErrored, "message": msg}
	b := event.Builder{Source: sequence.Source, Now: h.now, NewID: func() string { return sequence.ID(ev.KeptnContext, t.Stage, t.Task) }}
	fin, err := b.New(event.SequenceType(t.Stage, t.Task, event.PhaseFinished), ev.KeptnContext, ev.ID, data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUnreadable, err)
	}
	recs, err := records([]*event.Event{fin})
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, tx store.Tx) error {
		_, err := tx.AppendEvents(ctx, recs...)
		return err
	}, nil
}

// answer hands an executor's answer to the sequence whose task it answers.
func (h *Handler) answer(ctx context.Context, job store.Job, log *slog.Logger) (worker.CommitFunc, error) {
	ev, err := sequence.DecodeEvent(job.Payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUnreadable, err)
	}
	pg, err := h.st.ListSequences(ctx, store.SequenceFilter{KeptnContext: ev.KeptnContext, PageSize: store.MaxPageSize})
	if err != nil {
		return nil, err
	}
	in := sequence.InputTaskFinished
	if t, _ := event.ParseType(ev.Type); t.Phase == event.PhaseStarted {
		in = sequence.InputTaskStarted
	}
	var ids []string
	for _, r := range pg.Sequences {
		ids = append(ids, r.ID)
	}
	return func(ctx context.Context, tx store.Tx) error {
		for _, id := range ids {
			rec, err := tx.GetSequence(ctx, id)
			if err != nil {
				return err
			}
			seq, err := sequence.Decode(rec.Doc)
			if err != nil {
				log.ErrorContext(ctx, "sequence_unreadable", "sequence_id", id, "err", err)
				continue
			}
			if seq.TaskTriggeredID != ev.TriggeredID {
				continue
			}
			return h.apply(ctx, tx, rec, seq, in, ev)
		}
		return nil // not a sequence's task (an evaluation or remediation of its own)
	}, nil
}

// input delivers a timer or a control to a sequence.
func (h *Handler) input(job store.Job, log *slog.Logger) (worker.CommitFunc, error) {
	p, err := sequence.DecodeInput(job.Payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUnreadable, err)
	}
	return func(ctx context.Context, tx store.Tx) error {
		rec, err := tx.GetSequence(ctx, p.SequenceID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		seq, err := sequence.Decode(rec.Doc)
		if err != nil {
			log.ErrorContext(ctx, "sequence_unreadable", "sequence_id", p.SequenceID, "err", err)
			return nil
		}
		err = h.apply(ctx, tx, rec, seq, p.Input, nil)
		if errors.Is(err, sequence.ErrIllegal) {
			// A control that no longer applies (the sequence ended
			// meanwhile): nothing to do.
			log.InfoContext(ctx, "sequence_control_ignored", "sequence_id", p.SequenceID, "input", string(p.Input), "err", err)
			return nil
		}
		return err
	}, nil
}

// apply steps a sequence and records everything the step decided, in tx.
func (h *Handler) apply(ctx context.Context, tx store.Tx, rec store.SequenceRecord, seq sequence.Sequence, in sequence.Input, ev *event.Event) error {
	now := h.now()
	out, err := seq.Step(now, in, ev)
	if err != nil {
		return err
	}
	if !out.Changed {
		return nil
	}
	// The built-in evaluation: planned in this transaction; an evaluation
	// that cannot run answers the task at once.
	var evalJob *store.JobSpec
	if out.Evaluation != nil {
		plan, ok, err := evaluation.PlanForSequence(out.Evaluation, now)
		if ok && err == nil {
			evalJob = &store.JobSpec{Kind: plan.Job.Kind, Payload: plan.Job.Payload, UniqueKey: plan.Job.UniqueKey, MaxAttempts: plan.Job.MaxAttempts}
		} else {
			msg := "the evaluation task needs a service"
			if err != nil {
				msg = err.Error()
			}
			if out, err = h.answerAtOnce(now, out, msg); err != nil {
				return err
			}
		}
	}
	next := out.Sequence
	rec.State, rec.Active, rec.Doc = string(next.State), next.State.Active(), next.Encode()
	if _, err := tx.UpdateSequence(ctx, rec); err != nil {
		return err
	}
	recs, err := records(append(append([]*event.Event{}, out.Events...), out.FollowUps...))
	if err != nil {
		return err
	}
	if len(recs) > 0 {
		if _, err := tx.AppendEvents(ctx, recs...); err != nil {
			return err
		}
	}
	var jobs []store.JobSpec
	if out.Timer != nil {
		jobs = append(jobs, jobSpec(sequence.TimerJob(next.ID, *out.Timer), out.Timer.RunAt))
	}
	if evalJob != nil {
		jobs = append(jobs, *evalJob)
	}
	for _, f := range out.FollowUps {
		jobs = append(jobs, jobSpec(sequence.StartJob(f), time.Time{}))
	}
	// The built-in delivery executors (internal/deliverer) decide, in a
	// job of their own, whether they carry a deployment, test, release or
	// rollback task out.
	for _, ev := range out.Events {
		if j, ok := deliveryJob(ev); ok {
			jobs = append(jobs, j)
		}
	}
	if len(jobs) > 0 {
		if _, err := tx.EnqueueJobs(ctx, jobs...); err != nil {
			return err
		}
	}
	h.log.InfoContext(ctx, "sequence_step", "sequence_id", next.ID, "keptn_context", next.KeptnContext, "input", string(in),
		"state", string(next.State), "task", next.Current, "events", len(out.Events))
	if !out.Released {
		return nil
	}
	// The next sequence waiting for this project, stage and service.
	w, err := tx.NextWaitingSequence(ctx, next.Project, next.Stage, next.Service, string(sequence.Waiting))
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	ws, err := sequence.Decode(w.Doc)
	if err != nil {
		return err
	}
	return h.apply(ctx, tx, w, ws, sequence.InputStart, nil)
}

// answerAtOnce finishes the evaluation task that cannot run, errored.
func (h *Handler) answerAtOnce(now time.Time, out sequence.Outcome, msg string) (sequence.Outcome, error) {
	trig := out.Evaluation
	c, _ := trig.Common()
	data := map[string]any{"project": c.Project, "stage": c.Stage, "service": c.Service,
		"result": event.ResultFail, "status": event.StatusErrored, "message": msg}
	b := event.Builder{Source: sequence.Source, Now: func() time.Time { return now }, NewID: func() string { return sequence.DerivedID(trig.ID, "unrunnable") }}
	fin, err := b.New(event.TypeEvaluationFinished, trig.KeptnContext, trig.ID, data)
	if err != nil {
		return out, err
	}
	more, err := out.Sequence.Step(now, sequence.InputTaskFinished, fin)
	if err != nil {
		return out, err
	}
	// The task's answer timeout armed by the first step is left to fire
	// harmlessly: its deadline is no longer the sequence's.
	more.Events = append(append(out.Events, fin), more.Events...)
	more.Released = more.Released || out.Released
	return more, nil
}

// deliveryJob is the delivery job of a delivery task's .triggered event.
func deliveryJob(ev *event.Event) (store.JobSpec, bool) {
	t, ok := event.ParseType(ev.Type)
	if !ok || t.IsSequence() || t.Phase != event.PhaseTriggered || !delivery.IsTask(t.Task) {
		return store.JobSpec{}, false
	}
	j := delivery.TaskJob(ev)
	return store.JobSpec{Kind: j.Kind, Payload: j.Payload, UniqueKey: j.UniqueKey, MaxAttempts: delivery.MaxAttempts}, true
}

func jobSpec(j sequence.Job, runAt time.Time) store.JobSpec {
	return store.JobSpec{Kind: j.Kind, Payload: j.Payload, UniqueKey: j.UniqueKey, RunAt: runAt, MaxAttempts: sequence.MaxAttempts}
}

// record is the store's record of a new sequence.
func record(s sequence.Sequence) store.SequenceRecord {
	return store.SequenceRecord{ID: s.ID, KeptnContext: s.KeptnContext, Project: s.Project, Stage: s.Stage, Service: s.Service,
		Name: s.Name, State: string(s.State), Active: s.State.Active(), Doc: s.Encode()}
}

func records(evs []*event.Event) ([]store.EventRecord, error) {
	out := make([]store.EventRecord, 0, len(evs))
	for _, ev := range evs {
		b, err := json.Marshal(ev)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", ev.Type, err)
		}
		c, _ := ev.Common()
		out = append(out, store.EventRecord{
			ID: ev.ID, Source: ev.Source, Type: ev.Type, Time: ev.Time, SpecVersion: ev.SpecVersion,
			KeptnContext: ev.KeptnContext, TriggeredID: ev.TriggeredID,
			Project: c.Project, Stage: c.Stage, Service: c.Service, JSON: b,
		})
	}
	return out, nil
}
