package remediation

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tendhq/tend/internal/action"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/slo"
)

// State is where a remediation is in its loop.
type State string

// The states of a remediation. The first six are running; the last three
// are terminal: no event moves a remediation out of them.
const (
	// StateWaiting: created for an open problem; nothing done yet.
	StateWaiting State = "waiting"
	// StatePreparing: the current action is recorded as intended and
	// action.triggered is out; its executor is making the plan.
	StatePreparing State = "preparing"
	// StateApplying: the plan is recorded; the executor is applying it.
	StateApplying State = "applying"
	// StateSettling: the action is applied; waiting the settling time.
	StateSettling State = "settling"
	// StateVerifying: the SLO evaluation over the settling window runs.
	StateVerifying State = "verifying"
	// StatePaused: parked by a pause after its last step; Resumed goes on
	// with the next step.
	StatePaused State = "paused"
	// StateResolved: an evaluation passed (or warned) after an action.
	StateResolved State = "resolved"
	// StateEscalated: no action left (or none prescribed); a human is
	// told.
	StateEscalated State = "escalated"
	// StateStopped: ended early: all problems closed, a safety limit
	// refused a step, or a dry run recorded every plan.
	StateStopped State = "stopped"
)

// States lists every state, running ones first.
var States = []State{StateWaiting, StatePreparing, StateApplying, StateSettling, StateVerifying, StatePaused, StateResolved, StateEscalated, StateStopped}

// Terminal reports whether no event leads out of s.
func (s State) Terminal() bool {
	return s == StateResolved || s == StateEscalated || s == StateStopped
}

// EventKind names an Event type; the transition table is keyed by it.
type EventKind string

// The kinds of events.
const (
	KindProblemOpened      EventKind = "problem-opened"
	KindProblemJoined      EventKind = "problem-joined"
	KindProblemClosed      EventKind = "problem-closed"
	KindActionPrepared     EventKind = "action-prepared"
	KindActionApplied      EventKind = "action-applied"
	KindActionFailed       EventKind = "action-failed"
	KindSettlingElapsed    EventKind = "settling-elapsed"
	KindEvaluationFinished EventKind = "evaluation-finished"
	KindEvaluationFailed   EventKind = "evaluation-failed"
	KindPaused             EventKind = "paused"
	KindResumed            EventKind = "resumed"
	KindLimitReached       EventKind = "limit-reached"
	KindCancelled          EventKind = "cancelled"
	KindMonitoringDown     EventKind = "monitoring-unavailable"
	KindHalted             EventKind = "halted"
)

// EventKinds lists every kind of event.
var EventKinds = []EventKind{
	KindProblemOpened, KindProblemJoined, KindProblemClosed,
	KindActionPrepared, KindActionApplied, KindActionFailed,
	KindSettlingElapsed, KindEvaluationFinished, KindEvaluationFailed,
	KindPaused, KindResumed, KindLimitReached, KindCancelled,
	KindMonitoringDown, KindHalted,
}

// Event is something that happened to a remediation: reported by the
// intake, by a worker carrying out a Command, or by an operator.
type Event interface {
	Kind() EventKind
}

// ProblemOpened starts the loop of a waiting remediation (see Admit).
type ProblemOpened struct{}

// ProblemJoined adds a problem of the same service to a running
// remediation; it then stops early only when this problem has closed too.
type ProblemJoined struct{ ProblemID string }

// ProblemClosed says one of the remediation's problems closed. When all
// have, the remediation stops after its current step.
type ProblemClosed struct{ ProblemID string }

// ActionPrepared reports the executor's plan for action Index. External
// marks an external executor, which emits action.started itself.
type ActionPrepared struct {
	Index    int
	Plan     action.Plan
	External bool
}

// ActionApplied reports that the plan of action Index was applied.
// Reported says the executor's own action.finished is already in the event
// log (external executors), so tend emits none.
type ActionApplied struct {
	Index    int
	Result   action.Result
	Reported bool
}

// ActionFailed reports an executor error for action Index. A final error
// (action.ErrInvalid, an external executor's timeout or failure) fails the
// action, and the loop goes on with the next one, as Keptn's did; a
// non-final one is recorded and the step is tried again.
type ActionFailed struct {
	Index    int
	Err      string
	Final    bool
	Reported bool
}

// SettlingElapsed reports that the settling time of action Index is over.
type SettlingElapsed struct{ Index int }

