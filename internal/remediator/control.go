package remediator

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tendhq/tend/internal/action"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/remediation"
	"github.com/tendhq/tend/internal/store"
)

// AnswerStore is what Answers reads; store.Store satisfies it.
type AnswerStore interface {
	ListEvents(ctx context.Context, f store.EventFilter) (store.EventPage, error)
	RunningRemediation(ctx context.Context, project, stage, service string) (store.RemediationRecord, error)
}

// Answers routes external executors' answers to the remediations waiting
// for them. The API reaches it through an interface that app fills.
type Answers struct {
	st AnswerStore
}

// NewAnswers returns Answers reading st.
func NewAnswers(st AnswerStore) *Answers { return &Answers{st: st} }

// AnswerJobs returns the job that feeds an external executor's answer ev
// (see remediation.IsActionAnswer) into the remediation whose current
// action it answers, or none when ev answers no running remediation's
// action. The caller stores ev and the jobs in one transaction, so the
// answer is never stored without the remediation hearing of it. Without
// the job the loop would still see the answer, but only when the action's
// timeout runs out.
func (a *Answers) AnswerJobs(ctx context.Context, ev *event.Event) ([]store.JobSpec, error) {
	if !remediation.IsActionAnswer(ev) {
		return nil, nil
	}
	st := a.st
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
		rem, err := decodeRemediation(rec)
		if err != nil {
			return nil, err
		}
		for _, act := range rem.Actions {
			if act.TriggeredEventID != ev.TriggeredID {
				continue
			}
			return []store.JobSpec{jobSpec(remediation.AnswerJob(rem.ID, act.Index, ev.Source, ev.ID))}, nil
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
		rem, err := decodeRemediation(rec)
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
