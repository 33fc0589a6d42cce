package worker_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/tendhq/tend/internal/store"
	"github.com/tendhq/tend/internal/store/postgres"
	"github.com/tendhq/tend/internal/store/sqlite"
	"github.com/tendhq/tend/internal/store/storetest"
	"github.com/tendhq/tend/internal/testenv"
	"github.com/tendhq/tend/internal/worker"
)

// waitTimeout bounds every wait for a condition. It is generous on purpose:
// tests wait for states, never assert on how long they took.
const waitTimeout = 20 * time.Second

// env is one database under test with its settable clock.
type env struct {
	driver string
	dsn    string
	clk    *storetest.Clock
	// st is the first replica's store.
	st store.Store
}

// replica returns a store for another replica of the same database: a
// second Open on PostgreSQL. On SQLite, where one process owns the data
// directory, replicas share st.
func (e *env) replica(t testing.TB) store.Store {
	t.Helper()
	if e.driver == "sqlite" {
		return e.st
	}
	return openStore(t, e.driver, e.dsn, e.clk.Now)
}

func openStore(t testing.TB, driver, dsn string, now func() time.Time) store.Store {
	t.Helper()
	var (
		s   store.Store
		err error
	)
	switch driver {
	case "sqlite":
		s, err = sqlite.Open(context.Background(), dsn, sqlite.Options{Now: now})
	case "postgres":
		s, err = postgres.Open(context.Background(), dsn, postgres.Options{Now: now, DatabaseClock: now})
	default:
		t.Fatalf("unknown driver %q", driver)
	}
	if err != nil {
		t.Fatalf("open %s store: %v", driver, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// forEachStore runs fn on a fresh SQLite database and, when the test
// PostgreSQL is available, on a fresh PostgreSQL database.
func forEachStore(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	forEachDatabase(t, func(t *testing.T, driver, dsn string) {
		clk := storetest.NewClock()
		e := &env{driver: driver, dsn: dsn, clk: clk}
		e.st = openStore(t, driver, dsn, clk.Now)
		fn(t, e)
	})
}

// forEachDatabase runs fn with the location of a fresh SQLite database and,
// when the test PostgreSQL is available, of a fresh PostgreSQL database.
func forEachDatabase(t *testing.T, fn func(t *testing.T, driver, dsn string)) {
	t.Helper()
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			var dsn string
			if driver == "sqlite" {
				dsn = filepath.Join(t.TempDir(), "tend.db")
			} else {
				dsn = testenv.PostgresURL(t)
			}
			fn(t, driver, dsn)
		})
	}
}

// testWriter sends log lines to t.Log until the test has ended; handlers
// abandoned by a test may still log afterwards.
type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	t.Helper()
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, nil))
}

// outcomes collects the runner's recorded outcomes per job.
type outcomes struct {
	mu    sync.Mutex
	byJob map[int64][]string
}

func (o *outcomes) add(j store.Job, outcome string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.byJob[j.ID] = append(o.byJob[j.ID], outcome)
}

// count returns how many jobs ended with outcome.
func (o *outcomes) count(outcome string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, outs := range o.byJob {
		for _, x := range outs {
			if x == outcome {
				n++
			}
		}
	}
	return n
}

// of returns the outcomes of one job, in order.
func (o *outcomes) of(id int64) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.byJob[id]...)
}

// running is a Runner started by start.
type running struct {
	*worker.Runner
	reg    *prometheus.Registry
	out    *outcomes
	cancel context.CancelFunc
	done   chan error
}

// stop cancels Run and returns its error.
func (r *running) stop(t testing.TB) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err // keep it for the cleanup
		return err
	case <-time.After(waitTimeout):
		t.Fatal("timed out waiting for Run to return")
		return nil
	}
}

