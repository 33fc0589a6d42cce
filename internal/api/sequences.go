package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/auth"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/eventlog"
	"github.com/tendhq/tend/internal/remediation"
	"github.com/tendhq/tend/internal/sequence"
	"github.com/tendhq/tend/internal/store"
)

// sequenceRoutes are Keptn's sequence paths: the list of a project's
// sequences and their control (pause, resume, abort).
func (s *Server) sequenceRoutes() []route {
	list := keptnControlPlane + "/sequence/{project}"
	return []route{
		{method: http.MethodGet, path: list, access: accessAction, action: auth.ActionReadProject, tag: "keptn", op: "keptnListSequences",
			summary: "A project's shipyard sequences in Keptn's shape, one entry per Keptn context with its stages, newest first.",
			query: append([]param{
				{name: "name", desc: "Only sequences of this name (e.g. delivery)."},
				{name: "state", desc: "Only sequences in this state: waiting, started, paused, finished, aborted or timedOut."},
				{name: "fromTime", desc: "Only sequences triggered at or after this RFC 3339 time."},
				{name: "keptnContext", desc: "Only the sequence of this Keptn context."},
				{name: "stage", desc: "Only sequences that ran in this stage (tend's addition)."},
				{name: "service", desc: "Only sequences of this service (tend's addition)."},
			}, pageParams...),
			response: apitypes.KeptnSequenceStates{}, status: http.StatusOK, handler: s.listSequences},
		{method: http.MethodPost, path: list + "/{keptnContext}/control", access: accessAction, action: auth.ActionWriteProject, tag: "keptn", op: "keptnControlSequence",
			summary: "Pause, resume or abort the sequence of a Keptn context, in one stage or all. Aborting ends the running task's wait and emits the sequence's finished event with status aborted. 409 when no sequence of the context can take the control.",
			request: apitypes.KeptnSequenceControl{}, response: apitypes.KeptnSequenceControlAnswer{}, status: http.StatusOK, handler: s.controlSequence},
	}
}

// appendWithJob stores an event together with the sequence job it causes,
// so the runner hears of every stored trigger and answer (the outbox).
func (s *Server) appendWithJob(ctx context.Context, rec store.EventRecord, j sequence.Job) error {
	return s.store.WithTx(ctx, func(tx store.Tx) error {
		if _, err := tx.AppendEvents(ctx, rec); err != nil {
			return fmt.Errorf("append event: %w", err)
		}
		if _, err := tx.EnqueueJobs(ctx, store.JobSpec{Kind: j.Kind, Payload: j.Payload, UniqueKey: j.UniqueKey, MaxAttempts: sequence.MaxAttempts}); err != nil {
			return fmt.Errorf("enqueue sequence step: %w", err)
		}
		return nil
	})
}

// sequenceJob returns the job an accepted event causes for the sequence
// engine: a trigger of a sequence it runs starts one, a task's answer goes
// to the sequence waiting for it. tend's own events cause none.
func sequenceJob(ev *event.Event) (sequence.Job, bool) {
	if ev.Source == sequence.Source {
		return sequence.Job{}, false
	}
	if _, ok := sequence.IsTrigger(ev); ok {
		return sequence.StartJob(ev), true
	}
	if sequence.IsAnswer(ev) {
		return sequence.AnswerJob(ev), true
	}
	return sequence.Job{}, false
}

// maxSequenceRecords bounds how many stage runs one list request reads.
const maxSequenceRecords = 10 * store.MaxPageSize