// EvaluationFinished reports the evaluation that verifies action Index.
type EvaluationFinished struct {
	Index      int
	Evaluation slo.Evaluation
}

// EvaluationFailed reports that the evaluation of action Index could not
// run (no SLO, the SLI provider failed); it counts as a failed evaluation.
type EvaluationFailed struct {
	Index int
	Err   string
}

// MonitoringUnavailable reports that the evaluation of action Index could
// not measure anything because the monitoring system was unavailable
// (every SLI failed for a transport reason). An outage says nothing about
// the action, so it never counts as a failed verification and never leads
// to the next action: a non-final one is recorded and the evaluation is
// started again (the runner delays it by its backoff); a Final one (the
// runner's retries are used up) escalates the remediation with Reason.
type MonitoringUnavailable struct {
	Index  int
	Reason string
	Final  bool
}

// Halted ends a running remediation escalated, at once, whatever it is
// doing: something happened after which no next action may run, and a
// person must look. The runner reports it when an apply found its target
// changed since the plan (action.ErrConflict), when a step's job used up
// its attempts, and when its watchdog finds the remediation running with
// no work behind it. An action or evaluation in flight is recorded failed
// (errored) with Reason.
type Halted struct{ Reason string }

// Paused asks the remediation to stop acting: at once when it is waiting or
// settling, else after its current step. Reason is recorded.
type Paused struct{ Reason string }

// Resumed lifts a pause: a paused remediation goes on with its next step; a
// running one forgets a pause it had not reached yet.
type Resumed struct{}

// LimitReached reports that a safety limit refused to start the
// remediation or to run its current action (see Limits).
type LimitReached struct{ Reason string }

// Cancelled ends a running remediation at once, whatever it is doing,
// because what it works for is gone (its project was deleted). It stops
// with the reason "cancelled: <Reason>" and a remediation.finished event
// of status aborted; it never escalates. An action in flight is recorded
// failed with an action.finished of status aborted.
type Cancelled struct{ Reason string }

func (ProblemOpened) Kind() EventKind         { return KindProblemOpened }
func (ProblemJoined) Kind() EventKind         { return KindProblemJoined }
func (ProblemClosed) Kind() EventKind         { return KindProblemClosed }
func (ActionPrepared) Kind() EventKind        { return KindActionPrepared }
func (ActionApplied) Kind() EventKind         { return KindActionApplied }
func (ActionFailed) Kind() EventKind          { return KindActionFailed }
func (SettlingElapsed) Kind() EventKind       { return KindSettlingElapsed }
func (EvaluationFinished) Kind() EventKind    { return KindEvaluationFinished }
func (EvaluationFailed) Kind() EventKind      { return KindEvaluationFailed }
func (Paused) Kind() EventKind                { return KindPaused }
func (Resumed) Kind() EventKind               { return KindResumed }
func (LimitReached) Kind() EventKind          { return KindLimitReached }
func (Cancelled) Kind() EventKind             { return KindCancelled }
func (MonitoringUnavailable) Kind() EventKind { return KindMonitoringDown }
func (Halted) Kind() EventKind                { return KindHalted }

// ErrIllegal is matched (errors.Is) by every error Apply returns: the event
// is not allowed in the remediation's state, or it is stale (it names an
// action or evaluation other than the current one). Workers that deliver at
// least once treat it as "already handled".
var ErrIllegal = errors.New("illegal remediation move")

// IllegalMoveError says which move was refused and why.
type IllegalMoveError struct {
	Remediation string
	State       State
	Event       EventKind
	Why         string
}

// Error says what was refused, where and why.
func (e *IllegalMoveError) Error() string {
	return fmt.Sprintf("remediation %s: %s is not allowed in state %s: %s", e.Remediation, e.Event, e.State, e.Why)
}

// Unwrap makes the error match ErrIllegal.
func (e *IllegalMoveError) Unwrap() error { return ErrIllegal }

// transition is one row of the table: the states a move may lead to, and
// what it does. do changes the remediation (a copy) and returns the
// commands; it returns an error for stale or malformed events.
type transition struct {
	to []State
	do func(r *Remediation, ev Event, now time.Time) ([]Command, error)
}