// start builds a Runner on st with handlers and runs it until the test
// ends. Tests poll every 10ms unless opts say otherwise.
func start(t testing.TB, e *env, st store.Store, opts worker.Options, handlers map[string]worker.Handler) *running {
	t.Helper()
	if opts.PollInterval == 0 {
		opts.PollInterval = 10 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	reg := prometheus.NewRegistry()
	opts.Registerer = reg
	w, err := worker.New(st, opts)
	if err != nil {
		t.Fatal(err)
	}
	for kind, h := range handlers {
		w.Register(kind, h)
	}
	out := &outcomes{byJob: map[int64][]string{}}
	worker.SetRecorded(w, out.add)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Runner: w, reg: reg, out: out, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- w.Run(ctx) }()
	t.Cleanup(func() {
		if err := r.stop(t); err != nil {
			t.Errorf("Run returned %v, want nil after its context ended", err)
		}
	})
	return r
}

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func enqueue(t testing.TB, st store.Store, specs ...store.JobSpec) []int64 {
	t.Helper()
	ids, err := st.EnqueueJobs(context.Background(), specs...)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func getJob(t testing.TB, st store.Store, id int64) store.Job {
	t.Helper()
	j, err := st.GetJob(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// waitJob waits until job id satisfies cond and returns it.
func waitJob(t testing.TB, st store.Store, id int64, what string, cond func(store.Job) bool) store.Job {
	t.Helper()
	var j store.Job
	waitFor(t, fmt.Sprintf("job %d %s", id, what), func() bool {
		j = getJob(t, st, id)
		return cond(j)
	})
	return j
}

func isState(s store.JobState) func(store.Job) bool {
	return func(j store.Job) bool { return j.State == s }
}

// eventCount returns how many events are stored with id: 0 or 1.
func eventCount(t testing.TB, st store.Store, id string) int {
	t.Helper()
	p, err := st.ListEvents(context.Background(), store.EventFilter{ID: id})
	if err != nil {
		t.Fatal(err)
	}
	return len(p.Events)
}

func event(id string) store.EventRecord {
	return store.EventRecord{
		ID: id, Source: "worker-test", Type: "sh.keptn.event.test.finished", SpecVersion: "1.0",
		Time: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), KeptnContext: "ctx", Project: "p",
		JSON: []byte(`{"specversion":"1.0","id":"` + id + `","source":"worker-test","type":"sh.keptn.event.test.finished"}`),
	}
}

// metricValue returns the value of a counter or gauge series, or the
// sample count of a histogram series, in reg.
func metricValue(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					continue series
				}
			}
			return value(m)
		}
	}
	t.Fatalf("metric %s%v not found", name, labels)
	return 0
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}

func TestJobRunsOnceAndCompletes(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		var calls atomic.Int32
		var got atomic.Value
		r := start(t, e, e.st, worker.Options{}, map[string]worker.Handler{
			"evaluation": func(ctx context.Context, j store.Job) worker.Result {
				calls.Add(1)
				got.Store(string(j.Payload))
				return worker.Done()
			},
		})
		// A kind nobody registered is left alone, even though it is due first.
		other := enqueue(t, e.st, store.JobSpec{Kind: "unregistered"})[0]
		id := enqueue(t, e.st, store.JobSpec{Kind: "evaluation", Payload: []byte(`{"n":1}`)})[0]

		j := waitJob(t, e.st, id, "done", isState(store.JobDone))
		waitFor(t, "the outcome", func() bool { return len(r.out.of(id)) == 1 })
		if n := calls.Load(); n != 1 {
			t.Errorf("handler ran %d times, want 1", n)
		}
		if p := got.Load(); p != `{"n":1}` {
			t.Errorf("handler saw payload %v, want {\"n\":1}", p)
		}
		if j.Attempt != 1 || j.LastError != "" {
			t.Errorf("done job has attempt %d and error %q, want 1 and none", j.Attempt, j.LastError)
		}
		if o := getJob(t, e.st, other); o.State != store.JobPending || o.Attempt != 0 {
			t.Errorf("unregistered kind: state %s attempt %d, want pending and never claimed", o.State, o.Attempt)
		}
		if v := metricValue(t, r.reg, "tend_worker_jobs_total", map[string]string{"kind": "evaluation", "outcome": "done"}); v != 1 {
			t.Errorf("tend_worker_jobs_total{outcome=done} = %v, want 1", v)
		}
		if v := metricValue(t, r.reg, "tend_worker_jobs_total", map[string]string{"kind": "evaluation", "outcome": "retried"}); v != 0 {
			t.Errorf("tend_worker_jobs_total{outcome=retried} = %v, want 0", v)
		}
		if v := metricValue(t, r.reg, "tend_worker_job_duration_seconds", map[string]string{"kind": "evaluation"}); v != 1 {
			t.Errorf("tend_worker_job_duration_seconds count = %v, want 1", v)
		}
		if v := metricValue(t, r.reg, "tend_worker_jobs_running", nil); v != 0 {
			t.Errorf("tend_worker_jobs_running = %v after the job, want 0", v)
		}
	})
}

