package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/auth"
	"github.com/tendhq/tend/internal/evaluation"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/eventlog"
	"github.com/tendhq/tend/internal/intake"
	"github.com/tendhq/tend/internal/remediation"
	"github.com/tendhq/tend/internal/store"
)

// postEvent takes one structured-JSON CloudEvent (CloudEvents 1.0, or the
// 0.2 envelope of Keptn 0.6 on /v1/event), validates it with event.Parse,
// files it under its Keptn context (generated when missing, mapped to a
// name-based UUID when not a UUID) and answers only once it is durable.
func (s *Server) postEvent(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err == nil {
		// Binary content mode (ce-* headers) becomes the structured body.
		body, err = eventBody(r, body)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ev, err := event.Parser{Now: s.now}.Parse(body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := refuseOwnSource(ev); err != nil {
		s.writeError(w, r, err)
		return
	}
	if ev.Time.IsZero() {
		// Go clients (the keptn CLI among them) send the zero time
		// 0001-01-01T00:00:00Z when they set none; Keptn's API stamped
		// those with its own time.
		ev.Time = s.now().UTC()
	}
	// A problem event from outside is recorded, deduplicated, with the
	// event in one transaction (see postProblemEvent).
	if intake.IsProblemType(ev.Type) {
		s.postProblemEvent(w, r, ev)
		return
	}
	// An integration's answer may name only its triggered event.
	if err := s.answerScope(r.Context(), ev); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := principalOf(r).Can(auth.ActionWriteProject, ev.Project()); err != nil {
		s.writeError(w, r, err)
		return
	}
	// A repeat of a stored event is answered with the stored event's
	// context and changes nothing (eventguards.go).
	if s.answerDuplicate(w, r, ev) {
		return
	}
	if err := s.checkAnswer(r.Context(), principalOf(r), ev); err != nil {
		s.writeError(w, r, err)
		return
	}
	rec, err := eventlog.Record(ev)
	if err != nil {
		s.writeError(w, r, errorf(http.StatusBadRequest, "event cannot be stored: %v", err))
		return
	}
	// An event from outside that asks for an evaluation is stored in one
	// transaction with the evaluation's first job; tend's own events
	// (source "tend") never start one.
	plan, evaluates, err := evaluation.PlanFromEvent(ev, s.now())
	switch {
	case err != nil:
		s.writeError(w, r, errorf(http.StatusBadRequest, "%v", err))
		return
	case evaluates:
		if err := s.writePlan(r.Context(), []store.EventRecord{rec}, plan); err != nil {
			s.writeError(w, r, err)
			return
		}
	case isSequenceEvent(ev):
		// A sequence trigger or a task's answer is stored with the
		// sequence step it causes (see sequences.go).
		j, _ := sequenceJob(ev)
		if err := s.appendWithJob(r.Context(), rec, j); err != nil {
			s.writeError(w, r, err)
			return
		}
		s.metrics.eventsAppended.Inc()
	case remediation.IsActionAnswer(ev):
		// An external executor's action.finished is stored with the
		// remediation step it causes.
		if err := s.appendAnswer(r.Context(), rec, ev); err != nil {
			s.writeError(w, r, err)
			return
		}
		s.metrics.eventsAppended.Inc()
	default:
		if _, err := s.store.AppendEvents(r.Context(), rec); err != nil {
			s.writeError(w, r, fmt.Errorf("append event: %w", err))
			return
		}
		s.metrics.eventsAppended.Inc()
	}
	writeJSON(w, http.StatusOK, apitypes.EventContext{KeptnContext: ev.KeptnContext})
}

// eventProject returns the project an event query concerns: the query's,
// or the token's own when the token is restricted and the query names
// none. It answers 403 for a project the token may not read.
func eventProject(r *http.Request) (string, error) {
	p := principalOf(r)
	project := r.URL.Query().Get("project")
	if project == "" {
		project = p.Project
	}
	if err := p.Can(auth.ActionReadProject, project); err != nil {
		return "", err
	}
	return project, nil
}

// keptnContextQuery maps a keptnContext filter as the event log filed it:
// a non-UUID context (a Dynatrace problem id) finds the events sent with it.
func keptnContextQuery(v string) string {
	if v == "" {
		return ""
	}
	return event.ContextFor(v)
}

func pageSize(r *http.Request) (int, error) {
	v := r.URL.Query().Get("pageSize")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, errorf(http.StatusBadRequest, "pageSize %q is invalid: give a whole number from 1 to %d", v, store.MaxPageSize)
	}
	return n, nil
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) {
	project, err := eventProject(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	size, err := pageSize(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	f := store.EventFilter{
		Project:      project,
		Stage:        q.Get("stage"),
		Service:      q.Get("service"),
		Type:         event.ExpandType(q.Get("type")),
		KeptnContext: keptnContextQuery(q.Get("keptnContext")),
		PageSize:     size,
		PageKey:      q.Get("nextPageKey"),
		CountTotal:   true,
	}
	pg, err := s.store.ListEvents(r.Context(), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := apitypes.EventList{
		Events:      make([]json.RawMessage, 0, len(pg.Events)),
		NextPageKey: pg.NextPageKey,
		PageSize:    f.EffectivePageSize(),
		TotalCount:  pg.TotalCount,
	}
	for _, e := range pg.Events {
		out.Events = append(out.Events, json.RawMessage(e.JSON))
	}
	writeJSON(w, http.StatusOK, out)
}

// maxTriggered bounds the answer of the polling endpoint.
const maxTriggered = store.MaxPageSize

// triggeredEvents is Keptn's polling endpoint for external executors: the
// .triggered events of one type that no .finished event answers yet
// (matched by triggeredid), oldest first, at most maxTriggered.
func (s *Server) triggeredEvents(w http.ResponseWriter, r *http.Request) {
	typ := event.ExpandType(r.PathValue("type"))
	if !strings.HasSuffix(typ, ".triggered") {
		s.writeError(w, r, errorf(http.StatusBadRequest, "event type %q is not a .triggered type: ask for e.g. sh.keptn.event.action.triggered", typ))
		return
	}
	finished := strings.TrimSuffix(typ, ".triggered") + ".finished"
	project, err := eventProject(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	size, after, err := page(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if q.Get("pageSize") == "" {
		// Pollers written before paging existed get every open event.
		size = maxTriggered
	}
	evs, err := s.store.OpenTriggeredEvents(r.Context(), store.TriggeredFilter{
		Type: typ, Finished: finished, Project: project, Stage: q.Get("stage"), Service: q.Get("service"),
		ID: q.Get("eventID"), Limit: maxTriggered,
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// The store answers oldest first, the order executors work in.
	open := make([]json.RawMessage, 0, len(evs))
	for _, e := range evs {
		open = append(open, json.RawMessage(e.JSON))
	}
	from, to, next := indexPage(len(open), size, after)
	writeJSON(w, http.StatusOK, apitypes.TriggeredEventList{Events: append([]json.RawMessage{}, open[from:to]...), NextPageKey: next, PageSize: size, TotalCount: len(open)})
}