// table is the remediation state machine: every legal (state, event kind)
// pair and where it may lead. A pair not listed is illegal; terminal states
// list nothing.
var table = map[State]map[EventKind]transition{
	StateWaiting: {
		KindProblemOpened: {to: []State{StatePreparing, StateEscalated, StateStopped}, do: onOpened},
		KindProblemJoined: {to: []State{StateWaiting}, do: onJoined},
		KindProblemClosed: {to: []State{StateWaiting, StateStopped}, do: onClosed},
		KindPaused:        {to: []State{StatePaused}, do: onPaused},
		KindResumed:       {to: []State{StateWaiting}, do: onResumed},
		KindLimitReached:  {to: []State{StateStopped}, do: onLimit},
		KindCancelled:     {to: []State{StateStopped}, do: onCancelled},
		KindHalted:        {to: []State{StateEscalated}, do: onHalted},
	},
	StatePreparing: {
		KindProblemJoined:  {to: []State{StatePreparing}, do: onJoined},
		KindProblemClosed:  {to: []State{StatePreparing}, do: onClosed},
		KindActionPrepared: {to: []State{StateApplying, StatePreparing, StatePaused, StateStopped}, do: onPrepared},
		KindActionFailed:   {to: []State{StatePreparing, StatePaused, StateEscalated, StateStopped}, do: onActionFailed},
		KindPaused:         {to: []State{StatePreparing}, do: onPaused},
		KindResumed:        {to: []State{StatePreparing}, do: onResumed},
		KindLimitReached:   {to: []State{StateStopped}, do: onLimit},
		KindCancelled:      {to: []State{StateStopped}, do: onCancelled},
		KindHalted:         {to: []State{StateEscalated}, do: onHalted},
	},
	StateApplying: {
		KindProblemJoined: {to: []State{StateApplying}, do: onJoined},
		KindProblemClosed: {to: []State{StateApplying}, do: onClosed},
		KindActionApplied: {to: []State{StateSettling, StatePaused, StateStopped}, do: onApplied},
		KindActionFailed:  {to: []State{StateApplying, StatePreparing, StatePaused, StateEscalated, StateStopped}, do: onActionFailed},
		KindPaused:        {to: []State{StateApplying}, do: onPaused},
		KindResumed:       {to: []State{StateApplying}, do: onResumed},
		KindCancelled:     {to: []State{StateStopped}, do: onCancelled},
		KindHalted:        {to: []State{StateEscalated}, do: onHalted},
	},
	StateSettling: {
		KindProblemJoined:   {to: []State{StateSettling}, do: onJoined},
		KindProblemClosed:   {to: []State{StateSettling, StateStopped}, do: onClosed},
		KindSettlingElapsed: {to: []State{StateVerifying}, do: onSettled},
		KindPaused:          {to: []State{StatePaused}, do: onPaused},
		KindResumed:         {to: []State{StateSettling}, do: onResumed},
		KindCancelled:       {to: []State{StateStopped}, do: onCancelled},
		KindHalted:          {to: []State{StateEscalated}, do: onHalted},
	},
	StateVerifying: {
		KindProblemJoined:      {to: []State{StateVerifying}, do: onJoined},
		KindProblemClosed:      {to: []State{StateVerifying}, do: onClosed},
		KindEvaluationFinished: {to: []State{StateResolved, StatePreparing, StatePaused, StateEscalated, StateStopped}, do: onEvaluated},
		KindEvaluationFailed:   {to: []State{StatePreparing, StatePaused, StateEscalated, StateStopped}, do: onEvaluationFailed},
		KindPaused:             {to: []State{StateVerifying}, do: onPaused},
		KindResumed:            {to: []State{StateVerifying}, do: onResumed},
		KindCancelled:          {to: []State{StateStopped}, do: onCancelled},
		KindMonitoringDown:     {to: []State{StateVerifying, StateEscalated, StateStopped}, do: onMonitoringDown},
		KindHalted:             {to: []State{StateEscalated}, do: onHalted},
	},
	StatePaused: {
		KindProblemJoined: {to: []State{StatePaused}, do: onJoined},
		KindProblemClosed: {to: []State{StatePaused, StateStopped}, do: onClosed},
		KindPaused:        {to: []State{StatePaused}, do: onPaused},
		KindResumed:       {to: []State{StatePreparing, StateSettling, StateEscalated, StateStopped}, do: onResumed},
		KindCancelled:     {to: []State{StateStopped}, do: onCancelled},
		KindHalted:        {to: []State{StateEscalated}, do: onHalted},
	},
	StateResolved:  {},
	StateEscalated: {},
	StateStopped:   {},
}

