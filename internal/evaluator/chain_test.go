package evaluator_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/resource"
	"github.com/tendhq/tend/internal/settings"
	"github.com/tendhq/tend/internal/sli"
	"github.com/tendhq/tend/internal/slo"
	"github.com/tendhq/tend/internal/store"
)

// flakyProvider fails its first call with an error that is not an outage,
// then answers every SLI with 500.
type flakyProvider struct{ calls *atomic.Int64 }

func (p flakyProvider) GetSLIs(_ context.Context, req sli.Request) ([]slo.SLIResult, error) {
	if p.calls.Add(1) == 1 {
		return nil, errors.New("connection reset by peer")
	}
	out := make([]slo.SLIResult, len(req.Indicators))
	for i, name := range req.Indicators {
		out[i] = slo.SLIResult{Metric: name, Value: 500, Success: true}
	}
	return out, nil
}

// TestChainedStepThatFailsRunsAgain checks the steps that one run of the
// job chains (start, get-sli, evaluate): when the SLI query fails, the
// start's events are recorded and get-sli runs again as the job's next
// step; the evaluation then passes, and the event log holds every event of
// the evaluation once, in Keptn's order.
func TestChainedStepThatFailsRunsAgain(t *testing.T) {
	backends(t, func(t *testing.T, open func(t *testing.T) (store.Store, resource.Storage)) {
		var calls atomic.Int64
		e := newEnv(t, open, func(settings.Selection) (sli.Provider, error) { return flakyProvider{&calls}, nil })
		e.put(t, resource.Ref{Project: project, Stage: stage, Service: service}, "slo.yaml", sloFile)
		e.configure(t, store.Scope{Project: project}, "http://127.0.0.1:1")
		if d := e.evaluate(t); d.Result != "pass" {
			t.Fatalf("evaluation = %+v; want pass", d)
		}
		if n := calls.Load(); n != 2 {
			t.Errorf("the provider was asked %d times, want 2 (a failure, then the step again)", n)
		}
		pg, err := e.st.ListEvents(context.Background(), store.EventFilter{Project: project, PageSize: store.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		for _, ev := range slices.Backward(pg.Events) {
			types = append(types, ev.Type)
		}
		want := []string{event.Prefix + stage + ".evaluation.triggered", event.TypeEvaluationTriggered, event.TypeEvaluationStarted,
			event.TypeGetSLITriggered, event.Prefix + event.TaskGetSLI + ".started", event.TypeGetSLIFinished, event.TypeEvaluationFinished,
			event.Prefix + stage + ".evaluation.finished"}
		if !slices.Equal(types, want) {
			t.Errorf("events, oldest first:\n%v\nwant\n%v", types, want)
		}
	})
}
