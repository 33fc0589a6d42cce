package evaluator_test

// Tests of what one evaluation reads: the monitoring setting once per run,
// every invalidation of its baseline.

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/evaluation"
	"github.com/tendhq/tend/internal/evaluator"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/resource"
	"github.com/tendhq/tend/internal/settings"
	"github.com/tendhq/tend/internal/sli"
	"github.com/tendhq/tend/internal/slo"
	"github.com/tendhq/tend/internal/store"
)

// settingReads counts the settings the evaluator reads.
type settingReads struct {
	store.Store
	n atomic.Int64
}

func (s *settingReads) GetSetting(ctx context.Context, sc store.Scope, key string) (store.Setting, error) {
	s.n.Add(1)
	return s.Store.GetSetting(ctx, sc, key)
}

// passProvider answers every SLI with 500 at once.
type passProvider struct{}

func (passProvider) GetSLIs(_ context.Context, req sli.Request) ([]slo.SLIResult, error) {
	out := make([]slo.SLIResult, len(req.Indicators))
	for i, name := range req.Indicators {
		out[i] = slo.SLIResult{Metric: name, Value: 500, Success: true}
	}
	return out, nil
}

// TestOneRunResolvesMonitoringOnce checks that the steps of one run (here
// Evaluate's start and get-sli) share one resolution of the monitoring
// setting: set at the project, it takes the four reads of one resolution
// (settings.Chain: service in stage, service, stage, project), not four
// per step.
func TestOneRunResolvesMonitoringOnce(t *testing.T) {
	backends(t, func(t *testing.T, open func(t *testing.T) (store.Store, resource.Storage)) {
		e := newEnv(t, open, func(settings.Selection) (sli.Provider, error) { return passProvider{}, nil })
		e.put(t, resource.Ref{Project: project, Stage: stage, Service: service}, "slo.yaml", sloFile)
		e.configure(t, store.Scope{Project: project}, "http://127.0.0.1:1")
		counted := &settingReads{Store: e.st}
		h, err := evaluator.New(evaluator.Options{Store: counted, Resources: e.repos, Monitoring: monitoring,
			Providers: func(settings.Selection) (sli.Provider, error) { return passProvider{}, nil }})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		ev, err := h.Evaluate(context.Background(), evaluator.Request{Project: project, Stage: stage, Service: service,
			Start: now.Add(-5 * time.Minute), End: now, KeptnContext: event.NewUUID(), TriggeredID: event.NewUUID()})
		if err != nil {
			t.Fatal(err)
		}
		if ev.Result != slo.Pass {
			t.Fatalf("evaluation = %s (%s); want pass", ev.Result, ev.Message)
		}
		if n := counted.n.Load(); n != 4 {
			t.Errorf("the evaluation read %d settings; want 4 (one resolution, found at the project)", n)
		}
	})
}

