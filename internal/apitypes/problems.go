package apitypes

import "time"

// ScopeIntake is the scope of an intake token: an ingest-only credential of
// one project that may only deliver alerts and problem events for it
// (Alertmanager's http_config.authorization sends it as a Bearer token).
const ScopeIntake Scope = "intake"

// AlertmanagerAnswer answers POST /api/v1/integrations/alertmanager. Every
// alert of the message is counted in exactly one of Accepted, Duplicates and
// Unmatched.
type AlertmanagerAnswer struct {
	// Accepted counts alerts that changed something: a new problem (started
	// or joined a remediation, or recorded), or a problem that closed.
	Accepted int `json:"accepted"`
	// Duplicates counts repeated notifications (retries, HA peers,
	// re-notifications) of problems already recorded in that state.
	Duplicates int `json:"duplicates"`
	// Unmatched lists alerts that name no usable project, stage or service
	// (or another project than the intake token's); they are recorded as
	// unmatched problems, never dropped.
	Unmatched []UnmatchedAlert `json:"unmatched"`
	// Problems are the ids of the problems the matched alerts belong to,
	// each once, in message order.
	Problems []string `json:"problems"`
	// Results says, per alert in message order, what became of it.
	Results []IntakeResult `json:"results"`
}

// UnmatchedAlert is an alert that could not be placed.
type UnmatchedAlert struct {
	Fingerprint string `json:"fingerprint"`
	Reason      string `json:"reason"`
	// ProblemID is the unmatched problem record it is kept as.
	ProblemID string `json:"problemId,omitempty"`
}

// IntakeResult is what became of one alert.
type IntakeResult struct {
	Fingerprint string `json:"fingerprint"`
	// Status is started, joined, recorded, closed, recorded-closed,
	// duplicate or unmatched.
	Status        string `json:"status"`
	ProblemID     string `json:"problemId,omitempty"`
	RemediationID string `json:"remediationId,omitempty"`
	// Reason explains the status, e.g. "remediation not enabled in stage".
	Reason string `json:"reason,omitempty"`
}

// Problem is one problem instance: every notification with the same key
// (Alertmanager fingerprint and start time, Dynatrace PID, Keptn context)
// is the same problem.
type Problem struct {
	ID  string `json:"id"`
	Key string `json:"key"`
	// Source is alertmanager, dynatrace or keptn.
	Source  string `json:"source"`
	Project string `json:"project"`
	Stage   string `json:"stage"`
	Service string `json:"service"`
	// State is open, closed or unmatched.
	State     string `json:"state"`
	Title     string `json:"title"`
	RootCause string `json:"rootCause,omitempty"`
	Details   string `json:"details,omitempty"`
	URL       string `json:"url,omitempty"`
	// ImpactedEntity is Dynatrace's ImpactedEntity.
	ImpactedEntity string            `json:"impactedEntity,omitempty"`
	Labels         map[string]string `json:"labels,omitempty"`
	Annotations    map[string]string `json:"annotations,omitempty"`
	KeptnContext   string            `json:"keptnContext"`
	// RemediationID and RemediationState name the remediation acting on
	// the problem; empty when none does.
	RemediationID    string `json:"remediationId,omitempty"`
	RemediationState string `json:"remediationState,omitempty"`
	// Reason says why no remediation acts on it, or why it is unmatched.
	Reason    string     `json:"reason,omitempty"`
	OpenedAt  time.Time  `json:"openedAt"`
	ClosedAt  *time.Time `json:"closedAt,omitempty"`
	CreatedAt time.Time  `json:"createdAt"`
	UpdatedAt time.Time  `json:"updatedAt"`
}

// ProblemList answers GET /api/v1/problem, newest first.
type ProblemList struct {
	Problems    []Problem `json:"problems"`
	NextPageKey string    `json:"nextPageKey,omitempty"`
	PageSize    int       `json:"pageSize"`
}

// Remediation is one run of the remediation loop for one service, as
// stored.
type Remediation struct {
	ID           string `json:"id"`
	Project      string `json:"project"`
	Stage        string `json:"stage"`
	Service      string `json:"service"`
	KeptnContext string `json:"keptnContext"`
	// State is waiting, preparing, applying, settling, verifying, paused,
	// resolved, escalated or stopped.
	State string `json:"state"`
	// Running is false once the remediation has ended.
	Running   bool   `json:"running"`
	Title     string `json:"title"`
	RootCause string `json:"rootCause,omitempty"`
	// Problems are the problems it acts on: the first and those that
	// joined.
	Problems []RemediationProblem `json:"problems"`
	// Actions are the remediation file's actions for the problem, in
	// order, with what became of each so far.
	Actions     []RemediationAction     `json:"actions"`
	Evaluations []RemediationEvaluation `json:"evaluations"`
	// Reason says why it ended or is paused.
	Reason     string     `json:"reason,omitempty"`
	Version    int64      `json:"version"`
	CreatedAt  time.Time  `json:"createdAt"`
	UpdatedAt  time.Time  `json:"updatedAt"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
}

// RemediationProblem is a problem of a remediation.
type RemediationProblem struct {
	ID     string `json:"id"`
	Closed bool   `json:"closed"`
}

// RemediationAction is one action of a remediation.
type RemediationAction struct {
	Index  int    `json:"index"`
	Name   string `json:"name,omitempty"`
	Action string `json:"action"`
	Value  any    `json:"value,omitempty"`
	// State is empty until the action is reached, then intended, started,
	// finished, failed or dry-run.
	State string `json:"state,omitempty"`
	// Plan says what the executor will do or did.
	Plan  string `json:"plan,omitempty"`
	Error string `json:"error,omitempty"`
	// Changes are the state changes the action made (or, planned or in a
	// dry run, would make), e.g. replicas 1 -> 2.
	Changes []ActionChange `json:"changes,omitempty"`
	// Result is the executor's message once the action finished.
	Result string `json:"result,omitempty"`
	// External marks an action carried out by an external executor.
	External   bool       `json:"external,omitempty"`
	StartedAt  *time.Time `json:"startedAt,omitempty"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
}

// ActionChange is one state change of an action: what, from, to.
type ActionChange struct {
	Target string `json:"target"`
	From   string `json:"from"`
	To     string `json:"to"`
}

// RemediationEvaluation is the evaluation that verified one action.
type RemediationEvaluation struct {
	Action int       `json:"action"`
	State  string    `json:"state"`
	Result string    `json:"result,omitempty"`
	Score  float64   `json:"score"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
}

// RemediationList answers GET /api/v1/remediation, newest first.
type RemediationList struct {
	Remediations []Remediation `json:"remediations"`
	NextPageKey  string        `json:"nextPageKey,omitempty"`
	PageSize     int           `json:"pageSize"`
}
