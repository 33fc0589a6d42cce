package remediation

import (
	"fmt"
	"time"

	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/slo"
)

// Command is work that a transition asks the workers to do, in the order
// Apply returns them. The worker records the new remediation state, the
// events to emit and the jobs for the other commands in one transaction.
type Command interface {
	// String describes the command in a few words, for logs and tests.
	String() string
	command()
}

// PrepareAction asks the executor of action Index for its plan
// (action.Executor.Prepare); the answer is ActionPrepared or ActionFailed.
// Before preparing, the worker checks Limits.MayAct and answers
// LimitReached when they refuse.
type PrepareAction struct{ Index int }

// ApplyAction asks the executor to apply the recorded plan of action Index
// (action.Executor.Apply); the answer is ActionApplied or ActionFailed. For
// an external action, the worker instead waits for the executor's
// action.finished, up to its timeout.
type ApplyAction struct{ Index int }

// StartTimer asks for SettlingElapsed at At.
type StartTimer struct{ At time.Time }

// CancelTimer withdraws the settling timer: the remediation left settling
// early. A SettlingElapsed that fires anyway is refused by Apply.
type CancelTimer struct{}

// StartEvaluation asks for an SLO evaluation of the service over the
// settling window [From, To] that verifies action Index; the answer is
// EvaluationFinished or EvaluationFailed. The evaluation itself emits no
// events: the remediation emits evaluation.triggered, .started and
// .finished in its own context.
type StartEvaluation struct {
	Index    int
	From, To time.Time
}

// Escalate asks for the escalation notification (the configured webhook
// with a Slack-compatible payload).
type Escalate struct{ Reason string }

// Emit asks for one Keptn event in the remediation's context. ID is derived
// from the remediation id and the event's place in the story, so emitting
// the same command twice (a replay after a crash) yields the same event.
type Emit struct {
	ID string
	// Type is the full event type.
	Type string
	// TriggeredID is the triggered event this one answers ("" for
	// triggered events).
	TriggeredID string
	Data        EventData
}

// Finish says the remediation ended in State; Reason says why.
type Finish struct {
	State  State
	Reason string
}

func (PrepareAction) command()   {}
func (ApplyAction) command()     {}
func (StartTimer) command()      {}
func (CancelTimer) command()     {}
func (StartEvaluation) command() {}
func (Escalate) command()        {}
func (Emit) command()            {}
func (Finish) command()          {}

func (c PrepareAction) String() string { return fmt.Sprintf("prepare action %d", c.Index) }
func (c ApplyAction) String() string   { return fmt.Sprintf("apply action %d", c.Index) }
func (c StartTimer) String() string    { return "timer " + c.At.UTC().Format(time.RFC3339) }
func (CancelTimer) String() string     { return "cancel timer" }
func (c StartEvaluation) String() string {
	return fmt.Sprintf("evaluate action %d %s..%s", c.Index, c.From.UTC().Format(time.RFC3339), c.To.UTC().Format(time.RFC3339))
}
func (c Escalate) String() string { return "escalate" }
func (c Emit) String() string     { return "emit " + c.Type }
func (c Finish) String() string   { return "finish " + string(c.State) }

// EventData is the data of the events a remediation emits, in Keptn's shape:
// the common fields plus the task's object.
type EventData struct {
	Project string            `json:"project"`
	Stage   string            `json:"stage"`
	Service string            `json:"service"`
	Labels  map[string]string `json:"labels,omitempty"`
	Status  string            `json:"status,omitempty"`
	Result  string            `json:"result,omitempty"`
	Message string            `json:"message,omitempty"`
	Problem *ProblemData      `json:"problem,omitempty"`
	Action  *ActionData       `json:"action,omitempty"`
	// Evaluation is an EvaluationWindow on evaluation.triggered and the
	// slo.Evaluation on evaluation.finished.
	Evaluation any `json:"evaluation,omitempty"`
}

// ProblemData is data.problem of remediation.triggered and action.triggered,
// with Keptn's lower-camel names.
type ProblemData struct {
	ProblemTitle string `json:"problemTitle"`
	RootCause    string `json:"rootCause,omitempty"`
	ProblemURL   string `json:"problemURL,omitempty"`
}

// ActionData is data.action, as Keptn's action.triggered carried it.
type ActionData struct {
	Name        string `json:"name,omitempty"`
	Action      string `json:"action"`
	Description string `json:"description,omitempty"`
	Value       any    `json:"value,omitempty"`
	// Plan says what the executor will do or did ("scale ... from 1 to 2").
	Plan string `json:"plan,omitempty"`
}

// EvaluationWindow is data.evaluation of evaluation.triggered.
type EvaluationWindow struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// evaluationData is what evaluation.finished carries: the evaluation, or
// at least its result and window.
func evaluationData(ev *slo.Evaluation, rec EvaluationRecord) any {
	if ev != nil {
		return ev
	}
	return slo.Evaluation{
		Result:    rec.Result,
		Score:     rec.Score,
		TimeStart: rec.From.UTC().Format(time.RFC3339Nano),
		TimeEnd:   rec.To.UTC().Format(time.RFC3339Nano),
		Message:   rec.Message,
	}
}

// eventID derives the id of the remediation's event at place ref
// ("action/1/started"): a name-based UUID, the same on every replay.
func eventID(remediationID, ref string) string {
	return event.ContextFor("tend/remediation/" + remediationID + "/" + ref)
}
