package sequence

import (
	"encoding/json"
	"fmt"

	"github.com/tendhq/tend/internal/event"
)

// Job kinds of the sequence runner (internal/sequencer).
const (
	// JobStart creates the sequence of a <stage>.<sequence>.triggered
	// event and starts it, or queues it behind the running one.
	JobStart = "sequence.start"
	// JobAnswer hands an executor's .started or .finished to the sequence
	// whose task it answers.
	JobAnswer = "sequence.answer"
	// JobInput delivers a timer or a user's control to one sequence.
	JobInput = "sequence.input"
)

// MaxAttempts bounds the retries of a sequence job (store conflicts,
// unreadable shipyards).
const MaxAttempts = 25

// Job is a job of the runner: its kind, payload and unique key, for the
// store's outbox.
type Job struct {
	Kind      string
	Payload   []byte
	UniqueKey string
}

// EventPayload is the payload of JobStart and JobAnswer: the event.
type EventPayload struct {
	Event *event.Event `json:"event"`
}

// InputPayload is the payload of JobInput.
type InputPayload struct {
	SequenceID string `json:"sequenceId"`
	Input      Input  `json:"input"`
	// Nonce makes each control request its own job.
	Nonce string `json:"nonce,omitempty"`
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("sequence: encode job: %v", err))
	}
	return b
}

// StartJob is the job that starts the sequence of a trigger event; one per
// event, however often it is delivered.
func StartJob(ev *event.Event) Job {
	return Job{Kind: JobStart, Payload: mustJSON(EventPayload{Event: ev}), UniqueKey: JobStart + "/" + ev.KeptnContext + "/" + ev.ID}
}

// IsAnswer reports whether ev may answer a task of a sequence: a task's
// .started or .finished with a triggeredid.
func IsAnswer(ev *event.Event) bool {
	if ev.TriggeredID == "" {
		return false
	}
	t, ok := event.ParseType(ev.Type)
	return ok && !t.Legacy && !t.IsSequence() && (t.Phase == event.PhaseStarted || t.Phase == event.PhaseFinished)
}

// AnswerJob is the job that hands an answer to its sequence.
func AnswerJob(ev *event.Event) Job {
	return Job{Kind: JobAnswer, Payload: mustJSON(EventPayload{Event: ev}), UniqueKey: JobAnswer + "/" + ev.Source + "/" + ev.ID}
}

// InputJob is the job that delivers a control input (pause, resume, abort)
// to a sequence; nonce distinguishes repeated requests.
func InputJob(sequenceID string, in Input, nonce string) Job {
	p := InputPayload{SequenceID: sequenceID, Input: in, Nonce: nonce}
	return Job{Kind: JobInput, Payload: mustJSON(p), UniqueKey: JobInput + "/" + sequenceID + "/" + string(in) + "/" + nonce}
}

// TimerJob is the job of an armed timer.
func TimerJob(sequenceID string, t Timer) Job {
	p := InputPayload{SequenceID: sequenceID, Input: InputTimer, Nonce: t.Key}
	return Job{Kind: JobInput, Payload: mustJSON(p), UniqueKey: JobInput + "/" + t.Key}
}

// DecodeEvent reads the payload of JobStart and JobAnswer.
func DecodeEvent(payload []byte) (*event.Event, error) {
	var p EventPayload
	if err := json.Unmarshal(payload, &p); err != nil || p.Event == nil {
		return nil, fmt.Errorf("decode sequence job: %v", err)
	}
	return p.Event, nil
}

// DecodeInput reads the payload of JobInput.
func DecodeInput(payload []byte) (InputPayload, error) {
	var p InputPayload
	if err := json.Unmarshal(payload, &p); err != nil {
		return InputPayload{}, fmt.Errorf("decode sequence job: %w", err)
	}
	if p.SequenceID == "" {
		return InputPayload{}, fmt.Errorf("decode sequence job: no sequence id")
	}
	return p, nil
}
