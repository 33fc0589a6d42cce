package remediator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/action"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/remediation"
	"github.com/tendhq/tend/internal/settings"
	"github.com/tendhq/tend/internal/slo"
	"github.com/tendhq/tend/internal/store"
)

const (
	seqTriggered = "sh.keptn.event.production.remediation.triggered"
	seqStarted   = "sh.keptn.event.production.remediation.started"
	seqFinished  = "sh.keptn.event.production.remediation.finished"
)

// actionStory is the events of one built-in action verified by one
// evaluation.
var actionStory = []string{
	event.TypeActionTriggered, event.TypeActionStarted, event.TypeActionFinished,
	event.TypeEvaluationTriggered, event.TypeEvaluationStarted, event.TypeEvaluationFinished,
}

func story(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestTutorialStoryScaleFailsToggleResolves(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.eval.results = []slo.Result{slo.Fail, slo.Pass}
	rem := h.create(t, "carts", tutorialActions(), 20*time.Millisecond)
	got := h.waitEnded(t, rem.ID)

	if got.State != remediation.StateResolved {
		t.Fatalf("state = %s (%s), want resolved", got.State, got.Reason)
	}
	if !strings.Contains(got.Reason, "action 2 (Disable promotion) resulted in pass") {
		t.Errorf("reason = %q", got.Reason)
	}
	evs := storyEvents(t, h.st, rem.KeptnContext)
	want := story([]string{seqTriggered, seqStarted}, actionStory, actionStory, []string{seqFinished})
	if !slices.Equal(types(evs), want) {
		t.Fatalf("events in the problem's context:\n%s\nwant\n%s", strings.Join(types(evs), "\n"), strings.Join(want, "\n"))
	}
	// Each task's answers point at its triggered event.
	byID := map[string]store.EventRecord{}
	for _, e := range evs {
		byID[e.ID] = e
	}
	for _, e := range evs {
		if strings.HasSuffix(e.Type, ".started") || strings.HasSuffix(e.Type, ".finished") {
			trig, ok := byID[e.TriggeredID]
			if !ok || strings.TrimSuffix(trig.Type, ".triggered") != strings.TrimSuffix(strings.TrimSuffix(e.Type, ".started"), ".finished") {
				t.Errorf("%s (%s) answers %q, which is not its triggered event", e.Type, e.ID, e.TriggeredID)
			}
		}
		if e.Project != "sockshop" || e.Stage != "production" || e.Service != "carts" {
			t.Errorf("%s is filed under %s/%s/%s", e.Type, e.Project, e.Stage, e.Service)
		}
	}
	// The effects at the target: replicas 1 -> 2, promotion on -> off, once each.
	if h.target.get("replicas") != 2 || h.target.get("EnablePromotion") != 0 {
		t.Errorf("target state = %v, want replicas 2 and EnablePromotion 0", h.target.state)
	}
	for i, ex := range []*fakeExec{h.scale, h.toggle} {
		key := got.Actions[i].Request.Key
		if p, a := ex.counts(key); p != 1 || a != 1 {
			t.Errorf("action %d: %d prepares and %d applies, want 1 and 1", i, p, a)
		}
		if n := h.target.effectsOf(key); n != 1 {
			t.Errorf("action %d changed the target %d times", i, n)
		}
	}
	if c := got.Actions[0].Result.Changes; len(c) != 1 || c[0].From != "1" || c[0].To != "2" {
		t.Errorf("scaling's recorded change = %+v, want replicas 1 -> 2", c)
	}
	// The evaluations covered the settling windows, in the story's context.
	if len(h.eval.calls) != 2 {
		t.Fatalf("%d evaluations, want 2", len(h.eval.calls))
	}
	for i, c := range h.eval.calls {
		if c.KeptnContext != rem.KeptnContext || c.Service != "carts" || !c.End.After(c.Start) || c.TriggeredID != got.Evaluations[i].TriggeredEventID {
			t.Errorf("evaluation %d asked %+v", i, c)
		}
	}
	var fin struct {
		Data struct {
			Status, Result, Message string
		} `json:"data"`
	}
	if err := json.Unmarshal(evs[len(evs)-1].JSON, &fin); err != nil || fin.Data.Result != "pass" || fin.Data.Status != "succeeded" {
		t.Errorf("remediation.finished data = %+v (%v)", fin.Data, err)
	}
	if h.notify.count() != 0 {
		t.Error("a resolved remediation sent an escalation")
	}
}

func TestEscalationWhenActionsRunOut(t *testing.T) {
	tests := []struct {
		name      string
		notifyErr error
	}{
		{"notified", nil},
		{"no webhook configured", action.ErrNotConfigured},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			h.notify.err = tc.notifyErr
			h.eval.results = []slo.Result{slo.Fail}
			rem := h.create(t, "carts", tutorialActions(), 10*time.Millisecond)
			got := h.waitEnded(t, rem.ID)
			if got.State != remediation.StateEscalated || !strings.Contains(got.Reason, "all 2 action(s) were tried") {
				t.Fatalf("state = %s (%s), want escalated", got.State, got.Reason)
			}
			want := story([]string{seqTriggered, seqStarted}, actionStory, actionStory, []string{seqFinished})
			if ev := types(storyEvents(t, h.st, rem.KeptnContext)); !slices.Equal(ev, want) {
				t.Fatalf("events:\n%s", strings.Join(ev, "\n"))
			}
			deadline := time.Now().Add(20 * time.Second)
			for h.notify.count() == 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if h.notify.count() != 1 {
				t.Fatalf("%d escalations sent, want 1", h.notify.count())
			}
			esc := h.notify.sent[0]
			if esc.Key != rem.ID+"/escalate" || len(esc.Actions) != 2 || esc.LastEvaluation == nil || esc.LastEvaluation.Result != "fail" ||
				len(esc.Actions[0].Changes) != 1 || esc.Actions[0].Changes[0].To != "2" {
				t.Errorf("escalation = %+v", esc)
			}
		})
	}
}

