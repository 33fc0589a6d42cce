package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/tendhq/tend/internal/action"
	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/auth"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/remediation"
	"github.com/tendhq/tend/internal/settings"
	"github.com/tendhq/tend/internal/store"
)

// remediationRoutes are the routes of issue 5's remediation loop that are
// not settings (settings.go serves those): pausing and resuming it.
func (s *Server) remediationRoutes() []route {
	return []route{
		{method: http.MethodPost, path: "/api/v1/project/{project}/remediation/pause", access: accessAction, action: auth.ActionWriteProject, tag: "problems", op: "pauseRemediation",
			summary: "Pause remediation for the project or one service: running remediations stop after their current step, new problems are recorded but not acted on.",
			request: apitypes.PauseRequest{}, response: apitypes.PauseAnswer{}, status: http.StatusOK, handler: func(w http.ResponseWriter, r *http.Request) { s.setPause(w, r, true) }},
		{method: http.MethodPost, path: "/api/v1/project/{project}/remediation/resume", access: accessAction, action: auth.ActionWriteProject, tag: "problems", op: "resumeRemediation",
			summary: "Resume remediation for the project or one service: paused remediations go on with their next step.",
			request: apitypes.PauseRequest{}, response: apitypes.PauseAnswer{}, status: http.StatusOK, handler: func(w http.ResponseWriter, r *http.Request) { s.setPause(w, r, false) }},
	}
}

// setPause pauses or resumes remediation of a project or service. The
// setting is written first and the running remediations listed after, so
// that a remediation created in between reads the pause when it starts.
func (s *Server) setPause(w http.ResponseWriter, r *http.Request, pause bool) {
	var req apitypes.PauseRequest
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	project := r.PathValue("project")
	ctx := r.Context()
	if err := s.checkScope(ctx, project, "", req.Service); err != nil {
		s.writeError(w, r, err)
		return
	}
	sc := store.Scope{Project: project, Service: req.Service}
	if pause {
		b, _ := json.Marshal(settings.Pause{Reason: req.Reason, Since: s.now().UTC()})
		if err := s.store.PutSetting(ctx, store.Setting{Scope: sc, Key: settings.PauseSchema.Key(), Value: b}); err != nil {
			s.writeError(w, r, err)
			return
		}
	} else {
		if req.Service != "" {
			if _, err := s.store.GetSetting(ctx, store.Scope{Project: project}, settings.PauseSchema.Key()); err == nil {
				s.writeError(w, r, errorf(http.StatusConflict, "remediation is paused for the whole project %s; resume the project (without service)", project))
				return
			}
		}
		if err := s.store.DeleteSetting(ctx, sc, settings.PauseSchema.Key()); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.writeError(w, r, err)
			return
		}
	}
	ids, err := s.tellRunning(ctx, project, req.Service, pause, req.Reason)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, apitypes.PauseAnswer{Project: project, Service: req.Service, Paused: pause, Remediations: ids})
}

// tellRunning enqueues a pause or resume job for every running
// remediation of the project (or service).
func (s *Server) tellRunning(ctx context.Context, project, service string, pause bool, reason string) ([]string, error) {
	ids := []string{}
	var jobs []store.JobSpec
	nonce := event.NewUUID()
	f := store.RemediationFilter{Project: project, Service: service, RunningOnly: true, PageSize: store.MaxPageSize}
	for {
		pg, err := s.store.ListRemediations(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("list running remediations: %w", err)
		}
		for _, rec := range pg.Remediations {
			ids = append(ids, rec.ID)
			if pause {
				jobs = append(jobs, remediationJob(remediation.PauseJob(rec.ID, reason, nonce)))
			} else {
				jobs = append(jobs, remediationJob(remediation.ResumeJob(rec.ID, nonce)))
			}
		}
		if pg.NextPageKey == "" {
			break
		}
		f.PageKey = pg.NextPageKey
	}
	if len(jobs) == 0 {
		return ids, nil
	}
	err := s.store.WithTx(ctx, func(tx store.Tx) error {
		_, err := tx.EnqueueJobs(ctx, jobs...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("tell running remediations: %w", err)
	}
	return ids, nil
}

// appendAnswer stores an external executor's action.finished together
// with the remediation step it causes, so the remediation hears of every
// stored answer (the outbox).
func (s *Server) appendAnswer(ctx context.Context, rec store.EventRecord, ev *event.Event) error {
	jobs, err := s.answers.AnswerJobs(ctx, ev)
	if err != nil {
		return err
	}
	return s.store.WithTx(ctx, func(tx store.Tx) error {
		if _, err := tx.AppendEvents(ctx, rec); err != nil {
			return fmt.Errorf("append event: %w", err)
		}
		if len(jobs) > 0 {
			if _, err := tx.EnqueueJobs(ctx, jobs...); err != nil {
				return fmt.Errorf("enqueue remediation step: %w", err)
			}
		}
		return nil
	})
}

// remediationJob wraps a job of the remediation package into the store's.
func remediationJob(j remediation.Job) store.JobSpec {
	return store.JobSpec{Kind: j.Kind, Payload: j.Payload, UniqueKey: j.UniqueKey, MaxAttempts: j.MaxAttempts}
}

// actionDetails adds what an action changed (or would change), its result
// and its times to its answer.
func actionDetails(out *apitypes.RemediationAction, a remediation.ActionRecord) {
	changes := func(cs []action.Change) {
		for _, c := range cs {
			out.Changes = append(out.Changes, apitypes.ActionChange{Target: c.Target, From: c.From, To: c.To})
		}
	}
	switch {
	case a.Result != nil && len(a.Result.Changes) > 0:
		changes(a.Result.Changes)
	case a.Plan != nil:
		changes(a.Plan.Changes)
	}
	if a.Result != nil {
		out.Result = a.Result.Message
	}
	out.External = a.External
	if !a.StartedAt.IsZero() {
		t := a.StartedAt
		out.StartedAt = &t
	}
	if !a.FinishedAt.IsZero() {
		t := a.FinishedAt
		out.FinishedAt = &t
	}
}
