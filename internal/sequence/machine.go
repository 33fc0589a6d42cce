// Package sequence decides how a shipyard sequence runs: from the shipyard
// and a sequence's stored state it says which task event to emit next, when
// to wait (triggeredAfter, the answer timeout), how the executors' answers
// aggregate, when the sequence finishes and which sequences follow it
// (triggeredOn). It is pure: the runner in internal/sequencer stores the
// state, emits the events and keeps the timers as worker jobs.
//
// A sequence is a typed state machine (State) driven by inputs (Input)
// through one transition table. Every event it emits has an id derived from
// the Keptn context, the stage, the sequence, the task index and the
// event's role, so a step replayed after a crash emits the same events
// again, which the event log stores once.
package sequence

import (
	"errors"
	"fmt"
)

// State is where a sequence is in its life.
type State string

// The states of a sequence.
const (
	// Waiting: another sequence runs in the same project, stage and
	// service; this one starts when that one ends.
	Waiting State = "waiting"
	// Started: the sequence runs its tasks.
	Started State = "started"
	// Paused: no new task is triggered until the sequence is resumed;
	// answers of the running task are still recorded.
	Paused State = "paused"
	// Finished: every task ran, or one failed.
	Finished State = "finished"
	// Aborted: a user aborted the sequence.
	Aborted State = "aborted"
	// TimedOut: a task was not started by any executor in time.
	TimedOut State = "timedOut"
)

// States lists every state, for tables and validation.
var States = []State{Waiting, Started, Paused, Finished, Aborted, TimedOut}

// Ended reports whether s is terminal.
func (s State) Ended() bool { return s == Finished || s == Aborted || s == TimedOut }

// Active reports whether a sequence in s holds its project, stage and
// service, so that others wait.
func (s State) Active() bool { return s == Started || s == Paused }

// Input is what happens to a sequence.
type Input string

// The inputs of the state machine.
const (
	// InputStart: the sequence's turn has come (nothing else runs in its
	// project, stage and service).
	InputStart Input = "start"
	// InputTimer: a timer of the sequence is due (triggeredAfter, or the
	// answer timeout of a triggered task).
	InputTimer Input = "timer"
	// InputTaskStarted: an executor sent the task's .started.
	InputTaskStarted Input = "task.started"
	// InputTaskFinished: an executor sent the task's .finished.
	InputTaskFinished Input = "task.finished"
	// InputPause, InputResume and InputAbort are the user's controls.
	InputPause  Input = "pause"
	InputResume Input = "resume"
	InputAbort  Input = "abort"
)

// Inputs lists every input, for tables.
var Inputs = []Input{InputStart, InputTimer, InputTaskStarted, InputTaskFinished, InputPause, InputResume, InputAbort}

// move is what the table allows an input to do in a state.
type move int

const (
	// illegal inputs return an error (ErrIllegal).
	illegal move = iota
	// ignore: a stale or repeated input (a timer or answer arriving after
	// the sequence moved on, a replayed start); nothing changes.
	ignore
	// apply: the input is handled.
	apply
)

// transitions is the one transition table. An input not listed for a state
// is illegal.
var transitions = map[State]map[Input]move{
	Waiting: {
		InputStart: apply, InputTimer: ignore, InputTaskStarted: ignore, InputTaskFinished: ignore,
		InputAbort: apply,
	},
	Started: {
		InputStart: ignore, InputTimer: apply, InputTaskStarted: apply, InputTaskFinished: apply,
		InputPause: apply, InputResume: ignore, InputAbort: apply,
	},
	Paused: {
		InputStart: ignore, InputTimer: ignore, InputTaskStarted: apply, InputTaskFinished: apply,
		InputPause: ignore, InputResume: apply, InputAbort: apply,
	},
	Finished: {InputStart: ignore, InputTimer: ignore, InputTaskStarted: ignore, InputTaskFinished: ignore},
	Aborted:  {InputStart: ignore, InputTimer: ignore, InputTaskStarted: ignore, InputTaskFinished: ignore},
	TimedOut: {InputStart: ignore, InputTimer: ignore, InputTaskStarted: ignore, InputTaskFinished: ignore},
}

// ErrIllegal means the input is not allowed in the sequence's state, such
// as pausing a finished sequence or pausing one that waits in the queue.
var ErrIllegal = errors.New("illegal sequence transition")

// lookup returns the table's move for (s, in).
func lookup(s State, in Input) (move, error) {
	m := transitions[s][in]
	if m == illegal {
		return illegal, fmt.Errorf("%w: cannot %s a sequence that is %s", ErrIllegal, in, s)
	}
	return m, nil
}

// Allowed reports whether in applies to a sequence in state s: nil when
// the table handles or ignores it, an error wrapping ErrIllegal when it
// is illegal. The API checks controls with it before queueing them.
func Allowed(s State, in Input) error {
	_, err := lookup(s, in)
	return err
}
