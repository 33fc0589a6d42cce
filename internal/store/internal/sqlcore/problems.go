package sqlcore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tendhq/tend/internal/remediation"
	"github.com/tendhq/tend/internal/store"
)

const problemCols = `seq, id, problem_key, source, project, stage, service, state, title, remediation_id,
	shkeptncontext, reason, opened_at, closed_at, doc, version, created_at, updated_at, project_uid`

// currentUID is the SQL of the UID of the current generation of the
// project named by its one parameter, ” when there is none: records of a
// project name are selected with "project_uid = "+currentUID.
const currentUID = `COALESCE((SELECT uid FROM projects WHERE name = ?), '')`

func scanProblem(row interface{ Scan(...any) error }) (store.ProblemRecord, error) {
	var p store.ProblemRecord
	var opened, closed, created, updated int64
	if err := row.Scan(&p.Seq, &p.ID, &p.Key, &p.Source, &p.Project, &p.Stage, &p.Service, &p.State, &p.Title,
		&p.RemediationID, &p.KeptnContext, &p.Reason, &opened, &closed, &p.Doc, &p.Version, &created, &updated, &p.ProjectUID); err != nil {
		return store.ProblemRecord{}, err
	}
	p.OpenedAt, p.ClosedAt = fromMicro(opened), fromMicro(closed)
	p.CreatedAt, p.UpdatedAt = fromMicro(created), fromMicro(updated)
	return p, nil
}

const remediationCols = `seq, id, project, stage, service, state, running, shkeptncontext, doc, version, created_at, updated_at, project_uid, joinable, pending_joins`

// remediationRow is a scanned remediation with the number of joins not yet
// folded into its document.
type remediationRow struct {
	store.RemediationRecord
	pending int64
}

func scanRemediation(row interface{ Scan(...any) error }) (remediationRow, error) {
	var r remediationRow
	var running, created, updated, joinable int64
	if err := row.Scan(&r.Seq, &r.ID, &r.Project, &r.Stage, &r.Service, &r.State, &running, &r.KeptnContext,
		&r.Doc, &r.Version, &created, &updated, &r.ProjectUID, &joinable, &r.pending); err != nil {
		return remediationRow{}, err
	}
	r.Running, r.Joinable = running != 0, joinable != 0
	r.CreatedAt, r.UpdatedAt = fromMicro(created), fromMicro(updated)
	return r, nil
}

// errJoinsMoved says that a remediation's joins were read at another
// version than its row, by a read outside a transaction that raced a write:
// the read is repeated.
var errJoinsMoved = errors.New("the remediation moved between reads")

