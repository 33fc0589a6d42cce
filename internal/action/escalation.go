package action

import "fmt"

// ErrNotConfigured says that no escalation channel is configured for a
// project and stage. It wraps ErrInvalid: retrying cannot help. The
// remediation loop may log it and end the remediation escalated anyway.
var ErrNotConfigured = fmt.Errorf("%w: no escalation webhook is configured", ErrInvalid)

// Escalation is what an escalation notification tells a person: what is
// wrong where, what tend already tried, and where to look. The remediation
// loop builds it; the escalation executor (internal/action/webhook) sends
// it. It lives in the contract so that neither imports the other.
type Escalation struct {
	// Key is sent as the Idempotency-Key header; use one per remediation
	// (e.g. "<remediation id>/escalate") so a retried or replayed
	// notification can be deduped by the receiver.
	Key string
	// RemediationID is used for the link into tend's UI.
	RemediationID string
	Project       string
	Stage         string
	Service       string
	Problem       Problem
	// Reason says why the remediation escalated, e.g. "all 2 action(s)
	// were tried and the problem was not resolved".
	Reason string
	// Message is extra text, e.g. the escalate action's value.
	Message string
	// Actions are the actions tried, in order.
	Actions []EscalationAttempt
	// LastEvaluation is the most recent verification, if any ran.
	LastEvaluation *EscalationEvaluation
}

// EscalationAttempt is one action a remediation tried.
type EscalationAttempt struct {
	// Name is the remediation file's name for it; Action its type.
	Name   string
	Action string
	// Failed says the action itself failed (as opposed to running and
	// not fixing the problem).
	Failed bool
	// Message is the action's result or error message.
	Message string
	// Changes are what it changed (replicas 1 -> 2).
	Changes []Change
}

// EscalationEvaluation is the gist of an SLO evaluation: result and score.
type EscalationEvaluation struct {
	// Result is pass, warning or fail.
	Result string
	Score  float64
}
