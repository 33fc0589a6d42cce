package sequence

import (
	"errors"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/event"
)

const twoTasks = `apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
metadata: {name: s}
spec:
  stages:
    - name: dev
      sequences:
        - name: delivery
          tasks:
            - name: deployment
            - name: test
`

// inState builds a sequence in each state: started and paused ones wait for
// their first task's executor.
func inState(t *testing.T, st State) Sequence {
	t.Helper()
	s, err := New(shipyard(t, twoTasks), trigger(t, "dev", "delivery", ""), t0, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if st == Waiting {
		return s
	}
	s = step(t, s, t0, InputStart, nil).Sequence
	switch st {
	case Paused:
		s = step(t, s, t0, InputPause, nil).Sequence
	case Finished:
		s, _, _ = run(t, s, nil)
	case Aborted:
		s = step(t, s, t0, InputAbort, nil).Sequence
	case TimedOut:
		s = step(t, s, t0.Add(DefaultTaskTimeout), InputTimer, nil).Sequence
	}
	if s.State != st {
		t.Fatalf("building a %s sequence gave %s", st, s.State)
	}
	return s
}

// TestTransitionTable applies every input in every state and checks the
// state reached, or that the table refuses the input.
func TestTransitionTable(t *testing.T) {
	const refused State = "refused"
	want := map[State]map[Input]State{
		Waiting: {InputStart: Started, InputTimer: Waiting, InputTaskStarted: Waiting, InputTaskFinished: Waiting,
			InputPause: refused, InputResume: refused, InputAbort: Aborted},
		Started: {InputStart: Started, InputTimer: TimedOut, InputTaskStarted: Started, InputTaskFinished: Started,
			InputPause: Paused, InputResume: Started, InputAbort: Aborted},
		Paused: {InputStart: Paused, InputTimer: Paused, InputTaskStarted: Paused, InputTaskFinished: Paused,
			InputPause: Paused, InputResume: Started, InputAbort: Aborted},
		Finished: {InputStart: Finished, InputTimer: Finished, InputTaskStarted: Finished, InputTaskFinished: Finished,
			InputPause: refused, InputResume: refused, InputAbort: refused},
		Aborted: {InputStart: Aborted, InputTimer: Aborted, InputTaskStarted: Aborted, InputTaskFinished: Aborted,
			InputPause: refused, InputResume: refused, InputAbort: refused},
		TimedOut: {InputStart: TimedOut, InputTimer: TimedOut, InputTaskStarted: TimedOut, InputTaskFinished: TimedOut,
			InputPause: refused, InputResume: refused, InputAbort: refused},
	}
	for _, st := range States {
		for _, in := range Inputs {
			t.Run(string(st)+"/"+string(in), func(t *testing.T) {
				s := inState(t, st)
				var ev *event.Event
				if s.Current < len(s.Tasks) && s.TaskTriggeredID != "" {
					switch in {
					case InputTaskStarted:
						ev = answer(t, s, "executor", event.PhaseStarted, "", "")
					case InputTaskFinished:
						ev = answer(t, s, "executor", event.PhaseFinished, event.ResultPass, event.StatusSucceeded)
					}
				} else if in == InputTaskStarted || in == InputTaskFinished {
					ev = &event.Event{Type: event.TaskType("deployment", event.PhaseFinished), TriggeredID: "stale", Source: "x"}
				}
				o, err := s.Step(t0.Add(DefaultTaskTimeout), in, ev)
				w := want[st][in]
				if w == refused {
					if !errors.Is(err, ErrIllegal) {
						t.Fatalf("err = %v, want ErrIllegal", err)
					}
					if Allowed(st, in) == nil {
						t.Error("Allowed says yes to a refused input")
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if o.Sequence.State != w {
					t.Errorf("state %s, want %s", o.Sequence.State, w)
				}
				if (o.Sequence.State != st) && !o.Changed {
					t.Error("a state change not marked Changed")
				}
			})
		}
	}
}

func TestDecodeRoundTrip(t *testing.T) {
	s := inState(t, Started)
	got, err := Decode(s.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if got.TaskTriggeredID != s.TaskTriggeredID || got.State != s.State || got.Deadline != s.Deadline || len(got.Tasks) != 2 {
		t.Errorf("round trip %+v, want %+v", got, s)
	}
	if _, err := Decode([]byte(`{"state":"dancing"}`)); err == nil {
		t.Error("an unknown state was accepted")
	}
	if _, err := Decode([]byte(`{`)); err == nil {
		t.Error("broken JSON was accepted")
	}
}

func TestTimerBeforeDeadlineIsIgnored(t *testing.T) {
	s := inState(t, Started)
	o := step(t, s, t0.Add(DefaultTaskTimeout-time.Second), InputTimer, nil)
	if o.Changed || o.Sequence.State != Started || len(o.Events) != 0 {
		t.Errorf("an early timer changed the sequence: %+v", o)
	}
}
