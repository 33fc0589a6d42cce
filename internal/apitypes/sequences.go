package apitypes

// KeptnSequenceStates answers GET /api/controlPlane/v1/sequence/{project}:
// the sequences of a project, one entry per Keptn context, newest first.
type KeptnSequenceStates struct {
	States      []KeptnSequenceState `json:"states"`
	NextPageKey string               `json:"nextPageKey,omitempty"`
	TotalCount  int                  `json:"totalCount"`
}

// KeptnSequenceState is one Keptn context's sequence across its stages.
type KeptnSequenceState struct {
	// Name is the sequence that opened the context, e.g. "delivery".
	Name         string `json:"name"`
	Service      string `json:"service"`
	Project      string `json:"project"`
	KeptnContext string `json:"shkeptncontext"`
	// State is waiting, started, paused, finished, aborted or timedOut:
	// that of a stage still running, else that of the latest stage.
	State        string                    `json:"state"`
	Stages       []KeptnSequenceStateStage `json:"stages"`
	ProblemTitle string                    `json:"problemTitle,omitempty"`
	// Time is when the sequence was triggered (RFC 3339).
	Time string `json:"time"`
}

// KeptnSequenceStateStage is a sequence's run in one stage.
type KeptnSequenceStateStage struct {
	Name string `json:"name"`
	// Sequence is the name of the sequence that ran in the stage (tend's
	// addition: a context may pass from delivery to rollback).
	Sequence          string                   `json:"sequence,omitempty"`
	Image             string                   `json:"image,omitempty"`
	LatestEvent       *KeptnSequenceEvent      `json:"latestEvent,omitempty"`
	LatestEvaluation  *KeptnSequenceEvaluation `json:"latestEvaluation,omitempty"`
	LatestFailedEvent *KeptnSequenceEvent      `json:"latestFailedEvent,omitempty"`
	State             string                   `json:"state"`
	// Result and Status are the stage's aggregated outcome once it ended
	// (tend's addition).
	Result string `json:"result,omitempty"`
	Status string `json:"status,omitempty"`
	// CurrentTask names the task the stage runs or waits for, with the id
	// of its .triggered event (tend's addition).
	CurrentTask        string `json:"currentTask,omitempty"`
	CurrentTriggeredID string `json:"currentTriggeredId,omitempty"`
}

// KeptnSequenceEvent names an event of a sequence.
type KeptnSequenceEvent struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Time string `json:"time"`
}

// KeptnSequenceEvaluation is a stage's latest evaluation.
type KeptnSequenceEvaluation struct {
	Result string  `json:"result"`
	Score  float64 `json:"score"`
}

// KeptnSequenceControl is the body of POST
// /api/controlPlane/v1/sequence/{project}/{keptnContext}/control.
type KeptnSequenceControl struct {
	// State is pause, resume or abort.
	State string `json:"state"`
	// Stage limits the control to one stage; "" means every stage.
	Stage string `json:"stage,omitempty"`
}

// KeptnSequenceControlAnswer answers a control request: the sequences it
// was handed to (tend's addition; Keptn answered {}).
type KeptnSequenceControlAnswer struct {
	Sequences []string `json:"sequences,omitempty"`
}
