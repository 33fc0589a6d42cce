package remediator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tendhq/tend/internal/remediation"
	"github.com/tendhq/tend/internal/store"
	"github.com/tendhq/tend/internal/worker"
)

// WatchdogJobKind is the kind of the watchdog's job: one uniquely keyed job
// on the outbox that reschedules itself and never finishes, so exactly one
// replica runs it at a time (as the retention job does).
const WatchdogJobKind = "remediation.watchdog"

// watchdogKey names the one watchdog job of a database.
const watchdogKey = "remediation.watchdog"

// DefaultWatchdogInterval is how often the watchdog looks.
const DefaultWatchdogInterval = time.Minute

// ScheduleWatchdog enqueues the watchdog's job, due at once; every later
// call, by any replica or start, is a no-op (its unique key).
func ScheduleWatchdog(ctx context.Context, st interface {
	EnqueueJobs(ctx context.Context, jobs ...store.JobSpec) ([]int64, error)
}) error {
	_, err := st.EnqueueJobs(ctx, store.JobSpec{Kind: WatchdogJobKind, UniqueKey: watchdogKey})
	return err
}

// Watchdog returns the watchdog job's handler: it runs Sweep, then again
// after interval (0 means DefaultWatchdogInterval), also after an error, so
// the job can never end up failed.
func (l *Loop) Watchdog(interval time.Duration) worker.Handler {
	if interval <= 0 {
		interval = DefaultWatchdogInterval
	}
	return func(ctx context.Context, job store.Job) worker.Result {
		if _, err := l.Sweep(ctx); err != nil && ctx.Err() == nil {
			l.log.WarnContext(ctx, "remediation_watchdog_failed", "job_id", job.ID, "err", err)
		}
		return worker.RescheduleAfter(interval, nil)
	}
}

// Sweep escalates every running remediation that has no work behind it:
// not paused, and with no pending or running job of its own (the loop's
// steps, its settling timer, the wait for an external executor's answer
// up to its deadline and the intake's and the API's jobs all have unique
// keys under remediation.JobKeyPrefix). Such a remediation would stay
// running for ever, and new problems of its service would join it while
// nothing acts; typically a step's job used up its attempts (a crash loop,
// a bug). It escalates with the failed job and its last error as the
// reason (Halted), emitting the usual events and the escalation. It
// returns the ids it escalated.
func (l *Loop) Sweep(ctx context.Context) ([]string, error) {
	var out []string
	f := store.RemediationFilter{RunningOnly: true, PageSize: 100}
	for {
		pg, err := l.st.ListRemediations(ctx, f)
		if err != nil {
			return out, fmt.Errorf("watchdog: list running remediations: %w", err)
		}
		for _, rec := range pg.Remediations {
			escalated, err := l.watch(ctx, rec)
			if err != nil {
				return out, err
			}
			if escalated {
				out = append(out, rec.ID)
			}
		}
		if pg.NextPageKey == "" {
			return out, nil
		}
		f.PageKey = pg.NextPageKey
	}
}

// watch escalates rec when nothing works on it.
func (l *Loop) watch(ctx context.Context, rec store.RemediationRecord) (bool, error) {
	rem, err := decodeRemediation(rec)
	if err != nil || rem.State.Terminal() || rem.State == remediation.StatePaused {
		// Paused waits for a person by design; unreadable is logged by
		// the loop.
		return false, nil
	}
	prefix := remediation.JobKeyPrefix(rem.ID)
	active, err := l.st.ListJobs(ctx, store.JobFilter{KeyPrefix: prefix, States: []store.JobState{store.JobPending, store.JobRunning}, Limit: 1})
	if err != nil {
		return false, fmt.Errorf("watchdog: jobs of remediation %s: %w", rem.ID, err)
	}
	if len(active) > 0 {
		return false, nil
	}
	failed, err := l.st.ListJobs(ctx, store.JobFilter{KeyPrefix: prefix, States: []store.JobState{store.JobFailed}, Limit: 1})
	if err != nil {
		return false, fmt.Errorf("watchdog: failed jobs of remediation %s: %w", rem.ID, err)
	}
	reason := fmt.Sprintf("no step of it was pending or running (it was %s since %s)", rem.State, rec.UpdatedAt.UTC().Format(time.RFC3339))
	if len(failed) > 0 {
		j := failed[0]
		var p remediation.Payload
		_ = json.Unmarshal(j.Payload, &p)
		reason = fmt.Sprintf("its %s step (job %d) failed after %d attempt(s) and nothing else was pending; last error: %s",
			stepName(p), j.ID, j.Attempt, j.LastError)
	}
	reason = "stuck while " + string(rem.State) + ": " + reason
	log := l.log.With("remediation_id", rem.ID, "step", "watchdog")
	s := &step{l: l, p: remediation.Payload{RemediationID: rem.ID}, rec: rec, rem: rem, log: log}
	commit, err := s.move(ctx, remediation.Halted{Reason: reason})
	if err != nil || commit == nil {
		return false, err
	}
	err = l.st.WithTx(ctx, func(tx store.Tx) error { return commit(ctx, tx) })
	if errors.Is(err, store.ErrConflict) {
		// It moved since it was read: something works on it after all.
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("watchdog: escalate remediation %s: %w", rem.ID, err)
	}
	log.WarnContext(ctx, "remediation_watchdog_escalated", "reason", reason)
	return true, nil
}
