package remediator

import (
	"context"
	"fmt"
	"time"

	"github.com/tendhq/tend/internal/remediation"
	"github.com/tendhq/tend/internal/store"
)

// Canceller ends the running remediations of a project that is being
// deleted. The API calls it inside the deletion's transaction (through
// api.Options.Cancel), so the project, its remediations' new states, their
// events and the withdrawal of their jobs commit together.
type Canceller struct{}

// CancelProject applies remediation.Cancelled to every running remediation
// of project and records the outcome in tx: the new state (compare-and-set
// on the stored version; a lost race returns store.ErrConflict and the
// caller retries), the events it emits (remediation.finished with status
// aborted, no escalation) and the withdrawal of its pending and running
// jobs.
func (Canceller) CancelProject(ctx context.Context, tx store.Tx, project, reason string, now time.Time) error {
	running, err := tx.RunningRemediations(ctx, project)
	if err != nil {
		return err
	}
	for _, rec := range running {
		if err := cancelOne(ctx, tx, rec, reason, now); err != nil {
			return err
		}
	}
	return nil
}

func cancelOne(ctx context.Context, tx store.Tx, rec store.RemediationRecord, reason string, now time.Time) error {
	rem, err := remediation.Decode(rec.ID, rec.Doc)
	if err != nil {
		return fmt.Errorf("cancel remediation %s: %w", rec.ID, err)
	}
	cmds, err := rem.Apply(remediation.Cancelled{Reason: reason}, now)
	if err != nil {
		return fmt.Errorf("cancel remediation %s: %w", rec.ID, err)
	}
	evs, err := emitted(rem, cmds, now)
	if err != nil {
		return fmt.Errorf("cancel: %w", err)
	}
	upd := rec
	upd.State, upd.Running, upd.Doc = string(rem.State), !rem.State.Terminal(), rem.Encode()
	if _, err := tx.UpdateRemediation(ctx, upd); err != nil {
		return err
	}
	// The events are appended before the project row goes, so they are
	// filed under the generation they belong to.
	if _, err := tx.AppendEvents(ctx, evs...); err != nil {
		return fmt.Errorf("cancel remediation %s: append events: %w", rec.ID, err)
	}
	if _, err := tx.CancelJobs(ctx, remediation.JobKeyPrefix(rec.ID)); err != nil {
		return fmt.Errorf("cancel remediation %s: %w", rec.ID, err)
	}
	return nil
}
