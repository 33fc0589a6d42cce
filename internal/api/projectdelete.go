package api

import (
	"context"
	"errors"
	"time"

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
			if err := s.cancel.CancelProject(ctx, tx, name, reason, s.now()); err != nil {
				return err
			}
			return tx.DeleteProject(ctx, name)
		})
		if !errors.Is(err, store.ErrConflict) || attempt >= maxDeleteAttempts {
			return err
		}
	}
}

// RemediationCanceller ends a project's running remediations inside the
// transaction that deletes the project; *remediator.Canceller is the
// self-healing runner's, which app hands in.
type RemediationCanceller interface {
	CancelProject(ctx context.Context, tx store.Tx, project, reason string, now time.Time) error
}
