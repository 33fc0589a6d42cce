// Package sqlcore is the SQL behind both store drivers: the statements, the
// group-commit writer, the job queue and the event notifications. The
// drivers (store/sqlite, store/postgres) give it a database through the small
// Backend interface and a Dialect for the few places where SQLite and
// PostgreSQL differ, so the two behave alike by construction and the shared
// test suite checks the rest.
package sqlcore

import (
	"context"
	"errors"
	"strconv"
	"strings"
)

// ErrNoRows is what Row.Scan returns for an empty result; adapters map their
// driver's own "no rows" error to it.
var ErrNoRows = errors.New("no rows")

// Querier runs statements written with ? placeholders (the Core rebinds them
// for the dialect before they get here).
type Querier interface {
	Exec(ctx context.Context, query string, args ...any) (rowsAffected int64, err error)
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) Row
}

// Rows is the part of a result set the Core uses.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Row is a single-row result.
type Row interface {
	Scan(dest ...any) error
}

// TxConn is an open write transaction.
type TxConn interface {
	Querier
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// Backend is a database as the Core needs it.
type Backend interface {
	// Reader runs reads outside any transaction; on SQLite it is a pool of
	// read-only connections beside the single writer.
	Reader() Querier
	// BeginWrite opens a write transaction.
	BeginWrite(ctx context.Context) (TxConn, error)
	// Close releases the database.
	Close() error
}

// Dialect holds what differs between SQLite and PostgreSQL.
type Dialect struct {
	// Name appears in error messages.
	Name string
	// Dollar rewrites ? placeholders to $1, $2, ... (PostgreSQL).
	Dollar bool
	// ClaimLock is appended to the claim's inner SELECT, e.g.
	// "FOR UPDATE SKIP LOCKED"; SQLite has one writer and needs none.
	ClaimLock string
	// EventLock is run once in every transaction that appends events,
	// before the first insert, so that sequence numbers are assigned in
	// commit order across concurrent writers (PostgreSQL: an advisory
	// transaction lock). Readers that follow the log by sequence number
	// then never skip an event that commits late.
	EventLock string
	// ClockQuery returns the database's current time in microseconds
	// since the Unix epoch. Job due dates and leases are computed from it,
	// so that replicas agree on them whatever their own clocks say. ""
	// means the process's clock is the database's (SQLite: one process).
	ClockQuery string
	// MigrationLock is run first in the migration transaction so that
	// replicas starting together migrate one at a time.
	MigrationLock string
	// Notify returns a statement run before commit that tells other
	// replicas about new events or jobs; "" when there are none.
	Notify func(channel string) string
	// ChainStatements says that Exec without arguments runs several
	// statements separated by ";" in one round trip (PostgreSQL's simple
	// query protocol); the writer then releases one request's savepoint
	// and opens the next one's together.
	ChainStatements bool
	// Writers is the number of concurrent group-commit writers (1 on
	// SQLite, which has a single writer connection).
	Writers int
	// MaxBatch caps the requests that share one commit. On PostgreSQL
	// each request is a savepoint, a subtransaction, and more than 64 of
	// them in one transaction slow every session down.
	MaxBatch int
}

// Notification channels, also the PostgreSQL LISTEN channel names.
const (
	ChannelEvents = "tend_events"
	ChannelJobs   = "tend_jobs"
)

func (d Dialect) rebind(q string) string {
	if !d.Dollar || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// boundQuerier rebinds every statement for the dialect.
type boundQuerier struct {
	q Querier
	d Dialect
}

func (b boundQuerier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return b.q.Exec(ctx, b.d.rebind(query), args...)
}

func (b boundQuerier) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	return b.q.Query(ctx, b.d.rebind(query), args...)
}

func (b boundQuerier) QueryRow(ctx context.Context, query string, args ...any) Row {
	return b.q.QueryRow(ctx, b.d.rebind(query), args...)
}

// placeholders returns "?, ?, ?" for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
