package sqlcore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tendhq/tend/internal/store"
)

const jobCols = `id, kind, payload, COALESCE(unique_key, ''), state, run_at, attempt, max_attempts,
	lease_token, leased_by, lease_until, last_error, created_at, updated_at`

func scanJob(row interface{ Scan(...any) error }) (store.Job, error) {
	var j store.Job
	var state, token string
	var runAt, leaseUntil, created, updated int64
	if err := row.Scan(&j.ID, &j.Kind, &j.Payload, &j.UniqueKey, &state, &runAt, &j.Attempt, &j.MaxAttempts,
		&token, &j.LeasedBy, &leaseUntil, &j.LastError, &created, &updated); err != nil {
		return store.Job{}, err
	}
	j.State = store.JobState(state)
	j.RunAt, j.LeaseUntil, j.CreatedAt, j.UpdatedAt = fromMicro(runAt), fromMicro(leaseUntil), fromMicro(created), fromMicro(updated)
	if j.State == store.JobRunning {
		j.Lease = store.Lease{JobID: j.ID, Token: token}
	}
	return j, nil
}

// EnqueueJobs implements store.Jobs.
func (c *Core) EnqueueJobs(ctx context.Context, jobs ...store.JobSpec) ([]int64, error) {
	if len(jobs) == 0 {
		return nil, nil
	}
	var ids []int64
	err := c.write(ctx, func(ctx context.Context, w *txw) error {
		var err error
		ids, err = w.EnqueueJobs(ctx, jobs...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// EnqueueJobs implements store.Tx.
func (w *txw) EnqueueJobs(ctx context.Context, jobs ...store.JobSpec) ([]int64, error) {
	if err := w.check(); err != nil {
		return nil, err
	}
	now, err := w.dbTime(ctx)
	if err != nil {
		return nil, fmt.Errorf("enqueue jobs: %w", err)
	}
	ids := make([]int64, len(jobs))
	for i, j := range jobs {
		if j.Kind == "" {
			return nil, fmt.Errorf("enqueue job %d: empty kind: %w", i, store.ErrInvalid)
		}
		runAt := micro(j.RunAt)
		if j.RunAt.IsZero() {
			runAt = now + max(j.After, 0).Microseconds()
		}
		maxAttempts := j.MaxAttempts
		if maxAttempts <= 0 {
			maxAttempts = store.DefaultMaxAttempts
		}
		var unique any
		if j.UniqueKey != "" {
			unique = j.UniqueKey
		}
		payload := j.Payload
		if payload == nil {
			payload = []byte{}
		}
		var id int64
		err := w.q.QueryRow(ctx, `INSERT INTO jobs (kind, payload, unique_key, state, run_at, attempt, max_attempts, created_at, updated_at)
			VALUES (?, ?, ?, 'pending', ?, 0, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id`,
			j.Kind, payload, unique, runAt, maxAttempts, now, now).Scan(&id)
		if errors.Is(err, ErrNoRows) && j.UniqueKey != "" {
			err = w.q.QueryRow(ctx, `SELECT id FROM jobs WHERE unique_key = ?`, j.UniqueKey).Scan(&id)
		} else if err == nil {
			w.r.jobs = true
		}
		if err != nil {
			return nil, fmt.Errorf("enqueue %s job: %w", j.Kind, err)
		}
		ids[i] = id
	}
	return ids, nil
}

func newLeaseToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// ClaimJobs implements store.Jobs.
func (c *Core) ClaimJobs(ctx context.Context, cl store.Claim) ([]store.Job, error) {
	limit := cl.Limit
	if limit <= 0 {
		limit = 1
	}
	lease := cl.Lease
	if lease <= 0 {
		lease = store.DefaultLease
	}
	var out []store.Job
	err := c.write(ctx, func(ctx context.Context, w *txw) error {
		out = out[:0]
		now, err := w.dbTime(ctx)
		if err != nil {
			return fmt.Errorf("claim jobs: %w", err)
		}
		kindCond, kindArgs := "", []any{}
		if len(cl.Kinds) > 0 {
			kindCond = " AND kind IN (" + placeholders(len(cl.Kinds)) + ")"
			for _, k := range cl.Kinds {
				kindArgs = append(kindArgs, k)
			}
		}
		// A job whose worker died on its last allowed attempt has nobody
		// left to fail it: fail it here.
		if _, err := w.q.Exec(ctx, `UPDATE jobs SET state = 'failed', lease_token = '', updated_at = ?,
			last_error = 'lease expired on the last attempt: the worker stopped without an answer'
			WHERE id IN (SELECT id FROM jobs
				WHERE state = 'running' AND lease_until <= ? AND attempt >= max_attempts`+kindCond+` `+c.d.ClaimLock+`)`,
			append([]any{now, now}, kindArgs...)...); err != nil {
			return fmt.Errorf("claim jobs: %w", err)
		}
		// Jobs whose lease expired first (a worker stopped; they are
		// rare), then due pending jobs, each with a query that one
		// partial index answers in its order: with the two conditions
		// OR'ed in one query both databases gathered and sorted every due
		// job to return the first few, which made every claim as slow as
		// the backlog was long.
		token := newLeaseToken()
		for _, cond := range []string{
			`state = 'running' AND lease_until <= ?`,
			`state = 'pending' AND run_at <= ?`,
		} {
			if len(out) >= limit {
				break
			}
			args := []any{token, cl.Worker, now + lease.Microseconds(), now, now}
			args = append(args, kindArgs...)
			args = append(args, limit-len(out))
			rows, err := w.q.Query(ctx, `UPDATE jobs SET state = 'running', attempt = attempt + 1,
					lease_token = ?, leased_by = ?, lease_until = ?, updated_at = ?
				WHERE id IN (SELECT id FROM jobs
					WHERE `+cond+kindCond+`
					ORDER BY run_at, id LIMIT ? `+c.d.ClaimLock+`)
				RETURNING `+jobCols, args...)
			if err != nil {
				return fmt.Errorf("claim jobs: %w", err)
			}
			for rows.Next() {
				j, err := scanJob(rows)
				if err != nil {
					rows.Close()
					return fmt.Errorf("claim jobs: %w", err)
				}
				out = append(out, j)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("claim jobs: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].RunAt.Equal(out[j].RunAt) {
			return out[i].RunAt.Before(out[j].RunAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

func leaseErr(op string, l store.Lease) error {
	return fmt.Errorf("%s job %d: %w", op, l.JobID, store.ErrLeaseLost)
}

// ExtendJobLease implements store.Jobs.
func (c *Core) ExtendJobLease(ctx context.Context, l store.Lease, d time.Duration) error {
	if d <= 0 {
		d = store.DefaultLease
	}
	return c.write(ctx, func(ctx context.Context, w *txw) error {
		now, err := w.dbTime(ctx)
		if err != nil {
			return fmt.Errorf("extend lease of job %d: %w", l.JobID, err)
		}
		n, err := w.q.Exec(ctx, `UPDATE jobs SET lease_until = ?, updated_at = ? WHERE id = ? AND state = 'running' AND lease_token = ?`,
			now+d.Microseconds(), now, l.JobID, l.Token)
		if err != nil {
			return fmt.Errorf("extend lease of job %d: %w", l.JobID, err)
		}
		if n == 0 {
			return leaseErr("extend lease of", l)
		}
		return nil
	})
}

// CompleteJob implements store.Jobs.
func (c *Core) CompleteJob(ctx context.Context, l store.Lease) error {
	return c.write(ctx, func(ctx context.Context, w *txw) error { return w.CompleteJob(ctx, l) })
}

// FailJob implements store.Jobs.
func (c *Core) FailJob(ctx context.Context, l store.Lease, reason string) (store.JobState, error) {
	var st store.JobState
	err := c.write(ctx, func(ctx context.Context, w *txw) error {
		var err error
		st, err = w.FailJob(ctx, l, reason)
		return err
	})
	return st, err
}

// RescheduleJob implements store.Jobs.
func (c *Core) RescheduleJob(ctx context.Context, l store.Lease, r store.Reschedule) error {
	return c.write(ctx, func(ctx context.Context, w *txw) error { return w.RescheduleJob(ctx, l, r) })
}

// CompleteJob implements store.Tx.
func (w *txw) CompleteJob(ctx context.Context, l store.Lease) error {
	if err := w.check(); err != nil {
		return err
	}
	now, err := w.dbTime(ctx)
	if err != nil {
		return fmt.Errorf("complete job %d: %w", l.JobID, err)
	}
	n, err := w.q.Exec(ctx, `UPDATE jobs SET state = 'done', lease_token = '', lease_until = 0, updated_at = ?
		WHERE id = ? AND state = 'running' AND lease_token = ?`, now, l.JobID, l.Token)
	if err != nil {
		return fmt.Errorf("complete job %d: %w", l.JobID, err)
	}
	if n == 0 {
		return leaseErr("complete", l)
	}
	return nil
}

// FailJob implements store.Tx.
func (w *txw) FailJob(ctx context.Context, l store.Lease, reason string) (store.JobState, error) {
	if err := w.check(); err != nil {
		return "", err
	}
	var attempt, maxAttempts int
	err := w.q.QueryRow(ctx, `SELECT attempt, max_attempts FROM jobs WHERE id = ? AND state = 'running' AND lease_token = ?`,
		l.JobID, l.Token).Scan(&attempt, &maxAttempts)
	if errors.Is(err, ErrNoRows) {
		return "", leaseErr("fail", l)
	}
	if err != nil {
		return "", fmt.Errorf("fail job %d: %w", l.JobID, err)
	}
	now, err := w.dbTime(ctx)
	if err != nil {
		return "", fmt.Errorf("fail job %d: %w", l.JobID, err)
	}
	state, runAt := store.JobPending, now+store.RetryDelay(attempt).Microseconds()
	if attempt >= maxAttempts {
		state, runAt = store.JobFailed, now
	}
	n, err := w.q.Exec(ctx, `UPDATE jobs SET state = ?, run_at = ?, last_error = ?, lease_token = '', lease_until = 0, updated_at = ?
		WHERE id = ? AND state = 'running' AND lease_token = ?`,
		string(state), runAt, strings.ToValidUTF8(reason, "?"), now, l.JobID, l.Token)
	if err != nil {
		return "", fmt.Errorf("fail job %d: %w", l.JobID, err)
	}
	if n == 0 {
		return "", leaseErr("fail", l)
	}
	if state == store.JobPending {
		w.r.jobs = true
	}
	return state, nil
}

// RescheduleJob implements store.Tx.
func (w *txw) RescheduleJob(ctx context.Context, l store.Lease, r store.Reschedule) error {
	if err := w.check(); err != nil {
		return err
	}
	now, err := w.dbTime(ctx)
	if err != nil {
		return fmt.Errorf("reschedule job %d: %w", l.JobID, err)
	}
	runAt := micro(r.RunAt)
	if r.RunAt.IsZero() {
		runAt = now + max(r.After, 0).Microseconds()
	}
	set := `state = 'pending', run_at = ?, attempt = 0, lease_token = '', leased_by = '', lease_until = 0, updated_at = ?`
	args := []any{runAt, now}
	if r.Payload != nil {
		set += `, payload = ?`
		args = append(args, r.Payload)
	}
	args = append(args, l.JobID, l.Token)
	n, err := w.q.Exec(ctx, `UPDATE jobs SET `+set+` WHERE id = ? AND state = 'running' AND lease_token = ?`, args...)
	if err != nil {
		return fmt.Errorf("reschedule job %d: %w", l.JobID, err)
	}
	if n == 0 {
		return leaseErr("reschedule", l)
	}
	w.r.jobs = true
	return nil
}

// GetJob implements store.Jobs.
func (c *Core) GetJob(ctx context.Context, id int64) (store.Job, error) {
	j, err := scanJob(c.read.QueryRow(ctx, `SELECT `+jobCols+` FROM jobs WHERE id = ?`, id))
	if errors.Is(err, ErrNoRows) {
		return store.Job{}, fmt.Errorf("job %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Job{}, fmt.Errorf("get job %d: %w", id, err)
	}
	// The lease token is the holder's proof; a read does not hand it out.
	j.Lease = store.Lease{}
	return j, nil
}

// ListJobs implements store.Jobs. The prefix is compared with substr, as
// in CancelJobs.
func (c *Core) ListJobs(ctx context.Context, f store.JobFilter) ([]store.Job, error) {
	if f.KeyPrefix == "" {
		return nil, fmt.Errorf("list jobs: empty key prefix: %w", store.ErrInvalid)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	where := `unique_key IS NOT NULL AND substr(unique_key, 1, ?) = ?`
	args := []any{utf8.RuneCountInString(f.KeyPrefix), f.KeyPrefix}
	if len(f.States) > 0 {
		where += ` AND state IN (?` + strings.Repeat(`, ?`, len(f.States)-1) + `)`
		for _, st := range f.States {
			args = append(args, string(st))
		}
	}
	rows, err := c.read.Query(ctx, `SELECT `+jobCols+` FROM jobs WHERE `+where+` ORDER BY id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list jobs %q: %w", f.KeyPrefix, err)
	}
	defer rows.Close()
	var out []store.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, fmt.Errorf("list jobs %q: %w", f.KeyPrefix, err)
		}
		// The lease token is the holder's proof; a read does not hand it out.
		j.Lease = store.Lease{}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list jobs %q: %w", f.KeyPrefix, err)
	}
	return out, nil
}

// SubscribeJobs implements store.Jobs.
func (c *Core) SubscribeJobs(ctx context.Context) <-chan struct{} { return c.jobs.Subscribe(ctx) }

// CancelJobs implements store.Jobs.
func (c *Core) CancelJobs(ctx context.Context, keyPrefix string) (int, error) {
	var n int
	err := c.write(ctx, func(ctx context.Context, w *txw) error {
		var err error
		n, err = w.CancelJobs(ctx, keyPrefix)
		return err
	})
	return n, err
}

// CancelJobs implements store.Tx. The prefix is compared with substr
// rather than LIKE, so that '%' and '_' in keys need no escaping.
func (w *txw) CancelJobs(ctx context.Context, keyPrefix string) (int, error) {
	if err := w.check(); err != nil {
		return 0, err
	}
	if keyPrefix == "" {
		return 0, fmt.Errorf("cancel jobs: empty key prefix: %w", store.ErrInvalid)
	}
	n, err := w.q.Exec(ctx, `UPDATE jobs SET state = 'cancelled', lease_token = '', lease_until = 0, updated_at = ?,
			last_error = 'cancelled'
		WHERE state IN ('pending', 'running') AND unique_key IS NOT NULL AND substr(unique_key, 1, ?) = ?`,
		micro(w.c.now()), utf8.RuneCountInString(keyPrefix), keyPrefix)
	if err != nil {
		return 0, fmt.Errorf("cancel jobs %q: %w", keyPrefix, err)
	}
	return int(n), nil
}
