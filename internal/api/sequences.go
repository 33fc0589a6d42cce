package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/auth"
	"github.com/tendhq/tend/internal/event"
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
	writeJSON(w, http.StatusOK, apitypes.KeptnSequenceStates{States: append([]apitypes.KeptnSequenceState{}, states[from:to]...), NextPageKey: next, TotalCount: len(states)})
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
		stage := apitypes.KeptnSequenceStateStage{Name: run.Stage, Sequence: run.Name, Image: run.Image(), State: string(run.State),
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
	in, ok := controls[req.State]
	if !ok {
		s.writeError(w, r, errorf(http.StatusBadRequest, "state %q is not a control: use pause, resume or abort", req.State))
		return
	}
	ctx := r.Context()
	project, kc := r.PathValue("project"), keptnContextQuery(r.PathValue("keptnContext"))
	pg, err := s.store.ListSequences(ctx, store.SequenceFilter{Project: project, KeptnContext: kc, Stage: req.Stage, PageSize: store.MaxPageSize})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(pg.Sequences) == 0 {
		where := ""
		if req.Stage != "" {
			where = " in stage " + req.Stage
		}
		s.writeError(w, r, errorf(http.StatusNotFound, "project %s has no sequence with keptn context %s%s", project, r.PathValue("keptnContext"), where))
		return
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
		s.writeError(w, r, errorf(http.StatusConflict, "%v", refusal))
		return
	}
	if err := s.store.WithTx(ctx, func(tx store.Tx) error { _, err := tx.EnqueueJobs(ctx, jobs...); return err }); err != nil {
		s.writeError(w, r, fmt.Errorf("control sequence: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, apitypes.KeptnSequenceControlAnswer{Sequences: ids})
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
