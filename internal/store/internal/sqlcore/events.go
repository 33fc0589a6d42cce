package sqlcore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/tendhq/tend/internal/store"
)

const eventCols = `seq, id, source, type, event_time, specversion, shkeptncontext, triggeredid, project, stage, service, body`

func scanEvent(row interface{ Scan(...any) error }) (store.EventRecord, error) {
	var e store.EventRecord
	var t int64
	if err := row.Scan(&e.Seq, &e.ID, &e.Source, &e.Type, &t, &e.SpecVersion, &e.KeptnContext, &e.TriggeredID,
		&e.Project, &e.Stage, &e.Service, &e.JSON); err != nil {
		return store.EventRecord{}, err
	}
	e.Time = fromMicro(t)
	return e, nil
}

// AppendEvents implements store.Events.
func (c *Core) AppendEvents(ctx context.Context, evs ...store.EventRecord) ([]int64, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	if err := validateEvents(evs); err != nil {
		return nil, err
	}
	var seqs []int64
	err := c.write(ctx, func(ctx context.Context, w *txw) error {
		var err error
		seqs, err = w.appendEvents(ctx, evs)
		return err
	})
	if err != nil {
		return nil, err
	}
	return seqs, nil
}

func validateEvents(evs []store.EventRecord) error {
	for i, e := range evs {
		if e.ID == "" || e.Source == "" || e.Type == "" {
			return fmt.Errorf("append event %d: id, source and type are required: %w", i, store.ErrInvalid)
		}
	}
	return nil
}

// AppendEvents implements store.Tx.
func (w *txw) AppendEvents(ctx context.Context, evs ...store.EventRecord) ([]int64, error) {
	if err := w.check(); err != nil {
		return nil, err
	}
	if err := validateEvents(evs); err != nil {
		return nil, err
	}
	return w.appendEvents(ctx, evs)
}

func (w *txw) appendEvents(ctx context.Context, evs []store.EventRecord) ([]int64, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	if w.c.d.EventLock != "" && !*w.eventLocked {
		if _, err := w.q.Exec(ctx, w.c.d.EventLock); err != nil {
			return nil, fmt.Errorf("append events: lock: %w", err)
		}
		*w.eventLocked = true
	}
	seqs := make([]int64, len(evs))
	for start := 0; start < len(evs); start += eventRowsPerInsert {
		end := min(start+eventRowsPerInsert, len(evs))
		if err := w.insertEventRows(ctx, evs[start:end], seqs[start:end]); err != nil {
			return nil, err
		}
	}
	return seqs, nil
}

// eventRowsPerInsert caps the rows of one INSERT: 12 parameters each keeps
// a statement far below both databases' parameter limits.
const eventRowsPerInsert = 256