func TestCommitIsAtomicWithTheOutcome(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name string
		// fail is what the CommitFunc does after its writes: nothing,
		// return an error, or panic.
		fail      func() error
		wantState store.JobState
		wantError string // in LastError
		wantKept  bool   // the commit's event and next job exist
	}{
		{name: "commit succeeds", fail: func() error { return nil }, wantState: store.JobDone, wantKept: true},
		{name: "commit returns an error", fail: func() error { return boom }, wantState: store.JobFailed, wantError: "commit: boom"},
		{name: "commit panics", fail: func() error { panic("kaboom") }, wantState: store.JobFailed, wantError: "commit panicked: kaboom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachStore(t, func(t *testing.T, e *env) {
				var nextID atomic.Int64
				var nextRuns atomic.Int32
				start(t, e, e.st, worker.Options{}, map[string]worker.Handler{
					"step": func(ctx context.Context, j store.Job) worker.Result {
						return worker.Done().WithCommit(func(ctx context.Context, tx store.Tx) error {
							if _, err := tx.AppendEvents(ctx, event(fmt.Sprint("step-", j.ID))); err != nil {
								return err
							}
							ids, err := tx.EnqueueJobs(ctx, store.JobSpec{Kind: "next", Payload: []byte(fmt.Sprint(j.ID))})
							if err != nil {
								return err
							}
							nextID.Store(ids[0])
							return tt.fail()
						})
					},
					"next": func(ctx context.Context, j store.Job) worker.Result {
						nextRuns.Add(1)
						return worker.Done()
					},
				})
				id := enqueue(t, e.st, store.JobSpec{Kind: "step", MaxAttempts: 1})[0]
				j := waitJob(t, e.st, id, "finished", func(j store.Job) bool {
					return j.State == store.JobDone || j.State == store.JobFailed
				})
				if j.State != tt.wantState || !strings.Contains(j.LastError, tt.wantError) {
					t.Errorf("step job: state %s, error %q; want %s with %q", j.State, j.LastError, tt.wantState, tt.wantError)
				}
				if n := eventCount(t, e.st, fmt.Sprint("step-", id)); (n == 1) != tt.wantKept {
					t.Errorf("the commit's event is stored %d times, want kept=%v", n, tt.wantKept)
				}
				_, err := e.st.GetJob(context.Background(), nextID.Load())
				if tt.wantKept {
					if err != nil {
						t.Fatalf("the commit's next job: %v", err)
					}
					waitJob(t, e.st, nextID.Load(), "done", isState(store.JobDone))
					if n := nextRuns.Load(); n != 1 {
						t.Errorf("next job ran %d times, want 1", n)
					}
				} else if !errors.Is(err, store.ErrNotFound) {
					t.Errorf("the rolled-back next job: GetJob error %v, want ErrNotFound", err)
				}
			})
		})
	}
}

func TestRetryCountsAttemptsUntilFailed(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		var calls atomic.Int32
		start(t, e, e.st, worker.Options{}, map[string]worker.Handler{
			"flaky": func(ctx context.Context, j store.Job) worker.Result {
				calls.Add(1)
				return worker.Retry(fmt.Errorf("attempt %d: provider down", j.Attempt))
			},
		})
		const maxAttempts = 3
		id := enqueue(t, e.st, store.JobSpec{Kind: "flaky", MaxAttempts: maxAttempts})[0]
		for attempt := 1; attempt < maxAttempts; attempt++ {
			j := waitJob(t, e.st, id, fmt.Sprintf("back to pending after attempt %d", attempt), func(j store.Job) bool {
				return j.State == store.JobPending && j.Attempt == attempt
			})
			// The clock stands still while the runner works, so the
			// backoff is exactly RetryDelay from now.
			if want := e.clk.Now().Add(store.RetryDelay(attempt)); !j.RunAt.Equal(want) {
				t.Errorf("after attempt %d the job runs at %v, want %v (RetryDelay)", attempt, j.RunAt, want)
			}
			if want := fmt.Sprintf("attempt %d: provider down", attempt); j.LastError != want {
				t.Errorf("after attempt %d LastError = %q, want %q", attempt, j.LastError, want)
			}
			e.clk.Advance(store.RetryDelay(attempt))
		}
		j := waitJob(t, e.st, id, "failed", isState(store.JobFailed))
		if j.Attempt != maxAttempts || j.LastError != "attempt 3: provider down" {
			t.Errorf("failed job: attempt %d, error %q; want %d and the last reason", j.Attempt, j.LastError, maxAttempts)
		}
		if n := calls.Load(); n != maxAttempts {
			t.Errorf("handler ran %d times, want %d", n, maxAttempts)
		}
	})
}

