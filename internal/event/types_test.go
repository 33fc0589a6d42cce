package event

import "testing"

func TestParseType(t *testing.T) {
	tests := []struct {
		in   string
		want Type
		ok   bool
	}{
		{"sh.keptn.event.evaluation.triggered", Type{Task: "evaluation", Phase: PhaseTriggered}, true},
		{"sh.keptn.event.action.started", Type{Task: "action", Phase: PhaseStarted}, true},
		{"sh.keptn.event.get-action.finished", Type{Task: "get-action", Phase: PhaseFinished}, true},
		{"sh.keptn.event.action.status.changed", Type{Task: "action", Phase: PhaseStatusChanged}, true},
		{"sh.keptn.event.evaluation.invalidated", Type{Task: "evaluation", Phase: PhaseInvalidated}, true},
		{"sh.keptn.event.production.remediation.triggered", Type{Stage: "production", Task: "remediation", Phase: PhaseTriggered}, true},
		{"sh.keptn.event.production2.remediation.finished", Type{Stage: "production2", Task: "remediation", Phase: PhaseFinished}, true},
		{"sh.keptn.event.dev.delivery.started", Type{Stage: "dev", Task: "delivery", Phase: PhaseStarted}, true},
		{"sh.keptn.event.hardening.evaluation.triggered", Type{Stage: "hardening", Task: "evaluation", Phase: PhaseTriggered}, true},
		// Legacy types are known by name.
		{"sh.keptn.event.problem.open", Type{Task: "problem.open", Legacy: true}, true},
		{"sh.keptn.events.problem", Type{Task: "problem", Legacy: true}, true},
		{"sh.keptn.event.configuration.change", Type{Task: "configuration.change", Legacy: true}, true},
		{"sh.keptn.event.start-evaluation", Type{Task: "start-evaluation", Legacy: true}, true},
		{"sh.keptn.events.evaluation-done", Type{Task: "evaluation-done", Legacy: true}, true},
		// Outside the vocabulary.
		{"", Type{}, false},
		{"evaluation.finished", Type{}, false},
		{"sh.keptn.event.", Type{}, false},
		{"sh.keptn.event.triggered", Type{}, false},
		{"sh.keptn.event.status.changed", Type{}, false},
		{"sh.keptn.event..triggered", Type{}, false},
		{"sh.keptn.event.evaluation.done", Type{}, false},
		{"sh.keptn.event.a.b.c.triggered", Type{}, false},
		{"sh.keptn.event.dev.delivery.status.changed", Type{}, false},
		{"sh.keptn.event.action.invalidated", Type{}, false},
		{"sh.keptn.event.dev.evaluation.invalidated", Type{}, false},
		{"sh.keptn.event.ev aluation.triggered", Type{}, false},
		{"sh.keptn.event.$STAGE.evaluation.triggered", Type{}, false},
		{"sh.keptn.events.problem.open", Type{}, false},
		{"com.example.object.deleted", Type{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := ParseType(tt.in)
			if ok != tt.ok || got != tt.want {
				t.Fatalf("ParseType(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
			}
			if ok {
				if s := got.String(); s != tt.in {
					t.Errorf("String() = %q, want %q", s, tt.in)
				}
				if got.IsSequence() != (tt.want.Stage != "") {
					t.Errorf("IsSequence() = %v", got.IsSequence())
				}
			}
		})
	}
}

func TestTypeWithPhase(t *testing.T) {
	tests := []struct {
		in    string
		phase Phase
		want  string
	}{
		{TypeActionTriggered, PhaseStarted, TypeActionStarted},
		{TypeActionTriggered, PhaseFinished, TypeActionFinished},
		{"sh.keptn.event.production.remediation.triggered", PhaseFinished, "sh.keptn.event.production.remediation.finished"},
		{TypeProblem, PhaseFinished, TypeProblem},
	}
	for _, tt := range tests {
		t.Run(tt.in+" "+string(tt.phase), func(t *testing.T) {
			typ, ok := ParseType(tt.in)
			if !ok {
				t.Fatalf("ParseType(%q) failed", tt.in)
			}
			if got := typ.WithPhase(tt.phase).String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if got := SequenceType("production", SequenceRemediation, PhaseTriggered); got != "sh.keptn.event.production.remediation.triggered" {
		t.Errorf("SequenceType = %q", got)
	}
	if got := TaskType(TaskGetSLI, PhaseStatusChanged); got != "sh.keptn.event.get-sli.status.changed" {
		t.Errorf("TaskType = %q", got)
	}
}

func TestExpandType(t *testing.T) {
	tests := []struct{ in, want string }{
		{"evaluation.finished", "sh.keptn.event.evaluation.finished"},
		{"action.status.changed", "sh.keptn.event.action.status.changed"},
		{"production.remediation.triggered", "sh.keptn.event.production.remediation.triggered"},
		{"problem.open", "sh.keptn.event.problem.open"},
		{"sh.keptn.event.evaluation.finished", "sh.keptn.event.evaluation.finished"},
		{"sh.keptn.events.problem", "sh.keptn.events.problem"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := ExpandType(tt.in); got != tt.want {
			t.Errorf("ExpandType(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzParseType(f *testing.F) {
	for _, s := range []string{TypeActionTriggered, TypeProblem, "sh.keptn.event.a.b.status.changed", "sh.keptn.event.dev.delivery.finished", "sh.keptn.event..."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		typ, ok := ParseType(s)
		if !ok {
			return
		}
		if got := typ.String(); got != s {
			t.Fatalf("ParseType(%q).String() = %q", s, got)
		}
		if ExpandType(s) != s {
			t.Fatalf("ExpandType changed the full type %q", s)
		}
	})
}
