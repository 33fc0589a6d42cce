package remediation

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/event"
)

// legal is the expected outcome of one legal (state, event) pair.
type legal struct {
	to   State
	cmds []string
}

// The fixtures of inState reach each state by this timeline: opened at
// t0, action 0 prepared at +1m, applied at +2m (settling until +12m),
// evaluated from +12m, paused (from settling) at +3m. The tested event
// happens at +60m; every pair not listed here must be illegal.
var wantTransitions = map[State]map[EventKind]legal{
	StateWaiting: {
		KindProblemOpened: {StatePreparing, []string{"emit production.remediation.triggered", "emit production.remediation.started", "emit action.triggered", "prepare action 0"}},
		KindProblemJoined: {StateWaiting, nil},
		KindProblemClosed: {StateStopped, []string{"emit production.remediation.triggered", "emit production.remediation.started", "emit production.remediation.finished", "finish stopped"}},
		KindPaused:        {StatePaused, nil},
		KindResumed:       {StateWaiting, nil},
		KindLimitReached:  {StateStopped, []string{"emit production.remediation.triggered", "emit production.remediation.started", "emit production.remediation.finished", "finish stopped"}},
		KindCancelled:     {StateStopped, []string{"emit production.remediation.triggered", "emit production.remediation.started", "emit production.remediation.finished", "finish stopped"}},
		KindHalted:        {StateEscalated, []string{"emit production.remediation.triggered", "emit production.remediation.started", "emit production.remediation.finished", "escalate", "finish escalated"}},
	},
	StatePreparing: {
		KindProblemJoined:  {StatePreparing, nil},
		KindProblemClosed:  {StatePreparing, nil},
		KindActionPrepared: {StateApplying, []string{"emit action.started", "apply action 0"}},
		KindActionFailed:   {StatePreparing, []string{"emit action.finished", "emit action.triggered", "prepare action 1"}},
		KindPaused:         {StatePreparing, nil},
		KindResumed:        {StatePreparing, nil},
		KindLimitReached:   {StateStopped, []string{"emit action.finished", "emit production.remediation.finished", "finish stopped"}},
		KindCancelled:      {StateStopped, []string{"emit action.finished", "emit production.remediation.finished", "finish stopped"}},
		KindHalted:         {StateEscalated, []string{"emit action.finished", "emit production.remediation.finished", "escalate", "finish escalated"}},
	},
	StateApplying: {
		KindProblemJoined: {StateApplying, nil},
		KindProblemClosed: {StateApplying, nil},
		KindActionApplied: {StateSettling, []string{"emit action.finished", "timer 2024-05-06T08:10:00Z"}},
		KindActionFailed:  {StatePreparing, []string{"emit action.finished", "emit action.triggered", "prepare action 1"}},
		KindPaused:        {StateApplying, nil},
		KindResumed:       {StateApplying, nil},
		KindCancelled:     {StateStopped, []string{"emit action.finished", "emit production.remediation.finished", "finish stopped"}},
		KindHalted:        {StateEscalated, []string{"emit action.finished", "emit production.remediation.finished", "escalate", "finish escalated"}},
	},
	StateSettling: {
		KindProblemJoined:   {StateSettling, nil},
		KindProblemClosed:   {StateStopped, []string{"cancel timer", "emit production.remediation.finished", "finish stopped"}},
		KindSettlingElapsed: {StateVerifying, []string{"emit evaluation.triggered", "emit evaluation.started", "evaluate action 0 2024-05-06T07:02:00Z..2024-05-06T08:00:00Z"}},
		KindPaused:          {StatePaused, []string{"cancel timer"}},
		KindResumed:         {StateSettling, nil},
		KindCancelled:       {StateStopped, []string{"cancel timer", "emit production.remediation.finished", "finish stopped"}},
		KindHalted:          {StateEscalated, []string{"cancel timer", "emit production.remediation.finished", "escalate", "finish escalated"}},
	},
	StateVerifying: {
		KindProblemJoined:      {StateVerifying, nil},
		KindProblemClosed:      {StateVerifying, nil},
		KindEvaluationFinished: {StatePreparing, []string{"emit evaluation.finished", "emit action.triggered", "prepare action 1"}},
		KindEvaluationFailed:   {StatePreparing, []string{"emit evaluation.finished", "emit action.triggered", "prepare action 1"}},
		KindPaused:             {StateVerifying, nil},
		KindResumed:            {StateVerifying, nil},
		KindCancelled:          {StateStopped, []string{"emit production.remediation.finished", "finish stopped"}},
		// An outage retries the evaluation over the same window.
		KindMonitoringDown: {StateVerifying, []string{"evaluate action 0 2024-05-06T07:02:00Z..2024-05-06T07:12:00Z"}},
		KindHalted:         {StateEscalated, []string{"emit evaluation.finished", "emit production.remediation.finished", "escalate", "finish escalated"}},
	},
	StatePaused: {
		KindProblemJoined: {StatePaused, nil},
		KindProblemClosed: {StateStopped, []string{"emit production.remediation.finished", "finish stopped"}},
		KindPaused:        {StatePaused, nil},
		// Applied at +2m with 10m settling: the settling is long over, so
		// the timer is due at once.
		KindResumed:   {StateSettling, []string{"timer 2024-05-06T08:00:00Z"}},
		KindCancelled: {StateStopped, []string{"emit production.remediation.finished", "finish stopped"}},
		KindHalted:    {StateEscalated, []string{"emit production.remediation.finished", "escalate", "finish escalated"}},
	},
	StateResolved:  {},
	StateEscalated: {},
	StateStopped:   {},
}

