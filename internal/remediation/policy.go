package remediation

import (
	"fmt"
	"time"

	"github.com/tendhq/tend/internal/action"
	"github.com/tendhq/tend/internal/spec"
)

// DefaultSettling is Keptn's settling time between an action and its
// evaluation, used when the shipyard names none.
const DefaultSettling = 10 * time.Minute

// SettlingTime returns the settling time for a stage: the triggeredAfter of
// the evaluation task in its remediation sequence, else def, else
// DefaultSettling.
func SettlingTime(stage *spec.Stage, def time.Duration) time.Duration {
	if stage != nil {
		if d, ok := stage.EvaluationDelay(); ok {
			return d
		}
	}
	if def > 0 {
		return def
	}
	return DefaultSettling
}

// Actions returns the actions a remediation file prescribes for a problem,
// in order, as requests without key, location or problem (New fills them
// in), and the problemType (or legacy name) of the entry that matched.
//
// ok is false when no entry matches and there is no default entry; an
// entry may also match with no actions. Either way the remediation is
// escalated at once when it opens: the problem is real, and no action is
// known to help, so a human must look. A nil file (the service has no
// remediation.yaml) matches nothing.
func Actions(rem *spec.Remediation, rootCause, title string) (actions []action.Request, matched string, ok bool) {
	entry, ok := rem.Match(rootCause, title)
	if !ok {
		return nil, "", false
	}
	for _, a := range entry.Actions {
		actions = append(actions, action.Request{Action: a.Action, Name: a.Name, Description: a.Description, Value: a.Value})
	}
	return actions, entry.ProblemType, true
}

// Limits are the safety limits of remediation for one project, stage or
// service. A zero field means no limit; DefaultLimits gives the safe
// defaults that configuration starts from.
type Limits struct {
	// MaxReplicas caps what a scaling action may scale to.
	MaxReplicas int
	// Cooldown is the least time between the end of one remediation of a
	// service and the start of the next.
	Cooldown time.Duration
	// MaxActionsPerHour caps the actions run for one service in any hour.
	MaxActionsPerHour int
	// DryRun records what would be done without doing it.
	DryRun bool
}

// DefaultLimits returns the safe defaults: at most 10 replicas, 15 minutes
// of cooldown, 6 actions per hour per service, dry run off.
func DefaultLimits() Limits {
	return Limits{MaxReplicas: 10, Cooldown: 15 * time.Minute, MaxActionsPerHour: 6}
}

// History is what the limits need to know of a service's past.
type History struct {
	// LastFinished is when the service's previous remediation ended; zero
	// when there was none.
	LastFinished time.Time
	// Actions are the times actions were run for the service (their
	// plans applied or about to be), in any order; older than an hour may
	// be left out.
	Actions []time.Time
}

// MayStart decides whether a new remediation of the service may start at
// now; when not, reason says why and when it could.
func (l Limits) MayStart(h History, now time.Time) (ok bool, reason string) {
	if l.Cooldown > 0 && !h.LastFinished.IsZero() {
		if next := h.LastFinished.Add(l.Cooldown); now.Before(next) {
			return false, fmt.Sprintf("cooldown of %s: the previous remediation of the service ended at %s; the next may start at %s",
				l.Cooldown, h.LastFinished.UTC().Format(time.RFC3339), next.UTC().Format(time.RFC3339))
		}
	}
	return true, ""
}

// MayAct decides whether one more action may run for the service at now:
// fewer than MaxActionsPerHour ran in the hour before.
func (l Limits) MayAct(h History, now time.Time) (ok bool, reason string) {
	if l.MaxActionsPerHour <= 0 {
		return true, ""
	}
	since := now.Add(-time.Hour)
	n := 0
	for _, t := range h.Actions {
		if t.After(since) && !t.After(now) {
			n++
		}
	}
	if n >= l.MaxActionsPerHour {
		return false, fmt.Sprintf("at most %d actions per hour per service: %d ran since %s", l.MaxActionsPerHour, n, since.UTC().Format(time.RFC3339))
	}
	return true, ""
}

