// Package postgres is tend's scale-out store: state, the event log and the
// job queue in one PostgreSQL database that several `tend serve` replicas
// share. Jobs are claimed with FOR UPDATE SKIP LOCKED, so each is held by
// exactly one replica; new events and jobs are announced to every replica
// with LISTEN/NOTIFY. It runs on github.com/jackc/pgx/v5 (pgxpool).
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tendhq/tend/internal/store"
	"github.com/tendhq/tend/internal/store/internal/sqlcore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Lock keys of pg_advisory_xact_lock, tend-specific numbers.
const (
	migrationLockKey = 0x74656e64_0001 // "tend" 1
	eventLockKey     = 0x74656e64_0002 // "tend" 2
)

// clockQuery reads the database's clock as stored times are kept:
// microseconds since the Unix epoch. now() is the start of the transaction,
// the same for every statement of a group commit.
const clockQuery = `SELECT (EXTRACT(EPOCH FROM now()) * 1000000)::bigint`

// Options tune Open. The zero value is right for production.
type Options struct {
	// Now is this replica's clock, for the times records carry (created,
	// updated); nil means time.Now. Job due dates and leases do not use
	// it: they use the database's now(), so replicas whose clocks
	// disagree still agree on who holds a job.
	Now func() time.Time
	// DatabaseClock replaces the database's now() for job due dates and
	// leases. It is for tests that move time instead of sleeping; leave it
	// nil in production.
	DatabaseClock func() time.Time
	// Logger receives errors of the background listener; nil discards.
	Logger *slog.Logger
	// MaxConns is the pool size; 0 means 16.
	MaxConns int32
	// Writers is the number of concurrent group-commit writers; 0 means 4.
	Writers int
	// MaxBatch caps the writes that share one commit; 0 means 48 (each
	// is a savepoint, and PostgreSQL slows down past 64 of them).
	MaxBatch int
}

// Store is a store.Store on PostgreSQL.
type Store struct {
	*sqlcore.Core
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at url (a postgres:// URL or key=value
// string), migrates it and starts listening for other replicas' commits.
// It returns once the listener is in place, so no later commit is missed.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	if opts.MaxConns <= 0 {
		opts.MaxConns = 16
	}
	if opts.Writers <= 0 {
		opts.Writers = 4
	}
	if opts.MaxBatch <= 0 || opts.MaxBatch > 60 {
		opts.MaxBatch = 48
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open postgres: parse the database URL: %w", err)
	}
	cfg.MaxConns = opts.MaxConns
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres %s: %w", redact(cfg), err)
	}
	b := &backend{pool: pool}
	d := sqlcore.Dialect{
		Name:          "postgres",
		Dollar:        true,
		ClaimLock:     "FOR UPDATE SKIP LOCKED",
		EventLock:     fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", int64(eventLockKey)),
		ClockQuery:    clockQuery,
		MigrationLock: fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", int64(migrationLockKey)),
		Notify:        func(ch string) string { return "SELECT pg_notify('" + ch + "', '')" },
		// pgx runs an Exec without arguments with the simple protocol.
		ChainStatements: true,
		Writers:         opts.Writers,
		MaxBatch:        opts.MaxBatch,
	}
	if err := sqlcore.Migrate(ctx, b, d, migrations, "migrations"); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres %s: %w", redact(cfg), err)
	}
	core := sqlcore.New(b, d, sqlcore.Clocks{Now: opts.Now, Database: opts.DatabaseClock})
	l := &listener{cfg: cfg.ConnConfig, core: core, log: opts.Logger}
	conn, err := l.connect(ctx)
	if err != nil {
		core.Close()
		return nil, fmt.Errorf("open postgres %s: listen: %w", redact(cfg), err)
	}
	lctx, cancel := context.WithCancel(context.Background())
	l.wg.Add(1)
	go l.run(lctx, conn)
	core.OnStop(func() {
		cancel()
		l.wg.Wait()
	})
	return &Store{Core: core}, nil
}

func redact(cfg *pgxpool.Config) string {
	return fmt.Sprintf("(host %s, port %d, database %s)", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
}

// listener holds one connection outside the pool that LISTENs for commits
// of other replicas and wakes this process's subscribers.
type listener struct {
	cfg  *pgx.ConnConfig
	core *sqlcore.Core
	log  *slog.Logger
	wg   sync.WaitGroup
}

func (l *listener) connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, l.cfg)
	if err != nil {
		return nil, err
	}
	for _, ch := range []string{sqlcore.ChannelEvents, sqlcore.ChannelJobs} {
		if _, err := conn.Exec(ctx, "LISTEN "+ch); err != nil {
			conn.Close(context.Background())
			return nil, err
		}
	}
	return conn, nil
}

func (l *listener) run(ctx context.Context, conn *pgx.Conn) {
	defer l.wg.Done()
	backoff := time.Second
	for {
		if conn == nil {
			var err error
			conn, err = l.connect(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				l.log.Warn("store_listen_failed", "err", err, "retry_in", backoff)
				select {
				case <-ctx.Done():
					return
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, 30*time.Second)
				continue
			}
			backoff = time.Second
			// Commits made while we were away were not announced.
			l.core.EventsHub().Broadcast()
			l.core.JobsHub().Broadcast()
		}
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			conn.Close(context.Background())
			conn = nil
			if ctx.Err() != nil {
				return
			}
			l.log.Warn("store_listen_lost", "err", err)
			continue
		}
		switch n.Channel {
		case sqlcore.ChannelEvents:
			l.core.EventsHub().Broadcast()
		case sqlcore.ChannelJobs:
			l.core.JobsHub().Broadcast()
		}
	}
}

// backend adapts pgxpool to sqlcore.Backend.
type backend struct {
	pool *pgxpool.Pool
}

func (b *backend) Reader() sqlcore.Querier { return querier{b.pool} }

func (b *backend) BeginWrite(ctx context.Context) (sqlcore.TxConn, error) {
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return txConn{querier{tx}, tx}, nil
}

func (b *backend) Close() error {
	b.pool.Close()
	return nil
}

type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

type pgRunner interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

type querier struct {
	db interface {
		pgRunner
		execer
	}
}

func (q querier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := q.db.Exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (q querier) Query(ctx context.Context, query string, args ...any) (sqlcore.Rows, error) {
	rows, err := q.db.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return rows, nil
}

func (q querier) QueryRow(ctx context.Context, query string, args ...any) sqlcore.Row {
	return row{q.db.QueryRow(ctx, query, args...)}
}

type row struct{ pgx.Row }

func (r row) Scan(dest ...any) error {
	if err := r.Row.Scan(dest...); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return sqlcore.ErrNoRows
		}
		return err
	}
	return nil
}

type txConn struct {
	querier
	tx pgx.Tx
}

func (t txConn) Commit(ctx context.Context) error   { return t.tx.Commit(ctx) }
func (t txConn) Rollback(ctx context.Context) error { return t.tx.Rollback(ctx) }
