package api

import (
	"bytes"
	"context"
	"fmt"
	"net/http"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/evaluation"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/eventlog"
	"github.com/tendhq/tend/internal/store"
)

// triggerEvaluation starts Keptn's evaluation sequence in a new keptn
// context: the opening events and the evaluation's first job are written
// in one transaction, so the answer means the evaluation will run.
func (s *Server) triggerEvaluation(w http.ResponseWriter, r *http.Request) {
	project, stage, service := r.PathValue("project"), r.PathValue("stage"), r.PathValue("service")
	body, err := readBody(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req apitypes.TriggerEvaluationRequest
	if len(bytes.TrimSpace(body)) > 0 {
		if err := unmarshalStrict(body, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if req.GitCommitID != "" && !isCommitID(req.GitCommitID) {
		s.writeError(w, r, errorf(http.StatusBadRequest, "gitcommitid %q is not a commit id: give the 40 hex digits of a resource version", req.GitCommitID))
		return
	}
	now := s.now()
	start, end, err := evaluation.Window(now, req.Timeframe, req.Start, req.End)
	if err != nil {
		s.writeError(w, r, errorf(http.StatusBadRequest, "%v", err))
		return
	}
	ctx := r.Context()
	if err := s.checkScope(ctx, project, stage, service); err != nil {
		s.writeError(w, r, err)
		return
	}
	plan, err := evaluation.FromRequest(evaluation.Request{
		Project: project, Stage: stage, Service: service,
		Start: start, End: end, Labels: req.Labels, KeptnContext: event.NewUUID(),
		GitCommitID: req.GitCommitID,
	}, now)
	if err != nil {
		s.writeError(w, r, errorf(http.StatusBadRequest, "%v", err))
		return
	}
	if err := s.writePlan(ctx, nil, plan); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, apitypes.EventContext{KeptnContext: plan.State.KeptnContext})
}

// writePlan appends the events (those given, then the plan's) and enqueues
// the plan's job in one transaction: the outbox.
func (s *Server) writePlan(ctx context.Context, recs []store.EventRecord, plan evaluation.Plan) error {
	for _, ev := range plan.Events {
		rec, err := eventlog.Record(ev)
		if err != nil {
			return err
		}
		recs = append(recs, rec)
	}
	job := store.JobSpec{Kind: plan.Job.Kind, Payload: plan.Job.Payload, UniqueKey: plan.Job.UniqueKey, MaxAttempts: plan.Job.MaxAttempts}
	err := s.store.WithTx(ctx, func(tx store.Tx) error {
		if len(recs) > 0 {
			if _, err := tx.AppendEvents(ctx, recs...); err != nil {
				return fmt.Errorf("append events: %w", err)
			}
		}
		if _, err := tx.EnqueueJobs(ctx, job); err != nil {
			return fmt.Errorf("enqueue evaluation: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.metrics.eventsAppended.Add(float64(len(recs)))
	return nil
}

// invalidateEvaluation withdraws the finished evaluation of a keptn
// context from later baselines with sh.keptn.event.evaluation.invalidated.
func (s *Server) invalidateEvaluation(w http.ResponseWriter, r *http.Request) {
	project, stage, service := r.PathValue("project"), r.PathValue("stage"), r.PathValue("service")
	if err := s.InvalidateEvaluation(r.Context(), project, stage, service, r.PathValue("keptnContext")); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, apitypes.EventContext{KeptnContext: keptnContextQuery(r.PathValue("keptnContext"))})
}

// InvalidateEvaluation emits sh.keptn.event.evaluation.invalidated for
// every finished evaluation of the service in the keptn context, so that
// later evaluations leave them out of their baseline. The API's invalidate
// route and the web UI's "ignore for comparison" button both call it. It
// returns an error matching store.ErrNotFound when the context holds no
// finished evaluation of the service. The caller checks the principal.
func (s *Server) InvalidateEvaluation(ctx context.Context, project, stage, service, keptnContext string) error {
	kctx := keptnContextQuery(keptnContext)
	pg, err := s.store.ListEvents(ctx, store.EventFilter{
		Project: project, Stage: stage, Service: service,
		Type: event.TypeEvaluationFinished, KeptnContext: kctx, PageSize: store.MaxPageSize,
	})
	if err != nil {
		return err
	}
	if len(pg.Events) == 0 {
		e := errorf(http.StatusNotFound, "keptn context %s holds no finished evaluation of project %s, stage %s, service %s (an evaluation can be invalidated once it has finished)", keptnContext, project, stage, service)
		e.err = store.ErrNotFound
		return e
	}
	recs := make([]store.EventRecord, 0, len(pg.Events))
	for _, e := range pg.Events {
		inv, err := evaluation.Invalidation(e.JSON, s.now())
		if err != nil {
			return err
		}
		rec, err := eventlog.Record(inv)
		if err != nil {
			return err
		}
		recs = append(recs, rec)
	}
	if _, err := s.store.AppendEvents(ctx, recs...); err != nil {
		return fmt.Errorf("append event: %w", err)
	}
	s.metrics.eventsAppended.Add(float64(len(recs)))
	return nil
}