// TestTransitions is the table test over every (state, event) pair: legal
// pairs lead to the expected state with the expected commands, illegal
// ones return ErrIllegal and change nothing.
func TestTransitions(t *testing.T) {
	now := at(60)
	for _, s := range States {
		for _, k := range EventKinds {
			t.Run(fmt.Sprintf("%s/%s", s, k), func(t *testing.T) {
				r := inState(t, s)
				want, isLegal := wantTransitions[s][k]
				if _, tableLegal := Allowed(s, k); tableLegal != isLegal {
					t.Fatalf("the machine's table says legal=%t, this test says %t", tableLegal, isLegal)
				}
				if !isLegal {
					wantIllegal(t, r, sample(k), now)
					return
				}
				cmds, err := r.Apply(sample(k), now)
				if err != nil {
					t.Fatalf("legal move failed: %v", err)
				}
				if r.State != want.to {
					t.Errorf("state %s, want %s", r.State, want.to)
				}
				if got := describe(cmds); !slices.Equal(got, want.cmds) {
					t.Errorf("commands\n got %q\nwant %q", got, want.cmds)
				}
				if to, _ := Allowed(s, k); !slices.Contains(to, want.to) {
					t.Errorf("the table does not list %s as a target of %s/%s", want.to, s, k)
				}
			})
		}
	}
}

// TestTableCoversEveryState checks that the table names every state, so a
// new state cannot be forgotten, and that terminal states allow nothing.
func TestTableCoversEveryState(t *testing.T) {
	for _, s := range States {
		row, ok := table[s]
		if !ok {
			t.Errorf("state %s has no row in the table", s)
		}
		if s.Terminal() && len(row) != 0 {
			t.Errorf("terminal state %s allows %d events", s, len(row))
		}
		for k, tr := range row {
			if len(tr.to) == 0 || tr.do == nil {
				t.Errorf("%s/%s: empty transition", s, k)
			}
			for _, to := range tr.to {
				if !slices.Contains(States, to) {
					t.Errorf("%s/%s leads to unknown state %q", s, k, to)
				}
			}
		}
	}
	if len(table) != len(States) {
		t.Errorf("table has %d rows, want %d", len(table), len(States))
	}
}