// Allowed reports whether an event of kind k is legal in state s, and the
// states it may lead to.
func Allowed(s State, k EventKind) ([]State, bool) {
	t, ok := table[s][k]
	return t.to, ok
}

// Apply moves the remediation by one event at time now and returns the
// commands for the workers. An illegal or stale event returns an error
// matching ErrIllegal and leaves the remediation unchanged.
func (r *Remediation) Apply(ev Event, now time.Time) ([]Command, error) {
	if ev == nil {
		return nil, &IllegalMoveError{Remediation: r.ID, State: r.State, Event: "", Why: "no event"}
	}
	t, ok := table[r.State][ev.Kind()]
	if !ok {
		why := "no transition"
		if r.State.Terminal() {
			why = "the remediation has ended (" + r.Reason + ")"
		}
		return nil, &IllegalMoveError{Remediation: r.ID, State: r.State, Event: ev.Kind(), Why: why}
	}
	next := r.clone()
	cmds, err := t.do(next, ev, now)
	if err != nil {
		return nil, &IllegalMoveError{Remediation: r.ID, State: r.State, Event: ev.Kind(), Why: err.Error()}
	}
	if !slices.Contains(t.to, next.State) {
		// A handler disagreeing with the table is a bug in this package;
		// refuse the move rather than store a state the table forbids.
		return nil, &IllegalMoveError{Remediation: r.ID, State: r.State, Event: ev.Kind(),
			Why: fmt.Sprintf("internal error: the move led to %s, which the transition table does not allow", next.State)}
	}
	next.UpdatedAt = now
	*r = *next
	return cmds, nil
}

// --- handlers ---------------------------------------------------------

func onOpened(r *Remediation, _ Event, now time.Time) ([]Command, error) {
	return r.resume(now), nil
}

func onJoined(r *Remediation, ev Event, _ time.Time) ([]Command, error) {
	e := ev.(ProblemJoined)
	if e.ProblemID == "" {
		return nil, errors.New("the joining problem has no id")
	}
	if !r.HasProblem(e.ProblemID) {
		r.Problems = append(r.Problems, ProblemRef{ID: e.ProblemID})
		// A stop asked for because every problem had closed no longer
		// holds: this one is open.
		r.StopPending = ""
	}
	return nil, nil
}

func onClosed(r *Remediation, ev Event, now time.Time) ([]Command, error) {
	e := ev.(ProblemClosed)
	i := slices.IndexFunc(r.Problems, func(p ProblemRef) bool { return p.ID == e.ProblemID })
	if i < 0 {
		return nil, fmt.Errorf("problem %q is not one of its problems", e.ProblemID)
	}
	if r.Problems[i].Closed || r.OpenProblems() > 1 {
		r.Problems[i].Closed = true
		return nil, nil
	}
	r.Problems[i].Closed = true
	reason := "the problem closed"
	if len(r.Problems) > 1 {
		reason = "all " + strconv.Itoa(len(r.Problems)) + " problems closed"
	}
	switch r.State {
	case StateWaiting, StatePaused:
		return r.finish(StateStopped, reason, now), nil
	case StateSettling:
		return append([]Command{CancelTimer{}}, r.finish(StateStopped, reason+" while settling", now)...), nil
	default:
		r.StopPending = reason + " during " + stepName(r.State)
		return nil, nil
	}
}

func onPaused(r *Remediation, ev Event, _ time.Time) ([]Command, error) {
	reason := "paused"
	if why := ev.(Paused).Reason; why != "" {
		reason = "paused: " + why
	}
	switch r.State {
	case StateWaiting:
		r.State, r.Reason = StatePaused, reason
		return nil, nil
	case StateSettling:
		r.State, r.Reason = StatePaused, reason
		return []Command{CancelTimer{}}, nil
	case StatePaused:
		return nil, nil
	default:
		r.PausePending = reason
		return nil, nil
	}
}

func onResumed(r *Remediation, _ Event, now time.Time) ([]Command, error) {
	if r.State != StatePaused {
		r.PausePending = ""
		return nil, nil
	}
	r.Reason = ""
	return r.resume(now), nil
}

func onLimit(r *Remediation, ev Event, now time.Time) ([]Command, error) {
	reason := "limit reached"
	if why := ev.(LimitReached).Reason; why != "" {
		reason = "limit reached: " + why
	}
	var cmds []Command
	if r.State == StatePreparing {
		a := &r.Actions[r.CurrentAction]
		a.State, a.Error, a.FinishedAt = ActionStateFailed, reason, now
		cmds = append(cmds, r.actionFinished(a, event.StatusErrored, event.ResultFail, "not run: "+reason))
	}
	return append(cmds, r.finish(StateStopped, reason, now)...), nil
}

