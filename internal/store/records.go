package store

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Times are stored with microsecond precision, in UTC, on both drivers.

// NewProject is what CreateProject stores.
type NewProject struct {
	Name     string
	Shipyard []byte
	// UpstreamURL, UpstreamUser and UpstreamToken name an optional Git
	// remote that resource commits are pushed to.
	UpstreamURL   string
	UpstreamUser  string
	UpstreamToken string
}

// Project is a stored project as the API may show it: it never carries the
// upstream token (see Projects.ProjectUpstreamToken).
type Project struct {
	Name string
	// UID identifies this generation of the project: it is made when the
	// project is created, so a project deleted and created again under the
	// same name has another. Problems, remediations and events carry the
	// UID of their project, and queries by project name see only the
	// current generation's records.
	UID          string
	Shipyard     []byte
	UpstreamURL  string
	UpstreamUser string
	// HasUpstreamToken tells whether a token is stored, without revealing it.
	HasUpstreamToken bool
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// Service is a service of a project; it exists in every stage.
type Service struct {
	Project   string
	Name      string
	CreatedAt time.Time
}

// NewToken is what CreateToken stores.
type NewToken struct {
	Name string
	// Scope is the token's permission ("read", "write", "admin", or a
	// narrower one the auth package defines); the store only keeps it.
	Scope string
	// Project limits the token to one project; "" means all projects.
	Project string
	// Hash is the SHA-256 of the secret, 32 bytes.
	Hash []byte
}

// Token is a stored token, without its secret.
type Token struct {
	Name      string
	Scope     string
	Project   string
	Hash      []byte
	CreatedAt time.Time
}

// EventRecord is one CloudEvent of the log: the fields queries filter on,
// and the structured-mode JSON of the whole event as it was accepted.
type EventRecord struct {
	// Seq is the event's position in the log, assigned by AppendEvents and
	// strictly increasing in commit order within one store. It is the
	// event stream's id (Last-Event-ID).
	Seq          int64
	ID           string
	Source       string
	Type         string
	Time         time.Time
	SpecVersion  string
	KeptnContext string
	TriggeredID  string
	Project      string
	Stage        string
	Service      string
	// JSON is the raw structured-mode CloudEvent.
	JSON []byte
}

// EventFilter selects events for ListEvents. Empty fields match anything.
type EventFilter struct {
	Project      string
	Stage        string
	Service      string
	Type         string
	ID           string
	KeptnContext string
	TriggeredID  string
	// AfterSeq keeps only events with a greater sequence number.
	AfterSeq int64
	// FromTime keeps only events whose time is at or after it; the zero
	// time keeps all.
	FromTime time.Time
	// BeforeTime keeps only events whose time is before it; the zero time
	// keeps all.
	BeforeTime time.Time
	// Root keeps only the first event stored of each Keptn context (what
	// Keptn's datastore called root events).
	Root bool
	// PageSize defaults to DefaultPageSize and is capped at MaxPageSize.
	PageSize int
	// PageKey is the NextPageKey of the previous page, "" for the first.
	PageKey string
	// CountTotal asks for EventPage.TotalCount, at the cost of a count.
	CountTotal bool
}

// TriggeredFilter selects the open triggered events of OpenTriggeredEvents.
type TriggeredFilter struct {
	// Type is the .triggered type and Finished the .finished type that
	// answers it; both are required.
	Type, Finished string
	// Project, Stage, Service and the event's ID filter when not empty.
	Project, Stage, Service, ID string
	// Limit defaults to and is capped at MaxPageSize.
	Limit int
}

// Page sizes of ListEvents.
const (
	DefaultPageSize = 20
	MaxPageSize     = 500
)

// EventPage is one page of ListEvents.
type EventPage struct {
	Events []EventRecord
	// NextPageKey is "" on the last page.
	NextPageKey string
	// TotalCount is set when the filter asked for it.
	TotalCount int
}

// EffectivePageSize returns the page size ListEvents uses for f.
func (f EventFilter) EffectivePageSize() int {
	switch {
	case f.PageSize <= 0:
		return DefaultPageSize
	case f.PageSize > MaxPageSize:
		return MaxPageSize
	}
	return f.PageSize
}

// EncodePageKey turns the last sequence number of a page into the opaque key
// of the next one. Keys are opaque so that their form can change.
func EncodePageKey(lastSeq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("s" + strconv.FormatInt(lastSeq, 10)))
}

// DecodePageKey reverses EncodePageKey; "" means the first page (0).
func DecodePageKey(key string) (int64, error) {
	if key == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(key)
	if err != nil || len(b) < 2 || b[0] != 's' {
		return 0, fmt.Errorf("page key %q was not handed out by this server: %w", key, ErrInvalid)
	}
	n, err := strconv.ParseInt(string(b[1:]), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("page key %q was not handed out by this server: %w", key, ErrInvalid)
	}
	return n, nil
}

// JobState is where a job is in its life.
type JobState string

// Job states. A job goes pending -> running -> done, or back to pending for a
// retry or a reschedule, or to failed when its attempts are used up, or to
// cancelled from pending or running.
const (
	JobPending JobState = "pending"
	JobRunning JobState = "running"
	JobDone    JobState = "done"
	JobFailed  JobState = "failed"
	// JobCancelled is a job withdrawn by CancelJobs before it finished:
	// it never runs again, and its holder, if any, loses its lease.
	JobCancelled JobState = "cancelled"
)

// DefaultMaxAttempts is used when a JobSpec leaves MaxAttempts at 0.
const DefaultMaxAttempts = 25

