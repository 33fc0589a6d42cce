// Package worker runs tend's durable work: the jobs that the store keeps in
// its outbox table (remediation steps, timers, evaluations). Every replica
// runs one Runner; the store's leases hand each due job to exactly one of
// them at a time, and a job whose runner died is claimed again once its
// lease expires, so work survives kill -9 of any replica.
//
// A handler's outcome is recorded in one store transaction together with
// the handler's own writes (Result.WithCommit): a step's events, the next
// step's job and this job's completion become durable together, or not at
// all when the lease was lost in the meantime. Delivery is at least once,
// so handlers must be idempotent; docs/durable-work.md says how to write
// them.
package worker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tendhq/tend/internal/store"
)

// Store is what the runner needs of the store: claiming and extending
// leases, the wake-up signal, and write transactions in which a job's
// outcome (store.Tx's CompleteJob, FailJob, RescheduleJob) is recorded with
// the handler's writes. store.Store implements it.
type Store interface {
	ClaimJobs(ctx context.Context, c store.Claim) ([]store.Job, error)
	ExtendJobLease(ctx context.Context, l store.Lease, d time.Duration) error
	SubscribeJobs(ctx context.Context) <-chan struct{}
	WithTx(ctx context.Context, fn func(tx store.Tx) error) error
}

// Options tune a Runner. The zero value is right for production.
type Options struct {
	// WorkerID names this runner in claimed job rows, for operators;
	// default hostname-pid-random.
	WorkerID string
	// Concurrency is the most handlers running at once; default 16.
	Concurrency int
	// Lease is how long a claim holds; it is extended every Lease/3 while
	// the handler runs, so it bounds how long a dead runner's jobs wait
	// before another replica takes them over. Default 30s.
	Lease time.Duration
	// PollInterval is how often the runner looks for due jobs when no
	// signal arrives: timers coming due and leases expiring send no
	// signal, so it is also the precision of timers. Default 1s.
	PollInterval time.Duration
	// DrainTimeout is how long Run waits, after its context ends, for
	// running handlers to finish before cancelling their contexts; Run
	// then waits as long again before abandoning handlers that ignore
	// cancellation (their leases expire). Default 10s.
	DrainTimeout time.Duration
	// Logger receives the runner's logs; default discards them.
	Logger *slog.Logger
	// Registerer receives the runner's metrics; nil registers none.
	Registerer prometheus.Registerer
}

// Defaults of Options.
const (
	// DefaultConcurrency is 16: most of a job step is waiting for its
	// claim and commit, so more steps at once fill each group commit;
	// docs/PERFORMANCE.md has the measurements.
	DefaultConcurrency  = 16
	DefaultLease        = 30 * time.Second
	DefaultPollInterval = time.Second
	DefaultDrainTimeout = 10 * time.Second
)

// ErrShutdown is the cause of a handler context cancelled because the
// runner is stopping and its drain timeout has passed.
var ErrShutdown = errors.New("worker shutting down")

// Outcomes, the values of the outcome label of tend_worker_jobs_total.
const (
	outDone        = "done"        // completed
	outRetried     = "retried"     // failed an attempt, will run again
	outFailed      = "failed"      // failed its last attempt
	outRescheduled = "rescheduled" // released to run again later
	outLeaseLost   = "lease_lost"  // another runner holds it; nothing recorded
	outAbandoned   = "abandoned"   // shutdown gave up on the handler; its lease expires
	outError       = "error"       // recording failed; its lease expires
)

var outcomes = []string{outDone, outRetried, outFailed, outRescheduled, outLeaseLost, outAbandoned, outError}

// Runner claims due jobs of its registered kinds and runs their handlers.
// Build it with New, Register every kind, then call Run once.
type Runner struct {
	st   Store
	opts Options
	log  *slog.Logger
	m    *metrics

	mu       sync.Mutex
	handlers map[string]Handler
	started  bool

	running atomic.Int64
	// active holds the jobs whose handlers run, so that a shutdown can
	// account for those it abandons.
	activeMu sync.Mutex
	active   map[*activeJob]struct{}
	// recorded, when set (by tests), is called after each job's outcome.
	recorded func(job store.Job, outcome string)
}

