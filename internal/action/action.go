// Package action declares what every remediation action executor shares: the
// request a remediation step makes, the plan an executor derives from the
// current state before acting, and the result it reports; and the escalation
// message that the remediation loop hands to the escalation executor.
//
// Executors are two-phase so that a replay after a crash never doubles an
// effect. Prepare reads the target's current state and turns a relative
// request ("scale +1") into an absolute plan ("replicas 1 -> 2") without
// changing anything; the remediation records the plan durably; Apply then
// sets exactly what the plan says, so applying it twice has the effect of
// applying it once. The subpackages (kubernetes, unleash, webhook) implement
// it against real systems.
package action

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// Request is one action of a remediation, as remediation.yaml names it,
// with the problem it answers.
type Request struct {
	// Key identifies this action execution (remediation id and action
	// index); executors pass it on as an idempotency key where the target
	// supports one.
	Key     string `json:"key"`
	Project string `json:"project"`
	Stage   string `json:"stage"`
	Service string `json:"service"`
	// Action is the action's type, e.g. "scaling" or "toggle-feature".
	Action string `json:"action"`
	// Name and Description are the remediation file's labels for it.
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	// Value is the action's value as decoded from YAML: a string, a number,
	// a map or nil.
	Value any `json:"value,omitempty"`
	// Problem describes what is being remediated, for templates.
	Problem Problem `json:"problem"`
}

// Problem is what an executor may know of the problem being remediated.
type Problem struct {
	ID        string            `json:"id"`
	Title     string            `json:"title"`
	RootCause string            `json:"rootCause,omitempty"`
	State     string            `json:"state"`
	URL       string            `json:"url,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
}

// Plan is an executor's absolute intent, derived from the current state by
// Prepare and stored before Apply runs. Data is the executor's own JSON.
type Plan struct {
	Action string `json:"action"`
	// Summary says in words what Apply will do, e.g. "scale deployment
	// sockshop-production/carts-primary from 1 to 2 replicas".
	Summary string `json:"summary"`
	// Changes lists the state changes the plan makes, for the event log and
	// the UI ("replicas 1 -> 2", "EnablePromotion on -> off").
	Changes []Change        `json:"changes,omitempty"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// Change is one state change of a plan.
type Change struct {
	// Target names what changes, e.g. "deployment/carts-primary replicas"
	// or "feature EnablePromotion (production)".
	Target string `json:"target"`
	From   string `json:"from"`
	To     string `json:"to"`
}

// Result is the outcome of Apply.
type Result struct {
	// Message says what happened, for the action.finished event.
	Message string `json:"message"`
	// Changes are the changes as applied (usually the plan's).
	Changes []Change `json:"changes,omitempty"`
}

// Executor runs one kind of action.
type Executor interface {
	// Prepare reads the current state and returns the absolute plan. It
	// changes nothing. An error wrapping ErrInvalid means the request can
	// never succeed (a bad value, a limit reached) and is not retried.
	Prepare(ctx context.Context, req Request) (Plan, error)
	// Apply makes the target match the plan. Applying the same plan again
	// must have no further effect. When the target holds neither the plan's
	// From nor its To, someone changed it since the plan was recorded:
	// Apply changes nothing and returns a *ConflictError. An error wrapping
	// ErrInvalid (a *ConflictError does) is final; other errors may be
	// retried.
	Apply(ctx context.Context, req Request, plan Plan) (Result, error)
}

// ErrInvalid marks errors that retrying cannot fix.
var ErrInvalid = errors.New("invalid action")

// ErrConflict marks an Apply that found its target changed since the plan
// was recorded: the target holds neither the plan's From nor its To, so a
// person or another system acted on it meanwhile. Apply then changes
// nothing, since setting the planned value would silently overwrite that
// change.
//
// A runner must treat it as final and as a reason to escalate: not retry
// the action, not go on to the next action of the remediation (it would
// act on a target whose state nobody planned for), but record the
// conflict (the error's text names the target, the plan and what was
// found) and escalate the remediation with it. Errors wrapping ErrConflict
// also wrap ErrInvalid, so a runner that checks only ErrInvalid at least
// never retries them.
var ErrConflict = errors.New("target changed since the plan")

// ConflictError is the error of an Apply that found its target changed
// since the plan (see ErrConflict). errors.Is matches it with ErrConflict
// and with ErrInvalid.
type ConflictError struct {
	// Change is the planned change.
	Change Change
	// Found is what the target holds now.
	Found string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s: %s is %s, but the plan was %s -> %s; it was changed meanwhile and is left as it is",
		ErrConflict, e.Change.Target, e.Found, e.Change.From, e.Change.To)
}

// Is makes errors.Is match ErrConflict and ErrInvalid.
func (e *ConflictError) Is(target error) bool {
	return target == ErrConflict || target == ErrInvalid
}
