// Package store declares tend's durable state: projects, services, API
// tokens, the event log, durable jobs, scoped settings, problems,
// remediations, shipyard sequences, and Keptn integrations with their
// subscriptions and logs. It holds only interfaces and record types; the
// drivers live in store/sqlite (the embedded default) and store/postgres (several
// replicas on one database), and store/storetest is the one test suite both
// must pass.
//
// Every write is durable when its method returns: nothing is acknowledged
// before its transaction has committed (SQLite with synchronous=FULL,
// PostgreSQL with its default synchronous_commit).
package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors callers branch on with errors.Is. Driver errors wrap them.
var (
	// ErrNotFound means the named record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists means a record with that unique name already exists.
	ErrExists = errors.New("already exists")
	// ErrInvalid means an argument is malformed, for example a page key that
	// this store did not hand out or a record without its required name.
	ErrInvalid = errors.New("invalid argument")
	// ErrLeaseLost means the job is no longer held under the given lease: it
	// was completed, or its lease expired and another worker claimed it. The
	// holder must stop and must not record the job's outcome.
	ErrLeaseLost = errors.New("job lease lost")
	// ErrClosed means the store has been closed.
	ErrClosed = errors.New("store closed")
)

// Store is everything tend keeps durably. Both drivers implement it, and
// store/storetest checks that they behave alike.
type Store interface {
	Projects
	Services
	Tokens
	Events
	Jobs
	Settings
	Problems
	Remediations
	Retention
	Sequences
	Integrations
	Deployments

	// WithTx runs fn in one write transaction and commits it when fn returns
	// nil; any error rolls back everything fn did. It is how an event append
	// and the jobs it causes (the outbox), or a job's outcome and its next
	// step, become durable together. fn runs on the store's writer while
	// other writes wait or share its commit, so it must only use tx and must
	// not block on anything else. It returns fn's error unchanged (wrapped
	// errors keep their sentinels).
	WithTx(ctx context.Context, fn func(tx Tx) error) error

	// Close stops background work and releases the database. Calling it
	// again is harmless.
	Close() error
}

// Tx is the set of writes (and the reads a read-modify-write needs) that can
// share one transaction. Its methods behave as the Store methods of the same
// name, except that nothing is visible to others or durable until WithTx
// returns nil. A Tx must not be used after fn returns.
type Tx interface {
	AppendEvents(ctx context.Context, evs ...EventRecord) ([]int64, error)
	EnqueueJobs(ctx context.Context, jobs ...JobSpec) ([]int64, error)
	CompleteJob(ctx context.Context, l Lease) error
	FailJob(ctx context.Context, l Lease, reason string) (JobState, error)
	RescheduleJob(ctx context.Context, l Lease, r Reschedule) error
	GetSetting(ctx context.Context, sc Scope, key string) (Setting, error)
	PutSetting(ctx context.Context, s Setting) error
	DeleteSetting(ctx context.Context, sc Scope, key string) error
	CancelJobs(ctx context.Context, keyPrefix string) (int, error)
	DeleteProject(ctx context.Context, name string) error
	ProblemTx
	SequenceTx
}

// Projects stores projects and their shipyard. Name syntax is the API's to
// check; the store enforces only that names are unique.
type Projects interface {
	// CreateProject stores p. It returns ErrExists when the name is taken.
	CreateProject(ctx context.Context, p NewProject) (Project, error)
	// GetProject returns the project or ErrNotFound.
	GetProject(ctx context.Context, name string) (Project, error)
	// ListProjects returns all projects ordered by name.
	ListProjects(ctx context.Context) ([]Project, error)
	// UpdateShipyard replaces a project's shipyard bytes.
	UpdateShipyard(ctx context.Context, name string, shipyard []byte) error
	// UpdateUpstream replaces a project's Git upstream (URL, user and
	// token; all empty removes it). It returns ErrNotFound for an unknown
	// project.
	UpdateUpstream(ctx context.Context, name, url, user, token string) error
	// ProjectUpstreamToken returns the Git upstream token for pushes, or ""
	// when the project has none. It is deliberately apart from Project so
	// that API answers, which are built from Project, cannot leak it. The
	// token sits in the database in plain text because pushing needs it.
	ProjectUpstreamToken(ctx context.Context, name string) (string, error)
	// DeleteProject removes the project with its services, its settings, its
	// sequences and the tokens scoped to it, so a later project of the same
	// name does not inherit them. Its events, problems and remediations stay as history
	// under the deleted generation's UID, which queries by project name no
	// longer select. The store does not end running remediations: the
	// caller cancels them in the same transaction (Tx.DeleteProject).
	DeleteProject(ctx context.Context, name string) error
}

// Services stores the services of a project.
type Services interface {
	// CreateService returns ErrNotFound when the project does not exist and
	// ErrExists when the service does.
	CreateService(ctx context.Context, project, name string) (Service, error)
	GetService(ctx context.Context, project, name string) (Service, error)
	// ListServices returns a project's services ordered by name, or
	// ErrNotFound when the project does not exist.
	ListServices(ctx context.Context, project string) ([]Service, error)
	DeleteService(ctx context.Context, project, name string) error
}

// Tokens stores API tokens by the SHA-256 hash of their secret; the secret
// itself is never stored.
type Tokens interface {
	// CreateToken returns ErrExists when the name is taken or, with a
	// negligible chance, when the hash is already stored.
	CreateToken(ctx context.Context, t NewToken) (Token, error)
	ListTokens(ctx context.Context) ([]Token, error)
	GetToken(ctx context.Context, name string) (Token, error)
	// TokenByHash finds the token whose secret hashes to hash, for
	// authentication. It returns ErrNotFound for unknown or revoked tokens.
	TokenByHash(ctx context.Context, hash []byte) (Token, error)
	// DeleteToken revokes a token; later TokenByHash calls, on every replica,
	// no longer find it.
	DeleteToken(ctx context.Context, name string) error
	// CountTokens counts the tokens of one scope (all scopes when scope is
	// ""); CountTokens(ctx, "admin") == 0 tells the server it is starting
	// for the first time.
	CountTokens(ctx context.Context, scope string) (int, error)
}

