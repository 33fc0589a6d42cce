package store

import (
	"context"
	"errors"
	"time"
)

// ErrConflict means a compare-and-set lost: the record's version changed
// since it was read, or a concurrent transaction took the unique key (a
// problem's key, the one running remediation of a service) first. Nothing
// of the failed write is kept; the caller re-reads and decides again, so two
// replicas never overwrite each other's decisions.
var ErrConflict = errors.New("conflicting concurrent write")

// ErrUnavailable means the database cannot take work right now (it cannot
// be reached, or refuses connections). It is transient: the API answers 503
// so that senders which retry on 5xx (Alertmanager) try again.
var ErrUnavailable = errors.New("database unavailable")

// The states a problem record can be in. The first two are
// remediation.ProblemState values; ProblemUnmatched holds a notification
// that named no usable project, stage or service, kept so that nothing sent
// to tend is silently dropped.
const (
	ProblemOpen      = "open"
	ProblemClosed    = "closed"
	ProblemUnmatched = "unmatched"
)

// ProblemRecord is one stored problem instance. Key is unique within a
// generation of its project (Project.UID): every notification of one
// problem (retries, HA duplicates, the resolving one) finds the record the
// first one created, and a project created again under an old name starts
// without its predecessor's problems. A key names its project (see
// intake.Notification.Key), so the records of one key all have one project
// name and at most one of them belongs to the project's current
// generation.
type ProblemRecord struct {
	// Seq orders problems by arrival; it is the list's page key.
	Seq int64
	// ID is the problem's id (a UUID chosen by the caller).
	ID string
	// Key is the notification identity (intake.Notification.Key); unique
	// per project generation.
	Key     string
	Source  string
	Project string
	// ProjectUID is the UID of the project generation the problem was
	// recorded in ("" when no project of that name existed); the store
	// sets it on insert.
	ProjectUID string
	Stage      string
	Service    string
	// State is ProblemOpen, ProblemClosed or ProblemUnmatched.
	State string
	Title string
	// RemediationID is the remediation acting on the problem, "" when none
	// (remediation not enabled, unmatched, closed before tend saw it open).
	RemediationID string
	KeptnContext  string
	// Reason says why no remediation acts on the problem, or why it is
	// unmatched.
	Reason   string
	OpenedAt time.Time
	ClosedAt time.Time
	// Doc is the whole problem as JSON (title, root cause, details, labels,
	// URL, ...); the store does not look inside.
	Doc []byte
	// Version is 1 when created and grows by one with every update;
	// UpdateProblem compares it.
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ProblemFilter selects problems for ListProblems; empty fields match
// anything. A Project selects the records of its current generation only.
type ProblemFilter struct {
	Project string
	Stage   string
	Service string
	State   string
	// RemediationID keeps only the problems of one remediation.
	RemediationID string
	// PageSize defaults to DefaultPageSize and is capped at MaxPageSize.
	PageSize int
	// PageKey is the NextPageKey of the previous page, "" for the first.
	PageKey string
}

// ProblemPage is one page of ListProblems, newest first.
type ProblemPage struct {
	Problems    []ProblemRecord
	NextPageKey string
}

// RemediationRecord is one stored remediation: the columns queries need and
// the remediation itself as a JSON document that its owner, package
// remediation, defines; the store only folds recorded joins into it, with
// that package's remediation.FoldJoins.
type RemediationRecord struct {
	// Seq orders remediations by creation; it is the list's page key.
	Seq     int64
	ID      string
	Project string
	// ProjectUID is the UID of the project generation the remediation was
	// created in; the store sets it on insert.
	ProjectUID string
	Stage      string
	Service    string
	// State is the remediation's state (remediation.State).
	State string
	// Running is true until the remediation reaches a terminal state. At
	// most one running remediation exists per project, stage and service:
	// the store enforces it, so concurrent intakes on several replicas
	// cannot start two.
	Running      bool
	KeptnContext string
	// Doc is the remediation as JSON. Reads return it with the joins
	// recorded by JoinRemediation since it was written folded in
	// (remediation.FoldJoins), so every reader sees the whole remediation.
	Doc []byte
	// Joinable says a problem joining the remediation changes nothing of
	// it but its list of problems (remediation.Remediation.JoinsInPlace):
	// JoinRemediation may then record the join without rewriting Doc.
	// UpdateRemediation and CreateRemediation store it with the document.
	Joinable bool
	// Version is 1 when created and grows by one with every update;
	// UpdateRemediation compares it.
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// RemediationJoin is a problem that joined a remediation, recorded by
// JoinRemediation beside the remediation's document.
type RemediationJoin struct {
	ProblemID string
	// At is the time the join was decided at, which the folded document
	// records as the remediation's UpdatedAt.
	At time.Time
}

// RemediationFilter selects remediations for ListRemediations. A Project
// selects the records of its current generation only.
type RemediationFilter struct {
	Project string
	Stage   string
	Service string
	State   string
	// RunningOnly keeps only remediations that have not ended.
	RunningOnly bool
	PageSize    int
	PageKey     string
}

// RemediationPage is one page of ListRemediations, newest first.
type RemediationPage struct {
	Remediations []RemediationRecord
	NextPageKey  string
}

// MaxKeysPerLookup bounds the keys of one GetProblemsByKeys call (SQLite's
// and PostgreSQL's limits on bound parameters are far above it).
const MaxKeysPerLookup = 500

// PlacementQuery names what GetPlacement reads.
type PlacementQuery struct {
	// Project is the project to read; "" reads no project and no services.
	Project string
	// Services are names of services of Project to look up.
	Services []string
	// Keys are problem keys, looked up as GetProblemsByKeys does.
	Keys []string
}

// Placement is what GetPlacement found.
type Placement struct {
	// Project is the query's project with only Name, UID and Shipyard set;
	// Name is "" when it does not exist.
	Project Project
	// Services holds the query's services that exist in Project.
	Services map[string]bool
	// Problems are the problems of the keys that have one, in the current
	// generation of their project, as GetProblemsByKeys finds them; of each
	// record only ID, Key, State and RemediationID are read.
	Problems map[string]ProblemRecord
}

// Problems reads problem records. Writes happen in transactions (Tx), where
// the deduplication decision and its outcome are one unit.
type Problems interface {
	// GetProblem returns a problem by id, or ErrNotFound.
	GetProblem(ctx context.Context, id string) (ProblemRecord, error)
	// GetProblemByKey returns the problem of a notification key in the
	// current generation of the project the key names, or ErrNotFound.
	GetProblemByKey(ctx context.Context, key string) (ProblemRecord, error)
	// GetProblemsByKeys returns the problems of the keys that have one,
	// as GetProblemByKey would, in one query; keys without a problem are
	// missing from the result. At most MaxKeysPerLookup keys.
	GetProblemsByKeys(ctx context.Context, keys []string) (map[string]ProblemRecord, error)
	// GetPlacement reads, in one statement, the project, services and
	// problem keys of q: all of it as of one moment, the database's, never
	// a cache. It is the read that answers a repeated notification without
	// a transaction. At most MaxKeysPerLookup keys and services.
	GetPlacement(ctx context.Context, q PlacementQuery) (Placement, error)
	// ListProblems returns one page of matching problems, newest first.
	ListProblems(ctx context.Context, f ProblemFilter) (ProblemPage, error)
}

// Remediations reads remediation records; writes happen in transactions.
type Remediations interface {
	// GetRemediation returns a remediation by id, or ErrNotFound.
	GetRemediation(ctx context.Context, id string) (RemediationRecord, error)
	// RunningRemediation returns the running remediation of a service in
	// a stage, or ErrNotFound.
	RunningRemediation(ctx context.Context, project, stage, service string) (RemediationRecord, error)
	// ListRemediations returns one page of matching remediations, newest
	// first.
	ListRemediations(ctx context.Context, f RemediationFilter) (RemediationPage, error)
}

// ProblemTx holds the problem and remediation writes of a transaction, with
// the reads a decision needs. Reads inside the transaction see its own
// writes. A store.Tx includes it.
type ProblemTx interface {
	GetProblem(ctx context.Context, id string) (ProblemRecord, error)
	GetProblemByKey(ctx context.Context, key string) (ProblemRecord, error)
	// GetProblemsByKeys is GetProblemByKey for many keys in one query:
	// the problems of the keys that have one; keys without a problem are
	// missing from the result. At most MaxKeysPerLookup keys.
	GetProblemsByKeys(ctx context.Context, keys []string) (map[string]ProblemRecord, error)
	// InsertProblem stores a new problem (ID, Key and State required) with
	// version 1 and returns it as stored. It returns ErrExists when the key
	// is taken, also by a concurrent transaction that commits first.
	InsertProblem(ctx context.Context, p ProblemRecord) (ProblemRecord, error)
	// InsertProblems is InsertProblem for many problems in few statements
	// (a delivery's new problems), all or none: it returns ErrExists when
	// a key is taken, also by another of ps, and ErrInvalid naming the
	// first record without an ID, Key or State. The answer is in the
	// order of ps; sequence numbers grow in that order.
	InsertProblems(ctx context.Context, ps []ProblemRecord) ([]ProblemRecord, error)
	// UpdateProblem replaces the state, title, remediation id, reason,
	// times and document of problem p.ID if its stored version is still
	// p.Version, and returns it with the new version. It returns
	// ErrConflict when the version moved and ErrNotFound when there is no
	// such problem.
	UpdateProblem(ctx context.Context, p ProblemRecord) (ProblemRecord, error)
	GetRemediation(ctx context.Context, id string) (RemediationRecord, error)
	RunningRemediation(ctx context.Context, project, stage, service string) (RemediationRecord, error)
	// RunningRemediations returns every running remediation of a project,
	// oldest first: what deleting the project must cancel.
	RunningRemediations(ctx context.Context, project string) ([]RemediationRecord, error)
	// ProjectUID returns the UID of the project's current generation, or
	// ErrNotFound when no project has that name. Read in the transaction
	// that records a problem, it tells whether the project was deleted
	// (or deleted and created again) since the problem was placed.
	ProjectUID(ctx context.Context, name string) (string, error)
	// CreateRemediation stores a new remediation with version 1. It
	// returns ErrConflict when the service already has a running
	// remediation (also one a concurrent transaction commits first) and
	// ErrExists when the id is taken.
	CreateRemediation(ctx context.Context, r RemediationRecord) (RemediationRecord, error)
	// UpdateRemediation replaces state, running and document of r.ID if
	// its stored version is still r.Version (compare-and-set), and returns
	// it with the new version. It returns ErrConflict when the version
	// moved, or when r would make a second running remediation of its
	// service; ErrNotFound when there is no such remediation.
	UpdateRemediation(ctx context.Context, r RemediationRecord) (RemediationRecord, error)
	// RunningRemediationHead is RunningRemediation without the document:
	// what deciding on a notification needs (id, state, version, Joinable).
	RunningRemediationHead(ctx context.Context, project, stage, service string) (RemediationRecord, error)
	// JoinRemediation records problems that joined remediation id, beside
	// its document, if its stored version is still version and it is
	// Joinable (compare-and-set, as UpdateRemediation), and returns the new
	// version. Its cost does not grow with the remediation's problems,
	// where rewriting the document would. Reads fold the joins into the
	// document, and the next UpdateRemediation, which writes a document
	// read with them, drops them. It returns ErrConflict when the version
	// moved or the remediation is not Joinable, ErrNotFound when there is
	// no such remediation.
	JoinRemediation(ctx context.Context, id string, version int64, joins []RemediationJoin) (int64, error)
}
