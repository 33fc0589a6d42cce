package evaluator_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/evaluator"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/resource"
	"github.com/tendhq/tend/internal/settings"
	"github.com/tendhq/tend/internal/sli"
	"github.com/tendhq/tend/internal/slo"
	"github.com/tendhq/tend/internal/spec"
	"github.com/tendhq/tend/internal/store"
)

// valueProvider answers every SLI with one value.
type valueProvider struct{ value float64 }

func (p valueProvider) GetSLIs(_ context.Context, req sli.Request) ([]slo.SLIResult, error) {
	out := make([]slo.SLIResult, len(req.Indicators))
	for i, name := range req.Indicators {
		out[i] = slo.SLIResult{Metric: name, Value: p.value, Success: true}
	}
	return out, nil
}

func TestEvaluateRunsTheWholeEvaluationWithoutEvents(t *testing.T) {
	backends(t, func(t *testing.T, open func(t *testing.T) (store.Store, resource.Storage)) {
		value := 500.0
		providers := func(settings.Selection) (sli.Provider, error) { return valueProvider{value}, nil }
		e := newEnv(t, open, providers)
		specs := spec.NewCache(8)
		h, err := evaluator.New(evaluator.Options{Store: e.st, Resources: e.repos, Monitoring: monitoring,
			Providers: func(settings.Selection) (sli.Provider, error) { return valueProvider{value}, nil }, Specs: specs})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		now := time.Now()
		req := evaluator.Request{Project: project, Stage: stage, Service: service, Start: now.Add(-time.Minute), End: now,
			KeptnContext: event.NewUUID(), TriggeredID: event.NewUUID()}

		ev, err := h.Evaluate(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Result != slo.Fail || !strings.Contains(ev.Message, "no SLO file") {
			t.Errorf("without an SLO file: %s %q, want a fail saying so", ev.Result, ev.Message)
		}

		e.put(t, resource.Ref{Project: project, Stage: stage, Service: service}, "slo.yaml", sloFile)
		e.configure(t, store.Scope{Project: project}, "http://prometheus:9090")
		ev, err = h.Evaluate(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Result != slo.Pass || ev.Score != 100 || len(ev.IndicatorResults) != 1 || ev.IndicatorResults[0].Value.Value != 500 {
			t.Errorf("evaluation = %+v, want a pass of response_time_p90 = 500", ev)
		}
		// Verifications of one SLO version share one decoding.
		for range 3 {
			if _, err := h.Evaluate(ctx, req); err != nil {
				t.Fatal(err)
			}
		}
		if n := specs.Decoded(spec.KindSLO); n != 1 {
			t.Errorf("slo.yaml decoded %d times over four verifications; want once", n)
		}
		pg, err := e.st.ListEvents(ctx, store.EventFilter{KeptnContext: req.KeptnContext})
		if err != nil || len(pg.Events) != 0 {
			t.Errorf("Evaluate stored %d events (%v), want none", len(pg.Events), err)
		}
		if _, err := h.Evaluate(ctx, evaluator.Request{Project: project}); err == nil {
			t.Error("Evaluate without stage, service and context succeeded")
		}
	})
}
