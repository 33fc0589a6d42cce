// Package remediation owns self-healing's decisions: which remediation a
// problem notification starts or joins (Decide), which actions a
// remediation file prescribes (Actions), whether safety limits allow a step
// (Limits), and the remediation state machine itself (Remediation.Apply),
// which turns what happened (an action applied, an evaluation finished, the
// problem closed) into the next state and the commands the workers carry
// out, including every Keptn event of the remediation's story.
//
// It also owns the contract with whoever stores and runs it: the documents a
// remediation and a problem's details are stored as (Decode, Encode,
// ProblemDetails), and the one job kind that drives a remediation with its
// payload and the jobs that start, tell, pause and resume it (JobKind,
// Payload, Job).
//
// It is pure domain code: no I/O, no clock of its own (every decision takes
// now), no database. Its runner, internal/remediator, keeps Problems and
// Remediations in the store, executes Commands and reports back with
// Events.
package remediation

import (
	"strconv"
	"time"

	"github.com/tendhq/tend/internal/action"
	"github.com/tendhq/tend/internal/slo"
)

// ProblemState is whether a problem is still going on.
type ProblemState string

// The states of a problem.
const (
	ProblemStateOpen   ProblemState = "open"
	ProblemStateClosed ProblemState = "closed"
)

// Problem is one problem instance as tend records it: every notification
// with the same Key is the same problem.
type Problem struct {
	// ID is the store's id of the problem.
	ID string
	// Key is the notification's identity (see intake.Notification.Key).
	Key string
	// Source names where the problem came from (alertmanager, dynatrace,
	// keptn).
	Source                  string
	Project, Stage, Service string
	Title                   string
	RootCause               string
	Details                 string
	URL                     string
	Labels                  map[string]string
	State                   ProblemState
	// KeptnContext is the context the problem's notifications came in.
	KeptnContext string
	// EventID is the id of the event that opened it, when an event did
	// (a remediation.triggered event is answered, not re-emitted).
	EventID string
	// RemediationID is the remediation acting on the problem, if any.
	RemediationID string
	// OpenedAt is when the problem began (the source's time, else when
	// tend first heard of it); ClosedAt when it ended.
	OpenedAt time.Time
	ClosedAt time.Time
}

// ProblemRef is a problem a remediation acts on.
type ProblemRef struct {
	ID     string
	Closed bool
}

// Settings are fixed when a remediation is created.
type Settings struct {
	// Settling is the time between an action and its evaluation: the
	// shipyard's evaluation triggeredAfter, else the configured default
	// (see SettlingTime).
	Settling time.Duration
	// DryRun records each action's plan as what would be done, applies
	// nothing, and ends the remediation stopped once every action is
	// recorded.
	DryRun bool
	// TriggerEventID is the id of the remediation.triggered event that
	// asked for this remediation, when one did; tend then answers it
	// instead of emitting its own.
	TriggerEventID string
}

// ActionState is where one action of a remediation is.
type ActionState string

// The states of an action.
const (
	// ActionStateIntended: recorded before anything is done, and
	// action.triggered emitted; the executor prepares its plan.
	ActionStateIntended ActionState = "intended"
	// ActionStateStarted: the plan is recorded and being applied.
	ActionStateStarted ActionState = "started"
	// ActionStateFinished: the plan was applied.
	ActionStateFinished ActionState = "finished"
	// ActionStateFailed: the executor failed for good, or a limit refused it.
	ActionStateFailed ActionState = "failed"
	// ActionStateDryRun: the plan is recorded as what would be done; nothing
	// was applied.
	ActionStateDryRun ActionState = "dry-run"
)

// ActionRecord is one action of a remediation and what became of it.
type ActionRecord struct {
	Index int
	// Request is what the remediation file prescribes, with the problem
	// and the idempotency key.
	Request action.Request
	State   ActionState
	// Plan is the executor's absolute plan, recorded before it is applied.
	Plan *action.Plan
	// External marks an action carried out by an external executor, which
	// emits action.started and .finished itself.
	External bool
	Result   *action.Result
	// Error is the last executor error; Attempts counts the failed tries.
	Error    string
	Attempts int
	// TriggeredEventID is the id of the action.triggered event; external
	// executors answer with it as triggeredid.
	TriggeredEventID string
	IntendedAt       time.Time
	StartedAt        time.Time
	FinishedAt       time.Time
}

// EvaluationState is where a verifying evaluation is.
type EvaluationState string

// The states of an evaluation.
const (
	EvaluationStateRunning  EvaluationState = "running"
	EvaluationStateFinished EvaluationState = "finished"
	EvaluationStateErrored  EvaluationState = "errored"
)

