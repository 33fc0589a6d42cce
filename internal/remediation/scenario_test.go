package remediation

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/action"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/slo"
	"github.com/tendhq/tend/internal/spec"
)

// tutorialRemediation is the tutorial's remediation file: scale up, then
// disable the promotion feature.
const tutorialRemediation = `apiVersion: spec.keptn.sh/0.1.4
kind: Remediation
metadata: {name: carts-remediation}
spec:
  remediations:
    - problemType: response_time_p90
      actionsOnOpen:
        - {name: Scale up, action: scaling, description: Scale up by one replica, value: "1"}
        - {name: Disable promotion, action: toggle-feature, value: {EnablePromotion: "off"}}
    - problemType: default
      actionsOnOpen:
        - {name: Escalate, action: escalate}
`

func tutorialActions(tb testing.TB, rootCause, title string) []action.Request {
	tb.Helper()
	rem, diags := spec.DecodeRemediation("remediation.yaml", []byte(tutorialRemediation))
	if rem == nil {
		tb.Fatalf("decode: %v", diags)
	}
	acts, _, ok := Actions(rem, rootCause, title)
	if !ok {
		tb.Fatal("no entry matched")
	}
	return acts
}

// TestTutorial runs the tutorial's story: problem, scale, evaluation
// fails, toggle, evaluation passes, resolved; and checks the exact Keptn
// events in order, their ids and links, and that each is a valid event.
func TestTutorial(t *testing.T) {
	r := New("r1", testProblem("p1"), tutorialActions(t, "", "response_time_p90"), Settings{Settling: 10 * time.Minute}, t0)
	var cmds []Command
	run := func(ev Event, now time.Time, want ...string) {
		t.Helper()
		got := apply(t, r, step{ev, now})
		cmds = append(cmds, got...)
		var other []string
		for _, c := range got {
			if _, ok := c.(Emit); !ok {
				other = append(other, c.String())
			}
		}
		if !slices.Equal(other, want) {
			t.Errorf("after %s: commands %q, want %q", ev.Kind(), other, want)
		}
	}
	run(ProblemOpened{}, at(0), "prepare action 0")
	run(ActionPrepared{Index: 0, Plan: scalePln}, at(0), "apply action 0")
	run(ActionApplied{Index: 0, Result: action.Result{Message: "scaled carts-primary to 2 replicas"}}, at(1), "timer 2024-05-06T07:11:00Z")
	run(SettlingElapsed{Index: 0}, at(11), "evaluate action 0 2024-05-06T07:01:00Z..2024-05-06T07:11:00Z")
	run(EvaluationFinished{Index: 0, Evaluation: evaluation(slo.Fail, 33)}, at(11), "prepare action 1")
	run(ActionPrepared{Index: 1, Plan: togglePl}, at(12), "apply action 1")
	run(ActionApplied{Index: 1}, at(12), "timer 2024-05-06T07:22:00Z")
	run(SettlingElapsed{Index: 1}, at(22), "evaluate action 1 2024-05-06T07:12:00Z..2024-05-06T07:22:00Z")
	run(EvaluationFinished{Index: 1, Evaluation: evaluation(slo.Pass, 100)}, at(22), "finish resolved")

	want := []string{
		"production.remediation.triggered", "production.remediation.started",
		"action.triggered", "action.started", "action.finished",
		"evaluation.triggered", "evaluation.started", "evaluation.finished",
		"action.triggered", "action.started", "action.finished",
		"evaluation.triggered", "evaluation.started", "evaluation.finished",
		"production.remediation.finished",
	}
	if got := emitted(cmds); !slices.Equal(got, want) {
		t.Errorf("events\n got %q\nwant %q", got, want)
	}
	if r.State != StateResolved || !strings.Contains(r.Reason, "action 2 (Disable promotion) resulted in pass") {
		t.Errorf("state %s, reason %q", r.State, r.Reason)
	}
	if a := r.Actions; a[0].State != ActionStateFinished || a[1].State != ActionStateFinished || a[0].Plan.Summary != scalePln.Summary {
		t.Errorf("actions %+v", a)
	}
	if e := r.Evaluations; len(e) != 2 || e[0].Result != slo.Fail || e[1].Result != slo.Pass || e[1].Score != 100 {
		t.Errorf("evaluations %+v", e)
	}
	if r.Actions[0].Request.Key != "r1/action/0" || r.Actions[1].Request.Service != "carts" || r.Actions[1].Request.Problem.Title != "response_time_p90" {
		t.Errorf("requests %+v", r.Actions)
	}
	checkStory(t, r, cmds)

	// The last remediation.finished says pass; action.triggered carries
	// the action and the problem as Keptn did.
	fin := cmds[len(cmds)-2].(Emit)
	if fin.Data.Status != event.StatusSucceeded || fin.Data.Result != event.ResultPass {
		t.Errorf("remediation.finished %+v", fin.Data)
	}
	trig := findEmit(t, cmds, event.TypeActionTriggered, 1)
	b, _ := json.Marshal(trig.Data)
	for _, s := range []string{`"action":{"name":"Disable promotion","action":"toggle-feature","value":{"EnablePromotion":"off"}}`, `"problem":{"problemTitle":"response_time_p90"`} {
		if !strings.Contains(string(b), s) {
			t.Errorf("action.triggered data %s lacks %s", b, s)
		}
	}
}