// insertEventRows stores evs with one multi-row INSERT and fills seqs (as
// long as evs) with their sequence numbers. Rows are numbered in the order
// of evs (both databases assign the identity of a multi-row INSERT row by
// row, in VALUES order; storetest checks it). One statement instead of one
// per event matters under PostgreSQL's event lock, which the transaction
// holds until it commits: each statement is a round trip spent holding it.
// An event already stored (the same source and id, from an earlier call or
// earlier in evs) is not inserted again and answers with the number it has.
func (w *txw) insertEventRows(ctx context.Context, evs []store.EventRecord, seqs []int64) error {
	const row = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ` + currentUID + `)`
	var q strings.Builder
	q.WriteString(`INSERT INTO events (id, source, type, event_time, specversion, shkeptncontext, triggeredid, project, stage, service, body, project_uid) VALUES `)
	args := make([]any, 0, 12*len(evs))
	type key struct{ source, id string }
	for i, e := range evs {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString(row)
		body := e.JSON
		if body == nil {
			body = []byte{}
		}
		// The event belongs to the current generation of its project.
		args = append(args, e.ID, e.Source, e.Type, micro(e.Time), e.SpecVersion, e.KeptnContext, e.TriggeredID,
			e.Project, e.Stage, e.Service, body, e.Project)
	}
	q.WriteString(` ON CONFLICT (source, id) DO NOTHING RETURNING seq, source, id`)
	rows, err := w.q.Query(ctx, q.String(), args...)
	if err != nil {
		return fmt.Errorf("append %d events: %w", len(evs), err)
	}
	stored := make(map[key]int64, len(evs))
	for rows.Next() {
		var seq int64
		var k key
		if err := rows.Scan(&seq, &k.source, &k.id); err != nil {
			rows.Close()
			return fmt.Errorf("append %d events: %w", len(evs), err)
		}
		stored[k] = seq
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("append %d events: %w", len(evs), err)
	}
	if len(stored) > 0 {
		w.r.events = true
	}
	for i, e := range evs {
		seq, ok := stored[key{e.Source, e.ID}]
		if !ok {
			// Already stored: answer with its sequence number.
			if err := w.q.QueryRow(ctx, `SELECT seq FROM events WHERE source = ? AND id = ?`, e.Source, e.ID).Scan(&seq); err != nil {
				return fmt.Errorf("append event %q from %q: %w", e.ID, e.Source, err)
			}
			stored[key{e.Source, e.ID}] = seq
		}
		seqs[i] = seq
	}
	return nil
}

// ListEvents implements store.Events.
func (c *Core) ListEvents(ctx context.Context, f store.EventFilter) (store.EventPage, error) {
	before, err := store.DecodePageKey(f.PageKey)
	if err != nil {
		return store.EventPage{}, fmt.Errorf("list events: %w", err)
	}
	var where []string
	var args []any
	for _, eq := range []struct{ col, v string }{
		{"project", f.Project}, {"stage", f.Stage}, {"service", f.Service}, {"type", f.Type},
		{"id", f.ID}, {"shkeptncontext", f.KeptnContext}, {"triggeredid", f.TriggeredID},
	} {
		if eq.v != "" {
			where = append(where, eq.col+" = ?")
			args = append(args, eq.v)
		}
	}
	where, args = currentGeneration(where, args, f.Project)
	if f.AfterSeq > 0 {
		where = append(where, "seq > ?")
		args = append(args, f.AfterSeq)
	}
	if !f.FromTime.IsZero() {
		where = append(where, "event_time >= ?")
		args = append(args, micro(f.FromTime))
	}
	if !f.BeforeTime.IsZero() {
		where = append(where, "event_time < ?")
		args = append(args, micro(f.BeforeTime))
	}
	if f.Root {
		where = append(where, "seq IN (SELECT MIN(seq) FROM events GROUP BY shkeptncontext)")
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	var page store.EventPage
	if f.CountTotal {
		if err := c.read.QueryRow(ctx, `SELECT COUNT(*) FROM events`+cond, args...).Scan(&page.TotalCount); err != nil {
			return store.EventPage{}, fmt.Errorf("count events: %w", err)
		}
	}
	if before > 0 {
		if cond == "" {
			cond = " WHERE seq < ?"
		} else {
			cond += " AND seq < ?"
		}
		args = append(args, before)
	}
	size := f.EffectivePageSize()
	args = append(args, size+1)
	rows, err := c.read.Query(ctx, `SELECT `+eventCols+` FROM events`+cond+` ORDER BY seq DESC LIMIT ?`, args...)
	if err != nil {
		return store.EventPage{}, fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return store.EventPage{}, fmt.Errorf("list events: %w", err)
		}
		page.Events = append(page.Events, e)
	}
	if err := rows.Err(); err != nil {
		return store.EventPage{}, fmt.Errorf("list events: %w", err)
	}
	if len(page.Events) > size {
		page.Events = page.Events[:size]
		page.NextPageKey = store.EncodePageKey(page.Events[size-1].Seq)
	}
	return page, nil
}

// OpenTriggeredEvents implements store.Events.
func (c *Core) OpenTriggeredEvents(ctx context.Context, f store.TriggeredFilter) ([]store.EventRecord, error) {
	if f.Type == "" || f.Finished == "" {
		return nil, fmt.Errorf("open triggered events: a type and its finished type are required: %w", store.ErrInvalid)
	}
	limit := f.Limit
	if limit <= 0 || limit > store.MaxPageSize {
		limit = store.MaxPageSize
	}
	where := []string{"t.type = ?"}
	args := []any{f.Type}
	for _, eq := range []struct{ col, v string }{{"t.project", f.Project}, {"t.stage", f.Stage}, {"t.service", f.Service}, {"t.id", f.ID}} {
		if eq.v != "" {
			where = append(where, eq.col+" = ?")
			args = append(args, eq.v)
		}
	}
	if f.Project != "" {
		// Only the current generation of the project: a project deleted
		// and created again under its name starts with no open tasks.
		where = append(where, "t.project_uid = "+currentUID)
		args = append(args, f.Project)
	}
	args = append(args, f.Finished, limit)
	// The answer's triggeredid <> '' lets both databases use the partial
	// index events_triggeredid.
	rows, err := c.read.Query(ctx, `SELECT `+eventCols+` FROM events t
		WHERE `+strings.Join(where, " AND ")+`
			AND NOT EXISTS (SELECT 1 FROM events f WHERE f.triggeredid = t.id AND f.triggeredid <> '' AND f.type = ?)
		ORDER BY t.seq DESC LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("open triggered events: %w", err)
	}
	defer rows.Close()
	var out []store.EventRecord
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("open triggered events: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("open triggered events: %w", err)
	}
	// Newest were selected so that stale, never answered events cannot
	// crowd out new ones; executors work oldest first.
	slices.Reverse(out)
	return out, nil
}

// EventsSince implements store.Events.
func (c *Core) EventsSince(ctx context.Context, project string, afterSeq int64, limit int) ([]store.EventRecord, error) {
	if limit <= 0 || limit > store.MaxPageSize {
		limit = store.MaxPageSize
	}
	var rows Rows
	var err error
	if project == "" {
		rows, err = c.read.Query(ctx, `SELECT `+eventCols+` FROM events WHERE seq > ? ORDER BY seq LIMIT ?`, afterSeq, limit)
	} else {
		rows, err = c.read.Query(ctx, `SELECT `+eventCols+` FROM events WHERE project = ? AND project_uid = `+currentUID+` AND seq > ? ORDER BY seq LIMIT ?`,
			project, project, afterSeq, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("read events since %d: %w", afterSeq, err)
	}
	defer rows.Close()
	var out []store.EventRecord
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("read events since %d: %w", afterSeq, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read events since %d: %w", afterSeq, err)
	}
	return out, nil
}

// SubscribeEvents implements store.Events.
func (c *Core) SubscribeEvents(ctx context.Context) <-chan struct{} { return c.events.Subscribe(ctx) }
