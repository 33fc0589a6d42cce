// Package sqlite is tend's embedded store: one SQLite file (pure-Go driver
// modernc.org/sqlite, no cgo) in WAL mode with synchronous=FULL, so a write
// is on disk when its method returns and survives kill -9 and power loss.
//
// SQLite has one writer at a time. The store therefore keeps one writer
// connection, fed by one goroutine that batches concurrent writes into one
// transaction (group commit: one fsync for many callers), and a small pool of
// read connections that WAL lets run beside it.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/tendhq/tend/internal/store"
	"github.com/tendhq/tend/internal/store/internal/sqlcore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options tune Open. The zero value is right for production.
type Options struct {
	// Now is the clock for stored times, job due dates and leases; nil
	// means time.Now. One process owns an SQLite file, so its clock is the
	// database's clock. Tests pass a fake clock.
	Now func() time.Time
	// Readers is the size of the read connection pool; 0 means 4.
	Readers int
	// MaxBatch caps the writes that share one commit; 0 means 256.
	MaxBatch int
	// BusyTimeout is how long a connection waits for a lock held by
	// another process on the same file; 0 means 10s.
	BusyTimeout time.Duration
}

// Store is a store.Store on one SQLite file.
type Store struct {
	*sqlcore.Core
}

var _ store.Store = (*Store)(nil)

// Open opens (creating when missing) the database file at path, migrates it
// to the current schema and starts the writer.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, fmt.Errorf("open sqlite: empty database path: %w", store.ErrInvalid)
	}
	if opts.Readers <= 0 {
		opts.Readers = 4
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = 10 * time.Second
	}
	if err := restrictFiles(path); err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", opts.BusyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	// Checkpoints run in the background (see checkpointer) so that no
	// commit waits for one.
	q.Add("_pragma", "wal_autocheckpoint(0)")
	// After a checkpoint, shrink a WAL that a burst made large.
	q.Add("_pragma", "journal_size_limit(67108864)")
	// Each write of a group commit runs in a savepoint of its own, and
	// SQLite keeps the pages a savepoint changes in a statement journal
	// so that it can roll them back. That journal is a temporary file by
	// default: a write system call per page, which a profile of a flood
	// of new problems showed as 6% of the CPU (issue 16). It only ever
	// serves a rollback within the open transaction, which a crash rolls
	// back whole from the WAL anyway, so memory loses nothing.
	q.Add("_pragma", "temp_store(MEMORY)")
	// BEGIN IMMEDIATE takes the write lock at once, so a second process on
	// the same file waits (busy timeout) instead of failing mid-transaction.
	q.Set("_txlock", "immediate")
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()

	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	rq := url.Values{}
	rq.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", opts.BusyTimeout.Milliseconds()))
	rq.Add("_pragma", "query_only(1)")
	r, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+rq.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	r.SetMaxOpenConns(opts.Readers)
	r.SetMaxIdleConns(opts.Readers)

	cp, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+rq.Encode())
	if err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	cp.SetMaxOpenConns(1)

	b := &backend{w: w, r: r, cp: cp, wStmts: newStmtCache(w), rStmts: newStmtCache(r)}
	d := sqlcore.Dialect{Name: "sqlite", Writers: 1, MaxBatch: opts.MaxBatch}
	if err := sqlcore.Migrate(ctx, b, d, migrations, "migrations"); err != nil {
		b.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// The WAL and shared-memory files exist now; SQLite gives new ones
	// the database's mode, but older ones may be wider.
	if err := restrictFiles(path); err != nil {
		b.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	core := sqlcore.New(b, d, sqlcore.Clocks{Now: opts.Now})
	stop := make(chan struct{})
	done := make(chan struct{})
	go b.checkpointer(stop, done)
	core.OnStop(func() {
		close(stop)
		<-done
		// Leave a small file behind: fold the WAL into the database.
		_, _ = b.w.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	})
	return &Store{Core: core}, nil
}

// fileMode is the mode of the database and its WAL and shared-memory files:
// they hold every project's state and the hashes of API tokens, and only
// tend's user may read them.
const fileMode = 0o600

// restrictFiles creates the database file with fileMode when it is missing
// (SQLite gives the WAL and shared-memory files it creates the database
// file's mode) and sets fileMode on the database, WAL and shared-memory
// files that exist, also when an earlier start or an operator left them
// wider.
func restrictFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, fileMode)
	switch {
	case err == nil:
		if err := f.Close(); err != nil {
			return err
		}
	case !errors.Is(err, fs.ErrExist):
		return err
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, fileMode); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// checkpointInterval is how often the background checkpointer copies the
// WAL into the database file.
const checkpointInterval = 500 * time.Millisecond

// checkpointer copies committed pages from the WAL into the database file
// on its own connection. With the automatic checkpoint, the commit that
// crosses the WAL size limit would do this work (and its fsyncs) while every
// caller of its batch waits; in the background it runs beside the writer.
// A PASSIVE checkpoint never blocks the writer or readers.
func (b *backend) checkpointer(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(checkpointInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			_, _ = b.cp.Exec("PRAGMA wal_checkpoint(PASSIVE)")
		}
	}
}

// backend adapts database/sql to sqlcore.Backend.
type backend struct {
	w, r, cp       *sql.DB
	wStmts, rStmts *stmtCache
}

func (b *backend) Reader() sqlcore.Querier { return dbQuerier{db: b.r, stmts: b.rStmts.get} }

