package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/tendhq/tend/internal/auth"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/store"
)

// checkAnswer authorizes an event that answers a .triggered event through
// its triggeredid (a .started, .status.changed or .finished of any task or
// sequence): it counts only from someone allowed to answer the triggered
// event. The sender must be allowed to write the triggered event's
// project, and the answer must name the triggered event's project, stage
// and service; the project the answer names in its own data is not
// enough, since an executor's action.finished moves the remediation that
// triggered it. When tend emitted a triggered event of that id, only
// tend's count, so that an event posted elsewhere under the same id can
// neither authorize an answer nor block the real executor's.
//
// An answer to an id the log does not hold is authorized like any event,
// by the project it names; the remediation loop takes an answer only
// when it names the remediation's own project, stage and service.
//
// Every refusal has the same message, so that it does not tell whether a
// triggered event of that id exists in a project the sender cannot see.
func (s *Server) checkAnswer(ctx context.Context, p auth.Principal, ev *event.Event) error {
	answered, err := s.answeredTasks(ctx, ev)
	if err != nil {
		return fmt.Errorf("look up the triggered event %s answers: %w", ev.Type, err)
	}
	c, _ := ev.Common()
	for _, trig := range answered {
		if p.Can(auth.ActionWriteProject, trig.Project) != nil ||
			c.Project != trig.Project || c.Stage != trig.Stage || c.Service != trig.Service {
			return errorf(http.StatusForbidden,
				"token %q may not answer triggered event %s: an answer counts only from a token that may write the triggered event's project, and must name its project, stage and service",
				p.TokenName, ev.TriggeredID)
		}
	}
	return nil
}

// answeredTasks returns the stored triggered events that ev answers, when
// ev is an answer (a .started, .status.changed or .finished) with a
// triggeredid, and nil otherwise. When tend emitted a triggered event of
// that id, it returns only tend's own, in the log's order.
func (s *Server) answeredTasks(ctx context.Context, ev *event.Event) ([]store.EventRecord, error) {
	if ev.TriggeredID == "" {
		return nil, nil
	}
	t, ok := event.ParseType(ev.Type)
	if !ok || t.Legacy {
		return nil, nil
	}
	switch t.Phase {
	case event.PhaseStarted, event.PhaseStatusChanged, event.PhaseFinished:
	default:
		return nil, nil
	}
	pg, err := s.store.ListEvents(ctx, store.EventFilter{ID: ev.TriggeredID, Type: t.WithPhase(event.PhaseTriggered).String(), PageSize: store.MaxPageSize})
	if err != nil {
		return nil, err
	}
	var own []store.EventRecord
	for _, e := range pg.Events {
		if e.Source == event.DefaultSource {
			own = append(own, e)
		}
	}
	if len(own) > 0 {
		return own, nil
	}
	return pg.Events, nil
}
