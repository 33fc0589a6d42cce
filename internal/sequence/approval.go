package sequence

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tendhq/tend/internal/event"
)

// ErrNotApproval means an event given as the approval to answer is not an
// approval.triggered event.
var ErrNotApproval = errors.New("not an approval.triggered event")

// ApprovalAnswer builds the approval.finished that answers a waiting
// approval.triggered event: result pass (approve) or fail (decline), status
// succeeded, the triggered event's id as triggeredid and its project,
// stage, service and labels. tend approve, tend decline and the web UI's
// Approve and Decline buttons all send this event; source names who sent
// it and must not be Source, whose events the engine ignores as its own.
func ApprovalAnswer(trig *event.Event, approve bool, source string) (*event.Event, error) {
	if trig.Type != event.TaskType(event.TaskApproval, event.PhaseTriggered) {
		return nil, fmt.Errorf("%w: %s", ErrNotApproval, trig.Type)
	}
	if source == Source {
		return nil, fmt.Errorf("approval answer: source %q is the engine's own", source)
	}
	var d struct {
		Project string            `json:"project"`
		Stage   string            `json:"stage"`
		Service string            `json:"service"`
		Labels  map[string]string `json:"labels"`
	}
	if len(trig.Data) > 0 {
		if err := json.Unmarshal(trig.Data, &d); err != nil {
			return nil, fmt.Errorf("approval answer: data of %s: %w", trig.ID, err)
		}
	}
	result := event.ResultPass
	if !approve {
		result = event.ResultFail
	}
	data := map[string]any{"project": d.Project, "stage": d.Stage, "service": d.Service, "result": result, "status": event.StatusSucceeded}
	if len(d.Labels) > 0 {
		data["labels"] = d.Labels
	}
	ev, err := event.Builder{Source: source}.New(event.TaskType(event.TaskApproval, event.PhaseFinished), trig.KeptnContext, trig.ID, data)
	if err != nil {
		return nil, fmt.Errorf("approval answer: %w", err)
	}
	return ev, nil
}
