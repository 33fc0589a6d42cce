package remediator

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/remediation"
	"github.com/tendhq/tend/internal/slo"
)

// fakeBurn answers burn reads from a list of samples, the last repeating.
type fakeBurn struct {
	mu      sync.Mutex
	samples []remediation.BurnSample
	calls   []BurnRequest
}

func (f *fakeBurn) ShortBurn(_ context.Context, r BurnRequest) (remediation.BurnSample, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r)
	s := f.samples[0]
	if len(f.samples) > 1 {
		f.samples = f.samples[1:]
	}
	return s, nil
}

var pageAlert = map[string]string{"alertname": "CartsAvailabilityBurn", "sloth_severity": "page", "sloth_id": "carts-availability", "sloth_slo": "availability", "sloth_service": "carts"}

func TestBurnAlertVerifiedOnTheShortWindows(t *testing.T) {
	burning := remediation.BurnSample{ErrorRatio5m: 0.05, ErrorRatio30m: 0.02, ErrorBudget: 0.001, PeriodDays: 30}
	stopped := remediation.BurnSample{ErrorRatio5m: 0.0005, ErrorRatio30m: 0.004, ErrorBudget: 0.001, PeriodDays: 30}
	burn := &fakeBurn{samples: []remediation.BurnSample{burning, stopped}}
	h := newHarness(t, harnessOpts{burn: burn})
	// The SLO file's evaluation would fail: it must not be asked.
	h.eval.results = []slo.Result{slo.Fail}
	rem := h.createWithLabels(t, "carts", tutorialActions(), 20*time.Millisecond, pageAlert)
	got := h.waitEnded(t, rem.ID)

	if got.State != remediation.StateResolved {
		t.Fatalf("state = %s (%s), want resolved", got.State, got.Reason)
	}
	if len(h.eval.calls) != 0 {
		t.Errorf("the SLO file was evaluated %d times; a burn alert is verified on the burn", len(h.eval.calls))
	}
	if len(burn.calls) != 2 {
		t.Fatalf("%d burn reads, want 2", len(burn.calls))
	}
	for i, c := range burn.calls {
		if c.Alert.ID != "carts-availability" || c.Service != "carts" || !c.At.Equal(got.Evaluations[i].To) {
			t.Errorf("burn read %d = %+v", i, c)
		}
	}
	if e := got.Evaluations[0]; e.Result != slo.Fail || !strings.Contains(e.Message, "still burns: 50 over 5m (page at 14.4)") {
		t.Errorf("first verification = %s %q", e.Result, e.Message)
	}
	if e := got.Evaluations[1]; e.Result != slo.Pass || !strings.Contains(e.Message, "stopped") {
		t.Errorf("second verification = %s %q", e.Result, e.Message)
	}
}

func TestThresholdAlertStillEvaluatesTheSLOFile(t *testing.T) {
	burn := &fakeBurn{samples: []remediation.BurnSample{{}}}
	h := newHarness(t, harnessOpts{burn: burn})
	h.eval.results = []slo.Result{slo.Pass}
	ticket := map[string]string{"sloth_severity": "ticket", "sloth_id": "carts-availability"}
	rem := h.createWithLabels(t, "carts", tutorialActions(), 20*time.Millisecond, ticket)
	got := h.waitEnded(t, rem.ID)
	if got.State != remediation.StateResolved || len(h.eval.calls) != 1 || len(burn.calls) != 0 {
		t.Errorf("state %s, %d evaluations, %d burn reads; want resolved by 1 evaluation", got.State, len(h.eval.calls), len(burn.calls))
	}
}
