package sqlcore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tendhq/tend/internal/store"
)

func scopeErr(sc store.Scope, key string) string {
	return fmt.Sprintf("setting %q (project %q, stage %q, service %q)", key, sc.Project, sc.Stage, sc.Service)
}

func validScope(sc store.Scope, key string) error {
	if key == "" {
		return fmt.Errorf("%s: empty key: %w", scopeErr(sc, key), store.ErrInvalid)
	}
	if sc.Project == "" && (sc.Stage != "" || sc.Service != "") {
		return fmt.Errorf("%s: a stage or service scope needs its project: %w", scopeErr(sc, key), store.ErrInvalid)
	}
	return nil
}

// GetSetting implements store.Settings.
func (c *Core) GetSetting(ctx context.Context, sc store.Scope, key string) (store.Setting, error) {
	return getSetting(ctx, c.read, sc, key)
}

func getSetting(ctx context.Context, q Querier, sc store.Scope, key string) (store.Setting, error) {
	s := store.Setting{Scope: sc, Key: key}
	var v []byte
	var updated int64
	err := q.QueryRow(ctx, `SELECT setting_value, updated_at FROM settings WHERE project = ? AND stage = ? AND service = ? AND setting_key = ?`,
		sc.Project, sc.Stage, sc.Service, key).Scan(&v, &updated)
	if errors.Is(err, ErrNoRows) {
		return store.Setting{}, fmt.Errorf("%s: %w", scopeErr(sc, key), store.ErrNotFound)
	}
	if err != nil {
		return store.Setting{}, fmt.Errorf("get %s: %w", scopeErr(sc, key), err)
	}
	s.Value, s.UpdatedAt = v, fromMicro(updated)
	return s, nil
}

// PutSetting implements store.Settings.
func (c *Core) PutSetting(ctx context.Context, s store.Setting) error {
	return c.write(ctx, func(ctx context.Context, w *txw) error { return w.PutSetting(ctx, s) })
}

// DeleteSetting implements store.Settings.
func (c *Core) DeleteSetting(ctx context.Context, sc store.Scope, key string) error {
	return c.write(ctx, func(ctx context.Context, w *txw) error { return w.DeleteSetting(ctx, sc, key) })
}

// ListSettings implements store.Settings.
func (c *Core) ListSettings(ctx context.Context, project string) ([]store.Setting, error) {
	rows, err := c.read.Query(ctx, `SELECT stage, service, setting_key, setting_value, updated_at FROM settings
		WHERE project = ? ORDER BY stage, service, setting_key`, project)
	if err != nil {
		return nil, fmt.Errorf("list settings of %q: %w", project, err)
	}
	defer rows.Close()
	var out []store.Setting
	for rows.Next() {
		s := store.Setting{Scope: store.Scope{Project: project}}
		var v []byte
		var updated int64
		if err := rows.Scan(&s.Stage, &s.Service, &s.Key, &v, &updated); err != nil {
			return nil, fmt.Errorf("list settings of %q: %w", project, err)
		}
		s.Value, s.UpdatedAt = v, fromMicro(updated)
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list settings of %q: %w", project, err)
	}
	return out, nil
}

// GetSetting implements store.Tx.
func (w *txw) GetSetting(ctx context.Context, sc store.Scope, key string) (store.Setting, error) {
	if err := w.check(); err != nil {
		return store.Setting{}, err
	}
	return getSetting(ctx, w.q, sc, key)
}

// PutSetting implements store.Tx.
func (w *txw) PutSetting(ctx context.Context, s store.Setting) error {
	if err := w.check(); err != nil {
		return err
	}
	if err := validScope(s.Scope, s.Key); err != nil {
		return err
	}
	if !json.Valid(s.Value) {
		return fmt.Errorf("put %s: the value is not valid JSON: %w", scopeErr(s.Scope, s.Key), store.ErrInvalid)
	}
	_, err := w.q.Exec(ctx, `INSERT INTO settings (project, stage, service, setting_key, setting_value, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (project, stage, service, setting_key) DO UPDATE SET setting_value = excluded.setting_value, updated_at = excluded.updated_at`,
		s.Project, s.Stage, s.Service, s.Key, []byte(s.Value), micro(w.c.now()))
	if err != nil {
		return fmt.Errorf("put %s: %w", scopeErr(s.Scope, s.Key), err)
	}
	return nil
}

// DeleteSetting implements store.Tx.
func (w *txw) DeleteSetting(ctx context.Context, sc store.Scope, key string) error {
	if err := w.check(); err != nil {
		return err
	}
	n, err := w.q.Exec(ctx, `DELETE FROM settings WHERE project = ? AND stage = ? AND service = ? AND setting_key = ?`,
		sc.Project, sc.Stage, sc.Service, key)
	if err != nil {
		return fmt.Errorf("delete %s: %w", scopeErr(sc, key), err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", scopeErr(sc, key), store.ErrNotFound)
	}
	return nil
}
