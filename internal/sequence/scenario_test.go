package sequence

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/event"
)

const carts = `apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
metadata: {name: s}
spec:
  stages:
    - name: dev
      sequences:
        - name: delivery
          tasks:
            - name: deployment
              properties: {deploymentstrategy: direct}
            - name: test
              properties: {teststrategy: functional}
            - name: evaluation
              properties: {timeframe: 5m}
            - name: release
    - name: staging
      sequences:
        - name: delivery
          triggeredOn:
            - event: dev.delivery.finished
          tasks:
            - name: deployment
        - name: rollback
          triggeredOn:
            - event: dev.delivery.finished
              selector: {match: {result: fail}}
          tasks:
            - name: rollback
        - name: report
          triggeredOn:
            - event: dev.delivery.finished
              selector: {match: {evaluation.result: warning}}
          tasks:
            - name: report
        - name: audit
          triggeredOn:
            - event: dev.delivery.finished
              selector: {match: {configurationChange.values.image: "carts:0.13.2"}}
          tasks:
            - name: audit
`

const cartsData = `{"project":"sockshop","stage":"dev","service":"carts","labels":{"buildId":"42"},
	"configurationChange":{"values":{"image":"carts:0.13.1"}},"deployment":{"deploymentstrategy":"blue_green_service"},"ticket":"T-1"}`

