package sequencer

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/delivery"
	"github.com/tendhq/tend/internal/evaluation"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/sequence"
	"github.com/tendhq/tend/internal/store"
	"github.com/tendhq/tend/internal/store/sqlite"
	"github.com/tendhq/tend/internal/worker"
)

const shipyard = `apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
metadata: {name: s}
spec:
  stages:
    - name: dev
      sequences:
        - name: delivery
          tasks:
            - name: deployment
        - name: gate
          tasks:
            - name: evaluation
`

// harness runs the sequencer on a SQLite store with a real worker.
func harness(t *testing.T) store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "tend.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if _, err := st.CreateProject(ctx, store.NewProject{Name: "sockshop", Shipyard: []byte(shipyard)}); err != nil {
		t.Fatal(err)
	}
	h, err := New(Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	r, err := worker.New(st, worker.Options{PollInterval: 10 * time.Millisecond, DrainTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range Kinds {
		r.Register(k, h.Handle)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(rctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return st
}

// send stores a trigger with its start job, as the API does; the job's
// unique key is given so that a test can enqueue the same trigger twice.
func send(t *testing.T, st store.Store, ev *event.Event, key string) int64 {
	t.Helper()
	var id int64
	j := sequence.StartJob(ev)
	raw, _ := json.Marshal(ev)
	err := st.WithTx(context.Background(), func(tx store.Tx) error {
		if _, err := tx.AppendEvents(context.Background(), store.EventRecord{ID: ev.ID, Source: ev.Source, Type: ev.Type, Time: ev.Time,
			KeptnContext: ev.KeptnContext, Project: "sockshop", JSON: raw}); err != nil {
			return err
		}
		ids, err := tx.EnqueueJobs(context.Background(), store.JobSpec{Kind: j.Kind, Payload: j.Payload, UniqueKey: key})
		if err == nil {
			id = ids[0]
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// waitDone waits until job id is done.
func waitDone(t *testing.T, st store.Store, id int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		j, err := st.GetJob(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if j.State == store.JobDone {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %d is %s", id, j.State)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func triggerEvent(t *testing.T, typ, data string) *event.Event {
	t.Helper()
	ev, err := event.Parse([]byte(`{"specversion":"1.0","id":"trig-1","source":"test","type":"` + typ +
		`","shkeptncontext":"0b6f2a10-8c1e-4b55-9a0e-4e2f3a1b5c6d","data":` + data + `}`))
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// waitTypes waits until the context's events include every type of want
// and returns the types stored, oldest first.
func waitTypes(t *testing.T, st store.Store, want ...string) []string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		pg, err := st.ListEvents(context.Background(), store.EventFilter{Project: "sockshop", PageSize: store.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for i := len(pg.Events) - 1; i >= 0; i-- {
			got = append(got, strings.TrimPrefix(pg.Events[i].Type, event.Prefix))
		}
		all := true
		for _, w := range want {
			found := false
			for _, g := range got {
				found = found || g == w
			}
			all = all && found
		}
		if all {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("events %v, want %v among them", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStartTwiceTriggersOnce delivers one trigger's start job twice (as a
// replay after a crash would, under another key): one sequence, one
// deployment.triggered.
func TestStartTwiceTriggersOnce(t *testing.T) {
	st := harness(t)
	ev := triggerEvent(t, "sh.keptn.event.dev.delivery.triggered", `{"project":"sockshop","stage":"dev","service":"carts"}`)
	send(t, st, ev, "first")
	waitTypes(t, st, "deployment.triggered")
	waitDone(t, st, send(t, st, ev, "second"))
	got := waitTypes(t, st, "deployment.triggered")
	n := 0
	for _, g := range got {
		if g == "deployment.triggered" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("deployment.triggered %d times: %v", n, got)
	}
	pg, err := st.ListSequences(context.Background(), store.SequenceFilter{Project: "sockshop"})
	if err != nil || len(pg.Sequences) != 1 {
		t.Errorf("sequences %+v %v", pg.Sequences, err)
	}
}

// TestUnknownSequenceIsRefused: a trigger of a sequence the shipyard does
// not have gets an errored finished event saying so.
func TestUnknownSequenceIsRefused(t *testing.T) {
	st := harness(t)
	send(t, st, triggerEvent(t, "sh.keptn.event.dev.nope.triggered", `{"project":"sockshop","stage":"dev","service":"carts"}`), "k")
	waitTypes(t, st, "dev.nope.finished")
	pg, _ := st.ListEvents(context.Background(), store.EventFilter{Type: "sh.keptn.event.dev.nope.finished"})
	if len(pg.Events) != 1 || !strings.Contains(string(pg.Events[0].JSON), `"status":"errored"`) || !strings.Contains(string(pg.Events[0].JSON), "no sequence") {
		t.Errorf("refusal %s", pg.Events[0].JSON)
	}
}

// TestEvaluationTaskPlansTheEvaluation: the engine's evaluation.triggered
// is stored together with the built-in evaluation's first job; without a
// service the task finishes errored at once.
func TestEvaluationTaskPlansTheEvaluation(t *testing.T) {
	st := harness(t)
	send(t, st, triggerEvent(t, "sh.keptn.event.dev.gate.triggered", `{"project":"sockshop","stage":"dev","service":"carts"}`), "k")
	waitTypes(t, st, "evaluation.triggered")
	deadline := time.Now().Add(10 * time.Second)
	for {
		jobs, err := st.ClaimJobs(context.Background(), store.Claim{Kinds: []string{evaluation.JobKind}})
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs) == 1 {
			s, err := evaluation.DecodeState(jobs[0].Payload)
			if err != nil || !s.Sequence || s.Service != "carts" {
				t.Errorf("evaluation job %+v %v", s, err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no evaluation job")
		}
		time.Sleep(10 * time.Millisecond)
	}

	noService := triggerEvent(t, "sh.keptn.event.dev.gate.triggered", `{"project":"sockshop","stage":"dev"}`)
	noService.ID, noService.KeptnContext = "trig-3", "3c1d2e4f-0000-4000-8000-00000000000a"
	send(t, st, noService, "k2")
	got := waitTypes(t, st, "dev.gate.finished")
	pg, _ := st.ListEvents(context.Background(), store.EventFilter{KeptnContext: noService.KeptnContext, Type: "sh.keptn.event.dev.gate.finished"})
	if len(pg.Events) != 1 || !strings.Contains(string(pg.Events[0].JSON), `"result":"fail"`) {
		t.Errorf("events %v; finished %v", got, pg.Events)
	}
}

// A deployment task's .triggered enqueues the built-in delivery executors'
// job in the same step, once, keyed by the event's id.
func TestDeliveryTaskEnqueuesDeliveryJob(t *testing.T) {
	st := harness(t)
	ev := triggerEvent(t, "sh.keptn.event.dev.delivery.triggered", `{"project":"sockshop","stage":"dev","service":"carts"}`)
	waitDone(t, st, send(t, st, ev, "start-1"))
	waitTypes(t, st, "deployment.triggered")
	jobs, err := st.ListJobs(context.Background(), store.JobFilter{KeyPrefix: delivery.JobKind + "/"})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 || jobs[0].Kind != delivery.JobKind {
		t.Fatalf("delivery jobs %+v, want one", jobs)
	}
	full, err := st.GetJob(context.Background(), jobs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	p, err := delivery.DecodePayload(full.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if p.Event.Type != "sh.keptn.event.deployment.triggered" || jobs[0].UniqueKey != delivery.JobKind+"/"+p.Event.ID || p.Plan != nil {
		t.Errorf("job %s carries %s (plan %v)", jobs[0].UniqueKey, p.Event.Type, p.Plan)
	}
}
