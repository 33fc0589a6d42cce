package sqlcore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tendhq/tend/internal/store"
)

// Core implements store.Store on a Backend.
type Core struct {
	b      Backend
	d      Dialect
	read   boundQuerier
	now    func() time.Time
	dbNow  func() time.Time
	reqs   chan *request
	closed chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
	events *Hub
	jobs   *Hub
	onStop []func()
}

var _ store.Store = (*Core)(nil)

// Clocks are the two clocks of a Core.
type Clocks struct {
	// Now is this process's clock, for the times records carry (created,
	// updated); nil means time.Now.
	Now func() time.Time
	// Database replaces the database's clock, which decides when jobs are
	// due and when leases expire (see Core.dbTime). Without it that clock
	// is Dialect.ClockQuery's answer, or Now where the dialect has none.
	// Tests set it to move time without sleeping.
	Database func() time.Time
}

// New starts the group-commit writers of a Core on b.
func New(b Backend, d Dialect, clk Clocks) *Core {
	now := clk.Now
	if now == nil {
		now = time.Now
	}
	dbNow := clk.Database
	if dbNow == nil && d.ClockQuery == "" {
		dbNow = now
	}
	if d.Writers < 1 {
		d.Writers = 1
	}
	if d.MaxBatch < 1 {
		d.MaxBatch = 1
	}
	c := &Core{
		b:      b,
		d:      d,
		read:   boundQuerier{b.Reader(), d},
		now:    now,
		dbNow:  dbNow,
		reqs:   make(chan *request), // unbuffered: a send succeeds only into a running writer
		closed: make(chan struct{}),
	}
	c.events = NewHub(c.closed)
	c.jobs = NewHub(c.closed)
	for range d.Writers {
		c.wg.Add(1)
		go c.writer()
	}
	return c
}

// EventsHub and JobsHub let a driver feed signals from other replicas.
func (c *Core) EventsHub() *Hub { return c.events }

// JobsHub is the hub of job signals.
func (c *Core) JobsHub() *Hub { return c.jobs }

// OnStop registers fn to run on Close before the backend closes, in reverse
// order of registration.
func (c *Core) OnStop(fn func()) { c.onStop = append(c.onStop, fn) }

// Close stops the writers, closes subscriber channels and the backend.
func (c *Core) Close() error {
	var err error
	c.once.Do(func() {
		close(c.closed)
		c.wg.Wait()
		for i := len(c.onStop) - 1; i >= 0; i-- {
			c.onStop[i]()
		}
		err = c.b.Close()
	})
	return err
}

// request is one unit of work for the writer: it runs in its own savepoint of
// a shared transaction and is answered after that transaction commits.
type request struct {
	ctx  context.Context
	fn   func(ctx context.Context, w *txw) error
	done chan error
	// set by fn through txw
	events, jobs bool
}

// write runs fn in a write transaction, possibly shared with other callers'
// writes (group commit), and returns after the commit. A request whose ctx
// ends while it waits for the writer is not run.
func (c *Core) write(ctx context.Context, fn func(ctx context.Context, w *txw) error) error {
	r := &request{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case c.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.closed:
		return store.ErrClosed
	}
	// Once the writer has the request, wait for its answer even if ctx
	// ends: the writer checks ctx itself, and returning early could claim
	// a failure for a write that committed.
	return <-r.done
}

