package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/auth"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/eventlog"
	"github.com/tendhq/tend/internal/intake"
	"github.com/tendhq/tend/internal/remediation"
	"github.com/tendhq/tend/internal/store"
)

// IntakeOptions tune the problem intake. Alertmanager retries a delivery
// only when it is answered with a 5xx, so the intake never queues without
// bound: at most MaxInFlight deliveries are recorded at once, a delivery
// waits up to QueueWait for a turn, and one that cannot get one, or whose
// store write does not finish within Timeout, is answered 503 with
// Retry-After.
type IntakeOptions struct {
	// MaxInFlight is how many deliveries are recorded at once; 0 means
	// DefaultIntakeMaxInFlight.
	MaxInFlight int
	// QueueWait is how long a delivery waits for a turn; 0 means
	// DefaultIntakeQueueWait, a negative value not at all.
	QueueWait time.Duration
	// Timeout bounds recording one delivery; 0 means
	// DefaultIntakeTimeout.
	Timeout time.Duration
	// Labels name the alert labels that locate a problem; the zero value
	// means project, stage, service and root_cause.
	Labels intake.AlertmanagerOptions
	// MaxUnmatchedPerMinute caps the new unmatched problems one intake
	// token creates per minute, on this replica (intakelimit.go); 0 means
	// DefaultMaxUnmatchedPerMinute, a negative value no limit.
	MaxUnmatchedPerMinute int
}

// Defaults of IntakeOptions.
const (
	DefaultIntakeMaxInFlight = 256
	DefaultIntakeQueueWait   = 5 * time.Second
	DefaultIntakeTimeout     = 15 * time.Second
)

// ProblemRecorder records the problem notifications of one delivery, with
// the events they came in (appended in the same transaction), and answers
// what became of each, in order: all of the delivery is durable when it
// returns nil, or nothing is. An error matching intake.ErrBusy,
// store.ErrUnavailable, store.ErrClosed or context.DeadlineExceeded is
// transient. app hands in the self-healing runner's recorder
// (*remediator.Recorder); the API does not build it, so that it stays free
// of runners.
type ProblemRecorder interface {
	Record(ctx context.Context, b intake.Batch, events ...store.EventRecord) ([]intake.Outcome, error)
}

// intakeGate bounds the concurrent intake work.
type intakeGate struct {
	rec     ProblemRecorder
	slots   chan struct{}
	wait    time.Duration
	timeout time.Duration
	labels  intake.AlertmanagerOptions
	// unmatched caps intake tokens' new unmatched problems; nil: no cap.
	unmatched *unmatchedLimiter
	// notifications counts recorded notifications by verdict.
	notifications *prometheus.CounterVec
}

// count adds recorded outcomes to the metrics.
func (g *intakeGate) count(outcomes []intake.Outcome) {
	for _, o := range outcomes {
		g.notifications.WithLabelValues(string(o.Verdict)).Inc()
	}
}

func newIntakeGate(s *Server, rec ProblemRecorder, o IntakeOptions) (*intakeGate, error) {
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = DefaultIntakeMaxInFlight
	}
	if o.QueueWait == 0 {
		o.QueueWait = DefaultIntakeQueueWait
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultIntakeTimeout
	}
	g := &intakeGate{rec: rec, slots: make(chan struct{}, o.MaxInFlight), wait: o.QueueWait, timeout: o.Timeout, labels: o.Labels,
		unmatched: newUnmatchedLimiter(o.MaxUnmatchedPerMinute, s.now)}
	g.notifications = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tend_intake_notifications_total",
		Help: "Problem notifications recorded (Alertmanager alerts and problem events), by verdict: started, joined, recorded, closed, recorded-closed, duplicate, unmatched.",
	}, []string{"verdict"})
	if err := s.reg.Register(g.notifications); err != nil {
		return nil, fmt.Errorf("register intake metrics: %w", err)
	}
	return g, nil
}

// errOverloaded is answered 503: the intake has no free turn.
var errOverloaded = errors.New("problem intake overloaded")