func TestRescheduleRunsLaterWithTheNewPayload(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		var mu sync.Mutex
		var seen []string
		start(t, e, e.st, worker.Options{}, map[string]worker.Handler{
			"timer": func(ctx context.Context, j store.Job) worker.Result {
				mu.Lock()
				seen = append(seen, string(j.Payload))
				mu.Unlock()
				if string(j.Payload) == "waiting" {
					return worker.RescheduleAfter(10*time.Minute, []byte("fired"))
				}
				return worker.Done()
			},
		})
		id := enqueue(t, e.st, store.JobSpec{Kind: "timer", Payload: []byte("waiting"), MaxAttempts: 1})[0]
		j := waitJob(t, e.st, id, "rescheduled", func(j store.Job) bool { return string(j.Payload) == "fired" })
		if want := e.clk.Now().Add(10 * time.Minute); j.State != store.JobPending || !j.RunAt.Equal(want) || j.Attempt != 0 {
			t.Errorf("rescheduled job: state %s, run at %v, attempt %d; want pending at %v with no attempt counted", j.State, j.RunAt, j.Attempt, want)
		}
		e.clk.Advance(10 * time.Minute)
		j = waitJob(t, e.st, id, "done", isState(store.JobDone))
		mu.Lock()
		defer mu.Unlock()
		if got := strings.Join(seen, ","); got != "waiting,fired" {
			t.Errorf("handler saw payloads %s, want waiting,fired", got)
		}
		// MaxAttempts 1 and two runs: a reschedule counted no attempt.
		if j.Attempt != 1 {
			t.Errorf("done job attempt %d, want 1", j.Attempt)
		}
	})
}

func TestTwoReplicasRunEachJobOnce(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		const jobs = 200
		var mu sync.Mutex
		effects := map[int64]int{}
		byWorker := map[string]int{}
		handler := func(name string) worker.Handler {
			return func(ctx context.Context, j store.Job) worker.Result {
				mu.Lock()
				effects[j.ID]++
				byWorker[name]++
				mu.Unlock()
				return worker.Done().WithCommit(func(ctx context.Context, tx store.Tx) error {
					_, err := tx.AppendEvents(ctx, event(fmt.Sprint("effect-", j.ID)))
					return err
				})
			}
		}
		specs := make([]store.JobSpec, jobs)
		for i := range specs {
			specs[i] = store.JobSpec{Kind: "work", Payload: []byte(fmt.Sprint(i))}
		}
		a := start(t, e, e.st, worker.Options{WorkerID: "a"}, map[string]worker.Handler{"work": handler("a")})
		b := start(t, e, e.replica(t), worker.Options{WorkerID: "b"}, map[string]worker.Handler{"work": handler("b")})
		ids := enqueue(t, e.st, specs...)
		waitFor(t, "all jobs done", func() bool { return a.out.count("done")+b.out.count("done") == jobs })

		mu.Lock()
		defer mu.Unlock()
		for _, id := range ids {
			if effects[id] != 1 {
				t.Errorf("job %d's handler ran %d times, want exactly once", id, effects[id])
			}
			if j := getJob(t, e.st, id); j.State != store.JobDone || j.Attempt != 1 {
				t.Errorf("job %d: state %s attempt %d, want done at attempt 1", id, j.State, j.Attempt)
			}
		}
		p, err := e.st.ListEvents(context.Background(), store.EventFilter{CountTotal: true})
		if err != nil {
			t.Fatal(err)
		}
		if p.TotalCount != jobs {
			t.Errorf("%d effect events stored, want %d", p.TotalCount, jobs)
		}
		for _, r := range []*running{a, b} {
			for _, o := range []string{"retried", "failed", "lease_lost", "error"} {
				if n := r.out.count(o); n != 0 {
					t.Errorf("%d jobs ended %s, want none", n, o)
				}
			}
		}
		t.Logf("jobs run by replica: %v", byWorker)
	})
}