// Events is the append-only event log.
type Events interface {
	// AppendEvents stores events and returns their sequence numbers, in the
	// order given. Appending an event whose (Source, ID) is already stored is
	// idempotent: it is not stored twice, there is no error, and the
	// existing sequence number is returned, so a client retrying after a
	// lost answer is safe. Concurrent appends share commits (group commit);
	// each call returns only after its own events are durable.
	AppendEvents(ctx context.Context, evs ...EventRecord) ([]int64, error)
	// ListEvents returns one page of matching events, newest first.
	ListEvents(ctx context.Context, f EventFilter) (EventPage, error)
	// OpenTriggeredEvents returns the newest f.Limit (at most
	// MaxPageSize) events of type f.Type that no event of type f.Finished
	// answers (an answer's TriggeredID is the triggered event's ID),
	// filtered by project, stage and service when given, oldest first:
	// Keptn's polling endpoint for external executors. It is one query
	// (an anti-join), however many events are answered.
	OpenTriggeredEvents(ctx context.Context, f TriggeredFilter) ([]EventRecord, error)
	// EventsSince returns up to limit events of project (all projects when
	// project is "") with a sequence number above afterSeq, oldest first:
	// the catch-up read of an event stream resuming from Last-Event-ID.
	EventsSince(ctx context.Context, project string, afterSeq int64, limit int) ([]EventRecord, error)
	// SubscribeEvents returns a channel that receives a value after events
	// were committed, by this process or (on PostgreSQL) by any replica.
	// Signals coalesce: one value may stand for many events, so a reader
	// calls EventsSince after each. Subscribe before the first read to
	// miss nothing. The channel is closed when ctx ends.
	SubscribeEvents(ctx context.Context) <-chan struct{}
}

// Jobs is the durable work queue: an outbox of jobs enqueued in the same
// transaction as the state that causes them, claimed by exactly one worker
// under a lease. A worker that dies (kill -9) stops renewing its lease; once
// the lease expires another worker claims the job again, so handlers must be
// idempotent (at-least-once execution, exactly-once claim at any moment).
type Jobs interface {
	// EnqueueJobs stores jobs and returns their ids. A job whose UniqueKey
	// is already used by any job, finished or not, is not stored again and
	// the existing id is returned.
	EnqueueJobs(ctx context.Context, jobs ...JobSpec) ([]int64, error)
	// ClaimJobs leases up to Limit due jobs: pending with RunAt not after
	// now, or running with an expired lease. Each job is handed to exactly
	// one caller, across all replicas.
	ClaimJobs(ctx context.Context, c Claim) ([]Job, error)
	// ExtendJobLease keeps a long-running job from being claimed again.
	ExtendJobLease(ctx context.Context, l Lease, d time.Duration) error
	// CompleteJob marks the job done.
	CompleteJob(ctx context.Context, l Lease) error
	// FailJob records a failed attempt: the job runs again after
	// RetryDelay(attempt), or becomes JobFailed once MaxAttempts attempts
	// were made. It returns the job's new state.
	FailJob(ctx context.Context, l Lease, reason string) (JobState, error)
	// RescheduleJob releases the job to run again at r.RunAt without
	// counting an attempt: a timer, or a step that waits for an answer.
	RescheduleJob(ctx context.Context, l Lease, r Reschedule) error
	// CancelJobs withdraws every pending or running job whose UniqueKey
	// starts with keyPrefix (which must not be empty) and returns how many
	// it withdrew: they become JobCancelled, are never claimed again, and
	// a worker holding one loses its lease (ErrLeaseLost). Finished jobs
	// are left as they are.
	CancelJobs(ctx context.Context, keyPrefix string) (int, error)
	// GetJob returns a job by id, or ErrNotFound.
	GetJob(ctx context.Context, id int64) (Job, error)
	// ListJobs returns the jobs f selects, newest first, without their
	// lease tokens: what a watchdog reads to tell whether work is still
	// pending behind a key prefix, and why it failed.
	ListJobs(ctx context.Context, f JobFilter) ([]Job, error)
	// SubscribeJobs signals, like SubscribeEvents, that jobs were enqueued
	// or released, so idle workers need not poll hard.
	SubscribeJobs(ctx context.Context) <-chan struct{}
}

// Settings is a generic key/value table scoped to the whole server, a
// project, a stage or a service, for configuration such as monitoring,
// remediation limits or Unleash settings. Values are JSON.
type Settings interface {
	GetSetting(ctx context.Context, sc Scope, key string) (Setting, error)
	// PutSetting creates or replaces the value of sc and key.
	PutSetting(ctx context.Context, s Setting) error
	DeleteSetting(ctx context.Context, sc Scope, key string) error
	// ListSettings returns the settings of a project at every level (all
	// stages and services), ordered by stage, service and key; project ""
	// lists the server-wide settings.
	ListSettings(ctx context.Context, project string) ([]Setting, error)
}

// Retention deletes records older than their retention, in bounded batches
// so that no call holds the writer long.
type Retention interface {
	// Prune deletes at most p.Limit records of each kind that p makes
	// due, and says how many it deleted; a caller repeats it until a call
	// deletes fewer than the limit. Ages are measured by the database's
	// clock (see Jobs).
	Prune(ctx context.Context, p Prune) (Pruned, error)
}
