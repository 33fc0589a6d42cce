package remediator

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/action"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/remediation"
	"github.com/tendhq/tend/internal/sli"
	"github.com/tendhq/tend/internal/store"
)

// finishedData returns the data of the last event of type typ in evs.
func finishedData(t testing.TB, evs []store.EventRecord, typ string) (status, result, message string) {
	t.Helper()
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Type != typ {
			continue
		}
		var e struct {
			Data struct{ Status, Result, Message string } `json:"data"`
		}
		if err := json.Unmarshal(evs[i].JSON, &e); err != nil {
			t.Fatal(err)
		}
		return e.Data.Status, e.Data.Result, e.Data.Message
	}
	t.Fatalf("no %s event", typ)
	return "", "", ""
}

func (h *harness) waitEscalation(t testing.TB) action.Escalation {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for h.notify.count() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	h.notify.mu.Lock()
	defer h.notify.mu.Unlock()
	if len(h.notify.sent) != 1 {
		t.Fatalf("%d escalations sent, want 1", len(h.notify.sent))
	}
	return h.notify.sent[0]
}

// TestMonitoringOutageEscalatesWithoutTheNextAction: with the monitoring
// down, the verification is tried again (three times here), then the
// remediation escalates with the outage as its reason; the next action
// (the feature toggle) is never prepared nor applied.
func TestMonitoringOutageEscalatesWithoutTheNextAction(t *testing.T) {
	h := newHarness(t, harnessOpts{outage: OutageRetry{Initial: time.Millisecond, Max: 2 * time.Millisecond, Attempts: 3}})
	h.eval.err = sli.Unavailable(errors.New("prometheus at http://127.0.0.1:9 unreachable: connection refused"))
	rem := h.create(t, "carts", tutorialActions(), 10*time.Millisecond)
	got := h.waitEnded(t, rem.ID)

	if got.State != remediation.StateEscalated || !strings.HasPrefix(got.Reason, "monitoring unavailable") || !strings.Contains(got.Reason, "connection refused") || !strings.Contains(got.Reason, "3 attempt(s)") {
		t.Fatalf("state %s, reason %q; want escalated for the outage after 3 attempts", got.State, got.Reason)
	}
	if n := len(h.eval.calls); n != 3 {
		t.Errorf("%d evaluations, want 3", n)
	}
	if p, a := h.toggle.counts(got.Actions[1].Request.Key); p != 0 || a != 0 {
		t.Errorf("the next action ran on an outage: %d prepares, %d applies", p, a)
	}
	if got.Actions[1].State != "" {
		t.Errorf("the next action is %q, want untouched", got.Actions[1].State)
	}
	evs := storyEvents(t, h.st, rem.KeptnContext)
	want := story([]string{seqTriggered, seqStarted}, actionStory, []string{seqFinished})
	if !slices.Equal(types(evs), want) {
		t.Fatalf("events:\n%s\nwant\n%s", strings.Join(types(evs), "\n"), strings.Join(want, "\n"))
	}
	if st, res, msg := finishedData(t, evs, event.TypeEvaluationFinished); st != event.StatusErrored || res != event.ResultFail || !strings.Contains(msg, "monitoring unavailable") {
		t.Errorf("evaluation.finished %s/%s %q; want errored, fail, naming the outage", st, res, msg)
	}
	if _, res, msg := finishedData(t, evs, seqFinished); res != event.ResultFail || msg != got.Reason {
		t.Errorf("remediation.finished result %s message %q", res, msg)
	}
	if esc := h.waitEscalation(t); esc.Reason != got.Reason {
		t.Errorf("escalation reason %q, want %q", esc.Reason, got.Reason)
	}
}