// steal advances the clock past the lease and claims job id as another
// worker would, retrying while the holder's extension keeps it.
func steal(t testing.TB, e *env, kind string, id int64, lease time.Duration) store.Job {
	t.Helper()
	var got store.Job
	waitFor(t, "the lease to be stolen", func() bool {
		e.clk.Advance(lease + time.Second)
		jobs, err := e.st.ClaimJobs(context.Background(), store.Claim{Kinds: []string{kind}, Worker: "thief", Lease: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range jobs {
			if j.ID == id {
				got = j
				return true
			}
		}
		return false
	})
	return got
}

func TestLeaseLost(t *testing.T) {
	t.Run("a stolen lease cannot commit", func(t *testing.T) {
		forEachStore(t, func(t *testing.T, e *env) {
			started := make(chan struct{})
			release := make(chan struct{})
			// One slot, busy with the handler: the runner cannot claim
			// the job again itself while the clock moves.
			r := start(t, e, e.st, worker.Options{Concurrency: 1}, map[string]worker.Handler{
				"slow": func(ctx context.Context, j store.Job) worker.Result {
					close(started)
					<-release // ignores ctx, as a handler stuck in a call would
					return worker.Done().WithCommit(func(ctx context.Context, tx store.Tx) error {
						_, err := tx.AppendEvents(ctx, event("stale-step"))
						return err
					})
				},
			})
			id := enqueue(t, e.st, store.JobSpec{Kind: "slow"})[0]
			<-started
			steal(t, e, "slow", id, worker.DefaultLease)
			close(release)
			waitFor(t, "the lease_lost outcome", func() bool { return r.out.count("lease_lost") == 1 })

			if n := eventCount(t, e.st, "stale-step"); n != 0 {
				t.Errorf("the stale holder's commit stored its event %d times, want 0", n)
			}
			if j := getJob(t, e.st, id); j.State != store.JobRunning || j.LeasedBy != "thief" || j.LastError != "" {
				t.Errorf("job after the stale commit: state %s leased by %q error %q; want still running for the thief", j.State, j.LeasedBy, j.LastError)
			}
		})
	})
	t.Run("the lease extension cancels the handler", func(t *testing.T) {
		forEachStore(t, func(t *testing.T, e *env) {
			const lease = 300 * time.Millisecond // extended every 100ms
			started := make(chan struct{})
			var cause atomic.Value
			r := start(t, e, e.st, worker.Options{Lease: lease, Concurrency: 1}, map[string]worker.Handler{
				"slow": func(ctx context.Context, j store.Job) worker.Result {
					close(started)
					<-ctx.Done()
					cause.Store(context.Cause(ctx))
					return worker.Retry(ctx.Err())
				},
			})
			id := enqueue(t, e.st, store.JobSpec{Kind: "slow"})[0]
			<-started
			steal(t, e, "slow", id, lease)
			waitFor(t, "the lease_lost outcome", func() bool { return r.out.count("lease_lost") == 1 })

			if c, _ := cause.Load().(error); !errors.Is(c, store.ErrLeaseLost) {
				t.Errorf("handler context cause %v, want ErrLeaseLost", c)
			}
			if j := getJob(t, e.st, id); j.State != store.JobRunning || j.LeasedBy != "thief" || j.LastError != "" {
				t.Errorf("job: state %s leased by %q error %q; want running for the thief with no failure recorded", j.State, j.LeasedBy, j.LastError)
			}
		})
	})
}

func TestStoppedRunnerJobIsTakenOverAfterLeaseExpiry(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		started := make(chan struct{})
		stuck := make(chan struct{})
		t.Cleanup(func() { close(stuck) })
		a := start(t, e, e.st, worker.Options{WorkerID: "a", DrainTimeout: 10 * time.Millisecond}, map[string]worker.Handler{
			"step": func(ctx context.Context, j store.Job) worker.Result {
				close(started)
				<-stuck // never finishes while the test runs, like a killed process
				return worker.Done()
			},
		})
		id := enqueue(t, e.st, store.JobSpec{Kind: "step"})[0]
		<-started
		if err := a.stop(t); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if got := a.out.of(id); len(got) != 1 || got[0] != "abandoned" {
			t.Errorf("stopped runner's outcomes %v, want [abandoned]", got)
		}
		if j := getJob(t, e.st, id); j.State != store.JobRunning || j.LeasedBy != "a" {
			t.Fatalf("job after the runner stopped: state %s leased by %q, want still running under a's lease", j.State, j.LeasedBy)
		}

		var attempts []int
		var mu sync.Mutex
		start(t, e, e.replica(t), worker.Options{WorkerID: "b"}, map[string]worker.Handler{
			"step": func(ctx context.Context, j store.Job) worker.Result {
				mu.Lock()
				attempts = append(attempts, j.Attempt)
				mu.Unlock()
				return worker.Done()
			},
		})
		e.clk.Advance(worker.DefaultLease + time.Second)
		j := waitJob(t, e.st, id, "done", isState(store.JobDone))
		mu.Lock()
		defer mu.Unlock()
		if len(attempts) != 1 || attempts[0] != 2 || j.LeasedBy != "b" {
			t.Errorf("takeover: b ran attempts %v, job leased by %q; want one run of attempt 2 by b", attempts, j.LeasedBy)
		}
	})
}