func (s *Server) listSequences(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	size, after, err := page(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if st := q.Get("state"); st != "" && !knownSequenceState(st) {
		s.writeError(w, r, errorf(http.StatusBadRequest, "state %q is unknown: use waiting, started, paused, finished, aborted or timedOut", st))
		return
	}
	f := store.SequenceFilter{Project: r.PathValue("project"), Stage: q.Get("stage"), Service: q.Get("service"),
		KeptnContext: keptnContextQuery(q.Get("keptnContext")), PageSize: store.MaxPageSize}
	if v := q.Get("fromTime"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			s.writeError(w, r, errorf(http.StatusBadRequest, "fromTime %q is not an RFC 3339 time such as 2024-05-01T12:00:00Z", v))
			return
		}
		f.FromTime = t
	}
	// Stage runs newest first, grouped by Keptn context in that order.
	var order []string
	groups := map[string][]sequence.Sequence{}
	for n := 0; n < maxSequenceRecords; {
		pg, err := s.store.ListSequences(r.Context(), f)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		for _, rec := range pg.Sequences {
			n++
			seq, err := sequence.Decode(rec.Doc)
			if err != nil {
				continue
			}
			if _, seen := groups[rec.KeptnContext]; !seen {
				order = append(order, rec.KeptnContext)
			}
			groups[rec.KeptnContext] = append(groups[rec.KeptnContext], seq)
		}
		if pg.NextPageKey == "" {
			break
		}
		f.PageKey = pg.NextPageKey
	}
	var states []apitypes.KeptnSequenceState
	for _, kc := range order {
		st := sequenceState(groups[kc])
		if (q.Get("name") != "" && st.Name != q.Get("name")) || (q.Get("state") != "" && st.State != q.Get("state")) {
			continue
		}
		states = append(states, st)
	}
	from, to, next := indexPage(len(states), size, after)
	pg := append([]apitypes.KeptnSequenceState{}, states[from:to]...)
	for i := range pg {
		if err := s.fillDeployedImages(r.Context(), &pg[i]); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, apitypes.KeptnSequenceStates{States: pg, NextPageKey: next, TotalCount: len(states)})
}

func knownSequenceState(st string) bool {
	for _, s := range sequence.States {
		if string(s) == st {
			return true
		}
	}
	return false
}

// sequenceState folds a context's stage runs (newest first) into Keptn's
// sequence state.
func sequenceState(runs []sequence.Sequence) apitypes.KeptnSequenceState {
	first := runs[len(runs)-1]
	out := apitypes.KeptnSequenceState{Name: first.Name, Service: first.Service, Project: first.Project, KeptnContext: first.KeptnContext,
		State: string(runs[0].State), Time: first.CreatedAt.UTC().Format(time.RFC3339Nano)}
	for i := len(runs) - 1; i >= 0; i-- {
		run := runs[i]
		if !run.State.Ended() {
			out.State = string(run.State)
		}
		stage := apitypes.KeptnSequenceStateStage{Name: run.Stage, Sequence: run.Name, Image: carriedImage(run), State: string(run.State),
			LatestEvent: eventRef(run.LatestEvent), LatestFailedEvent: eventRef(run.LatestFailedEvent)}
		if run.State.Ended() {
			stage.Result, stage.Status = run.Result, run.Status
		} else if run.Current < len(run.Tasks) {
			stage.CurrentTask, stage.CurrentTriggeredID = run.Tasks[run.Current].Name, run.TaskTriggeredID
		}
		for j := len(run.Done) - 1; j >= 0; j-- {
			if d := run.Done[j]; d.Name == event.TaskEvaluation {
				e := &apitypes.KeptnSequenceEvaluation{Result: d.Result}
				if d.Score != nil {
					e.Score = *d.Score
				}
				stage.LatestEvaluation = e
				break
			}
		}
		out.Stages = append(out.Stages, stage)
	}
	return out
}

func eventRef(e *sequence.EventRef) *apitypes.KeptnSequenceEvent {
	if e == nil {
		return nil
	}
	return &apitypes.KeptnSequenceEvent{Type: e.Type, ID: e.ID, Time: e.Time.UTC().Format(time.RFC3339Nano)}
}

var controls = map[string]sequence.Input{"pause": sequence.InputPause, "resume": sequence.InputResume, "abort": sequence.InputAbort}

// controlSequence hands pause, resume or abort to the sequences of a
// context (in one stage or all) that can take it, as jobs.
func (s *Server) controlSequence(w http.ResponseWriter, r *http.Request) {
	var req apitypes.KeptnSequenceControl
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	ids, err := s.ControlSequence(r.Context(), r.PathValue("project"), r.PathValue("keptnContext"), req.Stage, req.State)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, apitypes.KeptnSequenceControlAnswer{Sequences: ids})
}