// checkStory checks that every Emit is a valid Keptn event, that ids are
// unique, and that each answer points at an event emitted before it.
func checkStory(tb testing.TB, r *Remediation, cmds []Command) {
	tb.Helper()
	seen := map[string]bool{}
	if r.Settings.TriggerEventID != "" {
		seen[r.Settings.TriggerEventID] = true
	}
	for _, c := range cmds {
		e, ok := c.(Emit)
		if !ok {
			continue
		}
		if seen[e.ID] || !event.IsUUID(e.ID) {
			tb.Errorf("%s: id %q repeated or not a UUID", e.Type, e.ID)
		}
		seen[e.ID] = true
		if e.TriggeredID != "" && !seen[e.TriggeredID] {
			tb.Errorf("%s answers %s, which was not emitted before", e.Type, e.TriggeredID)
		}
		if strings.HasSuffix(e.Type, ".triggered") == (e.TriggeredID != "") {
			tb.Errorf("%s: triggeredid %q", e.Type, e.TriggeredID)
		}
		if _, err := event.New(e.Type, r.KeptnContext, e.TriggeredID, e.Data); err != nil {
			tb.Errorf("%s is not a valid event: %v", e.Type, err)
		}
	}
}

func findEmit(tb testing.TB, cmds []Command, typ string, nth int) Emit {
	tb.Helper()
	for _, c := range cmds {
		if e, ok := c.(Emit); ok && e.Type == typ {
			if nth == 0 {
				return e
			}
			nth--
		}
	}
	tb.Fatalf("no %s", typ)
	return Emit{}
}

// runAction drives the current action (index i) through prepare, apply,
// settle and an evaluation with result res, starting at minute m.
func runAction(tb testing.TB, r *Remediation, i, m int, res slo.Result) []Command {
	tb.Helper()
	return apply(tb, r,
		step{ActionPrepared{Index: i, Plan: scalePln}, at(m)},
		step{ActionApplied{Index: i}, at(m + 1)},
		step{SettlingElapsed{Index: i}, at(m + 11)},
		step{EvaluationFinished{Index: i, Evaluation: evaluation(res, 0)}, at(m + 12)},
	)
}

func TestEscalatesWhenActionsRunOut(t *testing.T) {
	r := newTest(scaleUp, toggle)
	cmds := apply(t, r, step{ProblemOpened{}, at(0)})
	cmds = append(cmds, runAction(t, r, 0, 0, slo.Fail)...)
	// The second action fails for good: the loop treats it like a failed
	// evaluation.
	cmds = append(cmds, apply(t, r, step{ActionFailed{Index: 1, Err: "unleash: 401", Final: true}, at(20)})...)
	if r.State != StateEscalated {
		t.Fatalf("state %s", r.State)
	}
	tail := describe(cmds[len(cmds)-4:])
	if want := []string{"emit action.finished", "emit production.remediation.finished", "escalate", "finish escalated"}; !slices.Equal(tail, want) {
		t.Errorf("tail %q, want %q", tail, want)
	}
	if !strings.Contains(r.Reason, "all 2 action(s) were tried") || r.Actions[1].State != ActionStateFailed || r.Actions[1].Error != "unleash: 401" {
		t.Errorf("reason %q, action %+v", r.Reason, r.Actions[1])
	}
	fin := findEmit(t, cmds, event.SequenceType("production", "remediation", event.PhaseFinished), 0)
	if fin.Data.Result != event.ResultFail {
		t.Errorf("finished result %q", fin.Data.Result)
	}
	checkStory(t, r, cmds)
}

