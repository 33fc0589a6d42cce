package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/tendhq/tend/internal/evaluation"
	"github.com/tendhq/tend/internal/evaluator"
	"github.com/tendhq/tend/internal/resource"
	"github.com/tendhq/tend/internal/sequencer"
	"github.com/tendhq/tend/internal/store"
	"github.com/tendhq/tend/internal/worker"
)

// newWorker builds the durable job runner with the evaluation sequence
// registered. It registers the cleanup that stops the runner; the runner
// itself starts with Start.
func (a *App) newWorker(repos *resource.Repos) error {
	concurrency := a.opts.WorkerConcurrency
	if concurrency == 0 {
		concurrency = a.opts.Config.Worker.Concurrency
	}
	r, err := worker.New(a.store, worker.Options{
		Concurrency:  concurrency,
		Lease:        a.opts.Config.Worker.Lease,
		PollInterval: a.opts.Config.Worker.PollInterval,
		Logger:       a.log,
		Registerer:   a.opts.Registry,
	})
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	providers := a.opts.SLIProviders
	if providers == nil {
		providers = a.sliProvider
	}
	h, err := evaluator.New(evaluator.Options{
		Store:      a.store,
		Resources:  repos,
		Monitoring: monitoring,
		Providers:  providers,
		Logger:     a.log,
		Now:        a.opts.Now,
		Specs:      a.specs,
	})
	if err != nil {
		return err
	}
	r.Register(evaluation.JobKind, h.Handle)
	// The shipyard sequence engine (see internal/sequencer).
	seq, err := sequencer.New(sequencer.Options{Store: a.store, TaskTimeout: a.opts.Config.Sequences.TaskTimeout, Logger: a.log, Now: a.opts.Now})
	if err != nil {
		return err
	}
	for _, kind := range sequencer.Kinds {
		r.Register(kind, seq.Handle)
	}
	// The built-in delivery executors (see delivery.go).
	if err := a.newDelivery(r, repos); err != nil {
		return err
	}
	// The remediation loop, which verifies actions with the same
	// evaluations (see remediation.go).
	if err := a.newRemediation(r, h); err != nil {
		return err
	}
	if err := a.newRetention(r); err != nil {
		return err
	}
	a.runner = r
	a.onClose("worker", a.closeWorker)
	return nil
}

// startWorker runs the worker until Close; a second call does nothing.
func (a *App) startWorker() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.runner == nil || a.stopWorker != nil || a.closed {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.stopWorker = cancel
	a.workerDone = make(chan struct{})
	go func() {
		defer close(a.workerDone)
		if err := a.runner.Run(ctx); err != nil && !errors.Is(err, store.ErrClosed) {
			a.log.Error("worker_failed", "err", err)
		}
	}()
}

// closeWorker stops the worker and waits for its running steps (see
// worker.Options.DrainTimeout).
func (a *App) closeWorker() error {
	a.mu.Lock()
	stop, done := a.stopWorker, a.workerDone
	a.mu.Unlock()
	if stop == nil {
		return nil
	}
	stop()
	<-done
	return nil
}
