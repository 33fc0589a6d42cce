package sqlcore

import (
	"context"
	"errors"
	"fmt"

	"github.com/tendhq/tend/internal/store"
)

const tokenCols = `name, scope, project, hash, created_at`

func scanToken(row interface{ Scan(...any) error }) (store.Token, error) {
	var t store.Token
	var created int64
	if err := row.Scan(&t.Name, &t.Scope, &t.Project, &t.Hash, &created); err != nil {
		return store.Token{}, err
	}
	t.CreatedAt = fromMicro(created)
	return t, nil
}

// CreateToken implements store.Tokens.
func (c *Core) CreateToken(ctx context.Context, nt store.NewToken) (store.Token, error) {
	switch {
	case nt.Name == "":
		return store.Token{}, fmt.Errorf("create token: empty name: %w", store.ErrInvalid)
	case nt.Scope == "":
		return store.Token{}, fmt.Errorf("create token %q: empty scope: %w", nt.Name, store.ErrInvalid)
	case len(nt.Hash) == 0:
		return store.Token{}, fmt.Errorf("create token %q: no hash: %w", nt.Name, store.ErrInvalid)
	}
	now := micro(c.now())
	err := c.write(ctx, func(ctx context.Context, w *txw) error {
		n, err := w.q.Exec(ctx, `INSERT INTO tokens (name, scope, project, hash, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			nt.Name, nt.Scope, nt.Project, nt.Hash, now)
		if err != nil {
			return fmt.Errorf("create token %q: %w", nt.Name, err)
		}
		if n == 0 {
			return fmt.Errorf("token %q: %w", nt.Name, store.ErrExists)
		}
		return nil
	})
	if err != nil {
		return store.Token{}, err
	}
	return store.Token{Name: nt.Name, Scope: nt.Scope, Project: nt.Project, Hash: nt.Hash, CreatedAt: fromMicro(now)}, nil
}

// ListTokens implements store.Tokens.
func (c *Core) ListTokens(ctx context.Context) ([]store.Token, error) {
	rows, err := c.read.Query(ctx, `SELECT `+tokenCols+` FROM tokens ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var out []store.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// GetToken implements store.Tokens.
func (c *Core) GetToken(ctx context.Context, name string) (store.Token, error) {
	t, err := scanToken(c.read.QueryRow(ctx, `SELECT `+tokenCols+` FROM tokens WHERE name = ?`, name))
	if errors.Is(err, ErrNoRows) {
		return store.Token{}, fmt.Errorf("token %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return store.Token{}, fmt.Errorf("get token %q: %w", name, err)
	}
	return t, nil
}

// TokenByHash implements store.Tokens.
func (c *Core) TokenByHash(ctx context.Context, hash []byte) (store.Token, error) {
	t, err := scanToken(c.read.QueryRow(ctx, `SELECT `+tokenCols+` FROM tokens WHERE hash = ?`, hash))
	if errors.Is(err, ErrNoRows) {
		return store.Token{}, fmt.Errorf("token: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Token{}, fmt.Errorf("find token: %w", err)
	}
	return t, nil
}

// DeleteToken implements store.Tokens.
func (c *Core) DeleteToken(ctx context.Context, name string) error {
	return c.write(ctx, func(ctx context.Context, w *txw) error {
		n, err := w.q.Exec(ctx, `DELETE FROM tokens WHERE name = ?`, name)
		if err != nil {
			return fmt.Errorf("delete token %q: %w", name, err)
		}
		if n == 0 {
			return fmt.Errorf("token %q: %w", name, store.ErrNotFound)
		}
		return nil
	})
}

// CountTokens implements store.Tokens.
func (c *Core) CountTokens(ctx context.Context, scope string) (int, error) {
	var n int
	var err error
	if scope == "" {
		err = c.read.QueryRow(ctx, `SELECT COUNT(*) FROM tokens`).Scan(&n)
	} else {
		err = c.read.QueryRow(ctx, `SELECT COUNT(*) FROM tokens WHERE scope = ?`, scope).Scan(&n)
	}
	if err != nil {
		return 0, fmt.Errorf("count tokens: %w", err)
	}
	return n, nil
}
