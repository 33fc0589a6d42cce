package worker

import (
	"context"
	"time"

	"github.com/tendhq/tend/internal/store"
)

// Handler runs one job of a kind. It is called with the claimed job and a
// context that is cancelled when the job's lease is lost (context.Cause
// then returns an error wrapping store.ErrLeaseLost) or when the runner
// shuts down and its drain timeout has passed (ErrShutdown).
//
// Execution is at least once: a job can run again after a crash, a lost
// lease or a failed commit, so a handler must be idempotent. See
// docs/durable-work.md for how to write one.
type Handler func(ctx context.Context, job store.Job) Result

// CommitFunc writes a step's results in the same transaction that records
// the job's outcome, so both become durable together or not at all. It runs
// on the store's writer while other writes wait, so it must only use tx and
// must not block, call out, or keep tx after it returns. An error (or a
// panic) rolls the whole transaction back; the job is then retried as if
// the handler had failed.
type CommitFunc func(ctx context.Context, tx store.Tx) error

type outcome int

const (
	outcomeDone outcome = iota
	outcomeRetry
	outcomeReschedule
)

// Result tells the runner what happens to a job after its handler returned.
// The zero Result means done with nothing else to record. Build one with
// Done, Retry, RescheduleAt or RescheduleAfter, and add a CommitFunc with
// WithCommit.
type Result struct {
	outcome outcome
	err     error
	runAt   time.Time
	delay   time.Duration
	payload []byte
	commit  CommitFunc
}

// Done completes the job.
func Done() Result { return Result{outcome: outcomeDone} }

// Retry records a failed attempt with err as the reason. The job runs again
// after store.RetryDelay(attempt), or becomes failed once its MaxAttempts
// are used up (job.Attempt >= job.MaxAttempts tells a handler that this was
// the last one). A nil err is recorded as an unexplained failure.
func Retry(err error) Result { return Result{outcome: outcomeRetry, err: err} }

// RescheduleAt releases the job to run again at t without counting an
// attempt: a durable timer, or a step that waits for an answer. A non-nil
// payload replaces the job's payload so the next run sees the step's
// progress; nil keeps the payload. The zero t means now.
func RescheduleAt(t time.Time, payload []byte) Result {
	return Result{outcome: outcomeReschedule, runAt: t, payload: payload}
}

// RescheduleAfter is RescheduleAt at d after the database's clock at the
// moment the outcome is recorded (store.Reschedule.After), so a replica
// whose own clock is off still sets the timer right.
func RescheduleAfter(d time.Duration, payload []byte) Result {
	return Result{outcome: outcomeReschedule, delay: d, payload: payload}
}

// WithCommit returns r with fn to run in the transaction that records r:
// for example, append the step's events and enqueue the next step's job,
// atomically with completing this one. If the lease was lost meanwhile the
// transaction rolls back and fn's writes are not kept.
func (r Result) WithCommit(fn CommitFunc) Result {
	r.commit = fn
	return r
}

// Err returns the reason of a Retry result, or nil for other results.
func (r Result) Err() error {
	if r.outcome != outcomeRetry {
		return nil
	}
	return r.err
}