func (c *Core) writer() {
	defer c.wg.Done()
	batch := make([]*request, 0, c.d.MaxBatch)
	for {
		batch = batch[:0]
		select {
		case r := <-c.reqs:
			batch = append(batch, r)
		case <-c.closed:
			return
		}
	drain:
		for len(batch) < c.d.MaxBatch {
			select {
			case r := <-c.reqs:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		c.runBatch(batch)
	}
}

const savepoint = "tend_req"

func (c *Core) runBatch(batch []*request) {
	live := batch[:0:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- err
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	bg := context.Background()
	tx, err := c.b.BeginWrite(bg)
	if err != nil {
		// The database cannot be reached or refuses work: transient.
		err = fmt.Errorf("begin write on %s: %w: %w", c.d.Name, store.ErrUnavailable, err)
		for _, r := range live {
			r.done <- err
		}
		return
	}
	q := boundQuerier{tx, c.d}
	results := make([]error, len(live))
	single := len(live) == 1
	eventLocked := false
	var dbTime int64
	var events, jobs bool
	abort := func(err error) {
		_ = tx.Rollback(bg)
		for _, r := range live {
			r.done <- err
		}
	}
	// open is the savepoint of the previous request, released when the
	// next one opens its own (in the same round trip where the dialect
	// allows) or by the commit: no statement of the transaction's end
	// needs it released before.
	open := false
	for i, r := range live {
		w := &txw{c: c, q: q, r: r, eventLocked: &eventLocked, dbNowMicro: &dbTime}
		if single {
			if err := r.fn(r.ctx, w); err != nil {
				_ = tx.Rollback(bg)
				r.done <- err
				return
			}
		} else {
			if err := c.nextSavepoint(bg, q, open); err != nil {
				abort(err)
				return
			}
			open = true
			lockedBefore := eventLocked
			if err := r.fn(r.ctx, w); err != nil {
				results[i] = err
				r.events, r.jobs = false, false
				if _, rbErr := q.Exec(bg, "ROLLBACK TO SAVEPOINT "+savepoint); rbErr != nil {
					abort(fmt.Errorf("rollback to savepoint on %s: %w", c.d.Name, rbErr))
					return
				}
				// A lock taken inside the savepoint is released by the
				// rollback on PostgreSQL; take it again when needed.
				eventLocked = lockedBefore
			}
		}
		events = events || r.events
		jobs = jobs || r.jobs
	}
	if c.d.Notify != nil {
		for _, n := range []struct {
			on      bool
			channel string
		}{{events, ChannelEvents}, {jobs, ChannelJobs}} {
			if n.on {
				if _, err := q.Exec(bg, c.d.Notify(n.channel)); err != nil {
					abort(fmt.Errorf("notify on %s: %w", c.d.Name, err))
					return
				}
			}
		}
	}
	if err := tx.Commit(bg); err != nil {
		err = fmt.Errorf("commit on %s: %w", c.d.Name, err)
		for i, r := range live {
			if results[i] == nil {
				results[i] = err
			}
			r.done <- results[i]
		}
		return
	}
	if events {
		c.events.Broadcast()
	}
	if jobs {
		c.jobs.Broadcast()
	}
	for i, r := range live {
		r.done <- results[i]
	}
}

// nextSavepoint opens the savepoint of the next request of a batch, after
// releasing the previous request's when open. Releasing keeps savepoints
// from nesting, one subtransaction inside the other, 48 deep.
func (c *Core) nextSavepoint(ctx context.Context, q boundQuerier, open bool) error {
	if !open {
		if _, err := q.Exec(ctx, "SAVEPOINT "+savepoint); err != nil {
			return fmt.Errorf("savepoint on %s: %w", c.d.Name, err)
		}
		return nil
	}
	if c.d.ChainStatements {
		if _, err := q.Exec(ctx, "RELEASE SAVEPOINT "+savepoint+"; SAVEPOINT "+savepoint); err != nil {
			return fmt.Errorf("release savepoint and open the next on %s: %w", c.d.Name, err)
		}
		return nil
	}
	if _, err := q.Exec(ctx, "RELEASE SAVEPOINT "+savepoint); err != nil {
		return fmt.Errorf("release savepoint on %s: %w", c.d.Name, err)
	}
	if _, err := q.Exec(ctx, "SAVEPOINT "+savepoint); err != nil {
		return fmt.Errorf("savepoint on %s: %w", c.d.Name, err)
	}
	return nil
}

// WithTx implements store.Store.
func (c *Core) WithTx(ctx context.Context, fn func(tx store.Tx) error) error {
	return conflict(c.write(ctx, func(ctx context.Context, w *txw) error {
		defer func() { w.done = true }()
		return fn(w)
	}))
}

// conflict marks the errors a database returns when concurrent transactions
// collide (PostgreSQL's deadlock_detected and serialization_failure, which
// abort the losing transaction) as store.ErrConflict: nothing of the
// transaction was kept, and running it again is the remedy. Group commit
// makes such collisions possible between the batches of two writers that
// update the same rows in different orders.
func conflict(err error) error {
	var st interface{ SQLState() string }
	if err != nil && errors.As(err, &st) {
		switch st.SQLState() {
		case "40P01", "40001":
			return fmt.Errorf("%w: %w", store.ErrConflict, err)
		}
	}
	return err
}

// txw is the store.Tx handed to one request.
type txw struct {
	c           *Core
	q           boundQuerier
	r           *request
	eventLocked *bool
	// dbNowMicro caches the database's time for the whole transaction,
	// as PostgreSQL's now() is; 0 until the first dbTime call.
	dbNowMicro *int64
	done       bool
}

// dbTime returns the database's clock in stored microseconds: the one time
// that decides when jobs are due and when leases expire, so that replicas
// whose clocks disagree still agree on who holds a job. On PostgreSQL it is
// now(), the start of the transaction; on SQLite, where one process owns
// the database, it is that process's clock.
func (w *txw) dbTime(ctx context.Context) (int64, error) {
	if *w.dbNowMicro != 0 {
		return *w.dbNowMicro, nil
	}
	if w.c.dbNow != nil {
		*w.dbNowMicro = micro(w.c.dbNow())
		return *w.dbNowMicro, nil
	}
	var t int64
	if err := w.q.QueryRow(ctx, w.c.d.ClockQuery).Scan(&t); err != nil {
		return 0, fmt.Errorf("read the database clock: %w", err)
	}
	*w.dbNowMicro = t
	return t, nil
}

var errTxDone = errors.New("store transaction used after its function returned")

func (w *txw) check() error {
	if w.done {
		return errTxDone
	}
	return nil
}

// Hub fans a coalesced signal out to subscribers.
type Hub struct {
	mu     sync.Mutex
	subs   map[chan struct{}]struct{}
	closed <-chan struct{}
}

// NewHub returns a hub whose subscriptions end when closed is closed.
func NewHub(closed <-chan struct{}) *Hub {
	return &Hub{subs: map[chan struct{}]struct{}{}, closed: closed}
}

// Subscribe returns a channel that receives a value after each Broadcast
// (coalesced) until ctx ends or the store closes; then it is closed.
func (h *Hub) Subscribe(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	go func() {
		select {
		case <-ctx.Done():
		case <-h.closed:
		}
		h.mu.Lock()
		delete(h.subs, ch)
		close(ch)
		h.mu.Unlock()
	}()
	return ch
}

// Broadcast wakes every subscriber without blocking.
func (h *Hub) Broadcast() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// micro converts a time to stored microseconds; the zero time is 0.
func micro(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// fromMicro reverses micro.
func fromMicro(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}
