package remediator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tendhq/tend/internal/action"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/problem"
	"github.com/tendhq/tend/internal/store"
)

// PauseJob returns the job that pauses remediation id: it stops after its
// current step (at once when waiting or settling). nonce makes the job's
// unique key differ between pauses of one remediation.
func PauseJob(id, reason, nonce string) store.JobSpec {
	b, _ := json.Marshal(Payload{RemediationID: id, Step: stepPause, Reason: reason})
	return store.JobSpec{Kind: JobKind, Payload: b, UniqueKey: "remediation/" + id + "/pause/" + nonce, MaxAttempts: 50}
}

// ResumeJob returns the job that resumes remediation id.
func ResumeJob(id, nonce string) store.JobSpec {
	b, _ := json.Marshal(Payload{RemediationID: id, Step: stepResume})
	return store.JobSpec{Kind: JobKind, Payload: b, UniqueKey: "remediation/" + id + "/resume/" + nonce, MaxAttempts: 50}
}

// IsActionAnswer reports whether ev is an external executor's answer to an
// action.triggered: an action.finished from a source other than tend,
// naming the triggered event.
func IsActionAnswer(ev *event.Event) bool {
	return ev.Type == event.TypeActionFinished && ev.TriggeredID != "" && ev.Source != event.DefaultSource
}

// AnswerStore is what AnswerJobs reads; store.Store satisfies it.
type AnswerStore interface {
	ListEvents(ctx context.Context, f store.EventFilter) (store.EventPage, error)
	RunningRemediation(ctx context.Context, project, stage, service string) (store.RemediationRecord, error)
}

// AnswerJobs returns the job that feeds an external executor's answer ev
// (see IsActionAnswer) into the remediation whose current action it
// answers, or none when ev answers no running remediation's action. The
// caller stores ev and the jobs in one transaction, so the answer is never
// stored without the remediation hearing of it. Without the job the loop
// would still see the answer, but only when the action's timeout runs out.
func AnswerJobs(ctx context.Context, st AnswerStore, ev *event.Event) ([]store.JobSpec, error) {
	if !IsActionAnswer(ev) {
		return nil, nil
	}
	pg, err := st.ListEvents(ctx, store.EventFilter{ID: ev.TriggeredID, Type: event.TypeActionTriggered, PageSize: 5})
	if err != nil {
		return nil, fmt.Errorf("look up the answered action.triggered: %w", err)
	}
	for _, trig := range pg.Events {
		if trig.Source != event.DefaultSource {
			continue
		}
		rec, err := st.RunningRemediation(ctx, trig.Project, trig.Stage, trig.Service)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("look up the running remediation: %w", err)
		}
		rem, err := problem.DecodeRemediation(rec)
		if err != nil {
			return nil, err
		}
		for _, a := range rem.Actions {
			if a.TriggeredEventID != ev.TriggeredID {
				continue
			}
			b, _ := json.Marshal(Payload{RemediationID: rem.ID, Step: stepAnswer, Index: a.Index})
			return []store.JobSpec{{Kind: JobKind, Payload: b, MaxAttempts: 50,
				UniqueKey: "remediation/" + rem.ID + "/answer/" + ev.Source + "/" + ev.ID}}, nil
		}
	}
	return nil, nil
}

// History returns the story so far of the remediation an escalate action
// belongs to (its key is "<remediation id>/action/<index>"), for the
// escalation message: the actions tried before it and the last evaluation.
func History(st interface {
	GetRemediation(ctx context.Context, id string) (store.RemediationRecord, error)
}) func(ctx context.Context, req action.Request) (action.Escalation, error) {
	return func(ctx context.Context, req action.Request) (action.Escalation, error) {
		id, _, ok := strings.Cut(req.Key, "/action/")
		if !ok {
			return action.Escalation{}, fmt.Errorf("%w: action key %q names no remediation", action.ErrInvalid, req.Key)
		}
		rec, err := st.GetRemediation(ctx, id)
		if err != nil {
			return action.Escalation{}, fmt.Errorf("read remediation %s: %w", id, err)
		}
		rem, err := problem.DecodeRemediation(rec)
		if err != nil {
			return action.Escalation{}, err
		}
		esc := escalation(rem, "the remediation's escalate action")
		// Only the actions before the escalate action itself.
		var before []action.EscalationAttempt
		n := 0
		for _, a := range rem.Actions {
			if a.State == "" {
				continue
			}
			if a.Request.Key == req.Key {
				break
			}
			before = append(before, esc.Actions[n])
			n++
		}
		esc.Actions = before
		return esc, nil
	}
}