// JobSpec is a job to enqueue.
type JobSpec struct {
	// Kind names the handler, e.g. "evaluation" or "remediation.step".
	Kind string
	// Payload is the handler's input, usually JSON.
	Payload []byte
	// RunAt is when the job becomes due; zero means After from now. A
	// future RunAt is a durable timer.
	RunAt time.Time
	// After, when RunAt is zero, makes the job due After past the
	// database's clock rather than at a time read from this replica's
	// clock, so a replica whose clock is off still sets its timers right.
	After time.Duration
	// UniqueKey makes enqueueing idempotent; "" means no key.
	UniqueKey string
	// MaxAttempts defaults to DefaultMaxAttempts.
	MaxAttempts int
}

// Lease proves that a worker holds a claimed job. Token changes with every
// claim, so a worker whose lease expired and was taken over cannot record an
// outcome.
type Lease struct {
	JobID int64
	Token string
}

// Job is a stored job.
type Job struct {
	ID        int64
	Kind      string
	Payload   []byte
	UniqueKey string
	State     JobState
	RunAt     time.Time
	// Attempt counts claims since the job was enqueued or last rescheduled,
	// including the current one.
	Attempt     int
	MaxAttempts int
	// Lease is set on jobs returned by ClaimJobs.
	Lease      Lease
	LeasedBy   string
	LeaseUntil time.Time
	LastError  string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// JobFilter selects jobs for ListJobs.
type JobFilter struct {
	// KeyPrefix keeps the jobs whose UniqueKey starts with it; it must not
	// be empty.
	KeyPrefix string
	// States keeps the jobs in one of these states; empty keeps all.
	States []JobState
	// Limit is the most jobs returned; 0 means 100.
	Limit int
}

// Claim asks ClaimJobs for work.
type Claim struct {
	// Kinds limits the claim to these kinds; empty means any kind.
	Kinds []string
	// Worker names the claimant in the job row, for operators.
	Worker string
	// Limit is the most jobs to claim; 0 means 1.
	Limit int
	// Lease is how long the claim holds without ExtendJobLease; 0 means
	// DefaultLease.
	Lease time.Duration
}

// DefaultLease is the lease of a Claim that does not set one.
const DefaultLease = 30 * time.Second

// Reschedule releases a claimed job to run again later.
type Reschedule struct {
	// RunAt is when the job runs again; zero means After from now.
	RunAt time.Time
	// After, when RunAt is zero, is the delay from the database's clock
	// (see JobSpec.After).
	After time.Duration
	// Payload replaces the job's payload when not nil, so a step can carry
	// its progress.
	Payload []byte
}

// RetryDelay is how long a failed job waits before its next attempt:
// exponential from one second, capped at one hour. It is deterministic so
// that tests can predict it.
func RetryDelay(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	if attempt > 13 {
		return time.Hour
	}
	d := time.Second << (attempt - 1)
	if d > time.Hour {
		return time.Hour
	}
	return d
}

// Scope names where a setting applies. The zero Scope is server-wide; a
// Stage or Service needs its Project, and a Service its Stage only when the
// setting is stage-specific (Stage "" with a Service means every stage).
type Scope struct {
	Project string
	Stage   string
	Service string
}

// Setting is one scoped value.
type Setting struct {
	Scope
	Key       string
	Value     json.RawMessage
	UpdatedAt time.Time
}

// Prune says which records Retention.Prune deletes. A zero age keeps that
// kind for ever.
type Prune struct {
	// Events deletes events whose time is older, except those of a keptn
	// context whose problem is still open, whose remediation still runs
	// or whose sequence has not ended (waiting, started or paused). The
	// log lines integrations sent follow the same rule by the time they
	// were logged.
	Events time.Duration
	// Jobs deletes done and failed jobs last changed longer ago. Their
	// unique keys go with them; that is safe because a unique key
	// dedupes the replays of the handler that enqueued it, which
	// completed in the same transaction, long before.
	Jobs time.Duration
	// Problems deletes closed problems closed longer ago, and finished
	// remediations last changed longer ago that no remaining problem
	// names.
	Problems time.Duration
	// Sequences deletes ended sequences (finished, aborted or timedOut)
	// last changed longer ago; a waiting, started or paused sequence is
	// never deleted, however old.
	Sequences time.Duration
	// Limit caps the records of each kind one call deletes; 0 means
	// DefaultPruneLimit.
	Limit int
}

// DefaultPruneLimit is Prune.Limit's default.
const DefaultPruneLimit = 1000

// Pruned counts the records one Prune call deleted.
type Pruned struct {
	Events, Jobs, Problems, Remediations, Sequences, Logs int
}

// Total is the number of records deleted.
func (p Pruned) Total() int {
	return p.Events + p.Jobs + p.Problems + p.Remediations + p.Sequences + p.Logs
}

// Add returns the sum of p and q, kind by kind.
func (p Pruned) Add(q Pruned) Pruned {
	return Pruned{
		Events: p.Events + q.Events, Jobs: p.Jobs + q.Jobs, Problems: p.Problems + q.Problems,
		Remediations: p.Remediations + q.Remediations, Sequences: p.Sequences + q.Sequences, Logs: p.Logs + q.Logs,
	}
}

// Exhausted reports whether no kind reached limit, so that another call
// with the same policy would find nothing more to delete.
func (p Pruned) Exhausted(limit int) bool {
	return max(p.Events, p.Jobs, p.Problems, p.Remediations, p.Sequences, p.Logs) < limit
}