// record runs b through the recorder within the gate's limits.
func (g *intakeGate) record(ctx context.Context, b intake.Batch, events ...store.EventRecord) ([]intake.Outcome, error) {
	select {
	case g.slots <- struct{}{}:
	default:
		if g.wait < 0 {
			return nil, errOverloaded
		}
		t := time.NewTimer(g.wait)
		defer t.Stop()
		select {
		case g.slots <- struct{}{}:
		case <-t.C:
			return nil, errOverloaded
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	defer func() { <-g.slots }()
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	return g.rec.Record(ctx, b, events...)
}

// transient reports whether an intake error should be answered 503, so
// that the sender retries: overload, a store that cannot take work, a
// write that ran out of time, and a shutdown.
func transient(err error) bool {
	return errors.Is(err, errOverloaded) || errors.Is(err, store.ErrUnavailable) ||
		errors.Is(err, intake.ErrBusy) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, store.ErrClosed)
}

// writeIntakeError answers a failed intake: 503 with Retry-After for
// transient failures, else the usual classification.
func (s *Server) writeIntakeError(w http.ResponseWriter, r *http.Request, err error) {
	if transient(err) {
		s.log.WarnContext(r.Context(), "intake_unavailable", "route", routeLabel(r), "err", err)
		w.Header().Set("Retry-After", "1")
		writeErrorStatus(w, http.StatusServiceUnavailable, "tend cannot take problems right now (overloaded or its database is unavailable); nothing of this delivery was recorded, send it again")
		return
	}
	s.writeError(w, r, err)
}

// problemRoutes are the routes of issue 5's problem intake: the
// Alertmanager webhook and the problem and remediation read routes.
func (s *Server) problemRoutes() []route {
	filter := []param{
		{name: "project", desc: "Only this project; a project-restricted token sees only its own."},
		{name: "stage", desc: "Only this stage."},
		{name: "service", desc: "Only this service."},
	}
	return []route{
		{method: http.MethodPost, path: "/api/v1/integrations/alertmanager", access: accessHandler, tag: "problems", op: "alertmanagerWebhook",
			summary: "Alertmanager webhook receiver (message version 4). Authenticate with a write token or the project's intake token (Authorization: Bearer). " +
				"Every alert becomes a problem (firing opens, resolved closes), deduplicated; unmatched alerts are recorded and listed. " +
				"400 only for a body that is not an Alertmanager message; 503 (with Retry-After) when tend is overloaded, so Alertmanager retries.",
			request: alertmanagerMessage{}, response: apitypes.AlertmanagerAnswer{}, status: http.StatusOK, handler: s.alertmanagerWebhook},
		{method: http.MethodGet, path: "/api/v1/problem", access: accessHandler, tag: "problems", op: "listProblems",
			summary:  "List problems, newest first, with the remediation acting on each.",
			query:    append(append(filter, param{name: "state", desc: "Only problems in this state: open, closed or unmatched."}), pageParams...),
			response: apitypes.ProblemList{}, status: http.StatusOK, handler: s.listProblems},
		{method: http.MethodGet, path: "/api/v1/problem/{id}", access: accessHandler, tag: "problems", op: "getProblem",
			summary: "Get a problem.", response: apitypes.Problem{}, status: http.StatusOK, handler: s.getProblem},
		{method: http.MethodGet, path: "/api/v1/remediation", access: accessHandler, tag: "problems", op: "listRemediations",
			summary: "List remediations, newest first.",
			query: append(append(filter,
				param{name: "state", desc: "Only remediations in this state (waiting, preparing, applying, settling, verifying, paused, resolved, escalated, stopped)."},
				param{name: "running", desc: "true: only remediations that have not ended."}), pageParams...),
			response: apitypes.RemediationList{}, status: http.StatusOK, handler: s.listRemediations},
		{method: http.MethodGet, path: "/api/v1/remediation/{id}", access: accessHandler, tag: "problems", op: "getRemediation",
			summary: "Get a remediation with its problems, actions and evaluations.", response: apitypes.Remediation{}, status: http.StatusOK, handler: s.getRemediation},
	}
}

// alertmanagerMessage documents the webhook body in the OpenAPI document;
// the handler reads it with intake.ParseAlertmanager.
type alertmanagerMessage struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []struct {
		Status       string            `json:"status"`
		Labels       map[string]string `json:"labels"`
		Annotations  map[string]string `json:"annotations"`
		StartsAt     string            `json:"startsAt"`
		EndsAt       string            `json:"endsAt"`
		GeneratorURL string            `json:"generatorURL"`
		Fingerprint  string            `json:"fingerprint"`
	} `json:"alerts"`
}

