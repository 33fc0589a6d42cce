package event

import (
	"strings"
	"testing"
	"time"
)

func fixedBuilder(tb testing.TB) Builder {
	tb.Helper()
	p := fixedParser(tb)
	return Builder{Now: p.Now, NewID: p.NewID}
}

func TestBuilderNew(t *testing.T) {
	b := fixedBuilder(t)
	data := map[string]any{"project": "sockshop", "stage": "production", "service": "carts", "labels": map[string]string{"k": "v"}}
	e, err := b.New(TypeEvaluationTriggered, "", "", data)
	if err != nil {
		t.Fatal(err)
	}
	if e.ID != genID1 || e.KeptnContext != genID2 || e.Source != DefaultSource || e.SpecVersion != SpecVersion ||
		e.DataContentType != JSONContentType || !e.Time.Equal(time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)) {
		t.Errorf("New gave %+v", e)
	}
	if e.Project() != "sockshop" || e.Labels()["k"] != "v" {
		t.Errorf("data = %s", e.Data)
	}
	checkRoundTrip(t, e)

	t.Run("source and context mapping", func(t *testing.T) {
		e, err := Builder{Source: "tend-remediation"}.New(TypeProblem, "P-123", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		if e.Source != "tend-remediation" || e.KeptnContext != ContextFor("P-123") || string(e.Data) != "{}" {
			t.Errorf("got source %q, context %q, data %s", e.Source, e.KeptnContext, e.Data)
		}
	})

	bad := []struct {
		name, typ string
		data      any
		want      string
	}{
		{"empty type", "", nil, "the type is empty"},
		{"data not an object", TypeActionTriggered, []string{"a"}, `"data" must be a JSON object for Keptn events, got an array`},
		{"bad project", TypeActionTriggered, map[string]string{"project": "Shop"}, `"data.project" must be a Keptn name`},
		{"unmarshallable data", TypeActionTriggered, map[string]any{"f": func() {}}, "marshal data"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.typ, "", "", tt.data)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestBuilderReply(t *testing.T) {
	b := fixedBuilder(t)
	triggered, err := b.New(TypeActionTriggered, "08735340-6f9e-4b32-97ff-3b6c292bc50f", "", map[string]string{"project": "sockshop"})
	if err != nil {
		t.Fatal(err)
	}
	triggered.GitCommitID = "abc123"
	started, err := b.Reply(triggered, PhaseStarted, nil)
	if err != nil {
		t.Fatal(err)
	}
	if started.Type != TypeActionStarted || started.KeptnContext != triggered.KeptnContext ||
		started.TriggeredID != triggered.ID || started.GitCommitID != "abc123" || started.ID == triggered.ID {
		t.Errorf("started = %+v", started)
	}
	finished, err := b.Reply(started, PhaseFinished, map[string]string{"status": StatusSucceeded, "result": ResultPass})
	if err != nil {
		t.Fatal(err)
	}
	if finished.Type != TypeActionFinished || finished.TriggeredID != triggered.ID || finished.Result() != ResultPass {
		t.Errorf("finished = %+v", finished)
	}
	legacy := &Event{Type: TypeProblem}
	if _, err := b.Reply(legacy, PhaseFinished, nil); err == nil {
		t.Error("Reply to a legacy event succeeded; want an error")
	}
}
