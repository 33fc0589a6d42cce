package retention_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/retention"
	"github.com/tendhq/tend/internal/store"
	"github.com/tendhq/tend/internal/store/sqlite"
	"github.com/tendhq/tend/internal/store/storetest"
	"github.com/tendhq/tend/internal/worker"
)

// TestPruningJob runs the pruning job in a real worker over SQLite: it
// deletes a job finished long ago and a sequence that ended long ago,
// keeps a recent job and a sequence still waiting, schedules itself
// once however often Schedule is called, and comes back after its
// interval.
func TestPruningJob(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	clk := storetest.NewClock()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "tend.db"), sqlite.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	finish := func(kind string) int64 {
		t.Helper()
		ids, err := st.EnqueueJobs(ctx, store.JobSpec{Kind: kind})
		if err != nil {
			t.Fatal(err)
		}
		jobs, err := st.ClaimJobs(ctx, store.Claim{Kinds: []string{kind}})
		if err != nil || len(jobs) != 1 {
			t.Fatalf("claim %s: %v, %v", kind, jobs, err)
		}
		if err := st.CompleteJob(ctx, jobs[0].Lease); err != nil {
			t.Fatal(err)
		}
		return ids[0]
	}
	old := finish("old")
	for _, r := range []store.SequenceRecord{
		{ID: "ended", KeptnContext: "ctx-1", Project: "p", Stage: "dev", Service: "a", Name: "delivery", State: "finished", Doc: []byte(`{}`)},
		{ID: "waiting", KeptnContext: "ctx-2", Project: "p", Stage: "dev", Service: "a", Name: "delivery", State: "waiting", Doc: []byte(`{}`)},
	} {
		if err := st.WithTx(ctx, func(tx store.Tx) error { _, err := tx.CreateSequence(ctx, r); return err }); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(100 * 24 * time.Hour)
	recent := finish("recent")

	for range 3 { // every start of every replica schedules it
		if err := retention.Schedule(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	ran := make(chan struct{}, 10)
	h := retention.Handler(st, retention.Options{Policy: store.Prune{Jobs: 90 * 24 * time.Hour, Sequences: 90 * 24 * time.Hour}, Interval: time.Hour})
	r, err := worker.New(st, worker.Options{PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	r.Register(retention.JobKind, func(ctx context.Context, job store.Job) worker.Result {
		res := h(ctx, job)
		ran <- struct{}{}
		return res
	})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(runCtx) }()
	defer func() { stop(); <-done }()

	select {
	case <-ran:
	case <-ctx.Done():
		t.Fatal("the pruning job did not run")
	}
	// The outcome is recorded after the handler returns: wait for the
	// job to be pending again.
	var job store.Job
	for {
		if _, err := st.GetJob(ctx, old); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the job finished 100 days ago is still there: %v", err)
		}
		if _, err := st.GetJob(ctx, recent); err != nil {
			t.Fatalf("the recent job was deleted: %v", err)
		}
		if _, err := st.GetSequence(ctx, "ended"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the sequence that ended 100 days ago is still there: %v", err)
		}
		if _, err := st.GetSequence(ctx, "waiting"); err != nil {
			t.Fatalf("the waiting sequence was deleted: %v", err)
		}
		ids, err := st.EnqueueJobs(ctx, store.JobSpec{Kind: retention.JobKind, UniqueKey: "retention.prune"})
		if err != nil {
			t.Fatal(err)
		}
		if job, err = st.GetJob(ctx, ids[0]); err != nil {
			t.Fatal(err)
		}
		if job.State == store.JobPending {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the pruning job stays %s", job.State)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if want := clk.Now().Add(time.Hour); !job.RunAt.Equal(want) {
		t.Errorf("the pruning job runs again at %v, want %v (after its interval)", job.RunAt, want)
	}
	select {
	case <-ran:
		t.Error("the pruning job ran twice, though scheduled three times")
	default:
	}
}
