package ui

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/sequence"
	"github.com/tendhq/tend/internal/store"
)

// TestBuildSequenceDelivery lays out a finished delivery: each task with
// its result, the evaluation with its score, the deployment and release
// with the image they reported, and each stage with what it runs.
func TestBuildSequenceDelivery(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	score := 95.5
	data := map[string]json.RawMessage{"configurationChange": json.RawMessage(`{"values":{"image":"carts:0.11.1"}}`)}
	tasks := []sequence.Task{{Name: "deployment"}, {Name: "test"}, {Name: "evaluation"}, {Name: "approval"}, {Name: "release"}}
	staging := sequence.Sequence{KeptnContext: "k", Project: "sockshop", Stage: "staging", Service: "carts", Name: "delivery",
		State: sequence.Finished, Result: "pass", Data: data, Tasks: tasks, Current: len(tasks), CreatedAt: t0,
		Done: []sequence.TaskResult{
			{Name: "deployment", TriggeredID: "t1", Result: "pass", Status: "succeeded"},
			{Name: "test", TriggeredID: "t2", Result: "pass", Status: "succeeded"},
			{Name: "evaluation", TriggeredID: "t3", Result: "pass", Status: "succeeded", Score: &score},
			{Name: "approval", TriggeredID: "t4", Result: "pass", Status: "succeeded"},
			{Name: "release", TriggeredID: "t5", Result: "pass", Status: "succeeded"},
		}}
	production := sequence.Sequence{KeptnContext: "k", Project: "sockshop", Stage: "production", Service: "carts", Name: "delivery",
		State: sequence.Started, Data: data, Tasks: tasks[:1], CreatedAt: t0.Add(time.Minute), TaskTriggeredID: "p1", Phase: sequence.PhaseStarted}
	ev := func(seq int64, id, typ, trig, body string) store.EventRecord {
		return store.EventRecord{Seq: seq, ID: id, Type: typ, Source: "tend", TriggeredID: trig, Time: t0.Add(time.Duration(seq) * time.Second), JSON: []byte(body)}
	}
	v := buildSequence(sequenceInput{KeptnContext: "k", Runs: []sequence.Sequence{staging, production}, Now: t0.Add(time.Hour),
		Events: []store.EventRecord{
			ev(1, "t1", "sh.keptn.event.deployment.triggered", "", `{}`),
			ev(2, "f1", "sh.keptn.event.deployment.finished", "t1", `{"data":{"result":"pass","deployment":{"image":"carts:0.11.1"}}}`),
			ev(3, "t5", "sh.keptn.event.release.triggered", "", `{}`),
			ev(4, "f5", "sh.keptn.event.release.finished", "t5", `{"data":{"result":"pass","deployment":{"image":"carts:0.11.1"}}}`),
		},
		Deployed: map[string]store.DeployedImage{"staging": {Stage: "staging", Image: "carts:0.11.1", EventType: store.TypeReleaseFinished}},
	})
	if len(v.Lanes) != 2 {
		t.Fatalf("%d lanes", len(v.Lanes))
	}
	st, prod := v.Lanes[0], v.Lanes[1]
	if st.Image != "carts:0.11.1" || st.ImageWord != "released" {
		t.Errorf("staging shows %s %q", st.ImageWord, st.Image)
	}
	if prod.Image != "carts:0.11.1" || prod.ImageWord != "delivers" {
		t.Errorf("production, before any delivery event, shows %s %q", prod.ImageWord, prod.Image)
	}
	var words []string
	for _, tv := range st.Tasks {
		words = append(words, tv.Name+"="+tv.Word)
	}
	if got := words; len(got) != 5 || got[0] != "deployment=pass" || got[2] != "evaluation=pass" || got[4] != "release=pass" {
		t.Errorf("tasks %v", got)
	}
	if st.Tasks[2].Score != "95.5" || st.Tasks[0].Score != "" {
		t.Errorf("evaluation score %q, deployment score %q", st.Tasks[2].Score, st.Tasks[0].Score)
	}
	if st.Tasks[0].Image != "carts:0.11.1" || st.Tasks[4].Image != "carts:0.11.1" || st.Tasks[1].Image != "" {
		t.Errorf("task images %q %q %q", st.Tasks[0].Image, st.Tasks[4].Image, st.Tasks[1].Image)
	}
}
