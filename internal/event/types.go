package event

import "strings"

// Prefix starts every Keptn event type of the task and sequence grammar.
const Prefix = "sh.keptn.event."

// keptnPrefix starts every Keptn type, including 0.6's plural form
// sh.keptn.events.problem; ExpandType leaves such types alone.
const keptnPrefix = "sh.keptn."

// Phase is the last part of a Keptn event type: where in its life a task or
// sequence is.
type Phase string

// The phases of Keptn's task and sequence events. Sequences have only
// triggered, started and finished; status.changed is a task's progress
// report; invalidated exists only for the evaluation task, to withdraw an
// evaluation from later comparisons.
const (
	PhaseTriggered     Phase = "triggered"
	PhaseStarted       Phase = "started"
	PhaseStatusChanged Phase = "status.changed"
	PhaseFinished      Phase = "finished"
	PhaseInvalidated   Phase = "invalidated"
)

// Task names tend emits or reacts to. Keptn lets a shipyard name any task;
// these are the ones with a meaning to tend.
const (
	TaskEvaluation = "evaluation"
	TaskGetSLI     = "get-sli"
	TaskGetAction  = "get-action"
	TaskAction     = "action"
	TaskApproval   = "approval"
	TaskDeployment = "deployment"
	TaskTest       = "test"
	TaskRelease    = "release"
	TaskRollback   = "rollback"
)

// Sequence names tend reacts to.
const (
	SequenceRemediation = "remediation"
	SequenceEvaluation  = "evaluation"
	SequenceDelivery    = "delivery"
)

// Full types tend emits or answers most often.
const (
	TypeEvaluationTriggered   = Prefix + TaskEvaluation + ".triggered"
	TypeEvaluationStarted     = Prefix + TaskEvaluation + ".started"
	TypeEvaluationFinished    = Prefix + TaskEvaluation + ".finished"
	TypeEvaluationInvalidated = Prefix + TaskEvaluation + ".invalidated"
	TypeGetSLITriggered       = Prefix + TaskGetSLI + ".triggered"
	TypeGetSLIFinished        = Prefix + TaskGetSLI + ".finished"
	TypeGetActionTriggered    = Prefix + TaskGetAction + ".triggered"
	TypeGetActionFinished     = Prefix + TaskGetAction + ".finished"
	TypeActionTriggered       = Prefix + TaskAction + ".triggered"
	TypeActionStarted         = Prefix + TaskAction + ".started"
	TypeActionFinished        = Prefix + TaskAction + ".finished"
)

// Legacy types of Keptn 0.6 and 0.7 that old integrations (the Dynatrace
// service, Prometheus alert forwarding, CI scripts) still send. They do not
// follow the task/phase grammar, so ParseType knows them by name.
const (
	TypeProblemOpen         = "sh.keptn.event.problem.open"
	TypeProblem             = "sh.keptn.events.problem"
	TypeConfigurationChange = "sh.keptn.event.configuration.change"
	TypeStartEvaluation     = "sh.keptn.event.start-evaluation"
	TypeEvaluationDone      = "sh.keptn.events.evaluation-done"
)

// legacyTasks gives each legacy type a Task name: what follows its
// "sh.keptn.event." or "sh.keptn.events." prefix, which keeps the names
// distinct and readable.
var legacyTasks = map[string]string{
	TypeProblemOpen:         "problem.open",
	TypeProblem:             "problem",
	TypeConfigurationChange: "configuration.change",
	TypeStartEvaluation:     "start-evaluation",
	TypeEvaluationDone:      "evaluation-done",
}

// legacyTypes is legacyTasks inverted, for Type.String.
var legacyTypes = func() map[string]string {
	m := make(map[string]string, len(legacyTasks))
	for typ, task := range legacyTasks {
		m[task] = typ
	}
	return m
}()

