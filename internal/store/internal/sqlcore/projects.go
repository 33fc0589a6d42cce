package sqlcore

import (
	"context"
	"errors"
	"fmt"

	"github.com/tendhq/tend/internal/store"
)

const projectCols = `name, shipyard, upstream_url, upstream_user, upstream_token <> '', created_at, updated_at, uid`

func scanProject(row interface{ Scan(...any) error }) (store.Project, error) {
	var p store.Project
	var created, updated int64
	if err := row.Scan(&p.Name, &p.Shipyard, &p.UpstreamURL, &p.UpstreamUser, &p.HasUpstreamToken, &created, &updated, &p.UID); err != nil {
		return store.Project{}, err
	}
	p.CreatedAt, p.UpdatedAt = fromMicro(created), fromMicro(updated)
	return p, nil
}

// CreateProject implements store.Projects.
func (c *Core) CreateProject(ctx context.Context, np store.NewProject) (store.Project, error) {
	if np.Name == "" {
		return store.Project{}, fmt.Errorf("create project: empty name: %w", store.ErrInvalid)
	}
	now := micro(c.now())
	if np.Shipyard == nil {
		np.Shipyard = []byte{}
	}
	uid := newLeaseToken() // 128 random bits, like a lease token
	err := c.write(ctx, func(ctx context.Context, w *txw) error {
		n, err := w.q.Exec(ctx, `INSERT INTO projects (name, shipyard, upstream_url, upstream_user, upstream_token, created_at, updated_at, uid)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			np.Name, np.Shipyard, np.UpstreamURL, np.UpstreamUser, np.UpstreamToken, now, now, uid)
		if err != nil {
			return fmt.Errorf("create project %q: %w", np.Name, err)
		}
		if n == 0 {
			return fmt.Errorf("create project %q: %w", np.Name, store.ErrExists)
		}
		return nil
	})
	if err != nil {
		return store.Project{}, err
	}
	return store.Project{
		Name: np.Name, UID: uid, Shipyard: np.Shipyard, UpstreamURL: np.UpstreamURL, UpstreamUser: np.UpstreamUser,
		HasUpstreamToken: np.UpstreamToken != "", CreatedAt: fromMicro(now), UpdatedAt: fromMicro(now),
	}, nil
}

// GetProject implements store.Projects.
func (c *Core) GetProject(ctx context.Context, name string) (store.Project, error) {
	p, err := scanProject(c.read.QueryRow(ctx, `SELECT `+projectCols+` FROM projects WHERE name = ?`, name))
	if errors.Is(err, ErrNoRows) {
		return store.Project{}, fmt.Errorf("project %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return store.Project{}, fmt.Errorf("get project %q: %w", name, err)
	}
	return p, nil
}

// ListProjects implements store.Projects.
func (c *Core) ListProjects(ctx context.Context) ([]store.Project, error) {
	rows, err := c.read.Query(ctx, `SELECT `+projectCols+` FROM projects ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list projects: %w", err)
	}
	defer rows.Close()
	var out []store.Project
	for rows.Next() {
		p, err := scanProject(rows)
		if err != nil {
			return nil, fmt.Errorf("list projects: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list projects: %w", err)
	}
	return out, nil
}

// UpdateShipyard implements store.Projects.
func (c *Core) UpdateShipyard(ctx context.Context, name string, shipyard []byte) error {
	now := micro(c.now())
	if shipyard == nil {
		shipyard = []byte{}
	}
	return c.write(ctx, func(ctx context.Context, w *txw) error {
		n, err := w.q.Exec(ctx, `UPDATE projects SET shipyard = ?, updated_at = ? WHERE name = ?`, shipyard, now, name)
		if err != nil {
			return fmt.Errorf("update shipyard of %q: %w", name, err)
		}
		if n == 0 {
			return fmt.Errorf("project %q: %w", name, store.ErrNotFound)
		}
		return nil
	})
}

// UpdateUpstream implements store.Projects.
func (c *Core) UpdateUpstream(ctx context.Context, name, url, user, token string) error {
	now := micro(c.now())
	return c.write(ctx, func(ctx context.Context, w *txw) error {
		n, err := w.q.Exec(ctx, `UPDATE projects SET upstream_url = ?, upstream_user = ?, upstream_token = ?, updated_at = ? WHERE name = ?`,
			url, user, token, now, name)
		if err != nil {
			return fmt.Errorf("update upstream of %q: %w", name, err)
		}
		if n == 0 {
			return fmt.Errorf("project %q: %w", name, store.ErrNotFound)
		}
		return nil
	})
}

// ProjectUpstreamToken implements store.Projects.
func (c *Core) ProjectUpstreamToken(ctx context.Context, name string) (string, error) {
	var tok string
	err := c.read.QueryRow(ctx, `SELECT upstream_token FROM projects WHERE name = ?`, name).Scan(&tok)
	if errors.Is(err, ErrNoRows) {
		return "", fmt.Errorf("project %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("get upstream token of %q: %w", name, err)
	}
	return tok, nil
}

// DeleteProject implements store.Projects.
func (c *Core) DeleteProject(ctx context.Context, name string) error {
	return c.write(ctx, func(ctx context.Context, w *txw) error { return w.DeleteProject(ctx, name) })
}

// DeleteProject implements store.Tx. It takes the problems' lock, so that
// it is ordered with the transactions that record problems of the project
// (which read its UID under the same lock).
func (w *txw) DeleteProject(ctx context.Context, name string) error {
	if err := w.check(); err != nil {
		return err
	}
	if err := w.lockProblems(ctx); err != nil {
		return err
	}
	for _, q := range []string{
		`DELETE FROM services WHERE project = ?`,
		`DELETE FROM settings WHERE project = ?`,
		`DELETE FROM tokens WHERE project = ?`,
		`DELETE FROM sequences WHERE project = ?`,
	} {
		if _, err := w.q.Exec(ctx, q, name); err != nil {
			return fmt.Errorf("delete project %q: %w", name, err)
		}
	}
	n, err := w.q.Exec(ctx, `DELETE FROM projects WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("delete project %q: %w", name, err)
	}
	if n == 0 {
		return fmt.Errorf("project %q: %w", name, store.ErrNotFound)
	}
	return nil
}

// CreateService implements store.Services.
func (c *Core) CreateService(ctx context.Context, project, name string) (store.Service, error) {
	if name == "" {
		return store.Service{}, fmt.Errorf("create service: empty name: %w", store.ErrInvalid)
	}
	now := micro(c.now())
	err := c.write(ctx, func(ctx context.Context, w *txw) error {
		var one int
		err := w.q.QueryRow(ctx, `SELECT 1 FROM projects WHERE name = ?`, project).Scan(&one)
		if errors.Is(err, ErrNoRows) {
			return fmt.Errorf("project %q: %w", project, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("create service %q: %w", name, err)
		}
		n, err := w.q.Exec(ctx, `INSERT INTO services (project, name, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
			project, name, now)
		if err != nil {
			return fmt.Errorf("create service %q: %w", name, err)
		}
		if n == 0 {
			return fmt.Errorf("service %q in project %q: %w", name, project, store.ErrExists)
		}
		return nil
	})
	if err != nil {
		return store.Service{}, err
	}
	return store.Service{Project: project, Name: name, CreatedAt: fromMicro(now)}, nil
}

// GetService implements store.Services.
func (c *Core) GetService(ctx context.Context, project, name string) (store.Service, error) {
	s := store.Service{Project: project, Name: name}
	var created int64
	err := c.read.QueryRow(ctx, `SELECT created_at FROM services WHERE project = ? AND name = ?`, project, name).Scan(&created)
	if errors.Is(err, ErrNoRows) {
		return store.Service{}, fmt.Errorf("service %q in project %q: %w", name, project, store.ErrNotFound)
	}
	if err != nil {
		return store.Service{}, fmt.Errorf("get service %q: %w", name, err)
	}
	s.CreatedAt = fromMicro(created)
	return s, nil
}

// ListServices implements store.Services.
func (c *Core) ListServices(ctx context.Context, project string) ([]store.Service, error) {
	if _, err := c.GetProject(ctx, project); err != nil {
		return nil, err
	}
	rows, err := c.read.Query(ctx, `SELECT name, created_at FROM services WHERE project = ? ORDER BY name`, project)
	if err != nil {
		return nil, fmt.Errorf("list services of %q: %w", project, err)
	}
	defer rows.Close()
	var out []store.Service
	for rows.Next() {
		s := store.Service{Project: project}
		var created int64
		if err := rows.Scan(&s.Name, &created); err != nil {
			return nil, fmt.Errorf("list services of %q: %w", project, err)
		}
		s.CreatedAt = fromMicro(created)
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list services of %q: %w", project, err)
	}
	return out, nil
}

// DeleteService implements store.Services.
func (c *Core) DeleteService(ctx context.Context, project, name string) error {
	return c.write(ctx, func(ctx context.Context, w *txw) error {
		n, err := w.q.Exec(ctx, `DELETE FROM services WHERE project = ? AND name = ?`, project, name)
		if err != nil {
			return fmt.Errorf("delete service %q: %w", name, err)
		}
		if n == 0 {
			return fmt.Errorf("service %q in project %q: %w", name, project, store.ErrNotFound)
		}
		return nil
	})
}