func onCancelled(r *Remediation, ev Event, now time.Time) ([]Command, error) {
	reason := "cancelled"
	if why := ev.(Cancelled).Reason; why != "" {
		reason = "cancelled: " + why
	}
	var cmds []Command
	switch r.State {
	case StateSettling:
		cmds = append(cmds, CancelTimer{})
	case StatePreparing, StateApplying:
		a := &r.Actions[r.CurrentAction]
		if a.State == ActionStateIntended || a.State == ActionStateStarted {
			a.State, a.Error, a.FinishedAt = ActionStateFailed, reason, now
			cmds = append(cmds, r.actionFinished(a, event.StatusAborted, event.ResultFail, reason))
		}
	}
	// finish gives a stopped remediation status aborted; nothing escalates.
	return append(cmds, r.finish(StateStopped, reason, now)...), nil
}

func onHalted(r *Remediation, ev Event, now time.Time) ([]Command, error) {
	reason := ev.(Halted).Reason
	if reason == "" {
		reason = "halted"
	}
	var cmds []Command
	switch r.State {
	case StateSettling:
		cmds = append(cmds, CancelTimer{})
	case StatePreparing, StateApplying:
		a := &r.Actions[r.CurrentAction]
		if a.State == ActionStateIntended || a.State == ActionStateStarted {
			a.State, a.Error, a.FinishedAt = ActionStateFailed, reason, now
			cmds = append(cmds, r.actionFinished(a, event.StatusErrored, event.ResultFail, reason))
		}
	case StateVerifying:
		if n := len(r.Evaluations); n > 0 && r.Evaluations[n-1].State == EvaluationStateRunning {
			rec := &r.Evaluations[n-1]
			rec.State, rec.Result, rec.Message, rec.FinishedAt = EvaluationStateErrored, slo.Fail, reason, now
			cmds = append(cmds, r.evaluationFinished(rec, event.StatusErrored, event.ResultFail, rec.Message, nil))
		}
	}
	return append(cmds, r.finish(StateEscalated, reason, now)...), nil
}

func onMonitoringDown(r *Remediation, ev Event, now time.Time) ([]Command, error) {
	e := ev.(MonitoringUnavailable)
	rec, err := r.runningEvaluation(e.Index)
	if err != nil {
		return nil, err
	}
	rec.Attempts++
	rec.Message = fmt.Sprintf("monitoring unavailable (attempt %d): %s", rec.Attempts, e.Reason)
	if !e.Final && r.StopPending == "" {
		// The same window again: an outage ends, the data stays.
		return []Command{StartEvaluation{Index: rec.Index, From: rec.From, To: rec.To}}, nil
	}
	rec.State, rec.Result, rec.FinishedAt = EvaluationStateErrored, slo.Fail, now
	cmds := []Command{r.evaluationFinished(rec, event.StatusErrored, event.ResultFail, rec.Message, nil)}
	if r.StopPending != "" {
		return append(cmds, r.finish(StateStopped, r.StopPending, now)...), nil
	}
	a := r.Actions[rec.Index]
	reason := fmt.Sprintf("monitoring unavailable: the evaluation after action %d (%s) could not run in %d attempt(s), so whether the action helped is unknown; no further action was taken: %s",
		rec.Index+1, actionName(a), rec.Attempts, e.Reason)
	return append(cmds, r.finish(StateEscalated, reason, now)...), nil
}

func onPrepared(r *Remediation, ev Event, now time.Time) ([]Command, error) {
	e := ev.(ActionPrepared)
	a, err := r.current(e.Index, ActionStateIntended)
	if err != nil {
		return nil, err
	}
	plan := e.Plan
	a.Plan, a.External, a.StartedAt = &plan, e.External, now
	if r.Settings.DryRun {
		a.State, a.FinishedAt = ActionStateDryRun, now
		cmds := []Command{
			r.actionStarted(a),
			r.actionFinished(a, event.StatusSucceeded, event.ResultPass, "dry run: would "+planText(a)+"; nothing was applied"),
		}
		return append(cmds, r.afterStep(now)...), nil
	}
	a.State = ActionStateStarted
	r.State = StateApplying
	var cmds []Command
	if !a.External {
		cmds = append(cmds, r.actionStarted(a))
	}
	return append(cmds, ApplyAction{Index: a.Index}), nil
}

