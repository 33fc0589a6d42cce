package intake

import (
	"errors"
	"strings"
)

// Batch is the notifications of one delivery, with who may deliver them:
// what the API hands the problem recorder (internal/remediator), which
// records them all or none.
type Batch struct {
	Notifications []Notification
	// Project, when set, is the only project the sender may deliver for
	// (an intake token's project); notifications for other projects are
	// recorded unmatched.
	Project string
	// Credential names the sender's credential in the unmatched reason
	// ("<credential> is for project P, not Q"); "" means "intake token".
	Credential string
	// LimitUnmatched, when set, allows the batch to create at most
	// MaxNewUnmatched new unmatched problems; a batch that would create
	// more is recorded not at all and fails with ErrTooManyUnmatched.
	// Repeats of unmatched problems already recorded, and matched
	// notifications, do not count.
	LimitUnmatched  bool
	MaxNewUnmatched int
}

// Verdict says what became of one notification.
type Verdict string

// The verdicts.
const (
	// Started: a new problem; a remediation was created for it.
	Started Verdict = "started"
	// Joined: a new problem of a service already being remediated; it
	// joined that remediation.
	Joined Verdict = "joined"
	// Recorded: a new problem, recorded, with no remediation: the stage
	// does not have self-healing enabled.
	Recorded Verdict = "recorded"
	// Closed: the problem closed.
	Closed Verdict = "closed"
	// RecordedClosed: a closing notification of a problem tend never saw
	// open; recorded closed.
	RecordedClosed Verdict = "recorded-closed"
	// Duplicate: a repeated notification (retry, HA peer, re-notification)
	// of a problem already recorded in that state; nothing changed.
	Duplicate Verdict = "duplicate"
	// Unmatched: the notification names no usable project, stage or
	// service (or one an intake token may not deliver for); recorded as an
	// unmatched problem, nothing runs.
	Unmatched Verdict = "unmatched"
)

// ReasonNotEnabled is the reason of a Recorded problem.
const ReasonNotEnabled = "remediation not enabled in stage"

// Outcome is the result for one notification, in the batch's order.
type Outcome struct {
	// Key is the notification's key.
	Key     string
	Verdict Verdict
	// ProblemID is the stored problem ("" only when recording failed).
	ProblemID string
	// RemediationID is the remediation acting on the problem, if any.
	RemediationID string
	// Reason explains the verdict (for Unmatched: what was wrong).
	Reason string
	// Created reports whether recording the notification stored a new
	// problem, rather than finding the one of an earlier delivery.
	Created bool
}

// ErrBusy is matched by a recorder's error when the batch kept losing races
// with concurrent writes. It is transient, like an overloaded database: the
// API answers 503 and the sender retries.
var ErrBusy = errors.New("problem intake busy: concurrent writes kept conflicting")

// ErrTooManyUnmatched is matched by a recorder's error when a batch would
// create more new unmatched problems than Batch.MaxNewUnmatched allows;
// nothing of the batch was recorded.
var ErrTooManyUnmatched = errors.New("too many new unmatched problems")

// KeyFingerprint returns the alert fingerprint of a notification key
// ("alertmanager/<project>/<fingerprint>/<startsAt>"), or the key itself
// for other sources: what the Alertmanager answer lists. The fingerprint
// is the segment before the last: neither it nor the start time holds a
// slash, while a project name that is not a valid one might.
func KeyFingerprint(key string) string {
	rest, ok := strings.CutPrefix(key, "alertmanager/")
	if !ok {
		return key
	}
	i := strings.LastIndexByte(rest, '/')
	if i < 0 {
		return key
	}
	rest = rest[:i]
	return rest[strings.LastIndexByte(rest, '/')+1:]
}