func TestEscalatesAtOnceWithoutActions(t *testing.T) {
	rem, _ := spec.DecodeRemediation("remediation.yaml", []byte(`apiVersion: spec.keptn.sh/0.1.4
kind: Remediation
spec:
  remediations:
    - problemType: cpu
      actionsOnOpen: [{action: scaling, value: "1"}]
`))
	acts, _, ok := Actions(rem, "", "response_time_p90")
	if ok || len(acts) != 0 {
		t.Fatalf("matched %v", acts)
	}
	r := New("r1", testProblem("p1"), acts, Settings{}, t0)
	cmds := apply(t, r, step{ProblemOpened{}, at(0)})
	if r.State != StateEscalated || !strings.Contains(r.Reason, "no remediation action") {
		t.Errorf("state %s reason %q", r.State, r.Reason)
	}
	if !slices.Contains(describe(cmds), "escalate") {
		t.Errorf("no escalate command: %q", describe(cmds))
	}
}

// TestProblemClosedMidRun: the problem closes while an action is being
// applied; the action completes, then the remediation stops, saying why.
func TestProblemClosedMidRun(t *testing.T) {
	r := inState(t, StateApplying)
	apply(t, r, step{ProblemClosed{ProblemID: "p1"}, at(2)})
	if r.State != StateApplying || r.StopPending == "" {
		t.Fatalf("state %s pending %q", r.State, r.StopPending)
	}
	cmds := apply(t, r, step{ActionApplied{Index: 0}, at(3)})
	if got, want := describe(cmds), []string{"emit action.finished", "emit production.remediation.finished", "finish stopped"}; !slices.Equal(got, want) {
		t.Errorf("commands %q, want %q", got, want)
	}
	if r.State != StateStopped || r.Reason != "the problem closed during an action" {
		t.Errorf("state %s reason %q", r.State, r.Reason)
	}
	fin := cmds[1].(Emit)
	if fin.Data.Status != event.StatusAborted || fin.Data.Result != event.ResultPass {
		t.Errorf("finished %s/%s", fin.Data.Status, fin.Data.Result)
	}
	// Even a pass after the close would not be reported: the remediation
	// has ended.
	wantIllegal(t, r, SettlingElapsed{Index: 0}, at(13))
}

// TestClosedDuringVerificationStillResolves: an evaluation already running
// finishes its step; a pass resolves rather than stops.
func TestClosedDuringVerificationStillResolves(t *testing.T) {
	r := inState(t, StateVerifying)
	apply(t, r, step{ProblemClosed{ProblemID: "p1"}, at(12)}, step{EvaluationFinished{Index: 0, Evaluation: evaluation(slo.Warning, 80)}, at(13)})
	if r.State != StateResolved {
		t.Errorf("state %s", r.State)
	}
}

// TestPause: a pause reached while verifying parks the remediation after
// the evaluation; a new problem joins while paused; resume goes on with
// the next action.
func TestPause(t *testing.T) {
	r := inState(t, StateVerifying)
	apply(t, r, step{Paused{Reason: "maintenance window"}, at(12)})
	if r.State != StateVerifying || r.PausePending == "" {
		t.Fatalf("state %s", r.State)
	}
	cmds := apply(t, r, step{EvaluationFinished{Index: 0, Evaluation: evaluation(slo.Fail, 0)}, at(13)})
	if got := describe(cmds); !slices.Equal(got, []string{"emit evaluation.finished"}) || r.State != StatePaused {
		t.Fatalf("commands %q, state %s", got, r.State)
	}
	if r.Reason != "paused: maintenance window" {
		t.Errorf("reason %q", r.Reason)
	}
	apply(t, r, step{ProblemJoined{ProblemID: "p2"}, at(20)})
	cmds = apply(t, r, step{Resumed{}, at(30)})
	if got := describe(cmds); !slices.Equal(got, []string{"emit action.triggered", "prepare action 1"}) || r.State != StatePreparing {
		t.Errorf("after resume: %q, state %s", got, r.State)
	}
	if len(r.Problems) != 2 || r.Reason != "" {
		t.Errorf("problems %v reason %q", r.Problems, r.Reason)
	}
}