func onApplied(r *Remediation, ev Event, now time.Time) ([]Command, error) {
	e := ev.(ActionApplied)
	a, err := r.current(e.Index, ActionStateStarted)
	if err != nil {
		return nil, err
	}
	res := e.Result
	a.State, a.Result, a.FinishedAt = ActionStateFinished, &res, now
	var cmds []Command
	if !e.Reported {
		msg := res.Message
		if msg == "" {
			msg = planText(a)
		}
		cmds = append(cmds, r.actionFinished(a, event.StatusSucceeded, event.ResultPass, msg))
	}
	return append(cmds, r.afterStep(now)...), nil
}

func onActionFailed(r *Remediation, ev Event, now time.Time) ([]Command, error) {
	e := ev.(ActionFailed)
	want := ActionStateIntended
	if r.State == StateApplying {
		want = ActionStateStarted
	}
	a, err := r.current(e.Index, want)
	if err != nil {
		return nil, err
	}
	a.Attempts++
	a.Error = e.Err
	if !e.Final {
		if r.State == StateApplying {
			return []Command{ApplyAction{Index: a.Index}}, nil
		}
		return []Command{PrepareAction{Index: a.Index}}, nil
	}
	a.State, a.FinishedAt = ActionStateFailed, now
	var cmds []Command
	if !e.Reported {
		cmds = append(cmds, r.actionFinished(a, event.StatusErrored, event.ResultFail, "action failed: "+e.Err))
	}
	return append(cmds, r.afterStep(now)...), nil
}

func onSettled(r *Remediation, ev Event, now time.Time) ([]Command, error) {
	e := ev.(SettlingElapsed)
	a, err := r.current(e.Index, ActionStateFinished)
	if err != nil {
		return nil, err
	}
	rec := EvaluationRecord{
		Index:            a.Index,
		State:            EvaluationStateRunning,
		From:             a.FinishedAt,
		To:               now,
		TriggeredEventID: eventID(r.ID, "evaluation/"+strconv.Itoa(a.Index)+"/triggered"),
		StartedAt:        now,
	}
	r.Evaluations = append(r.Evaluations, rec)
	r.State = StateVerifying
	ref := "evaluation/" + strconv.Itoa(a.Index)
	data := r.data()
	data.Evaluation = EvaluationWindow{Start: rec.From.UTC().Format(time.RFC3339Nano), End: rec.To.UTC().Format(time.RFC3339Nano)}
	started := r.data()
	return []Command{
		Emit{ID: rec.TriggeredEventID, Type: event.TypeEvaluationTriggered, Data: data},
		Emit{ID: eventID(r.ID, ref+"/started"), Type: event.TypeEvaluationStarted, TriggeredID: rec.TriggeredEventID, Data: started},
		StartEvaluation{Index: a.Index, From: rec.From, To: rec.To},
	}, nil
}

func onEvaluated(r *Remediation, ev Event, now time.Time) ([]Command, error) {
	e := ev.(EvaluationFinished)
	rec, err := r.runningEvaluation(e.Index)
	if err != nil {
		return nil, err
	}
	res := e.Evaluation.Result
	if res != slo.Pass && res != slo.Warning && res != slo.Fail {
		return nil, fmt.Errorf("evaluation result %q is not pass, warning or fail", res)
	}
	rec.State, rec.Result, rec.Score, rec.Message, rec.FinishedAt = EvaluationStateFinished, res, e.Evaluation.Score, e.Evaluation.Message, now
	evaluation := e.Evaluation
	cmds := []Command{r.evaluationFinished(rec, event.StatusSucceeded, string(res), rec.Message, &evaluation)}
	if res == slo.Pass || res == slo.Warning {
		a := r.Actions[rec.Index]
		reason := fmt.Sprintf("the evaluation after action %d (%s) resulted in %s, score %s", rec.Index+1, actionName(a), res, formatScore(rec.Score))
		return append(cmds, r.finish(StateResolved, reason, now)...), nil
	}
	return append(cmds, r.afterStep(now)...), nil
}