// Type is a Keptn event type taken apart.
//
// A task event, sh.keptn.event.<task>.<phase>, has Task and Phase and no
// Stage. A sequence event, sh.keptn.event.<stage>.<sequence>.<phase>, has
// Stage, the sequence's name in Task, and Phase. A legacy type has Legacy set,
// its name in Task (see legacyTasks) and no Stage or Phase.
type Type struct {
	Stage  string
	Task   string
	Phase  Phase
	Legacy bool
}

// IsSequence reports whether t is a sequence event (one naming a stage).
func (t Type) IsSequence() bool { return t.Stage != "" }

// String returns the full event type, the inverse of ParseType.
func (t Type) String() string {
	if t.Legacy {
		return legacyTypes[t.Task]
	}
	if t.Stage != "" {
		return SequenceType(t.Stage, t.Task, t.Phase)
	}
	return TaskType(t.Task, t.Phase)
}

// WithPhase returns the same task or sequence in another phase, which is how
// an answer's type is made from a triggered event's type (action.triggered to
// action.started). Legacy types have no phases and are returned unchanged.
func (t Type) WithPhase(p Phase) Type {
	if !t.Legacy {
		t.Phase = p
	}
	return t
}

// TaskType returns sh.keptn.event.<task>.<phase>.
func TaskType(task string, p Phase) string {
	return Prefix + task + "." + string(p)
}

// SequenceType returns sh.keptn.event.<stage>.<sequence>.<phase>.
func SequenceType(stage, sequence string, p Phase) string {
	return Prefix + stage + "." + sequence + "." + string(p)
}

// ParseType takes a full Keptn event type apart. It reports false for a type
// outside Keptn's vocabulary: no sh.keptn.event. prefix, an unknown phase,
// an empty or malformed part, a sequence in the status.changed or
// invalidated phase, or a phase of a known legacy type.
//
// Task and sequence events differ by their number of parts: after the prefix
// and the phase, one part is a task and two are a stage and a sequence.
// status.changed is the only phase with a dot, so it is matched first.
func ParseType(typ string) (Type, bool) {
	if task, ok := legacyTasks[typ]; ok {
		return Type{Task: task, Legacy: true}, true
	}
	rest, ok := strings.CutPrefix(typ, Prefix)
	if !ok {
		return Type{}, false
	}
	var p Phase
	if head, ok := strings.CutSuffix(rest, "."+string(PhaseStatusChanged)); ok {
		p, rest = PhaseStatusChanged, head
	} else {
		i := strings.LastIndexByte(rest, '.')
		if i < 0 {
			return Type{}, false
		}
		p, rest = Phase(rest[i+1:]), rest[:i]
		switch p {
		case PhaseTriggered, PhaseStarted, PhaseFinished, PhaseInvalidated:
		default:
			return Type{}, false
		}
	}
	parts := strings.Split(rest, ".")
	for _, part := range parts {
		if !isTypePart(part) {
			return Type{}, false
		}
	}
	switch len(parts) {
	case 1:
		if p == PhaseInvalidated && parts[0] != TaskEvaluation {
			return Type{}, false
		}
		return Type{Task: parts[0], Phase: p}, true
	case 2:
		if p == PhaseStatusChanged || p == PhaseInvalidated {
			return Type{}, false
		}
		return Type{Stage: parts[0], Task: parts[1], Phase: p}, true
	default:
		return Type{}, false
	}
}

// isTypePart accepts the names Keptn allows for tasks, stages and sequences:
// letters, digits, '-' and '_'. Dots would make the type ambiguous.
func isTypePart(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ExpandType turns the CLI's short form of a type ("evaluation.finished")
// into the full type ("sh.keptn.event.evaluation.finished"), as the keptn CLI
// did for `keptn get event`. A type that already starts with "sh.keptn." is
// returned unchanged, and so is "".
func ExpandType(short string) string {
	if short == "" || strings.HasPrefix(short, keptnPrefix) {
		return short
	}
	return Prefix + short
}