// ControlSequence queues pause, resume or abort (state) for the sequences
// of a keptn context, in one stage or all, that can take it, and returns
// their ids. The API's control route and the web UI's buttons both call
// it. The error matches store.ErrNotFound when the project has no such
// sequence, sequence.ErrIllegal when none can take the control, and
// store.ErrInvalid for an unknown state. The caller checks the principal.
func (s *Server) ControlSequence(ctx context.Context, project, keptnContext, stage, state string) ([]string, error) {
	in, ok := controls[state]
	if !ok {
		e := errorf(http.StatusBadRequest, "state %q is not a control: use pause, resume or abort", state)
		e.err = store.ErrInvalid
		return nil, e
	}
	pg, err := s.store.ListSequences(ctx, store.SequenceFilter{Project: project, KeptnContext: keptnContextQuery(keptnContext), Stage: stage, PageSize: store.MaxPageSize})
	if err != nil {
		return nil, err
	}
	if len(pg.Sequences) == 0 {
		where := ""
		if stage != "" {
			where = " in stage " + stage
		}
		e := errorf(http.StatusNotFound, "project %s has no sequence with keptn context %s%s", project, keptnContext, where)
		e.err = store.ErrNotFound
		return nil, e
	}
	nonce := event.NewUUID()
	var ids []string
	var jobs []store.JobSpec
	var refusal error
	for _, rec := range pg.Sequences {
		if err := sequence.Allowed(sequence.State(rec.State), in); err != nil {
			refusal = err
			continue
		}
		j := sequence.InputJob(rec.ID, in, nonce)
		jobs = append(jobs, store.JobSpec{Kind: j.Kind, Payload: j.Payload, UniqueKey: j.UniqueKey, MaxAttempts: sequence.MaxAttempts})
		ids = append(ids, rec.ID)
	}
	if len(jobs) == 0 {
		e := errorf(http.StatusConflict, "%v", refusal)
		e.err = refusal
		return nil, e
	}
	if err := s.store.WithTx(ctx, func(tx store.Tx) error { _, err := tx.EnqueueJobs(ctx, jobs...); return err }); err != nil {
		return nil, fmt.Errorf("control sequence: %w", err)
	}
	return ids, nil
}

// approvalSource is the CloudEvents source of the approvals answered in
// the web UI.
const approvalSource = "https://github.com/tendhq/tend/ui"

// AnswerApproval approves or declines the waiting approval.triggered event
// triggeredID of a project on behalf of p: it builds the approval.finished
// that tend approve and tend decline send (sequence.ApprovalAnswer) and
// stores it as POST /api/v1/event stores an answer, with the sequence
// step it causes, after the same answer check. It returns the keptn
// context. The error matches store.ErrNotFound when no approval of that
// id waits in the project (never answered, or answered already) and
// auth.ErrForbidden when p may not answer it.
func (s *Server) AnswerApproval(ctx context.Context, p auth.Principal, project, triggeredID string, approve bool) (string, error) {
	if err := p.Can(auth.ActionWriteProject, project); err != nil {
		return "", err
	}
	typ := event.TaskType(event.TaskApproval, event.PhaseTriggered)
	open, err := s.store.OpenTriggeredEvents(ctx, store.TriggeredFilter{
		Type: typ, Finished: event.TaskType(event.TaskApproval, event.PhaseFinished), Project: project, ID: triggeredID, Limit: 1,
	})
	if err != nil {
		return "", fmt.Errorf("read open approvals: %w", err)
	}
	if len(open) == 0 {
		e := errorf(http.StatusNotFound, "no open approval with id %s in project %s", triggeredID, project)
		e.err = store.ErrNotFound
		return "", e
	}
	trig, err := event.Parser{Now: s.now}.Parse(open[0].JSON)
	if err != nil {
		return "", fmt.Errorf("read approval %s: %w", triggeredID, err)
	}
	ev, err := sequence.ApprovalAnswer(trig, approve, approvalSource)
	if err != nil {
		return "", err
	}
	ev.Time = s.now().UTC()
	if err := s.checkAnswer(ctx, p, ev); err != nil {
		return "", err
	}
	rec, err := eventlog.Record(ev)
	if err != nil {
		return "", fmt.Errorf("record approval answer: %w", err)
	}
	j, _ := sequenceJob(ev)
	if err := s.appendWithJob(ctx, rec, j); err != nil {
		return "", err
	}
	s.metrics.eventsAppended.Inc()
	return ev.KeptnContext, nil
}

// isSequenceEvent reports whether an accepted event concerns the sequence
// engine. An external executor's action.finished stays with remediation.
func isSequenceEvent(ev *event.Event) bool {
	if remediation.IsActionAnswer(ev) {
		return false
	}
	_, ok := sequenceJob(ev)
	return ok
}