func TestPanicBecomesRetry(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		var calls atomic.Int32
		start(t, e, e.st, worker.Options{}, map[string]worker.Handler{
			"fragile": func(ctx context.Context, j store.Job) worker.Result {
				if calls.Add(1) == 1 {
					panic("nil map in step")
				}
				return worker.Done()
			},
		})
		id := enqueue(t, e.st, store.JobSpec{Kind: "fragile"})[0]
		j := waitJob(t, e.st, id, "retried", func(j store.Job) bool { return j.State == store.JobPending && j.Attempt == 1 })
		if want := "handler panicked: nil map in step"; j.LastError != want {
			t.Errorf("LastError %q, want %q", j.LastError, want)
		}
		e.clk.Advance(store.RetryDelay(1))
		waitJob(t, e.st, id, "done", isState(store.JobDone))
		if n := calls.Load(); n != 2 {
			t.Errorf("handler ran %d times, want 2", n)
		}
	})
}

func TestShutdown(t *testing.T) {
	t.Run("running handlers finish and are recorded", func(t *testing.T) {
		forEachStore(t, func(t *testing.T, e *env) {
			started := make(chan struct{})
			release := make(chan struct{})
			var handlerErr atomic.Value
			r := start(t, e, e.st, worker.Options{Concurrency: 1, DrainTimeout: time.Minute}, map[string]worker.Handler{
				"step": func(ctx context.Context, j store.Job) worker.Result {
					if string(j.Payload) == "first" {
						close(started)
						<-release
						handlerErr.Store(fmt.Sprint(ctx.Err()))
					}
					return worker.Done()
				},
			})
			first := enqueue(t, e.st, store.JobSpec{Kind: "step", Payload: []byte("first")})[0]
			<-started
			// With its only slot busy, the runner cannot claim this one
			// before the shutdown, and must not after it.
			second := enqueue(t, e.st, store.JobSpec{Kind: "step", Payload: []byte("second")})[0]
			r.cancel()
			close(release)
			if err := r.stop(t); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := handlerErr.Load(); got != "<nil>" {
				t.Errorf("handler context during the drain: %v, want not cancelled", got)
			}
			if j := getJob(t, e.st, first); j.State != store.JobDone {
				t.Errorf("running job after a graceful stop: %s, want done", j.State)
			}
			if j := getJob(t, e.st, second); j.State != store.JobPending || j.Attempt != 0 {
				t.Errorf("waiting job after the stop: %s attempt %d, want pending and never claimed", j.State, j.Attempt)
			}
		})
	})
	t.Run("handlers are cancelled after the drain timeout", func(t *testing.T) {
		forEachStore(t, func(t *testing.T, e *env) {
			started := make(chan struct{})
			var cause atomic.Value
			// The handler ignores the drain and returns as soon as it is
			// cancelled; the second wait (as long as the first) must give
			// it time to, also on a loaded machine under -race, or the
			// runner abandons it and the test would read a running job.
			r := start(t, e, e.st, worker.Options{DrainTimeout: time.Second}, map[string]worker.Handler{
				"step": func(ctx context.Context, j store.Job) worker.Result {
					close(started)
					<-ctx.Done()
					cause.Store(context.Cause(ctx))
					return worker.Retry(context.Cause(ctx))
				},
			})
			id := enqueue(t, e.st, store.JobSpec{Kind: "step"})[0]
			<-started
			if err := r.stop(t); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if c, _ := cause.Load().(error); !errors.Is(c, worker.ErrShutdown) {
				t.Errorf("handler context cause %v, want ErrShutdown", c)
			}
			// The handler answered, so its retry is recorded and another
			// replica can take the job without waiting for the lease.
			if j := getJob(t, e.st, id); j.State != store.JobPending || j.LastError != worker.ErrShutdown.Error() {
				t.Errorf("job: state %s error %q, want pending with %q", j.State, j.LastError, worker.ErrShutdown)
			}
		})
	})
}

