package remediation

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/action"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/slo"
)

// t0 is when test problems open.
var t0 = time.Date(2024, 5, 6, 7, 0, 0, 0, time.UTC)

func at(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }

// The tutorial's two actions: scale up, then switch a feature off.
var (
	scaleUp  = action.Request{Action: "scaling", Name: "Scale up", Value: "1"}
	toggle   = action.Request{Action: "toggle-feature", Name: "Disable promotion", Value: map[string]any{"EnablePromotion": "off"}}
	scalePln = action.Plan{Action: "scaling", Summary: "scale deployment sockshop-production/carts-primary from 1 to 2 replicas"}
	togglePl = action.Plan{Action: "toggle-feature", Summary: "switch EnablePromotion from on to off"}
)

func testProblem(id string) Problem {
	return Problem{
		ID: id, Key: "alertmanager/" + id, Source: "alertmanager",
		Project: "sockshop", Stage: "production", Service: "carts",
		Title: "response_time_p90", State: ProblemStateOpen, URL: "http://prometheus/graph",
		KeptnContext: "2b3c1c84-2f1e-4d36-9a51-6f6b0b0b0b01", OpenedAt: t0,
	}
}

// newTest returns a waiting remediation for problem p1 with the given
// actions and a 10 minute settling time.
func newTest(actions ...action.Request) *Remediation {
	return New("r1", testProblem("p1"), actions, Settings{Settling: 10 * time.Minute}, t0)
}

// apply applies events at the given times and fails the test on an error.
func apply(tb testing.TB, r *Remediation, steps ...step) []Command {
	tb.Helper()
	var all []Command
	for _, s := range steps {
		cmds, err := r.Apply(s.ev, s.at)
		if err != nil {
			tb.Fatalf("apply %s at %s: %v", s.ev.Kind(), s.at.Format(time.RFC3339), err)
		}
		all = append(all, cmds...)
	}
	return all
}

type step struct {
	ev Event
	at time.Time
}

func evaluation(res slo.Result, score float64) slo.Evaluation {
	return slo.Evaluation{Result: res, Score: score, Message: "score " + string(res)}
}

// inState drives a fresh two-action remediation into state s by the usual
// path (see the timeline in the comments).
func inState(tb testing.TB, s State) *Remediation {
	tb.Helper()
	r := newTest(scaleUp, toggle)
	if s == StateEscalated {
		r = newTest()
	}
	path := map[State][]step{
		StateWaiting:   nil,
		StatePreparing: {{ProblemOpened{}, at(0)}},
		StateApplying:  {{ProblemOpened{}, at(0)}, {ActionPrepared{Index: 0, Plan: scalePln}, at(1)}},
		StateSettling:  {{ProblemOpened{}, at(0)}, {ActionPrepared{Index: 0, Plan: scalePln}, at(1)}, {ActionApplied{Index: 0}, at(2)}},
		StateVerifying: {{ProblemOpened{}, at(0)}, {ActionPrepared{Index: 0, Plan: scalePln}, at(1)}, {ActionApplied{Index: 0}, at(2)}, {SettlingElapsed{Index: 0}, at(12)}},
		StatePaused:    {{ProblemOpened{}, at(0)}, {ActionPrepared{Index: 0, Plan: scalePln}, at(1)}, {ActionApplied{Index: 0}, at(2)}, {Paused{}, at(3)}},
		StateResolved: {{ProblemOpened{}, at(0)}, {ActionPrepared{Index: 0, Plan: scalePln}, at(1)}, {ActionApplied{Index: 0}, at(2)},
			{SettlingElapsed{Index: 0}, at(12)}, {EvaluationFinished{Index: 0, Evaluation: evaluation(slo.Pass, 100)}, at(13)}},
		StateEscalated: {{ProblemOpened{}, at(0)}},
		StateStopped:   {{ProblemClosed{ProblemID: "p1"}, at(0)}},
	}
	steps, ok := path[s]
	if !ok {
		tb.Fatalf("no path to state %s", s)
	}
	apply(tb, r, steps...)
	if r.State != s {
		tb.Fatalf("path led to %s, want %s", r.State, s)
	}
	return r
}

// sample returns one event of each kind, naming action 0 and problem p1.
func sample(k EventKind) Event {
	switch k {
	case KindProblemOpened:
		return ProblemOpened{}
	case KindProblemJoined:
		return ProblemJoined{ProblemID: "p2"}
	case KindProblemClosed:
		return ProblemClosed{ProblemID: "p1"}
	case KindActionPrepared:
		return ActionPrepared{Index: 0, Plan: scalePln}
	case KindActionApplied:
		return ActionApplied{Index: 0, Result: action.Result{Message: "scaled to 2"}}
	case KindActionFailed:
		return ActionFailed{Index: 0, Err: "deployment not found", Final: true}
	case KindSettlingElapsed:
		return SettlingElapsed{Index: 0}
	case KindEvaluationFinished:
		return EvaluationFinished{Index: 0, Evaluation: evaluation(slo.Fail, 20)}
	case KindEvaluationFailed:
		return EvaluationFailed{Index: 0, Err: "no SLO"}
	case KindPaused:
		return Paused{Reason: "maintenance"}
	case KindResumed:
		return Resumed{}
	case KindLimitReached:
		return LimitReached{Reason: "cooldown"}
	case KindCancelled:
		return Cancelled{Reason: "project sockshop was deleted"}
	case KindMonitoringDown:
		return MonitoringUnavailable{Index: 0, Reason: "prometheus unavailable"}
	case KindHalted:
		return Halted{Reason: "job failed"}
	}
	panic("unknown kind " + k)
}

// describe renders commands as short strings, with event types shortened
// to what follows "sh.keptn.event.".
func describe(cmds []Command) []string {
	out := make([]string, 0, len(cmds))
	for _, c := range cmds {
		out = append(out, strings.Replace(c.String(), event.Prefix, "", 1))
	}
	return out
}

// emitted returns the types of the Emit commands, shortened.
func emitted(cmds []Command) []string {
	var out []string
	for _, c := range cmds {
		if e, ok := c.(Emit); ok {
			out = append(out, strings.TrimPrefix(e.Type, event.Prefix))
		}
	}
	return out
}

func wantIllegal(tb testing.TB, r *Remediation, ev Event, now time.Time) {
	tb.Helper()
	before := r.clone()
	cmds, err := r.Apply(ev, now)
	if !errors.Is(err, ErrIllegal) {
		tb.Fatalf("%s in %s: err = %v, want ErrIllegal", ev.Kind(), before.State, err)
	}
	if cmds != nil {
		tb.Errorf("commands %v with an error", describe(cmds))
	}
	if !reflect.DeepEqual(before, r) {
		tb.Errorf("an illegal move changed the remediation:\nbefore %+v\nafter  %+v", before, r)
	}
}