func (b *backend) BeginWrite(ctx context.Context) (sqlcore.TxConn, error) {
	// The writer has one connection, which the transaction will hold, so
	// statements are prepared on it now, before it begins: those the last
	// transactions ran for the first time.
	b.wStmts.prepareWanted(ctx)
	tx, err := b.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	// The statements prepared on the writer's connection serve the
	// transaction through tx.StmtContext, which reuses them on the same
	// connection; the transaction keeps the Stmt it made for later uses.
	own := map[string]*sql.Stmt{}
	stmts := func(ctx context.Context, query string) *sql.Stmt {
		if s, ok := own[query]; ok {
			return s
		}
		parent := b.wStmts.lookup(query)
		if parent == nil {
			b.wStmts.want(query)
			return nil
		}
		s := tx.StmtContext(ctx, parent)
		own[query] = s
		return s
	}
	return txConn{dbQuerier{db: tx, stmts: stmts}, tx}, nil
}

func (b *backend) Close() error {
	b.wStmts.close()
	b.rStmts.close()
	return errors.Join(b.cp.Close(), b.r.Close(), b.w.Close())
}

// maxCachedStmts bounds a stmtCache; the store's statements are a fixed
// set (event filters combine into a few dozen), so the bound is only a
// guard.
const maxCachedStmts = 256

// stmtCache keeps one prepared statement per query text. SQLite parses and
// plans a statement when it is prepared; without the cache every call (the
// token lookup of every request, each event insert and savepoint) did that
// again, about a tenth of the CPU time of event ingestion.
type stmtCache struct {
	db     *sql.DB
	mu     sync.Mutex
	m      map[string]*sql.Stmt
	wanted map[string]bool
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sql.Stmt{}, wanted: map[string]bool{}}
}

// get returns the cached statement for query, preparing it on first use,
// or nil when it cannot be prepared or the cache is full; the caller then
// runs the query text directly, which also reports any error. It takes a
// connection of the pool to prepare on, so a caller holding the pool's
// only connection uses lookup and want instead.
func (c *stmtCache) get(ctx context.Context, query string) *sql.Stmt {
	if s := c.lookup(query); s != nil {
		return s
	}
	c.mu.Lock()
	full := len(c.m) >= maxCachedStmts
	c.mu.Unlock()
	if full {
		return nil
	}
	return c.prepare(ctx, query)
}

// lookup returns the cached statement for query, or nil.
func (c *stmtCache) lookup(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[query]
}

// want records query to be prepared by the next prepareWanted.
func (c *stmtCache) want(query string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m)+len(c.wanted) < maxCachedStmts {
		c.wanted[query] = true
	}
}

// prepareWanted prepares the statements want recorded.
func (c *stmtCache) prepareWanted(ctx context.Context) {
	c.mu.Lock()
	var queries []string
	for q := range c.wanted {
		queries = append(queries, q)
		delete(c.wanted, q)
	}
	c.mu.Unlock()
	for _, q := range queries {
		c.prepare(ctx, q)
	}
}

// prepare prepares query and caches it; nil when it cannot be prepared.
func (c *stmtCache) prepare(ctx context.Context, query string) *sql.Stmt {
	s, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[query]; ok {
		_ = s.Close()
		return old
	}
	c.m[query] = s
	return s
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, s := range c.m {
		_ = s.Close()
		delete(c.m, q)
	}
}

type sqlRunner interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// dbQuerier runs statements on db, through a prepared statement from
// stmts when it has one.
type dbQuerier struct {
	db    sqlRunner
	stmts func(ctx context.Context, query string) *sql.Stmt
}

// runner returns the prepared statement for query, or db itself.
func (q dbQuerier) runner(ctx context.Context, query string) (sqlRunner, string) {
	if s := q.stmts(ctx, query); s != nil {
		return preparedRunner{s}, ""
	}
	return q.db, query
}

func (q dbQuerier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	r, text := q.runner(ctx, query)
	res, err := r.ExecContext(ctx, text, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q dbQuerier) Query(ctx context.Context, query string, args ...any) (sqlcore.Rows, error) {
	r, text := q.runner(ctx, query)
	rows, err := r.QueryContext(ctx, text, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (q dbQuerier) QueryRow(ctx context.Context, query string, args ...any) sqlcore.Row {
	r, text := q.runner(ctx, query)
	return sqlRow{r.QueryRowContext(ctx, text, args...)}
}

// preparedRunner runs a prepared statement through sqlRunner's methods;
// it ignores the query text.
type preparedRunner struct{ s *sql.Stmt }

func (p preparedRunner) ExecContext(ctx context.Context, _ string, args ...any) (sql.Result, error) {
	return p.s.ExecContext(ctx, args...)
}

func (p preparedRunner) QueryContext(ctx context.Context, _ string, args ...any) (*sql.Rows, error) {
	return p.s.QueryContext(ctx, args...)
}

func (p preparedRunner) QueryRowContext(ctx context.Context, _ string, args ...any) *sql.Row {
	return p.s.QueryRowContext(ctx, args...)
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

type sqlRow struct{ *sql.Row }

func (r sqlRow) Scan(dest ...any) error {
	if err := r.Row.Scan(dest...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return sqlcore.ErrNoRows
		}
		return err
	}
	return nil
}

type txConn struct {
	dbQuerier
	tx *sql.Tx
}

func (t txConn) Commit(context.Context) error   { return t.tx.Commit() }
func (t txConn) Rollback(context.Context) error { return t.tx.Rollback() }