// TestScalingConflictEscalates: an apply that finds the target changed
// since the plan escalates with the conflict, once: no retry, no next
// action.
func TestScalingConflictEscalates(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.scale.applyErr = func(string, int) error {
		return &action.ConflictError{Change: action.Change{Target: "deployment sockshop-production/carts", From: "1", To: "2"}, Found: "5"}
	}
	rem := h.create(t, "carts", tutorialActions(), 10*time.Millisecond)
	got := h.waitEnded(t, rem.ID)

	if got.State != remediation.StateEscalated || !strings.Contains(got.Reason, "deployment sockshop-production/carts is 5, but the plan was 1 -> 2") {
		t.Fatalf("state %s, reason %q; want escalated with the conflict", got.State, got.Reason)
	}
	if _, a := h.scale.counts(got.Actions[0].Request.Key); a != 1 {
		t.Errorf("scaling applied %d times, want once (no retry)", a)
	}
	if p, a := h.toggle.counts(got.Actions[1].Request.Key); p != 0 || a != 0 {
		t.Errorf("the next action ran after a conflict: %d prepares, %d applies", p, a)
	}
	if a := got.Actions[0]; a.State != remediation.ActionStateFailed || !strings.Contains(a.Error, "target changed since the plan") {
		t.Errorf("scaling action %s %q", a.State, a.Error)
	}
	evs := storyEvents(t, h.st, rem.KeptnContext)
	want := []string{seqTriggered, seqStarted, event.TypeActionTriggered, event.TypeActionStarted, event.TypeActionFinished, seqFinished}
	if !slices.Equal(types(evs), want) {
		t.Fatalf("events:\n%s", strings.Join(types(evs), "\n"))
	}
	if st, _, msg := finishedData(t, evs, event.TypeActionFinished); st != event.StatusErrored || !strings.Contains(msg, "is 5") {
		t.Errorf("action.finished %s %q", st, msg)
	}
	h.waitEscalation(t)
}

// TestWatchdogEscalatesARemediationWhoseJobFailed: an executor that
// panics makes the apply job use up its attempts (two here); the
// remediation is then running with nothing behind it, and the watchdog
// escalates it with the failed job and its last error. A remediation that
// is merely settling is left alone.
func TestWatchdogEscalatesARemediationWhoseJobFailed(t *testing.T) {
	h := newHarness(t, harnessOpts{stepAttempts: 2})
	idle := h.create(t, "orders", tutorialActions()[:1], time.Hour)
	h.waitState(t, idle.ID, remediation.StateSettling)
	h.scale.mu.Lock()
	h.scale.applyErr = func(string, int) error { panic("executor bug: assignment to entry in nil map") }
	h.scale.mu.Unlock()
	rem := h.create(t, "carts", tutorialActions(), 10*time.Millisecond)

	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		failed, err := h.st.ListJobs(ctx, store.JobFilter{KeyPrefix: remediation.JobKeyPrefix(rem.ID), States: []store.JobState{store.JobFailed}})
		if err != nil {
			t.Fatal(err)
		}
		if len(failed) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the apply job never failed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if r := h.load(t, rem.ID); r.State != remediation.StateApplying {
		t.Fatalf("before the watchdog: %s, want applying (left running)", r.State)
	}

	ids, err := h.loop.Sweep(ctx)
	if err != nil || !slices.Equal(ids, []string{rem.ID}) {
		t.Fatalf("Sweep = %v, %v; want only %s escalated", ids, err, rem.ID)
	}
	got := h.load(t, rem.ID)
	if got.State != remediation.StateEscalated || !strings.Contains(got.Reason, "stuck while applying") ||
		!strings.Contains(got.Reason, "apply step") || !strings.Contains(got.Reason, "executor bug") {
		t.Fatalf("state %s, reason %q; want escalated naming the failed apply job and its error", got.State, got.Reason)
	}
	evs := storyEvents(t, h.st, rem.KeptnContext)
	if n := len(evs); n < 2 || evs[n-2].Type != event.TypeActionFinished || evs[n-1].Type != seqFinished {
		t.Fatalf("events:\n%s", strings.Join(types(evs), "\n"))
	}
	if esc := h.waitEscalation(t); esc.Reason != got.Reason {
		t.Errorf("escalation reason %q", esc.Reason)
	}
	if r := h.load(t, idle.ID); r.State != remediation.StateSettling {
		t.Errorf("the settling remediation became %s", r.State)
	}
	if ids, err := h.loop.Sweep(ctx); err != nil || len(ids) != 0 {
		t.Errorf("second Sweep = %v, %v; want nothing", ids, err)
	}
}

// TestStepEscalatesOnItsLastAttempt: a step whose reads keep failing
// escalates the remediation itself on its job's last attempt rather than
// leave it running.
func TestStepEscalatesOnItsLastAttempt(t *testing.T) {
	h := newHarness(t, harnessOpts{stepAttempts: 2})
	h.failSettings.Store(true)
	rem := h.createWithStartAttempts(t, "carts", tutorialActions(), 2)
	got := h.waitEnded(t, rem.ID)
	if got.State != remediation.StateEscalated || !strings.Contains(got.Reason, "start step failed 2 times") || !strings.Contains(got.Reason, "settings unreadable") {
		t.Fatalf("state %s, reason %q", got.State, got.Reason)
	}
	if p, _ := h.scale.counts(got.Actions[0].Request.Key); p != 0 {
		t.Errorf("an action was prepared")
	}
	h.waitEscalation(t)
}
