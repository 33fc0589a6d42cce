package sequence

import (
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/spec"
)

// Sequences returns a stage's sequences as the engine runs them. A 0.2.x
// stage has those its file lists. A legacy stage (deployment_strategy,
// test_strategy, approval_strategy) has the delivery sequence Keptn derived
// from it: deployment, test (with a test_strategy), evaluation, approval
// (with an approval_strategy) and release, triggered in every stage after
// the first by the previous stage's delivery.finished. A blue/green stage
// (deployment_strategy blue_green_service) also has a rollback sequence of
// one rollback task, triggered by its own delivery.finished with result
// fail, so a failed delivery puts traffic back on the primary as Keptn 0.6
// did.
func Sequences(sy *spec.Shipyard, stage string) []spec.Sequence {
	st, ok := sy.Stage(stage)
	if !ok {
		return nil
	}
	if sy.Format != spec.ShipyardLegacy {
		return st.Sequences
	}
	seq := spec.Sequence{Name: event.SequenceDelivery}
	for i, s := range sy.Stages {
		if s.Name == stage && i > 0 {
			seq.TriggeredOn = []spec.Trigger{{Event: sy.Stages[i-1].Name + "." + event.SequenceDelivery + ".finished"}}
		}
	}
	strategy := st.DeploymentStrategy
	if strategy == "" {
		strategy = "direct"
	}
	seq.Tasks = append(seq.Tasks, spec.Task{Name: event.TaskDeployment, Properties: map[string]any{"deploymentstrategy": strategy}})
	if st.TestStrategy != "" {
		seq.Tasks = append(seq.Tasks, spec.Task{Name: event.TaskTest, Properties: map[string]any{"teststrategy": st.TestStrategy}})
	}
	seq.Tasks = append(seq.Tasks, spec.Task{Name: event.TaskEvaluation})
	if a := st.ApprovalStrategy; a != nil {
		seq.Tasks = append(seq.Tasks, spec.Task{Name: event.TaskApproval, Properties: map[string]any{"pass": orDefault(a.Pass), "warning": orDefault(a.Warning)}})
	}
	seq.Tasks = append(seq.Tasks, spec.Task{Name: event.TaskRelease})
	out := []spec.Sequence{seq}
	if strategy == "blue_green_service" || strategy == "blue_green" {
		out = append(out, spec.Sequence{
			Name:        event.TaskRollback,
			TriggeredOn: []spec.Trigger{{Event: stage + "." + event.SequenceDelivery + ".finished", Match: map[string]string{"result": event.ResultFail}}},
			Tasks:       []spec.Task{{Name: event.TaskRollback, Properties: map[string]any{"deploymentstrategy": strategy}}},
		})
	}
	return out
}

func orDefault(mode string) string {
	if mode == "" {
		return ApprovalAutomatic
	}
	return mode
}

// Lookup returns the named sequence of a stage, as Sequences derives it.
func Lookup(sy *spec.Shipyard, stage, name string) (spec.Sequence, bool) {
	for _, s := range Sequences(sy, stage) {
		if s.Name == name {
			return s, true
		}
	}
	return spec.Sequence{}, false
}

// FirstStage returns the shipyard's first stage, where a delivery without
// a stage (Keptn 0.6's new-artifact) starts.
func FirstStage(sy *spec.Shipyard) string {
	if len(sy.Stages) == 0 {
		return ""
	}
	return sy.Stages[0].Name
}

// Follower is a sequence that a sequence's finished event may start.
type Follower struct {
	Stage string            `json:"stage"`
	Name  string            `json:"name"`
	Match map[string]string `json:"match,omitempty"`
}

// followers returns every sequence of the shipyard with a triggeredOn entry
// for <stage>.<name>.finished that the engine runs (remediation and
// evaluation sequences are started by their own loops, never as a
// follow-up).
func followers(sy *spec.Shipyard, stage, name string) []Follower {
	want := stage + "." + name + ".finished"
	var out []Follower
	for _, st := range sy.Stages {
		for _, seq := range Sequences(sy, st.Name) {
			for _, t := range seq.TriggeredOn {
				if t.Event == want && Engine(seq.Name) {
					out = append(out, Follower{Stage: st.Name, Name: seq.Name, Match: t.Match})
				}
			}
		}
	}
	return out
}

// Engine reports whether the sequence engine runs sequences of this name.
// Remediation stays with the self-healing loop, and a stage's evaluation
// sequence with the evaluation package.
func Engine(name string) bool {
	return name != event.SequenceRemediation && name != event.SequenceEvaluation
}
