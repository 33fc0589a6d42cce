package store

import (
	"context"
	"time"
)

// SequenceRecord is one stored shipyard sequence run: the columns queries
// need and the sequence itself as a JSON document that only its owner (the
// sequence runner) interprets.
type SequenceRecord struct {
	// Seq orders sequences by creation; it is the list's page key.
	Seq int64
	// ID is the sequence run's id, derived from its Keptn context, stage
	// and name.
	ID           string
	KeptnContext string
	Project      string
	Stage        string
	Service      string
	// Name is the sequence's name in the shipyard, e.g. "delivery".
	Name string
	// State is the sequence's state (sequence.State).
	State string
	// Active is true while the sequence holds its project, stage and
	// service (started or paused). The store keeps at most one active
	// sequence per project, stage and service, so replicas starting
	// sequences concurrently cannot run two; the others wait.
	Active bool
	// Doc is the sequence as JSON.
	Doc []byte
	// Version is 1 when created and grows by one with every update;
	// UpdateSequence compares it.
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// SequenceFilter selects sequences for ListSequences; empty fields match
// anything.
type SequenceFilter struct {
	Project      string
	Stage        string
	Service      string
	Name         string
	State        string
	KeptnContext string
	// FromTime keeps only sequences created at or after it.
	FromTime time.Time
	PageSize int
	PageKey  string
}

// SequencePage is one page of ListSequences, newest first.
type SequencePage struct {
	Sequences   []SequenceRecord
	NextPageKey string
}

// Sequences reads sequence records; writes happen in transactions.
type Sequences interface {
	// GetSequence returns a sequence by id, or ErrNotFound.
	GetSequence(ctx context.Context, id string) (SequenceRecord, error)
	// ListSequences returns one page of matching sequences, newest first.
	ListSequences(ctx context.Context, f SequenceFilter) (SequencePage, error)
}

// SequenceTx holds the sequence writes of a transaction, with the reads a
// decision needs. Reads inside the transaction see its own writes. A
// store.Tx includes it.
type SequenceTx interface {
	GetSequence(ctx context.Context, id string) (SequenceRecord, error)
	// ActiveSequence returns the active sequence of a project, stage and
	// service, or ErrNotFound.
	ActiveSequence(ctx context.Context, project, stage, service string) (SequenceRecord, error)
	// NextWaitingSequence returns the oldest sequence in state waiting of
	// a project, stage and service, or ErrNotFound.
	NextWaitingSequence(ctx context.Context, project, stage, service, waiting string) (SequenceRecord, error)
	// CreateSequence stores a new sequence with version 1. It returns
	// ErrExists when the id is taken and ErrConflict when the record is
	// active and its project, stage and service already has an active
	// sequence.
	CreateSequence(ctx context.Context, r SequenceRecord) (SequenceRecord, error)
	// UpdateSequence replaces state, active and document of r.ID if its
	// stored version is still r.Version, and returns it with the new
	// version. It returns ErrConflict when the version moved or when r
	// would make a second active sequence; ErrNotFound when there is no
	// such sequence.
	UpdateSequence(ctx context.Context, r SequenceRecord) (SequenceRecord, error)
}