func TestNoMatchingActionEscalatesAtOnce(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	rem := h.create(t, "carts", nil, time.Millisecond)
	got := h.waitEnded(t, rem.ID)
	if got.State != remediation.StateEscalated {
		t.Fatalf("state = %s", got.State)
	}
	if ev := types(storyEvents(t, h.st, rem.KeptnContext)); !slices.Equal(ev, []string{seqTriggered, seqStarted, seqFinished}) {
		t.Errorf("events = %v", ev)
	}
}

func TestProblemClosedStopsAfterCurrentStep(t *testing.T) {
	t.Run("while settling", func(t *testing.T) {
		h := newHarness(t, harnessOpts{})
		rem := h.create(t, "carts", tutorialActions(), time.Hour)
		h.waitState(t, rem.ID, remediation.StateSettling)
		h.enqueue(t, jobSpec(remediation.ClosedJob(rem.ID, rem.Problems[0].ID)))
		got := h.waitEnded(t, rem.ID)
		if got.State != remediation.StateStopped || got.Reason != "the problem closed while settling" {
			t.Fatalf("state = %s (%s)", got.State, got.Reason)
		}
		if _, a := h.toggle.counts(got.Actions[1].Request.Key); a != 0 {
			t.Error("the second action ran after the problem closed")
		}
	})
	t.Run("while an action is applied", func(t *testing.T) {
		h := newHarness(t, harnessOpts{})
		h.scale.block = make(chan struct{})
		h.scale.started = make(chan string, 1)
		rem := h.create(t, "carts", tutorialActions(), time.Millisecond)
		<-h.scale.started
		h.enqueue(t, jobSpec(remediation.ClosedJob(rem.ID, rem.Problems[0].ID)))
		h.wait(t, rem.ID, "a pending stop", func(r *remediation.Remediation) bool { return r.StopPending != "" })
		close(h.scale.block)
		got := h.waitEnded(t, rem.ID)
		if got.State != remediation.StateStopped || got.Reason != "the problem closed during an action" {
			t.Fatalf("state = %s (%s)", got.State, got.Reason)
		}
		if got.Actions[0].State != remediation.ActionStateFinished || h.target.get("replicas") != 2 {
			t.Errorf("the current action did not finish: %+v", got.Actions[0])
		}
		evs := types(storyEvents(t, h.st, rem.KeptnContext))
		want := []string{seqTriggered, seqStarted, event.TypeActionTriggered, event.TypeActionStarted, event.TypeActionFinished, seqFinished}
		if !slices.Equal(evs, want) {
			t.Errorf("events = %v", evs)
		}
	})
}

