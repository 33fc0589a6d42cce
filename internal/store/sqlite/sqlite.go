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
	"net/url"
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
	// means time.Now. Tests pass a fake clock.
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

	b := &backend{w: w, r: r, cp: cp}
	d := sqlcore.Dialect{Name: "sqlite", Writers: 1, MaxBatch: opts.MaxBatch}
	if err := sqlcore.Migrate(ctx, b, d, migrations, "migrations"); err != nil {
		b.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	core := sqlcore.New(b, d, opts.Now)
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
	w, r, cp *sql.DB
}

func (b *backend) Reader() sqlcore.Querier { return dbQuerier{b.r} }

func (b *backend) BeginWrite(ctx context.Context) (sqlcore.TxConn, error) {
	tx, err := b.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return txConn{dbQuerier{tx}, tx}, nil
}

func (b *backend) Close() error {
	return errors.Join(b.cp.Close(), b.r.Close(), b.w.Close())
}

type sqlRunner interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

type dbQuerier struct{ db sqlRunner }

func (q dbQuerier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := q.db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q dbQuerier) Query(ctx context.Context, query string, args ...any) (sqlcore.Rows, error) {
	rows, err := q.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (q dbQuerier) QueryRow(ctx context.Context, query string, args ...any) sqlcore.Row {
	return sqlRow{q.db.QueryRowContext(ctx, query, args...)}
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