func newCarts(t *testing.T) Sequence {
	t.Helper()
	s, err := New(shipyard(t, carts), trigger(t, "dev", "delivery", cartsData), t0, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestKeptnOrderAndCarriedData(t *testing.T) {
	s, evs, last := run(t, newCarts(t), nil)
	if s.State != Finished || s.Result != event.ResultPass || s.Status != event.StatusSucceeded {
		t.Fatalf("ended %s %s %s", s.State, s.Result, s.Status)
	}
	want := []string{
		"deployment.triggered", "deployment.started", "deployment.finished",
		"test.triggered", "test.started", "test.finished",
		"evaluation.triggered", "evaluation.started", "evaluation.finished",
		"release.triggered", "release.started", "release.finished",
		"dev.delivery.finished",
	}
	if got := types(evs); !slices.Equal(got, want) {
		t.Errorf("events\n got %v\nwant %v", got, want)
	}
	// The task's properties are merged into the carried object of its name;
	// the rest is carried as sent.
	d := dataOf(t, evs[0])
	dep := d["deployment"].(map[string]any)
	if dep["deploymentstrategy"] != "direct" || d["ticket"] != "T-1" || d["service"] != "carts" ||
		d["configurationChange"].(map[string]any)["values"].(map[string]any)["image"] != "carts:0.13.1" ||
		d["labels"].(map[string]any)["buildId"] != "42" {
		t.Errorf("deployment.triggered data %v", d)
	}
	if ev := dataOf(t, evs[6])["evaluation"].(map[string]any); ev["timeframe"] != "5m" {
		t.Errorf("evaluation.triggered data.evaluation = %v", ev)
	}
	fin := evs[len(evs)-1]
	if fin.TriggeredID != "trigger-1" || dataOf(t, fin)["result"] != "pass" {
		t.Errorf("sequence finished %s triggeredid %s", fin.Data, fin.TriggeredID)
	}
	// No selector follows pass; the others' selectors do not match.
	if got := types(last.FollowUps); !slices.Equal(got, []string{"staging.delivery.triggered"}) {
		t.Errorf("follow-ups %v", got)
	}
	if d := dataOf(t, last.FollowUps[0]); d["stage"] != "staging" || d["ticket"] != "T-1" {
		t.Errorf("follow-up data %v", d)
	}
	if !last.Released {
		t.Error("the finished sequence did not release its service")
	}
}

func TestSelectors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		results map[string]string
		data    string
		want    []string
	}{
		{"fail starts rollback only", map[string]string{"test": "fail"}, "", []string{"staging.rollback.triggered"}},
		{"warning of the evaluation", map[string]string{"evaluation": "warning"}, "", []string{"staging.delivery.triggered", "staging.report.triggered"}},
		{"a data path", nil, strings.Replace(cartsData, "0.13.1", "0.13.2", 1), []string{"staging.delivery.triggered", "staging.audit.triggered"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newCarts(t)
			if tc.data != "" {
				var err error
				if s, err = New(shipyard(t, carts), trigger(t, "dev", "delivery", tc.data), t0, Options{}); err != nil {
					t.Fatal(err)
				}
			}
			_, _, last := run(t, s, tc.results)
			if got := types(last.FollowUps); !slices.Equal(got, tc.want) {
				t.Errorf("follow-ups %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFailedTaskEndsTheSequence(t *testing.T) {
	s, evs, _ := run(t, newCarts(t), map[string]string{"test": "fail"})
	if s.State != Finished || s.Result != event.ResultFail {
		t.Fatalf("ended %s %s", s.State, s.Result)
	}
	for _, ty := range types(evs) {
		if strings.HasPrefix(ty, "evaluation.") || strings.HasPrefix(ty, "release.") {
			t.Errorf("%s after a failed test", ty)
		}
	}
}

func TestSeveralExecutorsAggregate(t *testing.T) {
	s := step(t, newCarts(t), t0, InputStart, nil).Sequence
	for _, src := range []string{"a", "b"} {
		s = step(t, s, t0, InputTaskStarted, answer(t, s, src, event.PhaseStarted, "", "")).Sequence
	}
	o := step(t, s, t0, InputTaskFinished, answer(t, s, "a", event.PhaseFinished, event.ResultWarning, event.StatusSucceeded))
	if o.Sequence.Current != 0 || len(o.Events) != 0 {
		t.Fatalf("the task went on with b still running: %+v", o.Sequence)
	}
	// A repeated answer of a changes nothing.
	if again := step(t, o.Sequence, t0, InputTaskFinished, answer(t, o.Sequence, "a", event.PhaseFinished, event.ResultFail, event.StatusErrored)); again.Changed {
		t.Error("a second finished of the same executor counted")
	}
	o = step(t, o.Sequence, t0, InputTaskFinished, answer(t, o.Sequence, "b", event.PhaseFinished, event.ResultPass, event.StatusSucceeded))
	if o.Sequence.Done[0].Result != event.ResultWarning || o.Sequence.Current != 1 {
		t.Errorf("aggregated %+v", o.Sequence.Done)
	}
	if got := worseStatus(event.StatusSucceeded, event.StatusErrored); got != event.StatusErrored {
		t.Errorf("status errored > succeeded: got %s", got)
	}
	if worseResult(event.ResultWarning, event.ResultFail) != event.ResultFail || worseResult(event.ResultWarning, event.ResultPass) != event.ResultWarning {
		t.Error("result order fail > warning > pass")
	}
}

const delayed = `apiVersion: spec.keptn.sh/0.2.0
kind: Shipyard
metadata: {name: s}
spec:
  stages:
    - name: firststage
      sequences:
        - name: echosequence
          tasks:
            - name: echo
              triggeredAfter: "20s"
`

func TestTriggeredAfter(t *testing.T) {
	s, err := New(shipyard(t, delayed), trigger(t, "firststage", "echosequence", `{"project":"p","stage":"firststage","service":"s"}`), t0, Options{})
	if err != nil {
		t.Fatal(err)
	}
	o := step(t, s, t0, InputStart, nil)
	if len(o.Events) != 0 || o.Timer == nil || !o.Timer.RunAt.Equal(t0.Add(20*time.Second)) || o.Sequence.Phase != PhaseDelayed {
		t.Fatalf("start of a delayed task: %+v", o)
	}
	if early := step(t, o.Sequence, t0.Add(19*time.Second), InputTimer, nil); early.Changed {
		t.Fatal("the task was triggered before triggeredAfter")
	}
	due := step(t, o.Sequence, t0.Add(20*time.Second), InputTimer, nil)
	if got := types(due.Events); !slices.Equal(got, []string{"echo.triggered"}) || due.Timer == nil || !due.Timer.RunAt.Equal(t0.Add(20*time.Second+DefaultTaskTimeout)) {
		t.Fatalf("due: %v timer %+v", got, due.Timer)
	}
}

func TestTaskTimeout(t *testing.T) {
	s, err := New(shipyard(t, twoTasks), trigger(t, "dev", "delivery", ""), t0, Options{TaskTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	o := step(t, s, t0, InputStart, nil)
	if !o.Timer.RunAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("timer at %v", o.Timer.RunAt)
	}
	// Started in time: the timer does nothing.
	started := step(t, o.Sequence, t0, InputTaskStarted, answer(t, o.Sequence, "x", event.PhaseStarted, "", ""))
	if late := step(t, started.Sequence, t0.Add(time.Hour), InputTimer, nil); late.Changed {
		t.Error("a started task timed out")
	}
	out := step(t, o.Sequence, t0.Add(time.Minute), InputTimer, nil)
	got := out.Sequence
	if got.State != TimedOut || got.Status != event.StatusErrored || got.Result != event.ResultFail || !strings.Contains(got.Message, NoExecutorMessage) {
		t.Fatalf("timed out: %s %s %s %q", got.State, got.Result, got.Status, got.Message)
	}
	if ty := types(out.Events); !slices.Equal(ty, []string{"deployment.finished", "dev.delivery.finished"}) {
		t.Errorf("events %v", ty)
	}
	if d := dataOf(t, out.Events[0]); d["message"] != NoExecutorMessage || d["status"] != "errored" {
		t.Errorf("task finished data %v", d)
	}
}

const approvals = `apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
metadata: {name: s}
spec:
  stages:
    - name: dev
      sequences:
        - name: delivery
          tasks:
            - name: evaluation
            - name: approval
              properties: {pass: automatic, warning: manual}
            - name: release
`

func TestApprovals(t *testing.T) {
	newSeq := func(t *testing.T) Sequence {
		s, err := New(shipyard(t, approvals), trigger(t, "dev", "delivery", ""), t0, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return step(t, s, t0, InputStart, nil).Sequence
	}
	t.Run("automatic on pass", func(t *testing.T) {
		s := newSeq(t)
		o := step(t, s, t0, InputTaskFinished, answer(t, s, "tend", event.PhaseFinished, event.ResultPass, event.StatusSucceeded))
		if got := types(o.Events); !slices.Equal(got, []string{"approval.triggered", "approval.started", "approval.finished", "release.triggered"}) {
			t.Errorf("events %v", got)
		}
	})
	t.Run("manual on warning, approved", func(t *testing.T) {
		s := newSeq(t)
		o := step(t, s, t0, InputTaskFinished, answer(t, s, "tend", event.PhaseFinished, event.ResultWarning, event.StatusSucceeded))
		if got := types(o.Events); !slices.Equal(got, []string{"approval.triggered"}) || o.Timer != nil {
			t.Fatalf("events %v, timer %+v: a manual approval waits without timeout", got, o.Timer)
		}
		if d := dataOf(t, o.Events[0]); d["result"] != "warning" {
			t.Errorf("approval.triggered carries result %v", d["result"])
		}
		s = o.Sequence
		o = step(t, s, t0, InputTaskFinished, answer(t, s, "https://github.com/keptn/keptn/cli#approval.finished", event.PhaseFinished, event.ResultPass, event.StatusSucceeded))
		if got := types(o.Events); !slices.Equal(got, []string{"release.triggered"}) {
			t.Errorf("after approval: %v", got)
		}
	})
	t.Run("manual, declined", func(t *testing.T) {
		s := newSeq(t)
		s = step(t, s, t0, InputTaskFinished, answer(t, s, "tend", event.PhaseFinished, event.ResultWarning, event.StatusSucceeded)).Sequence
		o := step(t, s, t0, InputTaskFinished, answer(t, s, "cli", event.PhaseFinished, event.ResultFail, event.StatusSucceeded))
		if o.Sequence.State != Finished || o.Sequence.Result != event.ResultFail {
			t.Errorf("declined: %s %s", o.Sequence.State, o.Sequence.Result)
		}
	})
}

func TestPauseResume(t *testing.T) {
	s := step(t, newCarts(t), t0, InputStart, nil).Sequence
	s = step(t, s, t0, InputPause, nil).Sequence
	// The running task's answer is recorded; the next task waits.
	o := step(t, s, t0, InputTaskFinished, answer(t, s, "x", event.PhaseFinished, event.ResultPass, event.StatusSucceeded))
	if len(o.Events) != 0 || o.Sequence.State != Paused || o.Sequence.Current != 1 {
		t.Fatalf("paused: events %v, state %s, task %d", types(o.Events), o.Sequence.State, o.Sequence.Current)
	}
	r := step(t, o.Sequence, t0, InputResume, nil)
	if got := types(r.Events); !slices.Equal(got, []string{"test.triggered"}) || r.Sequence.State != Started {
		t.Errorf("resumed: %v %s", got, r.Sequence.State)
	}
	// A timeout that came due while paused fires after the resume.
	s = step(t, r.Sequence, t0, InputPause, nil).Sequence
	if o := step(t, s, t0.Add(time.Hour), InputTimer, nil); o.Changed {
		t.Error("a timer acted while paused")
	}
	r = step(t, s, t0.Add(time.Hour), InputResume, nil)
	if r.Timer == nil || !r.Timer.RunAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("the overdue timer was not armed again: %+v", r.Timer)
	}
	if o := step(t, r.Sequence, t0.Add(time.Hour), InputTimer, nil); o.Sequence.State != TimedOut {
		t.Errorf("after resume the overdue task is %s", o.Sequence.State)
	}
}

func TestAbort(t *testing.T) {
	s := step(t, newCarts(t), t0, InputStart, nil).Sequence
	o := step(t, s, t0, InputAbort, nil)
	if got := types(o.Events); !slices.Equal(got, []string{"deployment.finished", "dev.delivery.finished"}) {
		t.Fatalf("events %v", got)
	}
	if d := dataOf(t, o.Events[1]); d["status"] != event.StatusAborted {
		t.Errorf("sequence finished status %v", d["status"])
	}
	if o.Sequence.State != Aborted || len(o.FollowUps) != 0 || !o.Released {
		t.Errorf("aborted: %s, follow-ups %d, released %v", o.Sequence.State, len(o.FollowUps), o.Released)
	}
	// A late answer of the aborted task is ignored.
	if late := step(t, o.Sequence, t0, InputTaskFinished, answer(t, s, "x", event.PhaseFinished, "pass", "succeeded")); late.Changed {
		t.Error("an answer after the abort changed the sequence")
	}
}

func TestReplayEmitsTheSameEvents(t *testing.T) {
	s := newCarts(t)
	a := step(t, s, t0, InputStart, nil)
	b := step(t, s, t0.Add(time.Minute), InputStart, nil)
	if a.Events[0].ID != b.Events[0].ID || a.Sequence.TaskTriggeredID != a.Events[0].ID {
		t.Errorf("a replayed start emitted %s, then %s", a.Events[0].ID, b.Events[0].ID)
	}
	other, _ := New(shipyard(t, carts), trigger(t, "staging", "delivery", ""), t0, Options{})
	if c := step(t, other, t0, InputStart, nil); c.Events[0].ID == a.Events[0].ID {
		t.Error("two stages' tasks share an id")
	}
}

const legacy = `stages:
  - name: "dev"
    deployment_strategy: "direct"
    test_strategy: "functional"
  - name: "production"
    approval_strategy:
      pass: "automatic"
      warning: "manual"
    deployment_strategy: "blue_green_service"
    remediation_strategy: "automated"
`

func TestLegacyShipyard(t *testing.T) {
	sy := shipyard(t, legacy)
	dev, ok := Lookup(sy, "dev", "delivery")
	if !ok || len(dev.TriggeredOn) != 0 {
		t.Fatalf("dev delivery %+v", dev)
	}
	var names []string
	for _, tk := range dev.Tasks {
		names = append(names, tk.Name)
	}
	if !slices.Equal(names, []string{"deployment", "test", "evaluation", "release"}) {
		t.Errorf("dev tasks %v", names)
	}
	prod, _ := Lookup(sy, "production", "delivery")
	names = nil
	for _, tk := range prod.Tasks {
		names = append(names, tk.Name)
	}
	if !slices.Equal(names, []string{"deployment", "evaluation", "approval", "release"}) || prod.TriggeredOn[0].Event != "dev.delivery.finished" {
		t.Errorf("production %v %+v", names, prod.TriggeredOn)
	}
	if prod.Tasks[2].Properties["warning"] != "manual" || prod.Tasks[0].Properties["deploymentstrategy"] != "blue_green_service" {
		t.Errorf("production properties %+v", prod.Tasks)
	}
	if _, err := New(sy, trigger(t, "dev", "remediation", ""), t0, Options{}); err == nil {
		t.Error("a remediation sequence was started by the engine")
	}
	if _, err := New(sy, trigger(t, "dev", "nope", ""), t0, Options{}); err == nil {
		t.Error("an unknown sequence was started")
	}
}

// A failed delivery into a blue/green stage of a legacy shipyard starts the
// stage's rollback; a passing one and a direct stage's failure do not.
func TestLegacyShipyardRollsBackFailedBlueGreen(t *testing.T) {
	sy := shipyard(t, legacy)
	if _, ok := Lookup(sy, "dev", "rollback"); ok {
		t.Error("the direct stage dev has a rollback sequence")
	}
	rb, ok := Lookup(sy, "production", "rollback")
	if !ok {
		t.Fatal("production has no rollback sequence")
	}
	if len(rb.Tasks) != 1 || rb.Tasks[0].Name != "rollback" || rb.Tasks[0].Properties["deploymentstrategy"] != "blue_green_service" {
		t.Errorf("rollback tasks %+v", rb.Tasks)
	}
	if len(rb.TriggeredOn) != 1 || rb.TriggeredOn[0].Event != "production.delivery.finished" || rb.TriggeredOn[0].Match["result"] != "fail" {
		t.Errorf("rollback triggeredOn %+v", rb.TriggeredOn)
	}
	for _, tc := range []struct {
		name, stage, result string
		want                []string
	}{
		{"failed blue/green delivery", "production", event.ResultFail, []string{"production.rollback"}},
		{"passed blue/green delivery", "production", event.ResultPass, nil},
		{"failed direct delivery", "dev", event.ResultFail, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(sy, trigger(t, tc.stage, "delivery", ""), t0, Options{})
			if err != nil {
				t.Fatal(err)
			}
			_, _, o := run(t, s, map[string]string{"deployment": tc.result})
			var got []string
			for _, f := range o.FollowUps {
				tp, _ := event.ParseType(f.Type)
				if tp.Task == "rollback" {
					got = append(got, tp.Stage+"."+tp.Task)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("rollback follow-ups %v, want %v", got, tc.want)
			}
		})
	}
}