func TestPauseAndResume(t *testing.T) {
	t.Run("running remediation parks and goes on", func(t *testing.T) {
		h := newHarness(t, harnessOpts{})
		h.eval.results = []slo.Result{slo.Pass}
		rem := h.create(t, "carts", tutorialActions(), time.Hour)
		h.waitState(t, rem.ID, remediation.StateSettling)
		h.enqueue(t, jobSpec(remediation.PauseJob(rem.ID, "maintenance", "1")))
		got := h.waitState(t, rem.ID, remediation.StatePaused)
		if got.Reason != "paused: maintenance" {
			t.Errorf("reason = %q", got.Reason)
		}
		// Settling resumes where it was: an hour after the action.
		h.enqueue(t, jobSpec(remediation.ResumeJob(rem.ID, "1")))
		got = h.waitState(t, rem.ID, remediation.StateSettling)
		if got.SettleUntil.Before(got.Actions[0].FinishedAt.Add(time.Hour)) {
			t.Errorf("settling after resume ends %s, before the hour after the action", got.SettleUntil)
		}
	})
	t.Run("new problem while paused is recorded but not acted on", func(t *testing.T) {
		h := newHarness(t, harnessOpts{})
		h.eval.results = []slo.Result{slo.Pass}
		putSetting(t, h.st, store.Scope{Project: "sockshop", Service: "carts"}, settings.PauseSchema.Key(), settings.Pause{Reason: "release freeze", Since: time.Now()})
		rem := h.create(t, "carts", tutorialActions(), time.Millisecond)
		got := h.waitState(t, rem.ID, remediation.StatePaused)
		if !strings.Contains(got.Reason, "paused for service carts: release freeze") {
			t.Errorf("reason = %q", got.Reason)
		}
		if p, _ := h.scale.counts(got.Actions[0].Request.Key); p != 0 {
			t.Error("a paused remediation prepared an action")
		}
		if err := h.st.DeleteSetting(context.Background(), store.Scope{Project: "sockshop", Service: "carts"}, settings.PauseSchema.Key()); err != nil {
			t.Fatal(err)
		}
		h.enqueue(t, jobSpec(remediation.ResumeJob(rem.ID, "1")))
		got = h.waitEnded(t, rem.ID)
		if got.State != remediation.StateResolved {
			t.Errorf("after resume: %s (%s)", got.State, got.Reason)
		}
	})
	t.Run("pause during an action takes effect after it", func(t *testing.T) {
		h := newHarness(t, harnessOpts{})
		h.scale.block = make(chan struct{})
		h.scale.started = make(chan string, 1)
		rem := h.create(t, "carts", tutorialActions(), time.Millisecond)
		<-h.scale.started
		h.enqueue(t, jobSpec(remediation.PauseJob(rem.ID, "", "1")))
		h.wait(t, rem.ID, "a pending pause", func(r *remediation.Remediation) bool { return r.PausePending != "" })
		close(h.scale.block)
		got := h.waitState(t, rem.ID, remediation.StatePaused)
		if got.Actions[0].State != remediation.ActionStateFinished || len(got.Evaluations) != 0 {
			t.Errorf("paused at the wrong step: %+v", got)
		}
	})
}

func TestDryRunRecordsPlansAndAppliesNothing(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	putSetting(t, h.st, store.Scope{Project: "sockshop"}, settings.PolicySchema.Key(), settings.Policy{DryRun: ptr(true)})
	rem := h.create(t, "carts", tutorialActions(), time.Millisecond)
	got := h.waitEnded(t, rem.ID)
	if got.State != remediation.StateStopped || !strings.Contains(got.Reason, "dry run") {
		t.Fatalf("state = %s (%s)", got.State, got.Reason)
	}
	for i, ex := range []*fakeExec{h.scale, h.toggle} {
		p, a := ex.counts(got.Actions[i].Request.Key)
		if p != 1 || a != 0 || got.Actions[i].State != remediation.ActionStateDryRun || got.Actions[i].Plan == nil {
			t.Errorf("action %d: %d prepares, %d applies, state %s", i, p, a, got.Actions[i].State)
		}
	}
	if h.target.writes != 0 {
		t.Errorf("a dry run wrote to the target %d times", h.target.writes)
	}
	evs := storyEvents(t, h.st, rem.KeptnContext)
	var msgs []string
	for _, e := range evs {
		if e.Type == event.TypeActionFinished {
			var d struct {
				Data struct{ Message string } `json:"data"`
			}
			_ = json.Unmarshal(e.JSON, &d)
			msgs = append(msgs, d.Data.Message)
		}
	}
	if len(msgs) != 2 || !strings.Contains(msgs[0], "dry run: would set replicas from 1 to 2") {
		t.Errorf("action.finished messages = %q", msgs)
	}
}