func TestConcurrencyIsBounded(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		const conc, jobs = 3, 30
		var now, peak atomic.Int32
		r := start(t, e, e.st, worker.Options{Concurrency: conc}, map[string]worker.Handler{
			"work": func(ctx context.Context, j store.Job) worker.Result {
				n := now.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				time.Sleep(2 * time.Millisecond) // let handlers overlap
				now.Add(-1)
				return worker.Done()
			},
		})
		specs := make([]store.JobSpec, jobs)
		for i := range specs {
			specs[i] = store.JobSpec{Kind: "work"}
		}
		enqueue(t, e.st, specs...)
		waitFor(t, "all jobs done", func() bool { return r.out.count("done") == jobs })
		if p := peak.Load(); p > conc {
			t.Errorf("%d handlers ran at once, want at most %d", p, conc)
		}
	})
}

func TestRunnerMisuse(t *testing.T) {
	st := openStore(t, "sqlite", filepath.Join(t.TempDir(), "tend.db"), nil)
	noop := func(context.Context, store.Job) worker.Result { return worker.Done() }
	newRunner := func(t *testing.T) *worker.Runner {
		t.Helper()
		w, err := worker.New(st, worker.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	mustPanic := func(t *testing.T, what string, fn func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s did not panic", what)
			}
		}()
		fn()
	}
	t.Run("register needs a kind and a handler", func(t *testing.T) {
		w := newRunner(t)
		mustPanic(t, "empty kind", func() { w.Register("", noop) })
		mustPanic(t, "nil handler", func() { w.Register("k", nil) })
	})
	t.Run("a kind registers once", func(t *testing.T) {
		w := newRunner(t)
		w.Register("k", noop)
		mustPanic(t, "second Register", func() { w.Register("k", noop) })
	})
	t.Run("run without kinds fails", func(t *testing.T) {
		if err := newRunner(t).Run(context.Background()); err == nil {
			t.Error("Run without registered kinds succeeded; it would claim every kind")
		}
	})
	t.Run("run twice and register after run fail", func(t *testing.T) {
		w := newRunner(t)
		w.Register("k", noop)
		ctx, cancel := context.WithCancel(context.Background())
		errs := make(chan error, 2)
		for range 2 {
			go func() { errs <- w.Run(ctx) }()
		}
		if err := <-errs; err == nil {
			t.Error("a second Run was accepted")
		}
		mustPanic(t, "Register after Run", func() { w.Register("late", noop) })
		cancel()
		if err := <-errs; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	t.Run("metrics register once per registry", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		if _, err := worker.New(st, worker.Options{Registerer: reg}); err != nil {
			t.Fatal(err)
		}
		if _, err := worker.New(st, worker.Options{Registerer: reg}); err == nil {
			t.Error("a second runner registered the same metrics without an error")
		}
	})
	t.Run("a closed store ends Run", func(t *testing.T) {
		st := openStore(t, "sqlite", filepath.Join(t.TempDir(), "closed.db"), nil)
		w, err := worker.New(st, worker.Options{PollInterval: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		w.Register("k", noop)
		done := make(chan error, 1)
		go func() { done <- w.Run(context.Background()) }()
		st.Close()
		select {
		case err := <-done:
			if !errors.Is(err, store.ErrClosed) {
				t.Errorf("Run on a closed store returned %v, want ErrClosed", err)
			}
		case <-time.After(waitTimeout):
			t.Fatal("Run did not return after the store was closed")
		}
	})
}