func TestStaleAndMalformedEvents(t *testing.T) {
	tests := []struct {
		name  string
		state State
		ev    Event
		why   string
	}{
		{"plan for another action", StatePreparing, ActionPrepared{Index: 1}, "action 1 is not the current action (0)"},
		{"applied twice (a replay)", StateSettling, ActionApplied{Index: 0}, "no transition"},
		{"applied for an unprepared action", StatePreparing, ActionApplied{Index: 0}, "no transition"},
		{"stale timer of another action", StateSettling, SettlingElapsed{Index: 1}, "action 1 is not the current action"},
		{"evaluation of another action", StateVerifying, EvaluationFinished{Index: 1, Evaluation: evaluation("fail", 0)}, "no evaluation of action 1 is running"},
		{"evaluation with an unknown result", StateVerifying, EvaluationFinished{Index: 0, Evaluation: evaluation("meh", 0)}, `result "meh"`},
		{"closing a problem that is not its own", StateSettling, ProblemClosed{ProblemID: "p9"}, `problem "p9" is not one of its problems`},
		{"joining without an id", StateSettling, ProblemJoined{}, "no id"},
		{"anything after the end", StateResolved, Resumed{}, "the remediation has ended"},
		{"no event", StateWaiting, nil, "no event"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := inState(t, tt.state)
			if tt.ev == nil {
				_, err := r.Apply(nil, at(60))
				if err == nil || !strings.Contains(err.Error(), tt.why) {
					t.Fatalf("err = %v", err)
				}
				return
			}
			wantIllegal(t, r, tt.ev, at(60))
			_, err := r.Apply(tt.ev, at(60))
			if !strings.Contains(err.Error(), tt.why) {
				t.Errorf("err %q does not say %q", err, tt.why)
			}
		})
	}
}

func TestRetryableFailuresRetryTheStep(t *testing.T) {
	r := inState(t, StatePreparing)
	cmds := apply(t, r, step{ActionFailed{Index: 0, Err: "timeout", Final: false}, at(1)})
	if got := describe(cmds); !slices.Equal(got, []string{"prepare action 0"}) || r.State != StatePreparing {
		t.Errorf("preparing: %q in %s", got, r.State)
	}
	cmds = apply(t, r, step{ActionPrepared{Index: 0, Plan: scalePln}, at(2)}, step{ActionFailed{Index: 0, Err: "conflict"}, at(3)})
	if got := describe(cmds); !slices.Equal(got, []string{"emit action.started", "apply action 0", "apply action 0"}) || r.State != StateApplying {
		t.Errorf("applying: %q in %s", got, r.State)
	}
	if a := r.Actions[0]; a.Attempts != 2 || a.Error != "conflict" || a.State != ActionStateStarted {
		t.Errorf("action record %+v", a)
	}
}

func TestDeadlineInPastSettlesNow(t *testing.T) {
	r := inState(t, StateApplying)
	cmds := apply(t, r, step{ActionApplied{Index: 0}, at(5)})
	if want := (StartTimer{At: at(15)}); cmds[len(cmds)-1] != want {
		t.Errorf("last command %v, want %v", cmds[len(cmds)-1], want)
	}
	if !r.SettleUntil.Equal(at(15)) {
		t.Errorf("SettleUntil %v", r.SettleUntil)
	}
}

// TestCancelled checks what a cancelled remediation tells: from every
// running state it stops with the reason, its remediation.finished has
// status aborted, an action in flight is finished aborted, and nothing
// escalates.
func TestCancelled(t *testing.T) {
	for _, s := range States {
		if s.Terminal() {
			continue
		}
		t.Run(string(s), func(t *testing.T) {
			r := inState(t, s)
			cmds, err := r.Apply(Cancelled{Reason: "project sockshop was deleted"}, at(60))
			if err != nil {
				t.Fatal(err)
			}
			if r.State != StateStopped || r.Reason != "cancelled: project sockshop was deleted" {
				t.Errorf("state %s, reason %q", r.State, r.Reason)
			}
			for _, c := range cmds {
				if _, ok := c.(Escalate); ok {
					t.Errorf("a cancelled remediation escalates: %v", describe(cmds))
				}
			}
			fin := findEmit(t, cmds, event.SequenceType("production", "remediation", event.PhaseFinished), 0)
			if fin.Data.Status != event.StatusAborted || fin.Data.Message != r.Reason {
				t.Errorf("remediation.finished status %q message %q, want aborted with the reason", fin.Data.Status, fin.Data.Message)
			}
			for _, c := range cmds {
				if e, ok := c.(Emit); ok && e.Type == event.TypeActionFinished && e.Data.Status != event.StatusAborted {
					t.Errorf("action.finished of the action in flight has status %q, want aborted", e.Data.Status)
				}
			}
		})
	}
}