// MayScaleTo decides whether a scaling action may set target replicas.
func (l Limits) MayScaleTo(target int) (ok bool, reason string) {
	if l.MaxReplicas > 0 && target > l.MaxReplicas {
		return false, fmt.Sprintf("scaling to %d replicas exceeds the limit of %d", target, l.MaxReplicas)
	}
	return true, ""
}

// Admit returns the first event for a new, waiting remediation: Paused when
// remediation is paused for the service (the problem is recorded, nothing
// is done until Resumed), LimitReached when the limits refuse a start, else
// ProblemOpened.
func Admit(l Limits, h History, paused bool, now time.Time) Event {
	if paused {
		return Paused{Reason: "remediation is paused for the service"}
	}
	if ok, why := l.MayStart(h, now); !ok {
		return LimitReached{Reason: why}
	}
	return ProblemOpened{}
}

// Verdict is what to do with an incoming problem notification.
type Verdict string

// The verdicts of Decide.
const (
	// Ignore: a duplicate (same key, already known in that state), a
	// retry, an HA peer's copy, or a late copy of an opening notification
	// for a problem already closed.
	Ignore Verdict = "ignore"
	// Start: record the new problem and create a remediation for it.
	Start Verdict = "start"
	// Join: record the new problem and apply ProblemJoined to the
	// service's running remediation.
	Join Verdict = "join"
	// Close: close the known problem, and apply ProblemClosed to its
	// remediation when that is still running.
	Close Verdict = "close"
	// RecordClosed: a closing notification for a problem tend never saw
	// open (it fired while tend was down); record it closed, nothing runs.
	RecordClosed Verdict = "record-closed"
)

// Decision is Decide's answer.
type Decision struct {
	Verdict Verdict
	// Problem is the problem to record: the incoming one (Start, Join,
	// RecordClosed) or the known one, now closed (Close).
	Problem Problem
	// RemediationID is the running remediation to apply an event to (Join,
	// and Close when the problem's remediation runs); "" otherwise.
	RemediationID string
	// Reason explains the verdict, for logs and the API's answer.
	Reason string
}

// Decide deduplicates one notification, given as the problem it describes
// (in, with Key and State set), the problem already recorded under the same
// key (known, nil when none) and the service's running remediation
// (running, nil when none; a terminal one counts as none; only its ID and
// State are read, so a caller may pass just those). It is the whole
// deduplication rule; the caller must call it and record its outcome in one
// transaction per service, so that concurrent duplicates see each other.
func Decide(in Problem, known *Problem, running *Remediation, now time.Time) Decision {
	if running != nil && running.State.Terminal() {
		running = nil
	}
	if in.State == ProblemStateClosed {
		switch {
		case known == nil:
			in.ClosedAt = orNow(in.ClosedAt, now)
			return Decision{Verdict: RecordClosed, Problem: in, Reason: "closing notification for a problem never seen open"}
		case known.State == ProblemStateClosed:
			return Decision{Verdict: Ignore, Problem: *known, Reason: "duplicate closing notification"}
		}
		p := *known
		p.State, p.ClosedAt = ProblemStateClosed, orNow(in.ClosedAt, now)
		d := Decision{Verdict: Close, Problem: p, Reason: "the problem closed"}
		// A problem names the remediation it is one of the problems of
		// (Start and Join set it), so the running remediation's list,
		// which may not include recent joins yet (PendingJoin), is not
		// read.
		if running != nil && p.RemediationID == running.ID {
			d.RemediationID = running.ID
		}
		return d
	}
	if known != nil {
		reason := "duplicate notification of an open problem"
		if known.State == ProblemStateClosed {
			reason = "late notification of a problem already closed"
		}
		return Decision{Verdict: Ignore, Problem: *known, Reason: reason}
	}
	in.State, in.OpenedAt = ProblemStateOpen, orNow(in.OpenedAt, now)
	if running != nil {
		in.RemediationID = running.ID
		return Decision{Verdict: Join, Problem: in, RemediationID: running.ID, Reason: "joins the running remediation " + running.ID}
	}
	return Decision{Verdict: Start, Problem: in, Reason: "new problem"}
}

func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t
}
