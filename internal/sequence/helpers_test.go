package sequence

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/spec"
)

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

const kctx = "1b2c3d4e-0000-4000-8000-000000000001"

func shipyard(tb testing.TB, text string) *spec.Shipyard {
	tb.Helper()
	sy, diags := spec.DecodeShipyard("shipyard.yaml", []byte(text))
	if sy == nil {
		tb.Fatalf("shipyard: %v", diags)
	}
	return sy
}

// trigger builds a <stage>.<name>.triggered event from outside.
func trigger(tb testing.TB, stage, name, data string) *event.Event {
	tb.Helper()
	if data == "" {
		data = `{"project":"sockshop","stage":"` + stage + `","service":"carts"}`
	}
	ev, err := event.Parser{Now: func() time.Time { return t0 }}.Parse([]byte(fmt.Sprintf(
		`{"specversion":"1.0","id":"trigger-1","source":"cli","type":"sh.keptn.event.%s.%s.triggered","shkeptncontext":%q,"data":%s}`,
		stage, name, kctx, data)))
	if err != nil {
		tb.Fatal(err)
	}
	return ev
}

// answer builds an executor's answer to the sequence's current task.
func answer(tb testing.TB, s Sequence, source string, p event.Phase, result, status string) *event.Event {
	tb.Helper()
	task := s.Tasks[s.Current].Name
	data := map[string]any{"project": s.Project, "stage": s.Stage, "service": s.Service}
	if result != "" {
		data["result"], data["status"] = result, status
	}
	b := event.Builder{Source: source, Now: func() time.Time { return t0 }}
	ev, err := b.New(event.TaskType(task, p), s.KeptnContext, s.TaskTriggeredID, data)
	if err != nil {
		tb.Fatal(err)
	}
	return ev
}

// step applies an input and fails the test on an error.
func step(tb testing.TB, s Sequence, now time.Time, in Input, ev *event.Event) Outcome {
	tb.Helper()
	o, err := s.Step(now, in, ev)
	if err != nil {
		tb.Fatalf("%s in %s: %v", in, s.State, err)
	}
	return o
}

// types returns the short types of events.
func types(evs []*event.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, strings.TrimPrefix(e.Type, event.Prefix))
	}
	return out
}

// run answers each triggered task of the sequence with pass by one
// executor until it ends or waits for something else, and returns every
// event emitted (answers included), in order.
func run(tb testing.TB, s Sequence, results map[string]string) (Sequence, []*event.Event, Outcome) {
	tb.Helper()
	o := step(tb, s, t0, InputStart, nil)
	evs := append([]*event.Event{}, o.Events...)
	s = o.Sequence
	for s.State == Started && (s.Phase == PhaseTriggered || s.Phase == PhaseStarted) && s.Tasks[s.Current].Name != event.TaskApproval {
		res := results[s.Tasks[s.Current].Name]
		if res == "" {
			res = event.ResultPass
		}
		st := answer(tb, s, "executor", event.PhaseStarted, "", "")
		s = step(tb, s, t0, InputTaskStarted, st).Sequence
		fin := answer(tb, s, "executor", event.PhaseFinished, res, event.StatusSucceeded)
		o = step(tb, s, t0, InputTaskFinished, fin)
		evs = append(append(evs, st, fin), o.Events...)
		s = o.Sequence
	}
	return s, evs, o
}

func dataOf(tb testing.TB, ev *event.Event) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(ev.Data, &m); err != nil {
		tb.Fatal(err)
	}
	return m
}