func onEvaluationFailed(r *Remediation, ev Event, now time.Time) ([]Command, error) {
	e := ev.(EvaluationFailed)
	rec, err := r.runningEvaluation(e.Index)
	if err != nil {
		return nil, err
	}
	rec.State, rec.Result, rec.Message, rec.FinishedAt = EvaluationStateErrored, slo.Fail, "evaluation failed: "+e.Err, now
	cmds := []Command{r.evaluationFinished(rec, event.StatusErrored, event.ResultFail, rec.Message, nil)}
	return append(cmds, r.afterStep(now)...), nil
}

// --- steps ------------------------------------------------------------

// resume goes on with the next step: the opening events if not yet out,
// the settling of an applied but unverified action, else the next action.
func (r *Remediation) resume(now time.Time) []Command {
	cmds := r.open()
	if cur := r.CurrentAction; cur >= 0 && r.Actions[cur].State == ActionStateFinished && !r.verified(cur) {
		return append(cmds, r.settle(r.Actions[cur].FinishedAt, now)...)
	}
	return append(cmds, r.startAction(r.CurrentAction+1, now)...)
}

// afterStep ends a step (an action done or failed, an evaluation that did
// not pass): it honours a pending stop or pause, else goes on.
func (r *Remediation) afterStep(now time.Time) []Command {
	if r.StopPending != "" {
		return r.finish(StateStopped, r.StopPending, now)
	}
	if r.PausePending != "" {
		r.State, r.Reason, r.PausePending = StatePaused, r.PausePending, ""
		return nil
	}
	return r.resume(now)
}

// settle starts the settling time of the current action, which was applied
// at applied; after a pause it ends no earlier than now.
func (r *Remediation) settle(applied, now time.Time) []Command {
	until := applied.Add(r.Settings.Settling)
	if until.Before(now) {
		until = now
	}
	r.State, r.SettleUntil = StateSettling, until
	return []Command{StartTimer{At: until}}
}

// startAction records action i as intended and asks for its plan; with no
// action i, the remediation ends (escalated, or stopped for a dry run).
func (r *Remediation) startAction(i int, now time.Time) []Command {
	if i >= len(r.Actions) {
		switch {
		case r.Settings.DryRun:
			return r.finish(StateStopped, fmt.Sprintf("dry run: recorded what %d action(s) would do; nothing was applied", len(r.Actions)), now)
		case len(r.Actions) == 0:
			return r.finish(StateEscalated, fmt.Sprintf("no remediation action for the problem (title %q, root cause %q)", r.Title, r.RootCause), now)
		default:
			return r.finish(StateEscalated, fmt.Sprintf("all %d action(s) were tried and the problem was not resolved", len(r.Actions)), now)
		}
	}
	r.CurrentAction = i
	a := &r.Actions[i]
	a.State, a.IntendedAt = ActionStateIntended, now
	a.TriggeredEventID = eventID(r.ID, "action/"+strconv.Itoa(i)+"/triggered")
	r.State = StatePreparing
	data := r.data()
	data.Action = actionData(a)
	data.Problem = r.problemData()
	return []Command{
		Emit{ID: a.TriggeredEventID, Type: event.TypeActionTriggered, Data: data},
		PrepareAction{Index: i},
	}
}

// open emits remediation.triggered (unless an event asked for the
// remediation) and remediation.started, once.
func (r *Remediation) open() []Command {
	if r.Opened {
		return nil
	}
	r.Opened = true
	var cmds []Command
	if r.Settings.TriggerEventID == "" {
		data := r.data()
		data.Problem = r.problemData()
		cmds = append(cmds, Emit{ID: r.triggeredID(), Type: r.sequenceType(event.PhaseTriggered), Data: data})
	}
	return append(cmds, Emit{ID: eventID(r.ID, "remediation/started"), Type: r.sequenceType(event.PhaseStarted), TriggeredID: r.triggeredID(), Data: r.data()})
}

// finish ends the remediation in a terminal state.
func (r *Remediation) finish(s State, reason string, now time.Time) []Command {
	cmds := r.open()
	data := r.data()
	data.Message = reason
	switch {
	case s == StateResolved:
		data.Status, data.Result = event.StatusSucceeded, event.ResultPass
	case s == StateEscalated:
		data.Status, data.Result = event.StatusSucceeded, event.ResultFail
	case r.Settings.DryRun || r.OpenProblems() == 0:
		data.Status, data.Result = event.StatusAborted, event.ResultPass
	default:
		data.Status, data.Result = event.StatusAborted, event.ResultFail
	}
	cmds = append(cmds, Emit{ID: eventID(r.ID, "remediation/finished"), Type: r.sequenceType(event.PhaseFinished), TriggeredID: r.triggeredID(), Data: data})
	if s == StateEscalated {
		cmds = append(cmds, Escalate{Reason: reason})
	}
	r.State, r.Reason, r.FinishedAt = s, reason, now
	r.StopPending, r.PausePending = "", ""
	return append(cmds, Finish{State: s, Reason: reason})
}