// EvaluationRecord is the evaluation that verified one action.
type EvaluationRecord struct {
	// Index is the action it verifies.
	Index int
	State EvaluationState
	// From and To are the settling window that was evaluated.
	From, To time.Time
	Result   slo.Result
	Score    float64
	Message  string
	// Attempts counts the runs that found the monitoring unavailable
	// (MonitoringUnavailable); each is retried after a backoff.
	Attempts int `json:",omitempty"`
	// TriggeredEventID is the id of the evaluation.triggered event.
	TriggeredEventID string
	StartedAt        time.Time
	FinishedAt       time.Time
}

// Remediation is one run of the remediation loop for one service. Its
// fields are changed only by Apply.
type Remediation struct {
	ID           string
	KeptnContext string
	Project      string
	Stage        string
	Service      string
	State        State
	// Problems are the problems it acts on: the one that started it and
	// those that joined. It stops early only when all have closed.
	Problems []ProblemRef
	// Title and RootCause are the first problem's; they chose the actions
	// and describe the problem in the events.
	Title     string
	RootCause string
	// ProblemURL links to the first problem at its source.
	ProblemURL string
	// Burn is set when the first problem is Sloth's page-level burn
	// alert: the verification then asks whether the burn stopped
	// (VerifyBurn) rather than evaluating the SLO file.
	Burn     *BurnAlert `json:",omitempty"`
	Settings Settings
	// Actions are the remediation file's actions in order; an action is
	// intended once its index is reached.
	Actions     []ActionRecord
	Evaluations []EvaluationRecord
	// CurrentAction is the index of the action in progress or last done;
	// -1 before the first.
	CurrentAction int
	// Opened is set once remediation.triggered/started are out.
	Opened bool
	// StopPending and PausePending ask a running step to end the
	// remediation (stopped) or park it (paused) once it completes; their
	// text is the reason.
	StopPending  string
	PausePending string
	// SettleUntil is when the settling time of the current action ends.
	SettleUntil time.Time
	// Reason says why the remediation ended or is paused.
	Reason     string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	FinishedAt time.Time
}

// New creates a remediation in state waiting for problem p, with the
// actions the remediation file prescribes (see Actions). Nothing happens
// until the first event, normally ProblemOpened (see Admit).
func New(id string, p Problem, actions []action.Request, s Settings, now time.Time) *Remediation {
	kctx := p.KeptnContext
	r := &Remediation{
		ID:            id,
		KeptnContext:  kctx,
		Project:       p.Project,
		Stage:         p.Stage,
		Service:       p.Service,
		State:         StateWaiting,
		Problems:      []ProblemRef{{ID: p.ID, Closed: p.State == ProblemStateClosed}},
		Title:         p.Title,
		RootCause:     p.RootCause,
		ProblemURL:    p.URL,
		Settings:      s,
		CurrentAction: -1,
		CreatedAt:     now,
		UpdatedAt:     now,
	}
	if b, ok := BurnAlertOf(p.Labels); ok {
		r.Burn = &b
	}
	ap := action.Problem{ID: p.ID, Title: p.Title, RootCause: p.RootCause, State: string(ProblemStateOpen), URL: p.URL, Labels: p.Labels}
	for i, req := range actions {
		req.Key = actionKey(id, i)
		req.Project, req.Stage, req.Service = p.Project, p.Stage, p.Service
		req.Problem = ap
		r.Actions = append(r.Actions, ActionRecord{Index: i, Request: req})
	}
	return r
}

// actionKey is an action execution's idempotency key.
func actionKey(remediationID string, index int) string {
	return remediationID + "/action/" + strconv.Itoa(index)
}

// OpenProblems counts the problems not yet closed.
func (r *Remediation) OpenProblems() int {
	n := 0
	for _, p := range r.Problems {
		if !p.Closed {
			n++
		}
	}
	return n
}

// HasProblem reports whether problem id belongs to the remediation.
func (r *Remediation) HasProblem(id string) bool {
	for _, p := range r.Problems {
		if p.ID == id {
			return true
		}
	}
	return false
}

// clone copies r deeply enough that Apply can change the copy and drop it
// when a move turns out illegal.
func (r *Remediation) clone() *Remediation {
	c := *r
	c.Problems = append([]ProblemRef(nil), r.Problems...)
	c.Actions = append([]ActionRecord(nil), r.Actions...)
	c.Evaluations = append([]EvaluationRecord(nil), r.Evaluations...)
	return &c
}
