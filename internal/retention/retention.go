// Package retention deletes what tend need not keep any longer: events
// and integration log lines, finished jobs, closed problems and ended
// sequences older than the configured retention
// (tend.yaml's retention section). It runs as one durable job on the
// store's outbox that reschedules itself, so exactly one replica prunes at
// a time and a pruning interrupted by kill -9 simply runs again.
package retention

import (
	"context"
	"log/slog"
	"time"

	"github.com/tendhq/tend/internal/store"
	"github.com/tendhq/tend/internal/worker"
)

// JobKind is the kind of the pruning job.
const JobKind = "retention.prune"

// uniqueKey names the one pruning job of a database.
const uniqueKey = "retention.prune"

// DefaultInterval is how often pruning runs.
const DefaultInterval = time.Hour

// maxBatches bounds one run, so that a first run over years of history
// hands the worker back now and then; the job then continues at once.
const maxBatches = 50

// Store is what pruning needs of the store; store.Store implements it.
type Store interface {
	Prune(ctx context.Context, p store.Prune) (store.Pruned, error)
	EnqueueJobs(ctx context.Context, jobs ...store.JobSpec) ([]int64, error)
}

// Options configure the pruning job.
type Options struct {
	// Policy says what is deleted; its zero ages keep that kind for ever.
	Policy store.Prune
	// Interval is the pause between runs; default DefaultInterval.
	Interval time.Duration
	// Logger receives what was deleted; default discards.
	Logger *slog.Logger
}

// Schedule enqueues the pruning job, due at once. Its unique key makes
// every later call, by any replica or start, a no-op: the job never
// finishes (it reschedules itself, also after an error, so it cannot end
// up failed), and its key keeps naming it.
func Schedule(ctx context.Context, st Store) error {
	_, err := st.EnqueueJobs(ctx, store.JobSpec{Kind: JobKind, UniqueKey: uniqueKey})
	return err
}

// Handler returns the pruning job's handler. It prunes in batches until a
// batch finds nothing more to delete, then runs again after the interval.
func Handler(st Store, opts Options) worker.Handler {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	limit := opts.Policy.Limit
	if limit <= 0 {
		limit = store.DefaultPruneLimit
	}
	return func(ctx context.Context, job store.Job) worker.Result {
		var total store.Pruned
		for range maxBatches {
			p, err := st.Prune(ctx, opts.Policy)
			total = total.Add(p)
			if err != nil {
				opts.Logger.WarnContext(ctx, "retention_prune_failed", "err", err, "job_id", job.ID)
				return worker.RescheduleAfter(opts.Interval, nil)
			}
			if p.Exhausted(limit) {
				logPruned(ctx, opts.Logger, total)
				return worker.RescheduleAfter(opts.Interval, nil)
			}
		}
		logPruned(ctx, opts.Logger, total)
		return worker.RescheduleAfter(0, nil)
	}
}

func logPruned(ctx context.Context, log *slog.Logger, p store.Pruned) {
	if p.Total() == 0 {
		return
	}
	log.InfoContext(ctx, "retention_pruned", "events", p.Events, "jobs", p.Jobs, "problems", p.Problems, "remediations", p.Remediations,
		"sequences", p.Sequences, "integration_logs", p.Logs)
}