// current returns the current action when it has index i and state want;
// anything else is a stale or misdirected event.
func (r *Remediation) current(i int, want ActionState) (*ActionRecord, error) {
	if r.CurrentAction < 0 || i != r.CurrentAction {
		return nil, fmt.Errorf("action %d is not the current action (%d)", i, r.CurrentAction)
	}
	a := &r.Actions[i]
	if a.State != want {
		return nil, fmt.Errorf("action %d is %s, not %s", i, a.State, want)
	}
	return a, nil
}

func (r *Remediation) runningEvaluation(i int) (*EvaluationRecord, error) {
	if n := len(r.Evaluations); n > 0 && r.Evaluations[n-1].Index == i && i == r.CurrentAction && r.Evaluations[n-1].State == EvaluationStateRunning {
		return &r.Evaluations[n-1], nil
	}
	return nil, fmt.Errorf("no evaluation of action %d is running", i)
}

func (r *Remediation) verified(i int) bool {
	return slices.ContainsFunc(r.Evaluations, func(e EvaluationRecord) bool { return e.Index == i })
}

// --- events -----------------------------------------------------------

func (r *Remediation) sequenceType(p event.Phase) string {
	return event.SequenceType(r.Stage, event.SequenceRemediation, p)
}

func (r *Remediation) triggeredID() string {
	if r.Settings.TriggerEventID != "" {
		return r.Settings.TriggerEventID
	}
	return eventID(r.ID, "remediation/triggered")
}

func (r *Remediation) data() EventData {
	d := EventData{Project: r.Project, Stage: r.Stage, Service: r.Service}
	if r.ProblemURL != "" {
		d.Labels = map[string]string{"Problem URL": r.ProblemURL}
	}
	return d
}

func (r *Remediation) problemData() *ProblemData {
	return &ProblemData{ProblemTitle: r.Title, RootCause: r.RootCause, ProblemURL: r.ProblemURL}
}

func (r *Remediation) actionStarted(a *ActionRecord) Command {
	data := r.data()
	data.Action = actionData(a)
	return Emit{ID: eventID(r.ID, "action/"+strconv.Itoa(a.Index)+"/started"), Type: event.TypeActionStarted, TriggeredID: a.TriggeredEventID, Data: data}
}

func (r *Remediation) actionFinished(a *ActionRecord, status, result, msg string) Command {
	data := r.data()
	data.Action = actionData(a)
	data.Status, data.Result, data.Message = status, result, msg
	return Emit{ID: eventID(r.ID, "action/"+strconv.Itoa(a.Index)+"/finished"), Type: event.TypeActionFinished, TriggeredID: a.TriggeredEventID, Data: data}
}

func (r *Remediation) evaluationFinished(rec *EvaluationRecord, status, result, msg string, ev *slo.Evaluation) Command {
	data := r.data()
	data.Status, data.Result, data.Message = status, result, msg
	data.Evaluation = evaluationData(ev, *rec)
	return Emit{ID: eventID(r.ID, "evaluation/"+strconv.Itoa(rec.Index)+"/finished"), Type: event.TypeEvaluationFinished, TriggeredID: rec.TriggeredEventID, Data: data}
}

func actionData(a *ActionRecord) *ActionData {
	d := &ActionData{Name: a.Request.Name, Action: a.Request.Action, Description: a.Request.Description, Value: a.Request.Value}
	if a.Plan != nil {
		d.Plan = a.Plan.Summary
	}
	return d
}

func actionName(a ActionRecord) string {
	if a.Request.Name != "" {
		return a.Request.Name
	}
	return a.Request.Action
}

func planText(a *ActionRecord) string {
	if a.Plan != nil && a.Plan.Summary != "" {
		return a.Plan.Summary
	}
	return "run " + actionName(*a)
}

func stepName(s State) string {
	switch s {
	case StatePreparing, StateApplying:
		return "an action"
	case StateVerifying:
		return "the evaluation"
	}
	return strings.ToLower(string(s))
}

func formatScore(f float64) string {
	return strconv.FormatFloat(f, 'f', -1, 64) + "%"
}
