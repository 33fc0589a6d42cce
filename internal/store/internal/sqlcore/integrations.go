package sqlcore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tendhq/tend/internal/store"
)

const integrationCols = `id, name, project, hostname, integration_version, distributor_version, location,
	namespace, pod_name, deployment_name, registered_at, last_seen`

func scanIntegration(row interface{ Scan(...any) error }) (store.Integration, error) {
	var in store.Integration
	var reg, seen int64
	if err := row.Scan(&in.ID, &in.Name, &in.Project, &in.Hostname, &in.IntegrationVersion, &in.DistributorVersion,
		&in.Location, &in.Namespace, &in.PodName, &in.DeploymentName, &reg, &seen); err != nil {
		return store.Integration{}, err
	}
	in.RegisteredAt, in.LastSeen = fromMicro(reg), fromMicro(seen)
	return in, nil
}

// getIntegration reads an integration with its subscriptions through q.
func getIntegration(ctx context.Context, q Querier, id string) (store.Integration, error) {
	in, err := scanIntegration(q.QueryRow(ctx, `SELECT `+integrationCols+` FROM integrations WHERE id = ?`, id))
	if errors.Is(err, ErrNoRows) {
		return store.Integration{}, fmt.Errorf("integration %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Integration{}, fmt.Errorf("get integration %q: %w", id, err)
	}
	subs, err := subscriptionsOf(ctx, q, `WHERE integration_id = ?`, id)
	if err != nil {
		return store.Integration{}, err
	}
	in.Subscriptions = subs[id]
	return in, nil
}

// subscriptionsOf reads subscriptions by integration id, in their order.
func subscriptionsOf(ctx context.Context, q Querier, where string, args ...any) (map[string][]store.Subscription, error) {
	rows, err := q.Query(ctx, `SELECT integration_id, id, event, projects, stages, services FROM integration_subscriptions `+
		where+` ORDER BY integration_id, position`, args...)
	if err != nil {
		return nil, fmt.Errorf("read subscriptions: %w", err)
	}
	defer rows.Close()
	out := map[string][]store.Subscription{}
	for rows.Next() {
		var iid, projects, stages, services string
		var s store.Subscription
		if err := rows.Scan(&iid, &s.ID, &s.Event, &projects, &stages, &services); err != nil {
			return nil, fmt.Errorf("read subscriptions: %w", err)
		}
		for _, f := range []struct {
			raw string
			dst *[]string
		}{{projects, &s.Projects}, {stages, &s.Stages}, {services, &s.Services}} {
			if err := json.Unmarshal([]byte(f.raw), f.dst); err != nil {
				return nil, fmt.Errorf("read subscription %q: %w", s.ID, err)
			}
		}
		out[iid] = append(out[iid], s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read subscriptions: %w", err)
	}
	return out, nil
}

func names(v []string) string {
	if v == nil {
		v = []string{}
	}
	b, _ := json.Marshal(v) // a []string always marshals
	return string(b)
}

// UpdateIntegration implements store.Integrations.
func (c *Core) UpdateIntegration(ctx context.Context, id string, fn func(store.Integration, bool) (store.Integration, error)) (store.Integration, error) {
	if id == "" {
		return store.Integration{}, fmt.Errorf("update integration: empty id: %w", store.ErrInvalid)
	}
	var out store.Integration
	err := c.write(ctx, func(ctx context.Context, w *txw) error {
		// A nameless placeholder row makes sure there is a row to lock,
		// and the no-op update locks it: concurrent writers of one
		// integration (PostgreSQL runs several) then take turns, each
		// reading what the one before committed. A rollback removes the
		// placeholder again.
		if _, err := w.q.Exec(ctx, `INSERT INTO integrations (`+integrationCols+`) VALUES (?, '', '', '', '', '', '', '', '', '', 0, 0)
			ON CONFLICT DO NOTHING`, id); err != nil {
			return fmt.Errorf("lock integration %q: %w", id, err)
		}
		if _, err := w.q.Exec(ctx, `UPDATE integrations SET last_seen = last_seen WHERE id = ?`, id); err != nil {
			return fmt.Errorf("lock integration %q: %w", id, err)
		}
		cur, err := getIntegration(ctx, w.q, id)
		if err != nil {
			return err
		}
		found := cur.Name != ""
		if !found {
			cur = store.Integration{ID: id}
		}
		next, err := fn(cur, found)
		if err != nil {
			return err
		}
		next.ID = id
		if next.Name == "" {
			return fmt.Errorf("integration %q: empty name: %w", id, store.ErrInvalid)
		}
		if _, err := w.q.Exec(ctx, `UPDATE integrations SET name = ?, project = ?, hostname = ?, integration_version = ?,
			distributor_version = ?, location = ?, namespace = ?, pod_name = ?, deployment_name = ?, registered_at = ?, last_seen = ?
			WHERE id = ?`, next.Name, next.Project, next.Hostname, next.IntegrationVersion, next.DistributorVersion, next.Location,
			next.Namespace, next.PodName, next.DeploymentName, micro(next.RegisteredAt), micro(next.LastSeen), id); err != nil {
			return fmt.Errorf("store integration %q: %w", id, err)
		}
		if !sameSubscriptions(cur.Subscriptions, next.Subscriptions) {
			if _, err := w.q.Exec(ctx, `DELETE FROM integration_subscriptions WHERE integration_id = ?`, id); err != nil {
				return fmt.Errorf("store integration %q: %w", id, err)
			}
			for i, s := range next.Subscriptions {
				if s.ID == "" || s.Event == "" {
					return fmt.Errorf("integration %q: subscription %d needs an id and an event: %w", id, i, store.ErrInvalid)
				}
				n, err := w.q.Exec(ctx, `INSERT INTO integration_subscriptions (id, integration_id, position, event, projects, stages, services)
					VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, s.ID, id, i, s.Event, names(s.Projects), names(s.Stages), names(s.Services))
				if err != nil {
					return fmt.Errorf("store subscription %q: %w", s.ID, err)
				}
				if n == 0 {
					return fmt.Errorf("subscription %q: %w", s.ID, store.ErrExists)
				}
			}
		}
		out = next
		return nil
	})
	if err != nil {
		return store.Integration{}, err
	}
	return out, nil
}

// sameSubscriptions reports whether a ping (which changes only the last
// seen time) can skip rewriting the subscriptions.
func sameSubscriptions(a, b []store.Subscription) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.ID != y.ID || x.Event != y.Event || names(x.Projects) != names(y.Projects) ||
			names(x.Stages) != names(y.Stages) || names(x.Services) != names(y.Services) {
			return false
		}
	}
	return true
}

// GetIntegration implements store.Integrations.
func (c *Core) GetIntegration(ctx context.Context, id string) (store.Integration, error) {
	return getIntegration(ctx, c.read, id)
}

// ListIntegrations implements store.Integrations.
func (c *Core) ListIntegrations(ctx context.Context) ([]store.Integration, error) {
	rows, err := c.read.Query(ctx, `SELECT `+integrationCols+` FROM integrations ORDER BY name, id`)
	if err != nil {
		return nil, fmt.Errorf("list integrations: %w", err)
	}
	var out []store.Integration
	for rows.Next() {
		in, err := scanIntegration(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("list integrations: %w", err)
		}
		out = append(out, in)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, fmt.Errorf("list integrations: %w", err)
	}
	subs, err := subscriptionsOf(ctx, c.read, "")
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Subscriptions = subs[out[i].ID]
	}
	return out, nil
}

// DeleteIntegration implements store.Integrations.
func (c *Core) DeleteIntegration(ctx context.Context, id string) error {
	return c.write(ctx, func(ctx context.Context, w *txw) error {
		n, err := w.q.Exec(ctx, `DELETE FROM integrations WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("delete integration %q: %w", id, err)
		}
		if n == 0 {
			return fmt.Errorf("integration %q: %w", id, store.ErrNotFound)
		}
		if _, err := w.q.Exec(ctx, `DELETE FROM integration_subscriptions WHERE integration_id = ?`, id); err != nil {
			return fmt.Errorf("delete integration %q: %w", id, err)
		}
		return nil
	})
}

// AppendIntegrationLogs implements store.Integrations.
func (c *Core) AppendIntegrationLogs(ctx context.Context, logs ...store.IntegrationLog) error {
	if len(logs) == 0 {
		return nil
	}
	now := c.now()
	return c.write(ctx, func(ctx context.Context, w *txw) error {
		for _, l := range logs {
			if l.IntegrationID == "" {
				return fmt.Errorf("append integration log: empty integration id: %w", store.ErrInvalid)
			}
			t := l.Time
			if t.IsZero() {
				t = now
			}
			if _, err := w.q.Exec(ctx, `INSERT INTO integration_logs (integration_id, project, shkeptncontext, triggeredid, task, message, logged_at)
				VALUES (?, ?, ?, ?, ?, ?, ?)`, l.IntegrationID, l.Project, l.KeptnContext, l.TriggeredID, l.Task, l.Message, micro(t)); err != nil {
				return fmt.Errorf("append integration log: %w", err)
			}
		}
		return nil
	})
}

// ListIntegrationLogs implements store.Integrations.
func (c *Core) ListIntegrationLogs(ctx context.Context, f store.IntegrationLogFilter) (store.IntegrationLogPage, error) {
	if f.Offset < 0 {
		return store.IntegrationLogPage{}, fmt.Errorf("list integration logs: negative offset: %w", store.ErrInvalid)
	}
	var conds []string
	var args []any
	add := func(cond string, v any) {
		conds = append(conds, cond)
		args = append(args, v)
	}
	if f.IntegrationID != "" {
		add("integration_id = ?", f.IntegrationID)
	}
	if f.Project != "" {
		add("project = ?", f.Project)
	}
	if f.KeptnContext != "" {
		add("shkeptncontext = ?", f.KeptnContext)
	}
	if !f.FromTime.IsZero() {
		add("logged_at >= ?", micro(f.FromTime))
	}
	if !f.BeforeTime.IsZero() {
		add("logged_at < ?", micro(f.BeforeTime))
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	var pg store.IntegrationLogPage
	if err := c.read.QueryRow(ctx, `SELECT COUNT(*) FROM integration_logs`+where, args...).Scan(&pg.TotalCount); err != nil {
		return store.IntegrationLogPage{}, fmt.Errorf("count integration logs: %w", err)
	}
	size := f.EffectivePageSize()
	rows, err := c.read.Query(ctx, `SELECT seq, integration_id, project, shkeptncontext, triggeredid, task, message, logged_at
		FROM integration_logs`+where+` ORDER BY seq DESC LIMIT ? OFFSET ?`, append(args, size, f.Offset)...)
	if err != nil {
		return store.IntegrationLogPage{}, fmt.Errorf("list integration logs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var l store.IntegrationLog
		var t int64
		if err := rows.Scan(&l.Seq, &l.IntegrationID, &l.Project, &l.KeptnContext, &l.TriggeredID, &l.Task, &l.Message, &t); err != nil {
			return store.IntegrationLogPage{}, fmt.Errorf("list integration logs: %w", err)
		}
		l.Time = fromMicro(t)
		pg.Logs = append(pg.Logs, l)
	}
	if err := rows.Err(); err != nil {
		return store.IntegrationLogPage{}, fmt.Errorf("list integration logs: %w", err)
	}
	if f.Offset+len(pg.Logs) < pg.TotalCount {
		pg.NextOffset = f.Offset + len(pg.Logs)
	}
	return pg, nil
}
