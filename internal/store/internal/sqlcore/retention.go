package sqlcore

import (
	"context"
	"fmt"
	"time"

	"github.com/tendhq/tend/internal/store"
)

// Prune implements store.Retention. Every DELETE selects its rows with a
// limited subquery, which both databases accept (SQLite has no DELETE ...
// LIMIT without a compile option).
func (c *Core) Prune(ctx context.Context, p store.Prune) (store.Pruned, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = store.DefaultPruneLimit
	}
	var out store.Pruned
	err := c.write(ctx, func(ctx context.Context, w *txw) error {
		out = store.Pruned{}
		now, err := w.dbTime(ctx)
		if err != nil {
			return fmt.Errorf("prune: %w", err)
		}
		before := func(age time.Duration) int64 { return now - age.Microseconds() }
		del := func(n *int, what string, age time.Duration, query string) error {
			if age <= 0 {
				return nil
			}
			k, err := w.q.Exec(ctx, query, before(age), limit)
			if err != nil {
				return fmt.Errorf("prune %s: %w", what, err)
			}
			*n = int(k)
			return nil
		}
		if err := del(&out.Events, "events", p.Events, `DELETE FROM events WHERE seq IN (
			SELECT e.seq FROM events e WHERE e.event_time < ?`+keptContext("e")+`
			ORDER BY e.seq LIMIT ?)`); err != nil {
			return err
		}
		if err := del(&out.Logs, "integration logs", p.Events, `DELETE FROM integration_logs WHERE seq IN (
			SELECT l.seq FROM integration_logs l WHERE l.logged_at < ?`+keptContext("l")+`
			ORDER BY l.seq LIMIT ?)`); err != nil {
			return err
		}
		if err := del(&out.Sequences, "sequences", p.Sequences, `DELETE FROM sequences WHERE seq IN (
			SELECT seq FROM sequences WHERE state IN ('finished', 'aborted', 'timedOut') AND active = 0 AND updated_at < ?
			ORDER BY seq LIMIT ?)`); err != nil {
			return err
		}
		if err := del(&out.Jobs, "jobs", p.Jobs, `DELETE FROM jobs WHERE id IN (
			SELECT id FROM jobs WHERE state IN ('done', 'failed') AND updated_at < ? ORDER BY id LIMIT ?)`); err != nil {
			return err
		}
		if err := del(&out.Problems, "problems", p.Problems, `DELETE FROM problems WHERE seq IN (
			SELECT seq FROM problems WHERE state = 'closed' AND closed_at <> 0 AND closed_at < ? ORDER BY seq LIMIT ?)`); err != nil {
			return err
		}
		return del(&out.Remediations, "remediations", p.Problems, `DELETE FROM remediations WHERE seq IN (
			SELECT r.seq FROM remediations r WHERE r.running = 0 AND r.updated_at < ?
				AND NOT EXISTS (SELECT 1 FROM problems p WHERE p.remediation_id = r.id)
			ORDER BY r.seq LIMIT ?)`)
	})
	if err != nil {
		return store.Pruned{}, err
	}
	return out, nil
}

// keptContext is the condition that keeps the rows (of the table aliased
// t, with a shkeptncontext column) of a Keptn context that is still in
// use: its problem is open, its remediation runs or one of its sequences
// has not ended.
func keptContext(t string) string {
	return `
				AND NOT EXISTS (SELECT 1 FROM problems p
					WHERE p.shkeptncontext = ` + t + `.shkeptncontext AND p.shkeptncontext <> '' AND p.state = 'open')
				AND NOT EXISTS (SELECT 1 FROM remediations r
					WHERE r.shkeptncontext = ` + t + `.shkeptncontext AND r.shkeptncontext <> '' AND r.running = 1)
				AND NOT EXISTS (SELECT 1 FROM sequences s
					WHERE s.shkeptncontext = ` + t + `.shkeptncontext AND s.shkeptncontext <> ''
						AND s.state NOT IN ('finished', 'aborted', 'timedOut'))`
}
