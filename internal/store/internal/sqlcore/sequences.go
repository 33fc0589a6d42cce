package sqlcore

import (
	"context"
	"errors"
	"fmt"

	"github.com/tendhq/tend/internal/store"
)

const sequenceCols = `seq, id, shkeptncontext, project, stage, service, name, state, active, doc, version, created_at, updated_at`

func scanSequence(row interface{ Scan(...any) error }) (store.SequenceRecord, error) {
	var r store.SequenceRecord
	var active, created, updated int64
	if err := row.Scan(&r.Seq, &r.ID, &r.KeptnContext, &r.Project, &r.Stage, &r.Service, &r.Name, &r.State, &active,
		&r.Doc, &r.Version, &created, &updated); err != nil {
		return store.SequenceRecord{}, err
	}
	r.Active = active != 0
	r.CreatedAt, r.UpdatedAt = fromMicro(created), fromMicro(updated)
	return r, nil
}

func getSequence(ctx context.Context, q Querier, id string) (store.SequenceRecord, error) {
	r, err := scanSequence(q.QueryRow(ctx, `SELECT `+sequenceCols+` FROM sequences WHERE id = ?`, id))
	if errors.Is(err, ErrNoRows) {
		return store.SequenceRecord{}, fmt.Errorf("sequence %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.SequenceRecord{}, fmt.Errorf("get sequence %q: %w", id, err)
	}
	return r, nil
}

// GetSequence implements store.Sequences.
func (c *Core) GetSequence(ctx context.Context, id string) (store.SequenceRecord, error) {
	return getSequence(ctx, c.read, id)
}

// ListSequences implements store.Sequences.
func (c *Core) ListSequences(ctx context.Context, f store.SequenceFilter) (store.SequencePage, error) {
	before, err := store.DecodePageKey(f.PageKey)
	if err != nil {
		return store.SequencePage{}, fmt.Errorf("list sequences: %w", err)
	}
	where, args := equalities([]colValue{{"project", f.Project}, {"stage", f.Stage}, {"service", f.Service},
		{"name", f.Name}, {"state", f.State}, {"shkeptncontext", f.KeptnContext}})
	if !f.FromTime.IsZero() {
		where = append(where, "created_at >= ?")
		args = append(args, micro(f.FromTime))
	}
	size := store.EventFilter{PageSize: f.PageSize}.EffectivePageSize()
	rows, err := c.read.Query(ctx, `SELECT `+sequenceCols+` FROM sequences`+pageCond(where, before, &args)+` ORDER BY seq DESC LIMIT ?`,
		append(args, size+1)...)
	if err != nil {
		return store.SequencePage{}, fmt.Errorf("list sequences: %w", err)
	}
	defer rows.Close()
	var page store.SequencePage
	for rows.Next() {
		r, err := scanSequence(rows)
		if err != nil {
			return store.SequencePage{}, fmt.Errorf("list sequences: %w", err)
		}
		page.Sequences = append(page.Sequences, r)
	}
	if err := rows.Err(); err != nil {
		return store.SequencePage{}, fmt.Errorf("list sequences: %w", err)
	}
	if len(page.Sequences) > size {
		page.Sequences = page.Sequences[:size]
		page.NextPageKey = store.EncodePageKey(page.Sequences[size-1].Seq)
	}
	return page, nil
}

// GetSequence implements store.Tx.
func (w *txw) GetSequence(ctx context.Context, id string) (store.SequenceRecord, error) {
	if err := w.check(); err != nil {
		return store.SequenceRecord{}, err
	}
	if err := w.lockProblems(ctx); err != nil {
		return store.SequenceRecord{}, err
	}
	return getSequence(ctx, w.q, id)
}

func activeSequence(ctx context.Context, q Querier, project, stage, service string) (store.SequenceRecord, error) {
	r, err := scanSequence(q.QueryRow(ctx, `SELECT `+sequenceCols+` FROM sequences
		WHERE project = ? AND stage = ? AND service = ? AND active = 1`, project, stage, service))
	if errors.Is(err, ErrNoRows) {
		return store.SequenceRecord{}, fmt.Errorf("active sequence of project %q, stage %q, service %q: %w", project, stage, service, store.ErrNotFound)
	}
	if err != nil {
		return store.SequenceRecord{}, fmt.Errorf("get active sequence of project %q, stage %q, service %q: %w", project, stage, service, err)
	}
	return r, nil
}

// ActiveSequence implements store.Tx.
func (w *txw) ActiveSequence(ctx context.Context, project, stage, service string) (store.SequenceRecord, error) {
	if err := w.check(); err != nil {
		return store.SequenceRecord{}, err
	}
	if err := w.lockProblems(ctx); err != nil {
		return store.SequenceRecord{}, err
	}
	return activeSequence(ctx, w.q, project, stage, service)
}

// NextWaitingSequence implements store.Tx.
func (w *txw) NextWaitingSequence(ctx context.Context, project, stage, service, waiting string) (store.SequenceRecord, error) {
	if err := w.check(); err != nil {
		return store.SequenceRecord{}, err
	}
	if err := w.lockProblems(ctx); err != nil {
		return store.SequenceRecord{}, err
	}
	r, err := scanSequence(w.q.QueryRow(ctx, `SELECT `+sequenceCols+` FROM sequences
		WHERE project = ? AND stage = ? AND service = ? AND state = ? ORDER BY seq LIMIT 1`, project, stage, service, waiting))
	if errors.Is(err, ErrNoRows) {
		return store.SequenceRecord{}, fmt.Errorf("waiting sequence of project %q, stage %q, service %q: %w", project, stage, service, store.ErrNotFound)
	}
	if err != nil {
		return store.SequenceRecord{}, fmt.Errorf("get waiting sequence of project %q, stage %q, service %q: %w", project, stage, service, err)
	}
	return r, nil
}

// CreateSequence implements store.Tx.
func (w *txw) CreateSequence(ctx context.Context, r store.SequenceRecord) (store.SequenceRecord, error) {
	if err := w.check(); err != nil {
		return store.SequenceRecord{}, err
	}
	if err := w.lockProblems(ctx); err != nil {
		return store.SequenceRecord{}, err
	}
	if r.ID == "" || r.State == "" {
		return store.SequenceRecord{}, fmt.Errorf("create sequence: id and state are required: %w", store.ErrInvalid)
	}
	now := w.c.now()
	r.Version, r.CreatedAt, r.UpdatedAt = 1, fromMicro(micro(now)), fromMicro(micro(now))
	r.Doc = orEmpty(r.Doc)
	err := w.q.QueryRow(ctx, `INSERT INTO sequences (id, shkeptncontext, project, stage, service, name, state, active, doc, version, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?) ON CONFLICT DO NOTHING RETURNING seq`,
		r.ID, r.KeptnContext, r.Project, r.Stage, r.Service, r.Name, r.State, boolInt(r.Active), r.Doc, micro(now), micro(now)).Scan(&r.Seq)
	if errors.Is(err, ErrNoRows) {
		if _, err := getSequence(ctx, w.q, r.ID); err == nil {
			return store.SequenceRecord{}, fmt.Errorf("create sequence %q: %w", r.ID, store.ErrExists)
		}
		return store.SequenceRecord{}, fmt.Errorf("create sequence %q: project %q, stage %q, service %q has an active sequence: %w",
			r.ID, r.Project, r.Stage, r.Service, store.ErrConflict)
	}
	if err != nil {
		return store.SequenceRecord{}, fmt.Errorf("create sequence %q: %w", r.ID, err)
	}
	return r, nil
}

// UpdateSequence implements store.Tx.
func (w *txw) UpdateSequence(ctx context.Context, r store.SequenceRecord) (store.SequenceRecord, error) {
	if err := w.check(); err != nil {
		return store.SequenceRecord{}, err
	}
	if err := w.lockProblems(ctx); err != nil {
		return store.SequenceRecord{}, err
	}
	if r.State == "" {
		return store.SequenceRecord{}, fmt.Errorf("update sequence %q: empty state: %w", r.ID, store.ErrInvalid)
	}
	cur, err := getSequence(ctx, w.q, r.ID)
	if err != nil {
		return store.SequenceRecord{}, fmt.Errorf("update sequence: %w", err)
	}
	if cur.Version != r.Version {
		return store.SequenceRecord{}, fmt.Errorf("update sequence %q at version %d (stored %d): %w", r.ID, r.Version, cur.Version, store.ErrConflict)
	}
	if r.Active && !cur.Active {
		// Checked here rather than left to the unique index, whose
		// violation would abort a PostgreSQL transaction.
		if other, err := activeSequence(ctx, w.q, cur.Project, cur.Stage, cur.Service); err == nil && other.ID != r.ID {
			return store.SequenceRecord{}, fmt.Errorf("update sequence %q: %s is active for the service: %w", r.ID, other.ID, store.ErrConflict)
		}
	}
	now := micro(w.c.now())
	doc := orEmpty(r.Doc)
	n, err := w.q.Exec(ctx, `UPDATE sequences SET state = ?, active = ?, doc = ?, version = version + 1, updated_at = ?
		WHERE id = ? AND version = ?`, r.State, boolInt(r.Active), doc, now, r.ID, r.Version)
	if err != nil {
		return store.SequenceRecord{}, fmt.Errorf("update sequence %q: %w", r.ID, err)
	}
	if n == 0 {
		return store.SequenceRecord{}, fmt.Errorf("update sequence %q at version %d: %w", r.ID, r.Version, store.ErrConflict)
	}
	cur.State, cur.Active, cur.Doc, cur.Version, cur.UpdatedAt = r.State, r.Active, doc, r.Version+1, fromMicro(now)
	return cur, nil
}
