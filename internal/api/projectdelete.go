package api

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/eventlog"
	"github.com/tendhq/tend/internal/remediation"
	"github.com/tendhq/tend/internal/store"
)

// maxDeleteAttempts bounds the retries of a project deletion whose
// transaction lost a compare-and-set to the remediation loop, which moved
// one of the project's remediations on meanwhile.
const maxDeleteAttempts = 16

// deleteProjectRecords ends the project's work and removes it, in one
// transaction: every running remediation is cancelled (state stopped,
// reason "cancelled: project P was deleted", its remediation.finished of
// status aborted, no escalation), its pending and running jobs are
// withdrawn, and the project with its services, settings and tokens is
// deleted. Problems, remediations and events stay as history of the
// deleted generation of the project (store.Project.UID): a project
// created again under the name starts empty. The problem intake takes
// the same lock, so a problem recorded concurrently either comes before
// (and its remediation is cancelled here) or finds no project.
func (s *Server) deleteProjectRecords(ctx context.Context, name string) error {
	reason := "project " + name + " was deleted"
	for attempt := 1; ; attempt++ {
		err := s.store.WithTx(ctx, func(tx store.Tx) error {
			running, err := tx.RunningRemediations(ctx, name)
			if err != nil {
				return err
			}
			now := s.now()
			for _, rec := range running {
				if err := cancelRemediation(ctx, tx, rec, reason, now); err != nil {
					return err
				}
			}
			return tx.DeleteProject(ctx, name)
		})
		if !errors.Is(err, store.ErrConflict) || attempt >= maxDeleteAttempts {
			return err
		}
	}
}

// cancelRemediation applies remediation.Cancelled to rec and records the
// outcome in tx: the new state (compare-and-set on rec's version), the
// events it emits, and the withdrawal of its jobs.
func cancelRemediation(ctx context.Context, tx store.Tx, rec store.RemediationRecord, reason string, now time.Time) error {
	rem, err := remediation.Decode(rec.ID, rec.Doc)
	if err != nil {
		return fmt.Errorf("cancel remediation %s: %w", rec.ID, err)
	}
	cmds, err := rem.Apply(remediation.Cancelled{Reason: reason}, now)
	if err != nil {
		return fmt.Errorf("cancel remediation %s: %w", rec.ID, err)
	}
	var evs []store.EventRecord
	for _, c := range cmds {
		e, ok := c.(remediation.Emit)
		if !ok {
			continue
		}
		id := e.ID
		b := event.Builder{Source: event.DefaultSource, Now: func() time.Time { return now }, NewID: func() string { return id }}
		ev, err := b.New(e.Type, rem.KeptnContext, e.TriggeredID, e.Data)
		if err != nil {
			return fmt.Errorf("cancel remediation %s: %w", rec.ID, err)
		}
		r, err := eventlog.Record(ev)
		if err != nil {
			return fmt.Errorf("cancel remediation %s: %w", rec.ID, err)
		}
		evs = append(evs, r)
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