func TestLimits(t *testing.T) {
	t.Run("actions per hour", func(t *testing.T) {
		h := newHarness(t, harnessOpts{limits: remediation.Limits{MaxActionsPerHour: 1}})
		h.eval.results = []slo.Result{slo.Fail}
		rem := h.create(t, "carts", tutorialActions(), time.Millisecond)
		got := h.waitEnded(t, rem.ID)
		if got.State != remediation.StateStopped || !strings.Contains(got.Reason, "at most 1 actions per hour per service") {
			t.Fatalf("state = %s (%s)", got.State, got.Reason)
		}
		if p, _ := h.toggle.counts(got.Actions[1].Request.Key); p != 0 {
			t.Error("the refused action was prepared")
		}
	})
	t.Run("cooldown", func(t *testing.T) {
		h := newHarness(t, harnessOpts{limits: remediation.Limits{Cooldown: time.Hour}})
		h.eval.results = []slo.Result{slo.Pass}
		first := h.create(t, "carts", tutorialActions(), time.Millisecond)
		if got := h.waitEnded(t, first.ID); got.State != remediation.StateResolved {
			t.Fatalf("first: %s", got.State)
		}
		second := h.create(t, "carts", tutorialActions(), time.Millisecond)
		got := h.waitEnded(t, second.ID)
		if got.State != remediation.StateStopped || !strings.Contains(got.Reason, "cooldown of 1h0m0s") {
			t.Fatalf("second: %s (%s)", got.State, got.Reason)
		}
		// A remediation refused by the cooldown did nothing, so it does
		// not restart the cooldown of another service.
		other := h.create(t, "orders", tutorialActions(), time.Millisecond)
		if got := h.waitEnded(t, other.ID); got.State != remediation.StateResolved {
			t.Errorf("another service: %s (%s)", got.State, got.Reason)
		}
	})
}

func TestActionRetriesAndFinalFailure(t *testing.T) {
	t.Run("transient failure is retried with the same plan", func(t *testing.T) {
		h := newHarness(t, harnessOpts{})
		h.eval.results = []slo.Result{slo.Pass}
		h.scale.applyErr = func(_ string, n int) error {
			if n == 1 {
				return errors.New("connection refused")
			}
			return nil
		}
		rem := h.create(t, "carts", tutorialActions(), time.Millisecond)
		got := h.waitEnded(t, rem.ID)
		key := got.Actions[0].Request.Key
		if p, a := h.scale.counts(key); got.State != remediation.StateResolved || p != 1 || a != 2 || got.Actions[0].Attempts != 1 {
			t.Errorf("state %s, prepares %d, applies %d, attempts %d", got.State, p, a, got.Actions[0].Attempts)
		}
		if h.target.get("replicas") != 2 || h.target.effectsOf(key) != 1 {
			t.Errorf("replicas = %d after a retried apply, effects %d", h.target.get("replicas"), h.target.effectsOf(key))
		}
	})
	t.Run("invalid action fails and the loop goes on", func(t *testing.T) {
		h := newHarness(t, harnessOpts{})
		h.eval.results = []slo.Result{slo.Pass}
		h.scale.applyErr = func(string, int) error { return fmt.Errorf("%w: deployment is gone", action.ErrInvalid) }
		rem := h.create(t, "carts", tutorialActions(), time.Millisecond)
		got := h.waitEnded(t, rem.ID)
		if got.State != remediation.StateResolved || got.Actions[0].State != remediation.ActionStateFailed || got.Evaluations[0].Index != 1 {
			t.Errorf("state %s; actions %+v; evaluations %+v", got.State, got.Actions, got.Evaluations)
		}
	})
}

// TestReplayAfterLostCommitAppliesTheSamePlan loses the recording of a
// step (as a crash between the executor call and the commit would): the
// step runs again, and the effect at the target still happens once.
func TestReplayAfterLostCommitAppliesTheSamePlan(t *testing.T) {
	h := newHarness(t, harnessOpts{lease: 300 * time.Millisecond})
	h.eval.results = []slo.Result{slo.Fail, slo.Pass}
	h.scale.started = make(chan string, 1)
	h.scale.block = make(chan struct{})
	rem := h.create(t, "carts", tutorialActions(), time.Millisecond)
	<-h.scale.started
	h.failTx.Store(1) // the commit of this apply is lost
	close(h.scale.block)
	got := h.waitEnded(t, rem.ID)
	if got.State != remediation.StateResolved {
		t.Fatalf("state = %s (%s)", got.State, got.Reason)
	}
	key := got.Actions[0].Request.Key
	p, a := h.scale.counts(key)
	if p != 1 || a < 2 {
		t.Errorf("scaling: %d prepares, %d applies; want one prepare and the apply replayed", p, a)
	}
	if h.target.effectsOf(key) != 1 || h.target.get("replicas") != 2 {
		t.Errorf("replicas = %d with %d effects; the replay must not scale again", h.target.get("replicas"), h.target.effectsOf(key))
	}
}