// ingestRestriction returns the project a principal may deliver problems
// for ("" for all) and how to name the credential in refusals, or an error
// when it may not deliver at all (a read token).
func ingestRestriction(p auth.Principal) (project, credential string, err error) {
	if err := p.Can(auth.ActionIngest, p.Project); err != nil {
		return "", "", err
	}
	if p.Kind == auth.KindIntake {
		return p.Project, "intake token", nil
	}
	return p.Project, "token", nil
}

// alertmanagerWebhook records every alert of an Alertmanager message.
func (s *Server) alertmanagerWebhook(w http.ResponseWriter, r *http.Request) {
	project, credential, err := ingestRestriction(principalOf(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body, err := readBody(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	msg, err := intake.ParseAlertmanager(body, s.intake.labels)
	if err != nil {
		s.writeError(w, r, errorf(http.StatusBadRequest, "%v", err))
		return
	}
	b := intake.Batch{Notifications: msg.Notifications, Project: project, Credential: credential}
	done := s.intake.limitUnmatched(principalOf(r), &b)
	outcomes, err := s.intake.record(r.Context(), b)
	done(outcomes)
	if err != nil {
		if !s.writeUnmatchedLimit(w, r, err, http.StatusServiceUnavailable) {
			s.writeIntakeError(w, r, err)
		}
		return
	}
	s.intake.count(outcomes)
	writeJSON(w, http.StatusOK, alertmanagerAnswer(outcomes))
}

func alertmanagerAnswer(outcomes []intake.Outcome) apitypes.AlertmanagerAnswer {
	a := apitypes.AlertmanagerAnswer{Unmatched: []apitypes.UnmatchedAlert{}, Problems: []string{}, Results: make([]apitypes.IntakeResult, 0, len(outcomes))}
	seen := map[string]bool{}
	for _, o := range outcomes {
		fp := intake.KeyFingerprint(o.Key)
		a.Results = append(a.Results, apitypes.IntakeResult{Fingerprint: fp, Status: string(o.Verdict), ProblemID: o.ProblemID, RemediationID: o.RemediationID, Reason: o.Reason})
		switch o.Verdict {
		case intake.Unmatched:
			a.Unmatched = append(a.Unmatched, apitypes.UnmatchedAlert{Fingerprint: fp, Reason: o.Reason, ProblemID: o.ProblemID})
			continue
		case intake.Duplicate:
			a.Duplicates++
		default:
			a.Accepted++
		}
		if o.ProblemID != "" && !seen[o.ProblemID] {
			seen[o.ProblemID] = true
			a.Problems = append(a.Problems, o.ProblemID)
		}
	}
	return a
}

func (s *Server) listProblems(w http.ResponseWriter, r *http.Request) {
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
	state := q.Get("state")
	switch state {
	case "", store.ProblemOpen, store.ProblemClosed, store.ProblemUnmatched:
	default:
		s.writeError(w, r, errorf(http.StatusBadRequest, "state %q is unknown: use open, closed or unmatched", state))
		return
	}
	page, err := s.store.ListProblems(r.Context(), store.ProblemFilter{
		Project: project, Stage: q.Get("stage"), Service: q.Get("service"), State: state,
		PageSize: size, PageKey: q.Get("nextPageKey"),
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := apitypes.ProblemList{Problems: make([]apitypes.Problem, 0, len(page.Problems)), NextPageKey: page.NextPageKey,
		PageSize: store.EventFilter{PageSize: size}.EffectivePageSize()}
	states := map[string]string{}
	for _, p := range page.Problems {
		out.Problems = append(out.Problems, s.problemOut(r.Context(), p, states))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getProblem(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	p, err := s.store.GetProblem(r.Context(), id)
	if err == nil && !s.visible(r.Context(), principalOf(r), p.Project, p.ProjectUID) {
		err = store.ErrNotFound // a problem of a project the caller may not read is not shown to exist
	}
	if errors.Is(err, store.ErrNotFound) {
		s.writeError(w, r, errorf(http.StatusNotFound, "problem %q not found", id))
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.problemOut(r.Context(), p, map[string]string{}))
}

// visible reports whether p may see a record of project that was made in
// the project generation uid. A project-restricted token sees only its
// project's current generation: a project deleted and created again under
// its name does not inherit the old one's records. Unrestricted tokens see
// the history too.
func (s *Server) visible(ctx context.Context, p auth.Principal, project, uid string) bool {
	if p.Can(auth.ActionReadProject, project) != nil {
		return false
	}
	if p.Project == "" {
		return true
	}
	cur := ""
	if pr, err := s.store.GetProject(ctx, project); err == nil {
		cur = pr.UID
	}
	return cur == uid
}

// problemOut converts a stored problem, looking up its remediation's state
// (once per remediation, through states).
func (s *Server) problemOut(ctx context.Context, p store.ProblemRecord, states map[string]string) apitypes.Problem {
	d := remediation.DecodeProblemDetails(p.Doc)
	out := apitypes.Problem{
		ID: p.ID, Key: p.Key, Source: p.Source, Project: p.Project, Stage: p.Stage, Service: p.Service,
		State: p.State, Title: p.Title, RootCause: d.RootCause, Details: d.Details, URL: d.URL, ImpactedEntity: d.Entity,
		Labels: d.Labels, Annotations: d.Annotations, KeptnContext: p.KeptnContext,
		RemediationID: p.RemediationID, Reason: p.Reason, OpenedAt: p.OpenedAt, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
	if !p.ClosedAt.IsZero() {
		t := p.ClosedAt
		out.ClosedAt = &t
	}
	if p.RemediationID != "" {
		st, ok := states[p.RemediationID]
		if !ok {
			if rec, err := s.store.GetRemediation(ctx, p.RemediationID); err == nil {
				st = rec.State
			}
			states[p.RemediationID] = st
		}
		out.RemediationState = st
	}
	return out
}

func (s *Server) listRemediations(w http.ResponseWriter, r *http.Request) {
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
	f := store.RemediationFilter{Project: project, Stage: q.Get("stage"), Service: q.Get("service"), State: q.Get("state"),
		PageSize: size, PageKey: q.Get("nextPageKey")}
	if f.State != "" && !knownState(f.State) {
		s.writeError(w, r, errorf(http.StatusBadRequest, "state %q is unknown: use one of %v", f.State, remediation.States))
		return
	}
	switch q.Get("running") {
	case "", "false":
	case "true":
		f.RunningOnly = true
	default:
		s.writeError(w, r, errorf(http.StatusBadRequest, "running %q is invalid: use true or false", q.Get("running")))
		return
	}
	page, err := s.store.ListRemediations(r.Context(), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := apitypes.RemediationList{Remediations: make([]apitypes.Remediation, 0, len(page.Remediations)), NextPageKey: page.NextPageKey,
		PageSize: store.EventFilter{PageSize: size}.EffectivePageSize()}
	for _, rec := range page.Remediations {
		out.Remediations = append(out.Remediations, remediationOut(rec))
	}
	writeJSON(w, http.StatusOK, out)
}

func knownState(s string) bool {
	for _, st := range remediation.States {
		if string(st) == s {
			return true
		}
	}
	return false
}

func (s *Server) getRemediation(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	rec, err := s.store.GetRemediation(r.Context(), id)
	if err == nil && !s.visible(r.Context(), principalOf(r), rec.Project, rec.ProjectUID) {
		err = store.ErrNotFound
	}
	if errors.Is(err, store.ErrNotFound) {
		s.writeError(w, r, errorf(http.StatusNotFound, "remediation %q not found", id))
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, remediationOut(rec))
}

// remediationOut converts a stored remediation; a document that cannot be
// read still shows the columns.
func remediationOut(rec store.RemediationRecord) apitypes.Remediation {
	out := apitypes.Remediation{
		ID: rec.ID, Project: rec.Project, Stage: rec.Stage, Service: rec.Service, KeptnContext: rec.KeptnContext,
		State: rec.State, Running: rec.Running, Version: rec.Version, CreatedAt: rec.CreatedAt, UpdatedAt: rec.UpdatedAt,
		Problems: []apitypes.RemediationProblem{}, Actions: []apitypes.RemediationAction{}, Evaluations: []apitypes.RemediationEvaluation{},
	}
	rem, err := remediation.Decode(rec.ID, rec.Doc)
	if err != nil {
		out.Reason = fmt.Sprintf("the stored remediation cannot be read: %v", err)
		return out
	}
	out.Title, out.RootCause, out.Reason = rem.Title, rem.RootCause, rem.Reason
	if !rem.FinishedAt.IsZero() {
		t := rem.FinishedAt
		out.FinishedAt = &t
	}
	for _, p := range rem.Problems {
		out.Problems = append(out.Problems, apitypes.RemediationProblem{ID: p.ID, Closed: p.Closed})
	}
	for _, a := range rem.Actions {
		ra := apitypes.RemediationAction{Index: a.Index, Name: a.Request.Name, Action: a.Request.Action, Value: a.Request.Value, State: string(a.State), Error: a.Error}
		if a.Plan != nil {
			ra.Plan = a.Plan.Summary
		}
		actionDetails(&ra, a) // remediation.go
		out.Actions = append(out.Actions, ra)
	}
	for _, e := range rem.Evaluations {
		out.Evaluations = append(out.Evaluations, apitypes.RemediationEvaluation{Action: e.Index, State: string(e.State), Result: string(e.Result), Score: e.Score, From: e.From, To: e.To})
	}
	return out
}

// postProblemEvent records a problem event (Dynatrace's, Keptn's legacy
// problem events, a remediation.triggered from outside): the event is
// appended in the same transaction as the problem it reports, so both or
// neither are stored. Intake tokens may deliver problem events for their
// project.
func (s *Server) postProblemEvent(w http.ResponseWriter, r *http.Request, ev *event.Event) {
	ns, err := intake.FromEvent(ev)
	if err != nil {
		s.writeError(w, r, errorf(http.StatusBadRequest, "%v", err))
		return
	}
	p := principalOf(r)
	restrict, credential, err := ingestRestriction(p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	n := ns[0]
	// The event is stored in the log under the project it names, and
	// the problem under the one its tags name; the sender must be allowed
	// both. An event that names no project at all needs an unrestricted
	// token.
	var projects []string
	for _, project := range []string{ev.Project(), n.Project} {
		if project != "" {
			projects = append(projects, project)
		}
	}
	if len(projects) == 0 {
		projects = []string{""}
	}
	for _, project := range projects {
		if err := p.Can(auth.ActionIngest, project); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if s.answerDuplicate(w, r, ev) {
		return
	}
	rec, err := eventlog.Record(ev)
	if err != nil {
		s.writeError(w, r, errorf(http.StatusBadRequest, "event cannot be stored: %v", err))
		return
	}
	if rec.Project == "" && n.Project != "" {
		// Dynatrace names the project in tags only; file the event under
		// it so that it shows in the project's event log.
		rec.Project, rec.Stage, rec.Service = n.Project, n.Stage, n.Service
	}
	b := intake.Batch{Notifications: ns, Project: restrict, Credential: credential}
	done := s.intake.limitUnmatched(p, &b)
	outcomes, err := s.intake.record(r.Context(), b, rec)
	done(outcomes)
	if err != nil {
		if !s.writeUnmatchedLimit(w, r, err, http.StatusTooManyRequests) {
			s.writeIntakeError(w, r, err)
		}
		return
	}
	s.intake.count(outcomes)
	s.metrics.eventsAppended.Inc()
	writeJSON(w, http.StatusOK, apitypes.EventContext{KeptnContext: ev.KeptnContext})
}