// New returns a Runner on st. It fails only when the metrics cannot be
// registered, for example because another Runner already registered them
// on the same Registerer.
func New(st Store, opts Options) (*Runner, error) {
	if opts.WorkerID == "" {
		opts.WorkerID = defaultWorkerID()
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.Lease <= 0 {
		opts.Lease = DefaultLease
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = DefaultDrainTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("new worker: %w", err)
	}
	return &Runner{
		st:       st,
		opts:     opts,
		log:      opts.Logger.With("worker", opts.WorkerID),
		m:        m,
		handlers: map[string]Handler{},
		active:   map[*activeJob]struct{}{},
	}, nil
}

func defaultWorkerID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "tend"
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// Register makes the runner claim jobs of kind and run them with h. Only
// registered kinds are claimed, so replicas of different versions leave
// each other's new kinds alone. Registering an empty kind, a nil handler,
// a kind twice, or after Run has started is a programming error and panics,
// as http.ServeMux does.
func (r *Runner) Register(kind string, h Handler) {
	if kind == "" || h == nil {
		panic("worker: Register needs a kind and a handler")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		panic("worker: Register of " + kind + " after Run started")
	}
	if _, dup := r.handlers[kind]; dup {
		panic("worker: job kind " + kind + " registered twice")
	}
	r.handlers[kind] = h
	r.m.init(kind)
}

// Run claims and runs jobs until ctx ends or the store is closed. It wakes
// on the store's job signals and otherwise polls every PollInterval. When
// ctx ends it stops claiming and waits for running handlers (see
// Options.DrainTimeout); their outcomes are still recorded. It returns nil
// after a shutdown by ctx, and an error wrapping store.ErrClosed when the
// store was closed under it. Run may be called only once.
func (r *Runner) Run(ctx context.Context) error {
	r.mu.Lock()
	if r.started {
		r.mu.Unlock()
		return errors.New("run worker: Run called twice")
	}
	r.started = true
	kinds := make([]string, 0, len(r.handlers))
	for k := range r.handlers {
		kinds = append(kinds, k)
	}
	r.mu.Unlock()
	if len(kinds) == 0 {
		// A claim without kinds would take every kind.
		return errors.New("run worker: no job kinds registered")
	}
	sort.Strings(kinds)

	// Handlers and the recording of their outcomes outlive ctx so that a
	// shutdown lets them finish; base keeps ctx's values without its end.
	base := context.WithoutCancel(ctx)
	handlerCtx, cancelHandlers := context.WithCancelCause(base)
	defer cancelHandlers(nil)
	abandon := make(chan struct{})

	subCtx, cancelSub := context.WithCancel(ctx)
	defer cancelSub()
	signal := r.st.SubscribeJobs(subCtx) // before the first claim, to miss nothing
	tick := time.NewTicker(r.opts.PollInterval)
	defer tick.Stop()

	conc := r.opts.Concurrency
	// finished has room for every running job, so a job goroutine never
	// blocks on it even after the loop below has stopped reading.
	finished := make(chan struct{}, conc)
	var wg sync.WaitGroup
	running := 0
	// want says that due jobs may be waiting: a signal or a tick arrived,
	// or the last claim filled every free slot.
	want := true
	var runErr error
	r.log.Info("worker started", "kinds", kinds, "concurrency", conc, "lease", r.opts.Lease)

loop:
	for {
		if want && running < conc && ctx.Err() == nil {
			free := conc - running
			jobs, err := r.st.ClaimJobs(ctx, store.Claim{Kinds: kinds, Worker: r.opts.WorkerID, Limit: free, Lease: r.opts.Lease})
			switch {
			case err == nil:
				want = len(jobs) == free
			case ctx.Err() != nil:
				break loop
			case errors.Is(err, store.ErrClosed):
				runErr = fmt.Errorf("run worker: %w", err)
				break loop
			default:
				r.log.Error("claim jobs failed", "err", err)
				want = false // try again on the next tick
			}
			for _, j := range jobs {
				running++
				wg.Add(1)
				go r.runJob(base, handlerCtx, abandon, j, finished, &wg)
			}
		}
		select {
		case <-ctx.Done():
			break loop
		case _, ok := <-signal:
			if !ok {
				signal = nil // store closed: the next claim says so
			}
			want = true
		case <-finished:
			running--
			// Take every slot freed meanwhile, so that one claim fills
			// them all rather than one claim (one commit) per slot.
			for more := true; more; {
				select {
				case <-finished:
					running--
				default:
					more = false
				}
			}
		case <-tick.C:
			want = true
		}
	}

	r.drain(&wg, cancelHandlers, abandon)
	r.log.Info("worker stopped")
	return runErr
}

// drain waits for running jobs: DrainTimeout with their contexts intact,
// then DrainTimeout after cancelling them; then it gives up on them.
func (r *Runner) drain(wg *sync.WaitGroup, cancelHandlers context.CancelCauseFunc, abandon chan struct{}) {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	if n := r.running.Load(); n > 0 {
		r.log.Info("worker draining", "running", n, "timeout", r.opts.DrainTimeout)
	}
	timer := time.NewTimer(r.opts.DrainTimeout)
	defer timer.Stop()
	select {
	case <-done:
		return
	case <-timer.C:
	}
	r.log.Warn("worker drain timeout: cancelling handlers", "running", r.running.Load())
	cancelHandlers(ErrShutdown)
	timer.Reset(r.opts.DrainTimeout)
	select {
	case <-done:
		return
	case <-timer.C:
	}
	r.log.Error("worker abandoning handlers that ignore cancellation; their leases will expire", "running", r.running.Load())
	close(abandon)
	r.activeMu.Lock()
	defer r.activeMu.Unlock()
	for a := range r.active {
		if a.decided.CompareAndSwap(false, true) {
			r.finish(a.job, outAbandoned)
		}
	}
}

// activeJob is a job whose handler runs. decided is set by whoever settles
// its outcome first: the job's own goroutine, or a shutdown abandoning it.
type activeJob struct {
	job     store.Job
	decided atomic.Bool
}

// runJob runs one claimed job: the handler, the lease extension beside it,
// and the recording of its outcome.
func (r *Runner) runJob(base, handlerCtx context.Context, abandon <-chan struct{}, job store.Job, finished chan<- struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	defer func() { finished <- struct{}{} }()
	r.running.Add(1)
	defer r.running.Add(-1)
	r.m.running.Inc()
	defer r.m.running.Dec()
	a := &activeJob{job: job}
	r.activeMu.Lock()
	r.active[a] = struct{}{}
	r.activeMu.Unlock()
	defer func() {
		r.activeMu.Lock()
		delete(r.active, a)
		r.activeMu.Unlock()
	}()

	r.mu.Lock()
	h := r.handlers[job.Kind]
	r.mu.Unlock()
	log := r.log.With("job_id", job.ID, "kind", job.Kind, "attempt", job.Attempt)
	log.Debug("job started")

	ctx, cancel := context.WithCancelCause(handlerCtx)
	defer cancel(nil)
	stopExtend := make(chan struct{})
	extended := make(chan struct{})
	go func() {
		defer close(extended)
		r.extend(base, job, cancel, stopExtend, abandon, log)
	}()

	start := time.Now()
	res := r.call(ctx, h, job, log)
	r.m.duration.WithLabelValues(job.Kind).Observe(time.Since(start).Seconds())
	close(stopExtend)
	<-extended

	if !a.decided.CompareAndSwap(false, true) {
		// Run abandoned the job and has returned; nothing of this
		// runner writes any more.
		return
	}
	if cause := context.Cause(ctx); errors.Is(cause, store.ErrLeaseLost) {
		log.Warn("job lease lost while the handler ran; outcome not recorded", "err", cause)
		r.finish(job, outLeaseLost)
		return
	}
	r.finish(job, r.record(base, job, res, log))
}

// call runs h, turning a panic into a retry.
func (r *Runner) call(ctx context.Context, h Handler, job store.Job, log *slog.Logger) (res Result) {
	defer func() {
		if p := recover(); p != nil {
			log.Error("job handler panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			res = Retry(fmt.Errorf("handler panicked: %v", p))
		}
	}()
	return h(ctx, job)
}

// extend renews the job's lease every Lease/3 until stop, and cancels the
// handler's context when the lease turns out to be lost.
func (r *Runner) extend(base context.Context, job store.Job, cancel context.CancelCauseFunc, stop, abandon <-chan struct{}, log *slog.Logger) {
	every := max(r.opts.Lease/3, time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-abandon:
			return
		case <-t.C:
		}
		ctx, done := context.WithTimeout(base, every)
		err := r.st.ExtendJobLease(ctx, job.Lease, r.opts.Lease)
		done()
		switch {
		case errors.Is(err, store.ErrLeaseLost):
			cancel(err)
			return
		case err != nil:
			// Keep the handler running: if nobody else claimed the
			// job meanwhile, its outcome can still be recorded.
			log.Warn("extend job lease failed", "err", err)
		}
	}
}

// commitError marks an error of the handler's CommitFunc, as opposed to one
// of recording the job's outcome.
type commitError struct{ err error }

func (e *commitError) Error() string { return "commit: " + e.err.Error() }
func (e *commitError) Unwrap() error { return e.err }

// record writes the job's outcome with the handler's CommitFunc in one
// transaction and returns the outcome label.
func (r *Runner) record(base context.Context, job store.Job, res Result, log *slog.Logger) string {
	ctx, cancel := context.WithTimeout(base, r.opts.Lease)
	defer cancel()
	out, err := r.write(ctx, job, res, res.commit)
	reason := retryReason(res.err)
	var ce *commitError
	if errors.As(err, &ce) {
		// Nothing of the transaction was kept: count a failed attempt,
		// in a transaction of its own.
		log.Warn("job commit failed; retrying the job", "err", ce.err)
		if res.outcome == outcomeRetry {
			reason += "; " + ce.Error()
		} else {
			reason = ce.Error()
		}
		out, err = r.write(ctx, job, Retry(errors.New(reason)), nil)
	}
	switch {
	case errors.Is(err, store.ErrLeaseLost):
		log.Warn("job lease lost; outcome not recorded", "err", err)
		return outLeaseLost
	case err != nil:
		log.Error("record job outcome failed; the job runs again when its lease expires", "err", err)
		return outError
	}
	switch out {
	case outDone:
		log.Debug("job done")
	case outRescheduled:
		log.Debug("job rescheduled")
	case outRetried:
		log.Warn("job failed; will retry", "err", reason, "max_attempts", job.MaxAttempts)
	case outFailed:
		log.Error("job failed on its last attempt", "err", reason, "max_attempts", job.MaxAttempts)
	}
	return out
}

// write runs one transaction: the job's outcome, then commit.
func (r *Runner) write(ctx context.Context, job store.Job, res Result, commit CommitFunc) (string, error) {
	var out string
	err := r.st.WithTx(ctx, func(tx store.Tx) error {
		var err error
		switch res.outcome {
		case outcomeRetry:
			var st store.JobState
			st, err = tx.FailJob(ctx, job.Lease, retryReason(res.err))
			out = outRetried
			if st == store.JobFailed {
				out = outFailed
			}
		case outcomeReschedule:
			err = tx.RescheduleJob(ctx, job.Lease, store.Reschedule{RunAt: res.runAt, After: res.delay, Payload: res.payload})
			out = outRescheduled
		default:
			err = tx.CompleteJob(ctx, job.Lease)
			out = outDone
		}
		if err != nil {
			return err
		}
		if commit != nil {
			if err := runCommit(ctx, commit, tx); err != nil {
				return &commitError{err}
			}
		}
		return nil
	})
	return out, err
}

// runCommit calls fn, turning a panic into an error: fn runs on the
// store's writer goroutine, which must survive it.
func runCommit(ctx context.Context, fn CommitFunc, tx store.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("commit panicked: %v", p)
		}
	}()
	return fn(ctx, tx)
}

func retryReason(err error) string {
	if err == nil {
		return "handler asked for a retry without a reason"
	}
	return err.Error()
}

func (r *Runner) finish(job store.Job, outcome string) {
	r.m.jobs.WithLabelValues(job.Kind, outcome).Inc()
	if r.recorded != nil {
		r.recorded(job, outcome)
	}
}