// folded returns the record with the joins recorded beside its document
// folded into it (see JoinRemediation). Call it after the query that read
// the row is closed: a PostgreSQL connection runs one query at a time.
// Outside a transaction the two reads may see different commits; the joins
// are read only at the row's version (every join and every rewrite moves
// it), and errJoinsMoved says they were not all there.
func (r remediationRow) folded(ctx context.Context, q Querier) (store.RemediationRecord, error) {
	if r.pending == 0 {
		return r.RemediationRecord, nil
	}
	rows, err := q.Query(ctx, `SELECT j.problem_id, j.joined_at FROM remediation_joins j JOIN remediations r ON r.id = j.remediation_id
		WHERE j.remediation_id = ? AND r.version = ? ORDER BY j.seq`, r.ID, r.Version)
	if err != nil {
		return store.RemediationRecord{}, fmt.Errorf("read the joins of remediation %q: %w", r.ID, err)
	}
	defer rows.Close()
	joins := make([]remediation.PendingJoin, 0, r.pending)
	for rows.Next() {
		var j remediation.PendingJoin
		var at int64
		if err := rows.Scan(&j.ProblemID, &at); err != nil {
			return store.RemediationRecord{}, fmt.Errorf("read the joins of remediation %q: %w", r.ID, err)
		}
		j.At = time.Unix(0, at)
		joins = append(joins, j)
	}
	if err := rows.Err(); err != nil {
		return store.RemediationRecord{}, fmt.Errorf("read the joins of remediation %q: %w", r.ID, err)
	}
	if int64(len(joins)) != r.pending {
		return store.RemediationRecord{}, errJoinsMoved
	}
	doc, err := remediation.FoldJoins(r.ID, r.Doc, joins)
	if err != nil {
		return store.RemediationRecord{}, err
	}
	rec := r.RemediationRecord
	rec.Doc = doc
	return rec, nil
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func orEmpty(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// --- problems ---------------------------------------------------------

func getProblem(ctx context.Context, q Querier, col, v string) (store.ProblemRecord, error) {
	query := `SELECT ` + problemCols + ` FROM problems WHERE ` + col + ` = ?`
	args := []any{v}
	if col == "problem_key" {
		// A key names its project; of the records of that name, the
		// current generation's.
		query = `SELECT ` + problemCols + ` FROM problems p WHERE problem_key = ?
			AND project_uid = COALESCE((SELECT uid FROM projects WHERE name = p.project), '')`
	}
	p, err := scanProblem(q.QueryRow(ctx, query, args...))
	if errors.Is(err, ErrNoRows) {
		return store.ProblemRecord{}, fmt.Errorf("problem %q: %w", v, store.ErrNotFound)
	}
	if err != nil {
		return store.ProblemRecord{}, fmt.Errorf("get problem %q: %w", v, err)
	}
	return p, nil
}

// GetProblem implements store.Problems.
func (c *Core) GetProblem(ctx context.Context, id string) (store.ProblemRecord, error) {
	return getProblem(ctx, c.read, "id", id)
}

// GetProblemByKey implements store.Problems.
func (c *Core) GetProblemByKey(ctx context.Context, key string) (store.ProblemRecord, error) {
	return getProblem(ctx, c.read, "problem_key", key)
}

// GetProblemsByKeys implements store.Problems.
func (c *Core) GetProblemsByKeys(ctx context.Context, keys []string) (map[string]store.ProblemRecord, error) {
	return getProblemsByKeys(ctx, c.read, keys)
}

func getProblemsByKeys(ctx context.Context, q Querier, keys []string) (map[string]store.ProblemRecord, error) {
	out := make(map[string]store.ProblemRecord, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	if len(keys) > store.MaxKeysPerLookup {
		return nil, fmt.Errorf("get problems by key: %d keys, over the limit of %d per lookup", len(keys), store.MaxKeysPerLookup)
	}
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	// As getProblem: of the records of a key, the current generation's.
	rows, err := q.Query(ctx, `SELECT `+problemCols+` FROM problems p WHERE problem_key IN (?`+strings.Repeat(", ?", len(keys)-1)+`)
		AND project_uid = COALESCE((SELECT uid FROM projects WHERE name = p.project), '')`, args...)
	if err != nil {
		return nil, fmt.Errorf("get problems by key: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		p, err := scanProblem(rows)
		if err != nil {
			return nil, fmt.Errorf("get problems by key: %w", err)
		}
		out[p.Key] = p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("get problems by key: %w", err)
	}
	return out, nil
}

// ListProblems implements store.Problems.
func (c *Core) ListProblems(ctx context.Context, f store.ProblemFilter) (store.ProblemPage, error) {
	before, err := store.DecodePageKey(f.PageKey)
	if err != nil {
		return store.ProblemPage{}, fmt.Errorf("list problems: %w", err)
	}
	where, args := equalities([]colValue{
		{"project", f.Project}, {"stage", f.Stage}, {"service", f.Service}, {"state", f.State}, {"remediation_id", f.RemediationID},
	})
	where, args = currentGeneration(where, args, f.Project)
	size := store.EventFilter{PageSize: f.PageSize}.EffectivePageSize()
	rows, err := c.read.Query(ctx, `SELECT `+problemCols+` FROM problems`+pageCond(where, before, &args)+` ORDER BY seq DESC LIMIT ?`,
		append(args, size+1)...)
	if err != nil {
		return store.ProblemPage{}, fmt.Errorf("list problems: %w", err)
	}
	defer rows.Close()
	var page store.ProblemPage
	for rows.Next() {
		p, err := scanProblem(rows)
		if err != nil {
			return store.ProblemPage{}, fmt.Errorf("list problems: %w", err)
		}
		page.Problems = append(page.Problems, p)
	}
	if err := rows.Err(); err != nil {
		return store.ProblemPage{}, fmt.Errorf("list problems: %w", err)
	}
	if len(page.Problems) > size {
		page.Problems = page.Problems[:size]
		page.NextPageKey = store.EncodePageKey(page.Problems[size-1].Seq)
	}
	return page, nil
}

// GetProblem implements store.Tx.
func (w *txw) GetProblem(ctx context.Context, id string) (store.ProblemRecord, error) {
	if err := w.check(); err != nil {
		return store.ProblemRecord{}, err
	}
	if err := w.lockProblems(ctx); err != nil {
		return store.ProblemRecord{}, err
	}
	return getProblem(ctx, w.q, "id", id)
}

// GetProblemByKey implements store.Tx.
func (w *txw) GetProblemByKey(ctx context.Context, key string) (store.ProblemRecord, error) {
	if err := w.check(); err != nil {
		return store.ProblemRecord{}, err
	}
	if err := w.lockProblems(ctx); err != nil {
		return store.ProblemRecord{}, err
	}
	return getProblem(ctx, w.q, "problem_key", key)
}

// GetProblemsByKeys implements store.Tx.
func (w *txw) GetProblemsByKeys(ctx context.Context, keys []string) (map[string]store.ProblemRecord, error) {
	if err := w.check(); err != nil {
		return nil, err
	}
	if err := w.lockProblems(ctx); err != nil {
		return nil, err
	}
	return getProblemsByKeys(ctx, w.q, keys)
}

// InsertProblem implements store.Tx.
func (w *txw) InsertProblem(ctx context.Context, p store.ProblemRecord) (store.ProblemRecord, error) {
	out, err := w.InsertProblems(ctx, []store.ProblemRecord{p})
	if err != nil {
		return store.ProblemRecord{}, err
	}
	return out[0], nil
}

// problemInsertCols are the columns InsertProblems binds per row; the
// row's project_uid is computed from its project (currentUID).
const problemInsertCols = `id, problem_key, source, project, stage, service, state, title, remediation_id,
	shkeptncontext, reason, opened_at, closed_at, doc, version, created_at, updated_at, project_uid`

// problemRowsPerInsert bounds the rows of one INSERT: 17 parameters each
// stay far below SQLite's and PostgreSQL's limits on bound parameters.
const problemRowsPerInsert = 256

// InsertProblems implements store.Tx. A delivery's new problems go in one
// statement rather than one each: on PostgreSQL every statement is a round
// trip, taken while the transaction holds the event lock (lockProblems).
func (w *txw) InsertProblems(ctx context.Context, ps []store.ProblemRecord) ([]store.ProblemRecord, error) {
	if err := w.check(); err != nil {
		return nil, err
	}
	if err := w.lockProblems(ctx); err != nil {
		return nil, err
	}
	for i, p := range ps {
		if p.ID == "" || p.Key == "" || p.State == "" {
			return nil, fmt.Errorf("insert problem %d of %d (id %q): id, key and state are required: %w", i+1, len(ps), p.ID, store.ErrInvalid)
		}
	}
	now := w.c.now()
	out := make([]store.ProblemRecord, len(ps))
	var inserted []any // ids, to take back on a conflict
	for start := 0; start < len(ps); start += problemRowsPerInsert {
		chunk := ps[start:min(start+problemRowsPerInsert, len(ps))]
		ids, err := w.insertProblemRows(ctx, chunk, out[start:], now)
		inserted = append(inserted, ids...)
		if err != nil {
			// All or none: a caller that goes on after the error must not
			// keep half of the problems.
			if len(inserted) > 0 {
				if _, delErr := w.q.Exec(ctx, `DELETE FROM problems WHERE id IN (`+placeholders(len(inserted))+`)`, inserted...); delErr != nil {
					return nil, fmt.Errorf("insert problems: take back the rows inserted before the error: %w (after %w)", delErr, err)
				}
			}
			return nil, err
		}
	}
	return out, nil
}

// insertProblemRows inserts ps in one statement, fills out (as long as ps)
// with the stored records and returns the ids it inserted. A key or id
// already taken inserts nothing for that row (ON CONFLICT DO NOTHING, so a
// PostgreSQL transaction is not aborted) and is ErrExists.
func (w *txw) insertProblemRows(ctx context.Context, ps []store.ProblemRecord, out []store.ProblemRecord, now time.Time) ([]any, error) {
	const row = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ` + currentUID + `)`
	var q strings.Builder
	q.WriteString(`INSERT INTO problems (` + problemInsertCols + `) VALUES `)
	args := make([]any, 0, 17*len(ps))
	at := make(map[string]int, len(ps))
	for i, p := range ps {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString(row)
		p.Version, p.CreatedAt, p.UpdatedAt = 1, fromMicro(micro(now)), fromMicro(micro(now))
		p.Doc = orEmpty(p.Doc)
		args = append(args, p.ID, p.Key, p.Source, p.Project, p.Stage, p.Service, p.State, p.Title, p.RemediationID,
			p.KeptnContext, p.Reason, micro(p.OpenedAt), micro(p.ClosedAt), p.Doc, micro(now), micro(now), p.Project)
		p.OpenedAt, p.ClosedAt = fromMicro(micro(p.OpenedAt)), fromMicro(micro(p.ClosedAt))
		out[i] = p
		at[p.ID] = i
	}
	q.WriteString(` ON CONFLICT DO NOTHING RETURNING id, seq, project_uid`)
	rows, err := w.q.Query(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("insert problems: %w", err)
	}
	defer rows.Close()
	ids := make([]any, 0, len(ps))
	stored := make([]bool, len(ps))
	for rows.Next() {
		var id, uid string
		var seq int64
		if err := rows.Scan(&id, &seq, &uid); err != nil {
			return ids, fmt.Errorf("insert problems: %w", err)
		}
		ids = append(ids, id)
		if i, ok := at[id]; ok {
			out[i].Seq, out[i].ProjectUID, stored[i] = seq, uid, true
		}
	}
	if err := rows.Err(); err != nil {
		return ids, fmt.Errorf("insert problems: %w", err)
	}
	for i, ok := range stored {
		if !ok {
			return ids, fmt.Errorf("insert problem %q (key %q): %w", ps[i].ID, ps[i].Key, store.ErrExists)
		}
	}
	return ids, nil
}

// UpdateProblem implements store.Tx.
func (w *txw) UpdateProblem(ctx context.Context, p store.ProblemRecord) (store.ProblemRecord, error) {
	if err := w.check(); err != nil {
		return store.ProblemRecord{}, err
	}
	if err := w.lockProblems(ctx); err != nil {
		return store.ProblemRecord{}, err
	}
	if p.State == "" {
		return store.ProblemRecord{}, fmt.Errorf("update problem %q: empty state: %w", p.ID, store.ErrInvalid)
	}
	now := w.c.now()
	n, err := w.q.Exec(ctx, `UPDATE problems SET state = ?, title = ?, remediation_id = ?, reason = ?, opened_at = ?, closed_at = ?,
			doc = ?, version = version + 1, updated_at = ?
		WHERE id = ? AND version = ?`,
		p.State, p.Title, p.RemediationID, p.Reason, micro(p.OpenedAt), micro(p.ClosedAt), orEmpty(p.Doc), micro(now), p.ID, p.Version)
	if err != nil {
		return store.ProblemRecord{}, fmt.Errorf("update problem %q: %w", p.ID, err)
	}
	if n == 0 {
		if _, err := getProblem(ctx, w.q, "id", p.ID); err != nil {
			return store.ProblemRecord{}, fmt.Errorf("update problem: %w", err)
		}
		return store.ProblemRecord{}, fmt.Errorf("update problem %q at version %d: %w", p.ID, p.Version, store.ErrConflict)
	}
	return getProblem(ctx, w.q, "id", p.ID)
}

// --- remediations -----------------------------------------------------

func getRemediation(ctx context.Context, q Querier, id string) (store.RemediationRecord, error) {
	return rereadMoved(func() (store.RemediationRecord, error) { return getRemediationOnce(ctx, q, id) })
}

// rereadMoved repeats a read that raced a write (errJoinsMoved); a few
// times are plenty, since it loses only to a commit in between.
func rereadMoved(read func() (store.RemediationRecord, error)) (store.RemediationRecord, error) {
	for i := 0; ; i++ {
		r, err := read()
		if !errors.Is(err, errJoinsMoved) || i == 16 {
			return r, err
		}
	}
}

func getRemediationOnce(ctx context.Context, q Querier, id string) (store.RemediationRecord, error) {
	r, err := scanRemediation(q.QueryRow(ctx, `SELECT `+remediationCols+` FROM remediations WHERE id = ?`, id))
	if errors.Is(err, ErrNoRows) {
		return store.RemediationRecord{}, fmt.Errorf("remediation %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.RemediationRecord{}, fmt.Errorf("get remediation %q: %w", id, err)
	}
	return r.folded(ctx, q)
}

func runningRemediation(ctx context.Context, q Querier, project, stage, service string) (store.RemediationRecord, error) {
	return rereadMoved(func() (store.RemediationRecord, error) {
		return runningRemediationOnce(ctx, q, project, stage, service)
	})
}

func runningRemediationOnce(ctx context.Context, q Querier, project, stage, service string) (store.RemediationRecord, error) {
	r, err := scanRemediation(q.QueryRow(ctx, `SELECT `+remediationCols+` FROM remediations
		WHERE project = ? AND stage = ? AND service = ? AND running = 1`, project, stage, service))
	if errors.Is(err, ErrNoRows) {
		return store.RemediationRecord{}, fmt.Errorf("running remediation of project %q, stage %q, service %q: %w", project, stage, service, store.ErrNotFound)
	}
	if err != nil {
		return store.RemediationRecord{}, fmt.Errorf("get running remediation of project %q, stage %q, service %q: %w", project, stage, service, err)
	}
	return r.folded(ctx, q)
}

// RunningRemediationHead implements store.Tx.
func (w *txw) RunningRemediationHead(ctx context.Context, project, stage, service string) (store.RemediationRecord, error) {
	if err := w.check(); err != nil {
		return store.RemediationRecord{}, err
	}
	if err := w.lockProblems(ctx); err != nil {
		return store.RemediationRecord{}, err
	}
	var r store.RemediationRecord
	var running, created, updated, joinable int64
	err := w.q.QueryRow(ctx, `SELECT seq, id, project, stage, service, state, running, shkeptncontext, version, created_at, updated_at, project_uid, joinable
		FROM remediations WHERE project = ? AND stage = ? AND service = ? AND running = 1`, project, stage, service).
		Scan(&r.Seq, &r.ID, &r.Project, &r.Stage, &r.Service, &r.State, &running, &r.KeptnContext, &r.Version, &created, &updated, &r.ProjectUID, &joinable)
	if errors.Is(err, ErrNoRows) {
		return store.RemediationRecord{}, fmt.Errorf("running remediation of project %q, stage %q, service %q: %w", project, stage, service, store.ErrNotFound)
	}
	if err != nil {
		return store.RemediationRecord{}, fmt.Errorf("get running remediation of project %q, stage %q, service %q: %w", project, stage, service, err)
	}
	r.Running, r.Joinable = running != 0, joinable != 0
	r.CreatedAt, r.UpdatedAt = fromMicro(created), fromMicro(updated)
	return r, nil
}

// JoinRemediation implements store.Tx.
func (w *txw) JoinRemediation(ctx context.Context, id string, version int64, joins []store.RemediationJoin) (int64, error) {
	if err := w.check(); err != nil {
		return 0, err
	}
	if err := w.lockProblems(ctx); err != nil {
		return 0, err
	}
	if len(joins) == 0 {
		return version, nil
	}
	for _, j := range joins {
		if j.ProblemID == "" {
			return 0, fmt.Errorf("join remediation %q: a join without a problem id: %w", id, store.ErrInvalid)
		}
	}
	n, err := w.q.Exec(ctx, `UPDATE remediations SET version = version + 1, pending_joins = pending_joins + ?, updated_at = ?
		WHERE id = ? AND version = ? AND joinable = 1`, int64(len(joins)), micro(w.c.now()), id, version)
	if err != nil {
		return 0, fmt.Errorf("join remediation %q: %w", id, err)
	}
	if n == 0 {
		if _, err := getRemediation(ctx, w.q, id); errors.Is(err, store.ErrNotFound) {
			return 0, fmt.Errorf("join remediation: %w", err)
		}
		return 0, fmt.Errorf("join remediation %q at version %d: it moved or is not joinable: %w", id, version, store.ErrConflict)
	}
	// The rows in one statement per chunk: on PostgreSQL each statement
	// is a round trip under the event lock. Their seq, which orders the
	// joins, follows the order of joins.
	for start := 0; start < len(joins); start += joinRowsPerInsert {
		chunk := joins[start:min(start+joinRowsPerInsert, len(joins))]
		args := make([]any, 0, 3*len(chunk))
		for _, j := range chunk {
			args = append(args, id, j.ProblemID, j.At.UnixNano())
		}
		if _, err := w.q.Exec(ctx, `INSERT INTO remediation_joins (remediation_id, problem_id, joined_at) VALUES `+
			strings.TrimSuffix(strings.Repeat("(?, ?, ?), ", len(chunk)), ", "), args...); err != nil {
			return 0, fmt.Errorf("join remediation %q: %w", id, err)
		}
	}
	return version + 1, nil
}

// joinRowsPerInsert bounds the rows of one INSERT of joins.
const joinRowsPerInsert = 1000

// GetRemediation implements store.Remediations.
func (c *Core) GetRemediation(ctx context.Context, id string) (store.RemediationRecord, error) {
	return getRemediation(ctx, c.read, id)
}

// RunningRemediation implements store.Remediations.
func (c *Core) RunningRemediation(ctx context.Context, project, stage, service string) (store.RemediationRecord, error) {
	return runningRemediation(ctx, c.read, project, stage, service)
}

// ListRemediations implements store.Remediations.
func (c *Core) ListRemediations(ctx context.Context, f store.RemediationFilter) (store.RemediationPage, error) {
	before, err := store.DecodePageKey(f.PageKey)
	if err != nil {
		return store.RemediationPage{}, fmt.Errorf("list remediations: %w", err)
	}
	where, args := equalities([]colValue{{"project", f.Project}, {"stage", f.Stage}, {"service", f.Service}, {"state", f.State}})
	where, args = currentGeneration(where, args, f.Project)
	if f.RunningOnly {
		where = append(where, "running = 1")
	}
	size := store.EventFilter{PageSize: f.PageSize}.EffectivePageSize()
	rows, err := c.read.Query(ctx, `SELECT `+remediationCols+` FROM remediations`+pageCond(where, before, &args)+` ORDER BY seq DESC LIMIT ?`,
		append(args, size+1)...)
	if err != nil {
		return store.RemediationPage{}, fmt.Errorf("list remediations: %w", err)
	}
	defer rows.Close()
	var found []remediationRow
	for rows.Next() {
		r, err := scanRemediation(rows)
		if err != nil {
			return store.RemediationPage{}, fmt.Errorf("list remediations: %w", err)
		}
		found = append(found, r)
	}
	if err := rows.Err(); err != nil {
		return store.RemediationPage{}, fmt.Errorf("list remediations: %w", err)
	}
	rows.Close()
	var page store.RemediationPage
	if page.Remediations, err = foldAll(ctx, c.read, found); err != nil {
		return store.RemediationPage{}, fmt.Errorf("list remediations: %w", err)
	}
	if len(page.Remediations) > size {
		page.Remediations = page.Remediations[:size]
		page.NextPageKey = store.EncodePageKey(page.Remediations[size-1].Seq)
	}
	return page, nil
}

// GetRemediation implements store.Tx.
func (w *txw) GetRemediation(ctx context.Context, id string) (store.RemediationRecord, error) {
	if err := w.check(); err != nil {
		return store.RemediationRecord{}, err
	}
	if err := w.lockProblems(ctx); err != nil {
		return store.RemediationRecord{}, err
	}
	return getRemediation(ctx, w.q, id)
}

// RunningRemediation implements store.Tx.
func (w *txw) RunningRemediation(ctx context.Context, project, stage, service string) (store.RemediationRecord, error) {
	if err := w.check(); err != nil {
		return store.RemediationRecord{}, err
	}
	if err := w.lockProblems(ctx); err != nil {
		return store.RemediationRecord{}, err
	}
	return runningRemediation(ctx, w.q, project, stage, service)
}

// RunningRemediations implements store.Tx.
func (w *txw) RunningRemediations(ctx context.Context, project string) ([]store.RemediationRecord, error) {
	if err := w.check(); err != nil {
		return nil, err
	}
	if err := w.lockProblems(ctx); err != nil {
		return nil, err
	}
	rows, err := w.q.Query(ctx, `SELECT `+remediationCols+` FROM remediations WHERE project = ? AND running = 1 ORDER BY seq`, project)
	if err != nil {
		return nil, fmt.Errorf("list running remediations of project %q: %w", project, err)
	}
	defer rows.Close()
	var found []remediationRow
	for rows.Next() {
		r, err := scanRemediation(rows)
		if err != nil {
			return nil, fmt.Errorf("list running remediations of project %q: %w", project, err)
		}
		found = append(found, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list running remediations of project %q: %w", project, err)
	}
	rows.Close()
	out, err := foldAll(ctx, w.q, found)
	if err != nil {
		return nil, fmt.Errorf("list running remediations of project %q: %w", project, err)
	}
	return out, nil
}

// foldAll returns the records of rows, each with its joins folded in.
func foldAll(ctx context.Context, q Querier, rows []remediationRow) ([]store.RemediationRecord, error) {
	var out []store.RemediationRecord
	for _, r := range rows {
		rec, err := r.folded(ctx, q)
		if errors.Is(err, errJoinsMoved) {
			// Written since the list was read: its current state.
			rec, err = getRemediation(ctx, q, r.ID)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

// ProjectUID implements store.Tx.
func (w *txw) ProjectUID(ctx context.Context, name string) (string, error) {
	if err := w.check(); err != nil {
		return "", err
	}
	if err := w.lockProblems(ctx); err != nil {
		return "", err
	}
	var uid string
	err := w.q.QueryRow(ctx, `SELECT uid FROM projects WHERE name = ?`, name).Scan(&uid)
	if errors.Is(err, ErrNoRows) {
		return "", fmt.Errorf("project %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("get uid of project %q: %w", name, err)
	}
	return uid, nil
}

// CreateRemediation implements store.Tx.
func (w *txw) CreateRemediation(ctx context.Context, r store.RemediationRecord) (store.RemediationRecord, error) {
	if err := w.check(); err != nil {
		return store.RemediationRecord{}, err
	}
	if err := w.lockProblems(ctx); err != nil {
		return store.RemediationRecord{}, err
	}
	if r.ID == "" || r.State == "" {
		return store.RemediationRecord{}, fmt.Errorf("create remediation: id and state are required: %w", store.ErrInvalid)
	}
	now := w.c.now()
	r.Version, r.CreatedAt, r.UpdatedAt = 1, fromMicro(micro(now)), fromMicro(micro(now))
	r.Doc = orEmpty(r.Doc)
	// ON CONFLICT DO NOTHING covers the id and the one-running-per-service
	// index; a conflicting transaction still in flight is waited for.
	err := w.q.QueryRow(ctx, `INSERT INTO remediations (id, project, stage, service, state, running, shkeptncontext, doc, version, created_at, updated_at, project_uid, joinable)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, `+currentUID+`, ?) ON CONFLICT DO NOTHING RETURNING seq, project_uid`,
		r.ID, r.Project, r.Stage, r.Service, r.State, boolInt(r.Running), r.KeptnContext, r.Doc, micro(now), micro(now), r.Project, boolInt(r.Joinable)).Scan(&r.Seq, &r.ProjectUID)
	if errors.Is(err, ErrNoRows) {
		if _, err := getRemediation(ctx, w.q, r.ID); err == nil {
			return store.RemediationRecord{}, fmt.Errorf("create remediation %q: %w", r.ID, store.ErrExists)
		}
		return store.RemediationRecord{}, fmt.Errorf("create remediation %q: project %q, stage %q, service %q has a running remediation: %w",
			r.ID, r.Project, r.Stage, r.Service, store.ErrConflict)
	}
	if err != nil {
		return store.RemediationRecord{}, fmt.Errorf("create remediation %q: %w", r.ID, err)
	}
	return r, nil
}

// UpdateRemediation implements store.Tx.
func (w *txw) UpdateRemediation(ctx context.Context, r store.RemediationRecord) (store.RemediationRecord, error) {
	if err := w.check(); err != nil {
		return store.RemediationRecord{}, err
	}
	if err := w.lockProblems(ctx); err != nil {
		return store.RemediationRecord{}, err
	}
	if r.State == "" {
		return store.RemediationRecord{}, fmt.Errorf("update remediation %q: empty state: %w", r.ID, store.ErrInvalid)
	}
	// The columns the checks need and the answer keeps, without the
	// document, which can be large.
	var cur store.RemediationRecord
	var running, created, pending int64
	err := w.q.QueryRow(ctx, `SELECT seq, project, stage, service, shkeptncontext, running, version, created_at, project_uid, pending_joins FROM remediations WHERE id = ?`, r.ID).
		Scan(&cur.Seq, &cur.Project, &cur.Stage, &cur.Service, &cur.KeptnContext, &running, &cur.Version, &created, &cur.ProjectUID, &pending)
	if errors.Is(err, ErrNoRows) {
		return store.RemediationRecord{}, fmt.Errorf("update remediation: remediation %q: %w", r.ID, store.ErrNotFound)
	}
	if err != nil {
		return store.RemediationRecord{}, fmt.Errorf("update remediation %q: %w", r.ID, err)
	}
	cur.Running = running != 0
	if cur.Version != r.Version {
		return store.RemediationRecord{}, fmt.Errorf("update remediation %q at version %d (stored %d): %w", r.ID, r.Version, cur.Version, store.ErrConflict)
	}
	if r.Running && !cur.Running {
		// Checked here rather than left to the unique index, whose
		// violation would abort a PostgreSQL transaction.
		if other, err := runningRemediation(ctx, w.q, cur.Project, cur.Stage, cur.Service); err == nil && other.ID != r.ID {
			return store.RemediationRecord{}, fmt.Errorf("update remediation %q: %s already runs for the service: %w", r.ID, other.ID, store.ErrConflict)
		}
	}
	now := micro(w.c.now())
	doc := orEmpty(r.Doc)
	// The document was read at r.Version with the pending joins folded
	// in, and every join moves the version: at an unchanged version it
	// holds them all, so they are dropped.
	n, err := w.q.Exec(ctx, `UPDATE remediations SET state = ?, running = ?, doc = ?, joinable = ?, pending_joins = 0, version = version + 1, updated_at = ?
		WHERE id = ? AND version = ?`,
		r.State, boolInt(r.Running), doc, boolInt(r.Joinable), now, r.ID, r.Version)
	if err != nil {
		return store.RemediationRecord{}, fmt.Errorf("update remediation %q: %w", r.ID, err)
	}
	if n == 0 {
		return store.RemediationRecord{}, fmt.Errorf("update remediation %q at version %d: %w", r.ID, r.Version, store.ErrConflict)
	}
	if pending > 0 {
		if _, err := w.q.Exec(ctx, `DELETE FROM remediation_joins WHERE remediation_id = ?`, r.ID); err != nil {
			return store.RemediationRecord{}, fmt.Errorf("update remediation %q: %w", r.ID, err)
		}
	}
	return store.RemediationRecord{
		Seq: cur.Seq, ID: r.ID, Project: cur.Project, ProjectUID: cur.ProjectUID, Stage: cur.Stage, Service: cur.Service, State: r.State, Running: r.Running,
		KeptnContext: cur.KeptnContext, Doc: doc, Joinable: r.Joinable, Version: r.Version + 1, CreatedAt: fromMicro(created), UpdatedAt: fromMicro(now),
	}, nil
}

// --- shared -----------------------------------------------------------

// lockProblems serialises the transactions that read and write problems and
// remediations with each other and with event appends, across writers and
// replicas: it takes the event log's lock (Dialect.EventLock, once per
// transaction). The reads that a deduplication decision rests on then see
// every decision committed before, so concurrent deliveries of one problem
// do not even conflict; and since every such transaction takes the one
// lock before it touches a problem or remediation row, two of them cannot
// deadlock on those rows. SQLite has one writer and needs no lock.
//
// The lock is held to the commit, so on PostgreSQL the intake of all
// writers and replicas runs at the speed of the statements under it, each
// a round trip: that is why a delivery's writes are set-based
// (GetProblemsByKeys, InsertProblems, JoinRemediation's one INSERT).
func (w *txw) lockProblems(ctx context.Context) error {
	if w.c.d.EventLock == "" || *w.eventLocked {
		return nil
	}
	if _, err := w.q.Exec(ctx, w.c.d.EventLock); err != nil {
		return fmt.Errorf("lock problems: %w", err)
	}
	*w.eventLocked = true
	return nil
}

type colValue struct{ col, v string }

// currentGeneration adds the condition that selects the records of the
// current generation of project, when a project is asked for.
func currentGeneration(where []string, args []any, project string) ([]string, []any) {
	if project == "" {
		return where, args
	}
	return append(where, "project_uid = "+currentUID), append(args, project)
}

// equalities returns "col = ?" conditions for the non-empty values.
func equalities(cvs []colValue) ([]string, []any) {
	var where []string
	var args []any
	for _, cv := range cvs {
		if cv.v != "" {
			where = append(where, cv.col+" = ?")
			args = append(args, cv.v)
		}
	}
	return where, args
}

// pageCond builds the WHERE clause of a newest-first page that starts below
// sequence number before (0: the first page).
func pageCond(where []string, before int64, args *[]any) string {
	if before > 0 {
		where = append(where, "seq < ?")
		*args = append(*args, before)
	}
	if len(where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(where, " AND ")
}

// GetPlacement implements store.Problems. The project, its services and
// the problems are three SELECTs joined by UNION ALL into one statement,
// so that the recorder's read of a repeated delivery is one round trip and
// one snapshot; the first column says which SELECT a row came from.
func (c *Core) GetPlacement(ctx context.Context, q store.PlacementQuery) (store.Placement, error) {
	out := store.Placement{Services: make(map[string]bool, len(q.Services)), Problems: make(map[string]store.ProblemRecord, len(q.Keys))}
	if len(q.Keys) > store.MaxKeysPerLookup || len(q.Services) > store.MaxKeysPerLookup {
		return out, fmt.Errorf("get placement: %d keys and %d services, over the limit of %d per lookup", len(q.Keys), len(q.Services), store.MaxKeysPerLookup)
	}
	const (
		projectRow = iota
		serviceRow
		problemRow
	)
	var parts []string
	var args []any
	if q.Project != "" {
		parts = append(parts, `SELECT 0, uid, '', '', '', shipyard FROM projects WHERE name = ?`)
		args = append(args, q.Project)
		if len(q.Services) > 0 {
			parts = append(parts, `SELECT 1, name, '', '', '', NULL FROM services WHERE project = ? AND name IN (?`+strings.Repeat(", ?", len(q.Services)-1)+`)`)
			args = append(args, q.Project)
			for _, s := range q.Services {
				args = append(args, s)
			}
		}
	}
	if len(q.Keys) > 0 {
		// As GetProblemsByKeys: of the records of a key, the current
		// generation's; the document is not read.
		parts = append(parts, `SELECT 2, id, problem_key, state, remediation_id, NULL FROM problems p WHERE problem_key IN (?`+strings.Repeat(", ?", len(q.Keys)-1)+`)
		AND project_uid = COALESCE((SELECT uid FROM projects WHERE name = p.project), '')`)
		for _, k := range q.Keys {
			args = append(args, k)
		}
	}
	if len(parts) == 0 {
		return out, nil
	}
	rows, err := c.read.Query(ctx, strings.Join(parts, "\nUNION ALL\n"), args...)
	if err != nil {
		return out, fmt.Errorf("get placement: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind int64
		var name, key, state, rid string
		var blob []byte
		if err := rows.Scan(&kind, &name, &key, &state, &rid, &blob); err != nil {
			return out, fmt.Errorf("get placement: %w", err)
		}
		switch kind {
		case projectRow:
			out.Project = store.Project{Name: q.Project, UID: name, Shipyard: blob}
		case serviceRow:
			out.Services[name] = true
		case problemRow:
			out.Problems[key] = store.ProblemRecord{ID: name, Key: key, State: state, RemediationID: rid}
		}
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("get placement: %w", err)
	}
	return out, nil
}