// TestPausedBeforeStart: a problem arriving while remediation is paused is
// recorded, nothing is emitted or done until resume.
func TestPausedBeforeStart(t *testing.T) {
	r := newTest(scaleUp)
	first := Admit(DefaultLimits(), History{}, true, at(0))
	if cmds := apply(t, r, step{first, at(0)}); len(cmds) != 0 || r.State != StatePaused {
		t.Fatalf("commands %q state %s", describe(cmds), r.State)
	}
	cmds := apply(t, r, step{Resumed{}, at(5)})
	want := []string{"emit production.remediation.triggered", "emit production.remediation.started", "emit action.triggered", "prepare action 0"}
	if got := describe(cmds); !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestJoin: a second problem joins; the remediation stops early only when
// both have closed.
func TestJoin(t *testing.T) {
	r := inState(t, StateSettling)
	apply(t, r, step{ProblemJoined{ProblemID: "p2"}, at(3)}, step{ProblemJoined{ProblemID: "p2"}, at(3)})
	if len(r.Problems) != 2 {
		t.Fatalf("problems %v", r.Problems)
	}
	if cmds := apply(t, r, step{ProblemClosed{ProblemID: "p1"}, at(4)}); len(cmds) != 0 || r.State != StateSettling {
		t.Fatalf("closing one of two: %q, %s", describe(cmds), r.State)
	}
	cmds := apply(t, r, step{ProblemClosed{ProblemID: "p2"}, at(5)})
	if r.State != StateStopped || r.Reason != "all 2 problems closed while settling" || describe(cmds)[0] != "cancel timer" {
		t.Errorf("state %s reason %q commands %q", r.State, r.Reason, describe(cmds))
	}
}

// TestJoinCancelsAPendingStop: every problem closed during an action, then
// a new problem joined before the action finished: the remediation goes
// on.
func TestJoinCancelsAPendingStop(t *testing.T) {
	r := inState(t, StateApplying)
	apply(t, r, step{ProblemClosed{ProblemID: "p1"}, at(2)}, step{ProblemJoined{ProblemID: "p2"}, at(2)}, step{ActionApplied{Index: 0}, at(3)})
	if r.State != StateSettling || r.OpenProblems() != 1 {
		t.Errorf("state %s, %d open problems", r.State, r.OpenProblems())
	}
}

func TestLimitRefusesAnAction(t *testing.T) {
	r := inState(t, StatePreparing)
	l := DefaultLimits()
	h := History{Actions: []time.Time{at(-50), at(-40), at(-30), at(-20), at(-10), at(-1)}}
	ok, why := l.MayAct(h, at(0))
	if ok {
		t.Fatal("six actions in the hour allowed a seventh")
	}
	cmds := apply(t, r, step{LimitReached{Reason: why}, at(0)})
	if r.State != StateStopped || r.Actions[0].State != ActionStateFailed || !strings.Contains(r.Reason, "at most 6 actions per hour") {
		t.Errorf("state %s action %s reason %q", r.State, r.Actions[0].State, r.Reason)
	}
	if fin := cmds[0].(Emit); fin.Type != event.TypeActionFinished || fin.Data.Status != event.StatusErrored {
		t.Errorf("first command %v", cmds[0])
	}
}

// TestDryRun records each action's plan as what would be done, applies
// nothing, and stops.
func TestDryRun(t *testing.T) {
	r := New("r1", testProblem("p1"), []action.Request{scaleUp, toggle}, Settings{Settling: time.Minute, DryRun: true}, t0)
	cmds := apply(t, r,
		step{ProblemOpened{}, at(0)},
		step{ActionPrepared{Index: 0, Plan: scalePln}, at(0)},
		step{ActionPrepared{Index: 1, Plan: togglePl}, at(0)},
	)
	for _, c := range cmds {
		switch c.(type) {
		case ApplyAction, StartTimer, StartEvaluation, Escalate:
			t.Errorf("dry run asked to %s", c)
		}
	}
	if r.State != StateStopped || !strings.HasPrefix(r.Reason, "dry run") {
		t.Errorf("state %s reason %q", r.State, r.Reason)
	}
	for _, a := range r.Actions {
		if a.State != ActionStateDryRun || a.Plan == nil {
			t.Errorf("action %d: %s, plan %v", a.Index, a.State, a.Plan)
		}
	}
	fin := findEmit(t, cmds, event.TypeActionFinished, 0)
	if !strings.Contains(fin.Data.Message, "dry run: would scale deployment") {
		t.Errorf("message %q", fin.Data.Message)
	}
	checkStory(t, r, cmds)
}

// TestExternalExecutor: an external executor emits action.started and
// .finished itself; tend emits only action.triggered.
func TestExternalExecutor(t *testing.T) {
	r := newTest(action.Request{Action: "run-snow-wf"})
	cmds := apply(t, r,
		step{ProblemOpened{}, at(0)},
		step{ActionPrepared{Index: 0, Plan: action.Plan{Action: "run-snow-wf"}, External: true}, at(0)},
		step{ActionApplied{Index: 0, Reported: true}, at(3)},
	)
	want := []string{"production.remediation.triggered", "production.remediation.started", "action.triggered"}
	if got := emitted(cmds); !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if r.State != StateSettling || r.Actions[0].TriggeredEventID == "" {
		t.Errorf("state %s, triggered id %q", r.State, r.Actions[0].TriggeredEventID)
	}
}

// TestTriggeredByEvent: a remediation asked for by a remediation.triggered
// event answers it instead of emitting its own.
func TestTriggeredByEvent(t *testing.T) {
	const trigger = "f2b878d3-03c0-4e8f-bc3f-454bc1b3d79d"
	r := New("r1", testProblem("p1"), []action.Request{scaleUp}, Settings{Settling: time.Minute, TriggerEventID: trigger}, t0)
	cmds := apply(t, r, step{ProblemOpened{}, at(0)})
	if got := emitted(cmds); got[0] != "production.remediation.started" {
		t.Fatalf("first event %q", got[0])
	}
	if e := cmds[0].(Emit); e.TriggeredID != trigger {
		t.Errorf("started answers %q", e.TriggeredID)
	}
	checkStory(t, r, cmds)
}

// TestReplayYieldsTheSameEvents: a worker that crashes after applying an
// event and replays it on a copy of the stored state gets the same
// commands, with the same event ids.
func TestReplayYieldsTheSameEvents(t *testing.T) {
	a, b := inState(t, StateVerifying), inState(t, StateVerifying)
	ca := apply(t, a, step{EvaluationFinished{Index: 0, Evaluation: evaluation(slo.Fail, 0)}, at(13)})
	cb := apply(t, b, step{EvaluationFinished{Index: 0, Evaluation: evaluation(slo.Fail, 0)}, at(13)})
	for i := range ca {
		if ea, ok := ca[i].(Emit); ok && ea.ID != cb[i].(Emit).ID {
			t.Errorf("command %d: ids %s and %s", i, ea.ID, cb[i].(Emit).ID)
		}
	}
}

// TestKeptnExampleFiles uses Keptn's own remediation and shipyard files:
// the 0.7.3 tutorial file prescribes scaling for the Prometheus alert, and
// the quickstart shipyard sets a 2 minute settling time.
func TestKeptnExampleFiles(t *testing.T) {
	root := "../../../shared/keptn-examples"
	if _, err := os.Stat(root); err != nil {
		t.Skipf("Keptn example files not found at %s: %v", root, err)
	}
	read := func(rel string) []byte {
		b, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	rem, diags := spec.DecodeRemediation("remediation.yaml", read("examples/0.7.3/onboarding-carts/remediation.yaml"))
	if rem == nil {
		t.Fatal(diags)
	}
	acts, matched, ok := Actions(rem, "", "response_time_p90")
	if !ok || matched != "response_time_p90" || len(acts) != 1 || acts[0].Action != "scaling" || acts[0].Value != "1" {
		t.Errorf("Actions = %+v %q %t", acts, matched, ok)
	}
	// prometheus-service's remediation.triggered names the root cause
	// "Response time degradation", which wins over the title.
	if _, matched, _ := Actions(rem, "Response time degradation", "response_time_p90"); matched != "Response time degradation" {
		t.Errorf("root cause matched %q", matched)
	}
	sy, diags := spec.DecodeShipyard("shipyard.yaml", read("examples/master/quickstart/demo/shipyard.yaml"))
	if sy == nil {
		t.Fatal(diags)
	}
	var got []time.Duration
	for i := range sy.Stages {
		got = append(got, SettlingTime(&sy.Stages[i], 0))
	}
	if !slices.Contains(got, 2*time.Minute) {
		t.Errorf("settling times %v, want one stage at 2m", got)
	}
	legacy, _ := spec.DecodeShipyard("shipyard.yaml", read("examples/0.7.3/onboarding-carts/shipyard.yaml"))
	if prod, ok := legacy.Stage("production"); !ok || !prod.RemediationEnabled() || SettlingTime(prod, 0) != DefaultSettling || SettlingTime(prod, time.Minute) != time.Minute {
		t.Errorf("legacy production stage: %v", prod)
	}
}