// TestMonitoringOutage checks that an outage during verification never
// leads to the next action: retries keep verifying the same window, and
// the final one escalates with the outage as the reason.
func TestMonitoringOutage(t *testing.T) {
	r := inState(t, StateVerifying)
	down := "prometheus unavailable: all 2 SLI queries failed without an answer"
	for i := 1; i <= 2; i++ {
		cmds := apply(t, r, step{MonitoringUnavailable{Index: 0, Reason: down}, at(12 + i)})
		if got := describe(cmds); r.State != StateVerifying || !slices.Equal(got, []string{"evaluate action 0 2024-05-06T07:02:00Z..2024-05-06T07:12:00Z"}) {
			t.Fatalf("attempt %d: %s with %q", i, r.State, got)
		}
		if rec := r.Evaluations[0]; rec.Attempts != i || rec.State != EvaluationStateRunning || !strings.Contains(rec.Message, down) {
			t.Errorf("attempt %d: evaluation record %+v", i, rec)
		}
	}
	cmds := apply(t, r, step{MonitoringUnavailable{Index: 0, Reason: down, Final: true}, at(20)})
	if r.State != StateEscalated || !strings.HasPrefix(r.Reason, "monitoring unavailable") || !strings.Contains(r.Reason, down) || !strings.Contains(r.Reason, "3 attempt(s)") {
		t.Fatalf("state %s, reason %q", r.State, r.Reason)
	}
	want := []string{"emit evaluation.finished", "emit production.remediation.finished", "escalate", "finish escalated"}
	if got := describe(cmds); !slices.Equal(got, want) {
		t.Errorf("commands %q, want %q", got, want)
	}
	if fin := findEmit(t, cmds, event.TypeEvaluationFinished, 0); fin.Data.Status != event.StatusErrored || fin.Data.Result != event.ResultFail {
		t.Errorf("evaluation.finished status %q result %q, want errored and fail", fin.Data.Status, fin.Data.Result)
	}
	if r.Actions[1].State != "" {
		t.Errorf("the next action was touched: %+v", r.Actions[1])
	}
}

// TestMonitoringOutageAfterProblemsClosed stops rather than escalates or
// retries when every problem closed during the verification.
func TestMonitoringOutageAfterProblemsClosed(t *testing.T) {
	r := inState(t, StateVerifying)
	apply(t, r, step{ProblemClosed{ProblemID: "p1"}, at(13)}, step{MonitoringUnavailable{Index: 0, Reason: "down"}, at(14)})
	if r.State != StateStopped {
		t.Errorf("state %s (%s), want stopped", r.State, r.Reason)
	}
}

// TestHaltedEscalatesWithTheReason checks the action in flight is failed
// with the reason and nothing else runs.
func TestHaltedEscalatesWithTheReason(t *testing.T) {
	r := inState(t, StateApplying)
	why := "action 1 (Scale up) found its target changed since the plan: replicas is 5"
	cmds := apply(t, r, step{Halted{Reason: why}, at(5)})
	if r.State != StateEscalated || r.Reason != why {
		t.Fatalf("state %s, reason %q", r.State, r.Reason)
	}
	if a := r.Actions[0]; a.State != ActionStateFailed || a.Error != why {
		t.Errorf("action record %+v", a)
	}
	if fin := findEmit(t, cmds, event.TypeActionFinished, 0); fin.Data.Status != event.StatusErrored || fin.Data.Message != why {
		t.Errorf("action.finished %+v", fin.Data)
	}
	for _, c := range cmds {
		if p, ok := c.(PrepareAction); ok {
			t.Errorf("halted remediation prepares action %d", p.Index)
		}
	}
}
