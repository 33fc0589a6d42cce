// Package intake turns what monitoring tools send about problems into
// problem notifications: Alertmanager webhook messages, Dynatrace problem
// notifications, and the Keptn problem events of 0.6 to 1.x
// (sh.keptn.event.problem.open, sh.keptn.events.problem and
// sh.keptn.event.<stage>.remediation.triggered). It owns the parsing and the
// identity of a problem instance (Notification.Key), so that repeated,
// retried and HA-duplicated deliveries can be recognised downstream.
//
// It does no I/O: the API hands it request bodies and parsed events, and
// has what it returns recorded (a Batch, through the recorder app hands
// in). Nothing is dropped: a notification that does not name a usable
// project, stage and service comes back with a reason in
// Notification.Unmatched. The recorder's answer is an Outcome per
// notification, which the API turns into its reply.
package intake

import (
	"errors"
	"fmt"
	"time"

	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/remediation"
)

// State is whether a notification opens or closes its problem.
type State string

// The states of a notification.
const (
	// StateOpen is a firing alert, or a problem notification with State
	// OPEN.
	StateOpen State = "open"
	// StateClosed is a resolved alert, or a problem notification with State
	// RESOLVED or CLOSED.
	StateClosed State = "closed"
)

// The sources a notification can come from.
const (
	SourceAlertmanager = "alertmanager"
	// SourceDynatrace covers Dynatrace's problem notifications and the
	// legacy problem events (sh.keptn.events.problem,
	// sh.keptn.event.problem.open), which Keptn's Dynatrace service sent.
	SourceDynatrace = "dynatrace"
	// SourceKeptn is a sh.keptn.event.<stage>.remediation.triggered event.
	SourceKeptn = "keptn"
)

// Notification is one report about one problem instance: an alert of an
// Alertmanager message, or one problem event.
type Notification struct {
	// Source is one of the Source constants.
	Source string
	// Origin names the sender as it named itself: the Alertmanager's
	// externalURL, or the event's source attribute.
	Origin string
	// Key identifies the problem instance across deliveries, so that
	// duplicates (retries, HA Alertmanager peers, repeated Dynatrace
	// notifications) and the closing notification find the problem that
	// the first one opened. It is never "", and it names the notification's
	// Project, so that notifications of one project never find another's
	// problem. Alertmanager: "alertmanager/<project>/<fingerprint>/<startsAt>"
	// with the fingerprint computed from the labels; an event with a
	// Dynatrace PID (or ProblemID): "dynatrace/<project>/<PID>"; any other
	// event: "keptn/<project>/<shkeptncontext>".
	Key string
	// State says whether the notification opens or closes the problem.
	State State
	// Project, Stage and Service say where the problem is. They are all set
	// and valid Keptn names unless Unmatched says why not.
	Project string
	Stage   string
	Service string
	// Title is the problem's title: the alert's summary annotation, else its
	// alertname; a Dynatrace ProblemTitle; a Keptn problem.problemTitle.
	Title string
	// RootCause is the alert's root-cause label, or a Keptn event's
	// problem.rootCause; remediation files match it before the title.
	RootCause string
	// Details is free text about the problem: the alert's description
	// annotation, or the Dynatrace ProblemDetails as JSON text.
	Details string
	// Entity is what the problem affects (Dynatrace's ImpactedEntity).
	Entity string
	// URL links to the problem at its source: the alert's generatorURL, or
	// the Dynatrace ProblemURL.
	URL string
	// StartsAt is when the problem began; EndsAt when it ended (zero while
	// it is open or when the source does not say).
	StartsAt time.Time
	EndsAt   time.Time
	// Labels are the alert's labels, or the event's data.labels.
	Labels map[string]string
	// Annotations are the alert's annotations (nil for events).
	Annotations map[string]string
	// KeptnContext is the Keptn context the problem's story is told in: the
	// event's shkeptncontext, or for an alert a UUID derived from its Key,
	// so every notification of one alert lands in one context.
	KeptnContext string
	// EventID is the id of the event the notification came from ("" for
	// alerts). For a remediation.triggered event it is the event that tend's
	// remediation.started and .finished answer.
	EventID string
	// Unmatched is "" when the notification can be acted on; otherwise it
	// says why not (a missing or invalid project, stage or service, or an
	// alert that could not be read). The API records such notifications
	// and lists them in its answer instead of dropping them.
	Unmatched string
}

// Matched reports whether the notification names a usable project, stage
// and service.
func (n *Notification) Matched() bool { return n.Unmatched == "" }

// Problem returns the problem the notification describes, as
// remediation.Decide takes it. Its ID is "" until the store assigns one;
// OpenedAt is the source's start time and ClosedAt its end time, either
// zero when the source does not say (Decide then uses the time of
// arrival).
func (n *Notification) Problem() remediation.Problem {
	p := remediation.Problem{
		Key: n.Key, Source: n.Source,
		Project: n.Project, Stage: n.Stage, Service: n.Service,
		Title: n.Title, RootCause: n.RootCause, Details: n.Details, URL: n.URL,
		Labels: n.Labels, State: remediation.ProblemStateOpen,
		KeptnContext: n.KeptnContext, EventID: n.EventID,
		OpenedAt: n.StartsAt,
	}
	if n.State == StateClosed {
		p.State, p.ClosedAt = remediation.ProblemStateClosed, n.EndsAt
	}
	return p
}

// ErrNotAlertmanager is matched (errors.Is) by every error ParseAlertmanager
// returns: the body is not an Alertmanager webhook message of version 4,
// which the API answers with 400.
var ErrNotAlertmanager = errors.New("not an Alertmanager v4 webhook message")

// ErrNotProblem is returned by FromEvent for an event whose type is not one
// of the problem types, so the caller can route the event elsewhere.
var ErrNotProblem = errors.New("not a problem event")

// ErrInvalid is matched by FromEvent's errors for a problem event whose data
// cannot be read as a problem (for example a State that is neither OPEN,
// RESOLVED nor CLOSED); the API answers such events with 400.
var ErrInvalid = errors.New("invalid problem event")

// checkLocation sets n.Unmatched when the project, stage or service is
// missing or not a Keptn name. what names where each value came from, for
// the message.
func checkLocation(n *Notification, what [3]string) {
	for i, v := range []string{n.Project, n.Stage, n.Service} {
		switch {
		case v == "":
			n.Unmatched = fmt.Sprintf("no %s: %s", entityNames[i], what[i])
			return
		case !event.IsName(v):
			n.Unmatched = fmt.Sprintf("%s %q is not a valid Keptn name (lower-case letters, digits and '-', starting with a letter); it came from %s", entityNames[i], v, what[i])
			return
		}
	}
}

var entityNames = [3]string{"project", "stage", "service"}
