package remediation

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/action"
	"github.com/tendhq/tend/internal/slo"
)

// fuzzEvent turns two bytes into an event: the kind, and an action index,
// result or finality.
func fuzzEvent(kind, arg byte) Event {
	i := int(arg % 3)
	switch EventKinds[int(kind)%len(EventKinds)] {
	case KindProblemOpened:
		return ProblemOpened{}
	case KindProblemJoined:
		return ProblemJoined{ProblemID: []string{"p1", "p2", "p3"}[i]}
	case KindProblemClosed:
		return ProblemClosed{ProblemID: []string{"p1", "p2", "p3"}[i]}
	case KindActionPrepared:
		return ActionPrepared{Index: i, Plan: scalePln, External: arg&8 != 0}
	case KindActionApplied:
		return ActionApplied{Index: i, Reported: arg&8 != 0}
	case KindActionFailed:
		return ActionFailed{Index: i, Err: "boom", Final: arg&8 != 0}
	case KindSettlingElapsed:
		return SettlingElapsed{Index: i}
	case KindEvaluationFinished:
		return EvaluationFinished{Index: i, Evaluation: evaluation([]slo.Result{slo.Pass, slo.Warning, slo.Fail, "bogus"}[int(arg>>4)%4], 50)}
	case KindEvaluationFailed:
		return EvaluationFailed{Index: i, Err: "no SLO"}
	case KindPaused:
		return Paused{}
	case KindResumed:
		return Resumed{}
	case KindCancelled:
		return Cancelled{Reason: "project deleted"}
	default:
		return LimitReached{Reason: "cooldown"}
	}
}

// FuzzMachine feeds random event sequences to a remediation: it never
// panics, illegal moves return ErrIllegal and change nothing, terminal
// states stay terminal, a move into a terminal state ends with Finish, and
// no event id is emitted twice.
func FuzzMachine(f *testing.F) {
	f.Add([]byte{2, 0, 0, 3, 0, 4, 0, 6, 0, 7, 0x20, 3, 1, 4, 1, 6, 1, 7, 0})
	f.Add([]byte{0x12, 0, 0, 3, 0, 3, 1, 3, 2})
	f.Add([]byte{1, 9, 0, 0, 0, 10, 0, 2, 0, 1, 1, 2, 1})
	f.Add([]byte{3, 0, 0, 9, 0, 3, 0, 9, 0, 4, 0, 10, 0, 6, 0, 10, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		var acts []action.Request
		for range int(data[0] % 4) {
			acts = append(acts, scaleUp)
		}
		r := New("r1", testProblem("p1"), acts, Settings{Settling: time.Minute, DryRun: data[0]&0x10 != 0}, t0)
		ids := map[string]bool{}
		now := t0
		for i := 1; i+1 < len(data); i += 2 {
			now = now.Add(time.Minute)
			ev := fuzzEvent(data[i], data[i+1])
			before := r.clone()
			cmds, err := r.Apply(ev, now)
			if err != nil {
				if !errors.Is(err, ErrIllegal) {
					t.Fatalf("%s: error does not match ErrIllegal: %v", ev.Kind(), err)
				}
				if !reflect.DeepEqual(before, r) {
					t.Fatalf("%s: a refused move changed the remediation", ev.Kind())
				}
				continue
			}
			if before.State.Terminal() {
				t.Fatalf("%s moved a %s remediation", ev.Kind(), before.State)
			}
			if _, ok := Allowed(before.State, ev.Kind()); !ok {
				t.Fatalf("%s accepted in %s against the table", ev.Kind(), before.State)
			}
			if r.CurrentAction >= len(r.Actions) || r.CurrentAction < -1 {
				t.Fatalf("current action %d of %d", r.CurrentAction, len(r.Actions))
			}
			finished := false
			for j, c := range cmds {
				switch c := c.(type) {
				case Emit:
					if ids[c.ID] {
						t.Fatalf("event id %s (%s) emitted twice", c.ID, c.Type)
					}
					ids[c.ID] = true
				case ApplyAction, StartTimer, StartEvaluation:
					if r.Settings.DryRun {
						t.Fatalf("dry run asked to %s", c)
					}
				case Finish:
					finished = true
					if j != len(cmds)-1 || c.State != r.State {
						t.Fatalf("finish %s at %d of %d, state %s", c.State, j, len(cmds), r.State)
					}
				}
			}
			if finished != r.State.Terminal() {
				t.Fatalf("%s -> %s: finish command %t", before.State, r.State, finished)
			}
		}
	})
}