func TestExternalExecutor(t *testing.T) {
	external := []action.Request{{Action: "restart-pod", Name: "Restart", Value: "carts"}, {Action: "scaling", Value: "+1"}}
	t.Run("answered", func(t *testing.T) {
		h := newHarness(t, harnessOpts{externalTimeout: time.Hour})
		h.eval.results = []slo.Result{slo.Pass}
		rem := h.create(t, "carts", external, time.Millisecond)
		got := h.waitState(t, rem.ID, remediation.StateApplying)
		trig := got.Actions[0].TriggeredEventID
		answer := func(phase string, data map[string]any) {
			data["project"], data["stage"], data["service"] = "sockshop", "production", "carts"
			b := event.Builder{Source: "restart-executor"}
			ev, err := b.New("sh.keptn.event.action."+phase, rem.KeptnContext, trig, data)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := json.Marshal(ev)
			jobs, err := NewAnswers(h.st).AnswerJobs(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			if phase == "finished" && len(jobs) != 1 {
				t.Fatalf("AnswerJobs gave %d jobs for the answer, want 1", len(jobs))
			}
			err = h.st.WithTx(context.Background(), func(tx store.Tx) error {
				if _, err := tx.AppendEvents(context.Background(), store.EventRecord{ID: ev.ID, Source: ev.Source, Type: ev.Type, Time: ev.Time,
					SpecVersion: ev.SpecVersion, KeptnContext: ev.KeptnContext, TriggeredID: ev.TriggeredID,
					Project: "sockshop", Stage: "production", Service: "carts", JSON: raw}); err != nil {
					return err
				}
				if len(jobs) > 0 {
					_, err := tx.EnqueueJobs(context.Background(), jobs...)
					return err
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		answer("started", map[string]any{})
		answer("finished", map[string]any{"status": "succeeded", "result": "pass", "message": "restarted 3 pods"})
		got = h.waitEnded(t, rem.ID)
		if got.State != remediation.StateResolved || got.Actions[0].Result == nil || got.Actions[0].Result.Message != "restarted 3 pods" {
			t.Fatalf("state = %s (%s), action %+v", got.State, got.Reason, got.Actions[0])
		}
		evs := storyEvents(t, h.st, rem.KeptnContext)
		var sources []string
		for _, e := range evs {
			if strings.HasPrefix(e.Type, "sh.keptn.event.action.") && e.TriggeredID == trig || e.ID == trig {
				sources = append(sources, strings.TrimPrefix(e.Type, "sh.keptn.event.")+"@"+e.Source)
			}
		}
		want := []string{"action.triggered@tend", "action.started@restart-executor", "action.finished@restart-executor"}
		if !slices.Equal(sources, want) {
			t.Errorf("the external action's events = %v, want %v", sources, want)
		}
	})
	t.Run("timed out", func(t *testing.T) {
		h := newHarness(t, harnessOpts{externalTimeout: 50 * time.Millisecond})
		h.eval.results = []slo.Result{slo.Pass}
		rem := h.create(t, "carts", external, time.Millisecond)
		got := h.waitEnded(t, rem.ID)
		a := got.Actions[0]
		if a.State != remediation.ActionStateFailed || !strings.Contains(a.Error, `no external executor answered action "restart-pod" within 50ms`) {
			t.Fatalf("external action = %+v", a)
		}
		if got.State != remediation.StateResolved || got.Actions[1].State != remediation.ActionStateFinished {
			t.Errorf("the loop did not move on: %s, %+v", got.State, got.Actions[1])
		}
	})
}

func TestEvaluationThatCannotRunCountsAsFail(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.eval.err = errors.New("resource repository unavailable")
	rem := h.create(t, "carts", tutorialActions()[:1], time.Millisecond)
	got := h.waitEnded(t, rem.ID)
	if got.State != remediation.StateEscalated || got.Evaluations[0].State != remediation.EvaluationStateErrored {
		t.Fatalf("state %s, evaluation %+v", got.State, got.Evaluations)
	}
}
