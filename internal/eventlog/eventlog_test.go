package eventlog

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/store"
)

func TestRecord(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b := event.Builder{Source: "tend", Now: func() time.Time { return now }, NewID: func() string { return "11111111-1111-4111-8111-111111111111" }}
	ev, err := b.New("sh.keptn.event.evaluation.triggered", "22222222-2222-4222-8222-222222222222", "trig",
		map[string]any{"project": "sockshop", "stage": "production", "service": "carts"})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := Record(ev)
	if err != nil {
		t.Fatalf("Record: %v", err)
	}
	want := store.EventRecord{
		ID: ev.ID, Source: "tend", Type: "sh.keptn.event.evaluation.triggered", Time: now, SpecVersion: ev.SpecVersion,
		KeptnContext: "22222222-2222-4222-8222-222222222222", TriggeredID: "trig",
		Project: "sockshop", Stage: "production", Service: "carts",
	}
	got := rec
	got.JSON = nil
	if got.ID != want.ID || got.Source != want.Source || got.Type != want.Type || !got.Time.Equal(want.Time) ||
		got.SpecVersion != want.SpecVersion || got.KeptnContext != want.KeptnContext || got.TriggeredID != want.TriggeredID ||
		got.Project != want.Project || got.Stage != want.Stage || got.Service != want.Service || got.Seq != 0 {
		t.Errorf("Record =\n%+v\nwant\n%+v", got, want)
	}
	back, err := event.Parse(rec.JSON)
	if err != nil {
		t.Fatalf("the stored JSON does not parse: %v", err)
	}
	if back.ID != ev.ID || back.Project() != "sockshop" {
		t.Errorf("stored JSON round-trips to %+v", back)
	}
	// Record skips json.Marshal's second pass over MarshalJSON's output,
	// which only re-checked and re-compacted it: the bytes are the same.
	ev2, err := b.New("sh.keptn.event.evaluation.finished", "", "",
		map[string]any{"project": "sockshop", "stage": "production", "service": "carts", "criteria": []string{"<=+10%", "<600"}, "note": "a & b > c"})
	if err != nil {
		t.Fatal(err)
	}
	rec2, err := Record(ev2)
	if err != nil {
		t.Fatal(err)
	}
	viaMarshal, err := json.Marshal(ev2)
	if err != nil {
		t.Fatal(err)
	}
	if string(rec2.JSON) != string(viaMarshal) {
		t.Errorf("stored JSON\n%s\nwant json.Marshal's\n%s", rec2.JSON, viaMarshal)
	}
}

func TestRecordsFailsOnAnUnmarshallableEvent(t *testing.T) {
	good, err := event.New("sh.keptn.event.evaluation.triggered", "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	bad := *good
	bad.Data = json.RawMessage("{")
	if _, err := Records([]*event.Event{good, &bad}); err == nil || !strings.Contains(err.Error(), "sh.keptn.event.evaluation.triggered") {
		t.Errorf("Records error = %v, want one naming the event type", err)
	}
	recs, err := Records([]*event.Event{good, good})
	if err != nil || len(recs) != 2 || recs[0].Project != "" {
		t.Errorf("Records = %+v, %v", recs, err)
	}
}
