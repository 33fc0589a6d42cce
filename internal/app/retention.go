package app

import (
	"context"
	"fmt"
	"time"

	"github.com/tendhq/tend/internal/retention"
	"github.com/tendhq/tend/internal/store"
	"github.com/tendhq/tend/internal/worker"
)

// newRetention registers the pruning job with r and schedules it (once
// per database, whatever the number of replicas).
func (a *App) newRetention(r *worker.Runner) error {
	cfg := a.opts.Config.Retention
	r.Register(retention.JobKind, retention.Handler(a.store, retention.Options{
		Policy: store.Prune{Events: cfg.Events, Jobs: cfg.Jobs, Problems: cfg.Problems, Sequences: cfg.Sequences},
		Logger: a.log,
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := retention.Schedule(ctx, a.store); err != nil {
		return fmt.Errorf("schedule retention: %w", err)
	}
	return nil
}