// TestGetSLIStepRunOnItsOwnResolvesAgain checks that a get-sli step that
// runs on its own (after a claim, not chained to the start) reads the
// monitoring setting again: one removed since the start fails the SLIs,
// saying so.
func TestGetSLIStepRunOnItsOwnResolvesAgain(t *testing.T) {
	backends(t, func(t *testing.T, open func(t *testing.T) (store.Store, resource.Storage)) {
		e := newEnv(t, open, func(settings.Selection) (sli.Provider, error) { return passProvider{}, nil })
		now := time.Now()
		p, err := evaluation.FromRequest(evaluation.Request{Project: project, Stage: stage, Service: service,
			Start: now.Add(-5 * time.Minute), End: now, KeptnContext: event.NewUUID()}, now)
		if err != nil {
			t.Fatal(err)
		}
		// The start ran while Prometheus was configured; no setting is
		// stored now.
		started, err := p.State.Begin(now, evaluation.StartInput{SLO: []byte(sloFile), SLOVersion: "v", Provider: "prometheus"})
		if err != nil || started.Next == nil || started.Next.Step != evaluation.StepGetSLI {
			t.Fatalf("begin = %+v, %v; want a get-sli step", started, err)
		}
		ctx := context.Background()
		err = e.st.WithTx(ctx, func(tx store.Tx) error {
			_, err := tx.EnqueueJobs(ctx, store.JobSpec{Kind: evaluation.JobKind, Payload: started.Next.Payload(), UniqueKey: p.Job.UniqueKey, MaxAttempts: p.Job.MaxAttempts})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		fin := waitFinished(t, e.st, p.State.KeptnContext)
		irs := fin.Evaluation.IndicatorResults
		if fin.Result != "fail" || len(irs) != 1 || !strings.Contains(irs[0].Value.Message, "the monitoring configuration was removed while the evaluation ran") {
			t.Fatalf("evaluation = %s, indicators %+v; want a fail whose SLI says the monitoring configuration was removed", fin.Result, irs)
		}
	})
}

// waitFinished waits for the evaluation.finished event of a context.
func waitFinished(t *testing.T, st store.Store, keptnContext string) evaluation.FinishedData {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		pg, err := st.ListEvents(context.Background(), store.EventFilter{KeptnContext: keptnContext, Type: event.TypeEvaluationFinished})
		if err != nil {
			t.Fatal(err)
		}
		if len(pg.Events) > 0 {
			var ev struct {
				Data evaluation.FinishedData `json:"data"`
			}
			if err := json.Unmarshal(pg.Events[0].JSON, &ev); err != nil {
				t.Fatal(err)
			}
			return ev.Data
		}
		if time.Now().After(deadline) {
			t.Fatalf("evaluation %s did not finish within 60s", keptnContext)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBaselineReadsInvalidationsOverSeveralPages checks that the baseline
// search reads every invalidation, not only its first page: five earlier
// evaluations withdrawn by five invalidations (more than a first page)
// leave the oldest of six as the one compared with.
func TestBaselineReadsInvalidationsOverSeveralPages(t *testing.T) {
	backends(t, func(t *testing.T, open func(t *testing.T) (store.Store, resource.Storage)) {
		e := newEnv(t, open, func(settings.Selection) (sli.Provider, error) { return passProvider{}, nil })
		e.put(t, resource.Ref{Project: project, Stage: stage, Service: service}, "slo.yaml", sloFile)
		e.configure(t, store.Scope{Project: project}, "http://127.0.0.1:1")
		record := func(id, typ, keptnContext, triggeredID, data string) store.EventRecord {
			body := `{"specversion":"1.0","id":"` + id + `","source":"test","type":"` + typ + `","shkeptncontext":"` + keptnContext +
				`","triggeredid":"` + triggeredID + `","datacontenttype":"application/json","data":` + data + `}`
			return store.EventRecord{ID: id, Source: "test", Type: typ, Time: time.Now(), SpecVersion: "1.0", KeptnContext: keptnContext,
				TriggeredID: triggeredID, Project: project, Stage: stage, Service: service, JSON: []byte(body)}
		}
		where := `"project":"` + project + `","stage":"` + stage + `","service":"` + service + `"`
		var recs []store.EventRecord
		for i := range 6 { // oldest first
			n := string(rune('0' + i))
			recs = append(recs, record("finished-"+n, event.TypeEvaluationFinished, "context-"+n, "triggered-"+n,
				`{`+where+`,"status":"succeeded","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"value":{"metric":"response_time_p90","value":500,"success":true}}]}}`))
		}
		for i := 5; i >= 1; i-- { // the newest invalidation withdraws the second oldest
			n := string(rune('0' + i))
			recs = append(recs, record("invalidated-"+n, event.TypeEvaluationInvalidated, "context-"+n, "triggered-"+n, `{`+where+`}`))
		}
		ctx := context.Background()
		if err := e.st.WithTx(ctx, func(tx store.Tx) error { _, err := tx.AppendEvents(ctx, recs...); return err }); err != nil {
			t.Fatal(err)
		}
		fin := e.evaluate(t)
		if got := fin.Evaluation.ComparedEvents; len(got) != 1 || got[0] != "finished-0" {
			t.Fatalf("compared with %v; want [finished-0], the only evaluation not invalidated", got)
		}
	})
}
