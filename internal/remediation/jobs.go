package remediation

import (
	"encoding/json"

	"github.com/tendhq/tend/internal/event"
)

// JobKind is the kind of every job that drives a remediation. The
// remediation loop (internal/remediator) handles them; the problem intake
// enqueues the first job of every remediation and one per problem that
// closes while it runs, and the API enqueues pauses and resumes.
const JobKind = "remediation.step"

// Step says what a JobKind job does (Payload.Step).
type Step string

// The steps. The intake's jobs carry none (StepStart): they start a
// remediation, or report a closed problem when Payload.ProblemClosed is
// set.
const (
	StepStart    Step = ""
	StepPrepare  Step = "prepare"
	StepApply    Step = "apply"
	StepAnswer   Step = "answer"
	StepSettled  Step = "settled"
	StepEvaluate Step = "evaluate"
	StepEscalate Step = "escalate"
	StepPause    Step = "pause"
	StepResume   Step = "resume"
)

// Payload is the JSON payload of a JobKind job. It is the contract between
// whoever enqueues a step and the loop that runs it:
//
//   - {"remediationId": "R"} (StartJob) is enqueued with every new
//     remediation, which is stored in state waiting with its actions
//     chosen and nothing done. The loop loads it, asks Admit (limits,
//     pause) for the first event, applies it and carries out the
//     commands; from then on the loop owns every step.
//   - {"remediationId": "R", "problemClosed": "P"} (ClosedJob) says that
//     problem P of R closed. The problem record is closed already; the
//     loop applies ProblemClosed{ProblemID: P}, which stops R after its
//     current step once all its problems have closed. Applying it to a
//     remediation that has ended is refused by the state machine
//     (ErrIllegal): the loop completes the job.
//   - a Step names the loop's own next steps, and the pauses, resumes and
//     external executors' answers (PauseJob, ResumeJob, AnswerJob); Index
//     is the action the step concerns.
//
// Joins are not sent as jobs: a joining problem is applied (ProblemJoined)
// to the stored remediation in the intake's transaction, with a
// compare-and-set on its version, so the remediation's list of problems is
// always complete before any close is handled.
type Payload struct {
	RemediationID string `json:"remediationId"`
	ProblemClosed string `json:"problemClosed,omitempty"`
	Step          Step   `json:"step,omitempty"`
	Index         int    `json:"index,omitempty"`
	Reason        string `json:"reason,omitempty"`
}

// Job is a JobKind job to enqueue, as plain data: the package does no I/O,
// so the caller wraps it into the store's job (store.JobSpec) and enqueues
// it in the transaction that causes it.
type Job struct {
	Kind        string
	Payload     []byte
	UniqueKey   string
	MaxAttempts int
}

// MaxStepAttempts is how often the worker tries a step (the loop's own,
// a pause, a resume, an answer) before giving up.
const MaxStepAttempts = 50

func job(p Payload, uniqueKey string, maxAttempts int) Job {
	b, _ := json.Marshal(p) // strings and an int: cannot fail
	return Job{Kind: JobKind, Payload: b, UniqueKey: uniqueKey, MaxAttempts: maxAttempts}
}

// JobKeyPrefix is the start of the unique key of every job of remediation
// id, the loop's own steps included: what store.Jobs.CancelJobs takes to
// withdraw them all.
func JobKeyPrefix(id string) string { return "remediation/" + id + "/" }

// StartJob returns the job that starts remediation id. Its attempts are
// the worker's default.
func StartJob(id string) Job {
	return job(Payload{RemediationID: id}, "remediation/"+id+"/start", 0)
}

// ClosedJob returns the job that tells remediation id that problem
// problemID closed.
func ClosedJob(id, problemID string) Job {
	return job(Payload{RemediationID: id, ProblemClosed: problemID}, "remediation/"+id+"/problem-closed/"+problemID, 0)
}

// PauseJob returns the job that pauses remediation id: it stops after its
// current step (at once when waiting or settling). nonce makes the job's
// unique key differ between pauses of one remediation.
func PauseJob(id, reason, nonce string) Job {
	return job(Payload{RemediationID: id, Step: StepPause, Reason: reason}, "remediation/"+id+"/pause/"+nonce, MaxStepAttempts)
}

// ResumeJob returns the job that resumes remediation id.
func ResumeJob(id, nonce string) Job {
	return job(Payload{RemediationID: id, Step: StepResume}, "remediation/"+id+"/resume/"+nonce, MaxStepAttempts)
}

// AnswerJob returns the job that feeds an external executor's answer (the
// action.finished event eventID from source) into action index of
// remediation id. The unique key names the answer, so a re-delivered
// answer enqueues nothing.
func AnswerJob(id string, index int, source, eventID string) Job {
	return job(Payload{RemediationID: id, Step: StepAnswer, Index: index}, "remediation/"+id+"/answer/"+source+"/"+eventID, MaxStepAttempts)
}

// IsActionAnswer reports whether ev is an external executor's answer to an
// action.triggered: an action.finished from a source other than tend,
// naming the triggered event.
func IsActionAnswer(ev *event.Event) bool {
	return ev.Type == event.TypeActionFinished && ev.TriggeredID != "" && ev.Source != event.DefaultSource
}
