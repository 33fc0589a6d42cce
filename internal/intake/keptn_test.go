package intake

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/remediation"
)

func problemEvent(tb testing.TB, typ string, data map[string]any) *event.Event {
	tb.Helper()
	b, err := json.Marshal(map[string]any{
		"specversion": "1.0", "id": "e1", "source": "dynatrace", "type": typ,
		"time": "2024-05-06T07:00:00Z", "shkeptncontext": "P-42", "data": data,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return parseEvent(tb, b)
}

func TestFromEvent(t *testing.T) {
	const remTriggered = "sh.keptn.event.production.remediation.triggered"
	tests := []struct {
		name  string
		typ   string
		data  map[string]any
		check func(t *testing.T, n Notification)
	}{
		{"tags win over Keptn fields and data", event.TypeProblem, map[string]any{
			"State": "OPEN", "PID": "p1", "ProblemTitle": "Slow",
			"Tags":         "env:x, keptn_project:shop2 ,keptn_stage:prod2,keptn_service:carts2",
			"KeptnProject": "shop", "KeptnStage": "production", "KeptnService": "carts",
			"project": "p", "stage": "s", "service": "v",
		}, func(t *testing.T, n Notification) {
			wantLoc(t, n, "shop2", "prod2", "carts2")
		}},
		{"Keptn fields win over data", event.TypeProblem, map[string]any{
			"State": "OPEN", "PID": "p1", "KeptnProject": "shop", "KeptnStage": "", "KeptnService": "carts",
			"project": "p", "stage": "s", "service": "v",
		}, func(t *testing.T, n Notification) {
			// KeptnStage "" counts as absent: data.stage is next.
			wantLoc(t, n, "shop", "s", "carts")
		}},
		{"tags as an array", event.TypeProblem, map[string]any{
			"State": "OPEN", "PID": "p1", "Tags": []string{"keptn_project:a", "keptn_stage:b", "keptn_service:c"},
		}, func(t *testing.T, n Notification) {
			wantLoc(t, n, "a", "b", "c")
		}},
		{"resolved closes; key from the PID", event.TypeProblem, map[string]any{
			"State": "RESOLVED", "PID": "p1", "ProblemID": "P-1", "project": "a", "stage": "b", "service": "c",
		}, func(t *testing.T, n Notification) {
			if n.State != StateClosed || n.Key != "dynatrace/a/p1" || n.EndsAt.IsZero() {
				t.Errorf("state %s key %s ends %v", n.State, n.Key, n.EndsAt)
			}
		}},
		{"key from the ProblemID without a PID", event.TypeProblem, map[string]any{
			"State": "CLOSED", "ProblemID": "P-1", "project": "a", "stage": "b", "service": "c",
		}, func(t *testing.T, n Notification) {
			if n.Key != "dynatrace/a/P-1" {
				t.Errorf("key %s", n.Key)
			}
		}},
		{"ProblemDetails as a JSON string", event.TypeProblem, map[string]any{
			"State": "OPEN", "PID": "p1", "ProblemDetails": `{"id":"x"}`, "project": "a", "stage": "b", "service": "c",
		}, func(t *testing.T, n Notification) {
			if n.Details != `{"id":"x"}` {
				t.Errorf("Details = %q", n.Details)
			}
		}},
		{"invalid project name: unmatched", event.TypeProblem, map[string]any{
			"State": "OPEN", "PID": "p1", "KeptnProject": "Shop", "KeptnStage": "b", "KeptnService": "c",
		}, func(t *testing.T, n Notification) {
			wantReason(t, n, `project "Shop" is not a valid Keptn name`, "KeptnProject")
		}},
		{"problem.open: fields at the top of data", event.TypeProblemOpen, map[string]any{
			"State": "OPEN", "ProblemID": "p2", "ProblemTitle": "Slow", "project": "a", "stage": "b", "service": "c",
		}, func(t *testing.T, n Notification) {
			wantLoc(t, n, "a", "b", "c")
			if n.Source != SourceDynatrace || n.Title != "Slow" || n.State != StateOpen {
				t.Errorf("got %+v", n)
			}
		}},
		{"problem.open without State opens", event.TypeProblemOpen, map[string]any{
			"ProblemID": "p2", "project": "a", "stage": "b", "service": "c",
		}, func(t *testing.T, n Notification) {
			if n.State != StateOpen {
				t.Errorf("state %s", n.State)
			}
		}},
		{"remediation.triggered: Keptn problem names", remTriggered, map[string]any{
			"project": "a", "stage": "production", "service": "c",
			"problem": map[string]any{"problemTitle": "response_time_p90", "rootCause": "Response time degradation"},
		}, func(t *testing.T, n Notification) {
			wantLoc(t, n, "a", "production", "c")
			if n.Title != "response_time_p90" || n.RootCause != "Response time degradation" || n.Source != SourceKeptn {
				t.Errorf("got %+v", n)
			}
			if want := "keptn/a/" + event.ContextFor("P-42"); n.Key != want {
				t.Errorf("Key = %s, want %s", n.Key, want)
			}
		}},
		{"remediation.triggered: the type's stage when data has none", remTriggered, map[string]any{
			"project": "a", "service": "c", "problem": map[string]any{"ProblemTitle": "x", "PID": "p9"},
		}, func(t *testing.T, n Notification) {
			wantLoc(t, n, "a", "production", "c")
			if n.Key != "dynatrace/a/p9" {
				t.Errorf("key %s", n.Key)
			}
		}},
		{"remediation.triggered: data.stage disagrees with the type", remTriggered, map[string]any{
			"project": "a", "stage": "staging", "service": "c",
		}, func(t *testing.T, n Notification) {
			wantReason(t, n, `data.stage "staging" disagrees with the stage "production"`)
		}},
		{"remediation.triggered: a closed problem closes", remTriggered, map[string]any{
			"project": "a", "stage": "production", "service": "c", "problem": map[string]any{"State": "CLOSED", "PID": "p9"},
		}, func(t *testing.T, n Notification) {
			if n.State != StateClosed {
				t.Errorf("state %s", n.State)
			}
		}},
		{"Problem URL label as the URL", remTriggered, map[string]any{
			"project": "a", "service": "c", "labels": map[string]string{"Problem URL": "https://dt/p"},
		}, func(t *testing.T, n Notification) {
			if n.URL != "https://dt/p" {
				t.Errorf("URL %q", n.URL)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns, err := FromEvent(problemEvent(t, tt.typ, tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if len(ns) != 1 {
				t.Fatalf("got %d notifications", len(ns))
			}
			tt.check(t, ns[0])
		})
	}
}

func wantLoc(tb testing.TB, n Notification, project, stage, service string) {
	tb.Helper()
	if n.Project != project || n.Stage != stage || n.Service != service || !n.Matched() {
		tb.Errorf("location %s/%s/%s (unmatched %q), want %s/%s/%s", n.Project, n.Stage, n.Service, n.Unmatched, project, stage, service)
	}
}

func TestFromEventRefuses(t *testing.T) {
	tests := []struct {
		name    string
		typ     string
		data    map[string]any
		wantErr error
		want    string
	}{
		{"not a problem type", event.TypeEvaluationTriggered, map[string]any{}, ErrNotProblem, "evaluation.triggered"},
		{"get-action is not a problem", "sh.keptn.event.get-action.triggered", map[string]any{}, ErrNotProblem, ""},
		{"remediation.finished is not a problem", "sh.keptn.event.production.remediation.finished", map[string]any{}, ErrNotProblem, ""},
		{"problem without State", event.TypeProblem, map[string]any{"PID": "x"}, ErrInvalid, "State is missing"},
		{"unknown State", event.TypeProblem, map[string]any{"State": "MAYBE"}, ErrInvalid, `State "MAYBE"`},
		{"title not a string", event.TypeProblem, map[string]any{"State": "OPEN", "ProblemTitle": 5}, ErrInvalid, "ProblemTitle"},
		{"problem not an object", "sh.keptn.event.production.remediation.triggered", map[string]any{"problem": "x"}, ErrInvalid, "data.problem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FromEvent(problemEvent(t, tt.typ, tt.data))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %q does not contain %q", err, tt.want)
			}
		})
	}
	if _, err := FromEvent(nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("FromEvent(nil) = %v", err)
	}
}

func FuzzFromEvent(f *testing.F) {
	f.Add([]byte(`{"specversion":"1.0","id":"1","source":"s","type":"sh.keptn.events.problem","data":{"State":"OPEN","PID":"x","Tags":"keptn_project:a,keptn_stage:b,keptn_service:c"}}`))
	f.Add([]byte(`{"specversion":"1.0","id":"1","source":"s","type":"sh.keptn.event.prod.remediation.triggered","data":{"project":"a","problem":{"problemTitle":"t","ProblemDetails":{"startTime":1e300}}}}`))
	f.Add([]byte(`{"specversion":"0.2","id":"1","source":"s","type":"sh.keptn.event.problem.open","data":{"State":"CLOSED","Tags":["a:b"]}}`))
	if _, err := os.Stat(examplesDir); err == nil {
		for rel := range problemExamples {
			if strings.HasSuffix(rel, "_ce.json") || strings.Contains(rel, "event") || strings.Contains(rel, "remediation") {
				if b, err := os.ReadFile(filepath.Join(examplesDir, rel)); err == nil {
					f.Add(b)
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := event.Parse(data)
		if err != nil {
			return
		}
		ns, err := FromEvent(ev)
		if err != nil {
			if !errors.Is(err, ErrNotProblem) && !errors.Is(err, ErrInvalid) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			if errors.Is(err, ErrNotProblem) == IsProblemType(ev.Type) {
				t.Fatalf("ErrNotProblem disagrees with IsProblemType(%q): %v", ev.Type, err)
			}
			return
		}
		if len(ns) != 1 {
			t.Fatalf("got %d notifications", len(ns))
		}
		n := ns[0]
		if n.Key == "" || (n.State != StateOpen && n.State != StateClosed) {
			t.Fatalf("key %q state %q", n.Key, n.State)
		}
		if n.Matched() && (!event.IsName(n.Project) || !event.IsName(n.Stage) || !event.IsName(n.Service)) {
			t.Fatalf("matched with an invalid location: %+v", n)
		}
	})
}

// TestNotificationProblem checks the hand-over to remediation.Decide: a
// firing alert and its resolved copy are one problem, opened then closed.
func TestNotificationProblem(t *testing.T) {
	m, err := ParseAlertmanager(amBody(t, located("firing", "cpu", nil), located("resolved", "cpu", nil)), AlertmanagerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	open, closed := m.Notifications[0].Problem(), m.Notifications[1].Problem()
	if open.State != remediation.ProblemStateOpen || closed.State != remediation.ProblemStateClosed || open.Key != closed.Key {
		t.Fatalf("open %+v\nclosed %+v", open, closed)
	}
	if open.Project != "sockshop" || open.Title != "cpu is bad" || !open.OpenedAt.Equal(m.Notifications[0].StartsAt) {
		t.Errorf("problem %+v", open)
	}
	d := remediation.Decide(open, nil, nil, fixedTime)
	if d.Verdict != remediation.Start {
		t.Errorf("verdict %s", d.Verdict)
	}
	d = remediation.Decide(closed, &d.Problem, nil, fixedTime)
	if d.Verdict != remediation.Close {
		t.Errorf("verdict %s", d.Verdict)
	}
}
