// Package pgstorer keeps tend's project Git repositories in PostgreSQL: a
// go-git storage.Storer whose objects, references and config live in tables
// keyed by project, so every tend replica sharing one PostgreSQL reads and
// writes the same repositories. It implements resource.Storage.
//
// Objects written through a Storer are buffered and inserted in the same
// transaction as the next reference update, so a write costs one commit
// (one WAL flush) and no reference can ever point at a missing object.
// CheckAndSetReference is a conditional UPDATE, atomic across replicas.
package pgstorer

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/index"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tendhq/tend/internal/resource"
)

//go:embed schema.sql
var schema string

// Store opens project repositories kept in PostgreSQL.
type Store struct {
	pool    *pgxpool.Pool
	cache   *objectCache
	timeout time.Duration
}

// New returns a Store over pool. Call Migrate once before use.
func New(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool, cache: newObjectCache(32 << 20), timeout: 30 * time.Second}
}

// Migrate creates the git_ tables when missing. Replicas starting together
// are serialised by an advisory lock.
func (s *Store) Migrate(ctx context.Context) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate git tables: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a committed tx makes this a no-op
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('tend_git_schema'))`); err != nil {
		return fmt.Errorf("migrate git tables: %w", err)
	}
	if _, err := tx.Exec(ctx, schema); err != nil {
		return fmt.Errorf("migrate git tables: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrate git tables: %w", err)
	}
	return nil
}

// Create makes the repository row, or returns the existing repository.
func (s *Store) Create(ctx context.Context, project string) (storage.Storer, error) {
	if err := resource.ValidateName("project", project); err != nil {
		return nil, err
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO git_repositories (project) VALUES ($1) ON CONFLICT DO NOTHING`, project); err != nil {
		return nil, fmt.Errorf("create repository of project %s: %w", project, err)
	}
	return s.storer(ctx, project), nil
}

// Open returns the storer of an existing repository. The storer uses ctx for
// its queries (go-git's interfaces carry no context), so it must not outlive
// the operation ctx belongs to.
func (s *Store) Open(ctx context.Context, project string) (storage.Storer, error) {
	if err := resource.ValidateName("project", project); err != nil {
		return nil, err
	}
	var one int
	err := s.pool.QueryRow(ctx, `SELECT 1 FROM git_repositories WHERE project = $1`, project).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("project %s: %w", project, resource.ErrProjectNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("open repository of project %s: %w", project, err)
	}
	return s.storer(ctx, project), nil
}

// Remove deletes a repository with its objects and references.
func (s *Store) Remove(ctx context.Context, project string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM git_repositories WHERE project = $1`, project)
	if err != nil {
		return fmt.Errorf("remove repository of project %s: %w", project, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("project %s: %w", project, resource.ErrProjectNotFound)
	}
	s.cache.dropProject(project)
	return nil
}

func (s *Store) storer(ctx context.Context, project string) *Storer {
	return &Storer{store: s, project: project, ctx: ctx, pending: map[plumbing.Hash]plumbing.EncodedObject{}}
}

// Storer is one project's repository. It is safe for concurrent use.
type Storer struct {
	store   *Store
	project string
	ctx     context.Context

	mu      sync.Mutex
	pending map[plumbing.Hash]plumbing.EncodedObject
	index   *index.Index
}

var _ storage.Storer = (*Storer)(nil)

func (s *Storer) opCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.ctx, s.store.timeout)
}

func (s *Storer) wrap(op string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" {
		// A foreign key violation: the repository row is gone.
		return fmt.Errorf("%s: project %s: %w", op, s.project, resource.ErrProjectNotFound)
	}
	return fmt.Errorf("%s in project %s: %w", op, s.project, err)
}

// NewEncodedObject returns an in-memory object to fill and store.
func (s *Storer) NewEncodedObject() plumbing.EncodedObject { return &plumbing.MemoryObject{} }

// SetEncodedObject buffers the object until the next reference update.
func (s *Storer) SetEncodedObject(o plumbing.EncodedObject) (plumbing.Hash, error) {
	switch o.Type() {
	case plumbing.CommitObject, plumbing.TreeObject, plumbing.BlobObject, plumbing.TagObject:
	default:
		return plumbing.ZeroHash, plumbing.ErrInvalidType
	}
	mo, err := toMemory(o)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	h := mo.Hash()
	s.mu.Lock()
	s.pending[h] = mo
	s.mu.Unlock()
	return h, nil
}

func toMemory(o plumbing.EncodedObject) (*plumbing.MemoryObject, error) {
	if mo, ok := o.(*plumbing.MemoryObject); ok {
		mo.Hash() // computed now, before the object is shared
		return mo, nil
	}
	r, err := o.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return newObject(o.Type(), data), nil
}

func newObject(t plumbing.ObjectType, data []byte) *plumbing.MemoryObject {
	mo := &plumbing.MemoryObject{}
	mo.SetType(t)
	_, _ = mo.Write(data)
	mo.Hash()
	return mo
}

func (s *Storer) pendingObject(h plumbing.Hash) (plumbing.EncodedObject, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.pending[h]
	return o, ok
}

// EncodedObject reads an object, from the cache when possible.
func (s *Storer) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	o, err := s.object(h)
	if err != nil {
		return nil, err
	}
	if t != plumbing.AnyObject && o.Type() != t {
		return nil, plumbing.ErrObjectNotFound
	}
	return o, nil
}

func (s *Storer) object(h plumbing.Hash) (plumbing.EncodedObject, error) {
	if o, ok := s.store.cache.get(s.project, h); ok {
		return o, nil
	}
	if o, ok := s.pendingObject(h); ok {
		return o, nil
	}
	ctx, cancel := s.opCtx()
	defer cancel()
	var typ int16
	var data []byte
	err := s.store.pool.QueryRow(ctx, `SELECT type, data FROM git_objects WHERE project = $1 AND hash = $2`,
		s.project, h[:]).Scan(&typ, &data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, plumbing.ErrObjectNotFound
	}
	if err != nil {
		return nil, s.wrap("read object "+h.String(), err)
	}
	o := newObject(plumbing.ObjectType(typ), data)
	s.store.cache.put(s.project, h, o)
	return o, nil
}

// IterEncodedObjects iterates the objects of type t (or all).
func (s *Storer) IterEncodedObjects(t plumbing.ObjectType) (storer.EncodedObjectIter, error) {
	ctx, cancel := s.opCtx()
	defer cancel()
	rows, err := s.store.pool.Query(ctx, `SELECT hash FROM git_objects WHERE project = $1 AND ($2 < 0 OR type = $2)`,
		s.project, objectTypeFilter(t))
	if err != nil {
		return nil, s.wrap("list objects", err)
	}
	var hashes []plumbing.Hash
	seen := map[plumbing.Hash]bool{}
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			rows.Close()
			return nil, s.wrap("list objects", err)
		}
		var h plumbing.Hash
		copy(h[:], b)
		hashes = append(hashes, h)
		seen[h] = true
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list objects", err)
	}
	s.mu.Lock()
	for h, o := range s.pending {
		if !seen[h] && (t == plumbing.AnyObject || o.Type() == t) {
			hashes = append(hashes, h)
		}
	}
	s.mu.Unlock()
	return storer.NewEncodedObjectLookupIter(s, t, hashes), nil
}

func objectTypeFilter(t plumbing.ObjectType) int16 {
	if t == plumbing.AnyObject {
		return -1
	}
	return int16(t)
}

// HasEncodedObject returns nil when the object exists.
func (s *Storer) HasEncodedObject(h plumbing.Hash) error {
	_, err := s.EncodedObjectSize(h)
	return err
}

// EncodedObjectSize returns the size of an object's content.
func (s *Storer) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	if o, ok := s.store.cache.get(s.project, h); ok {
		return o.Size(), nil
	}
	if o, ok := s.pendingObject(h); ok {
		return o.Size(), nil
	}
	ctx, cancel := s.opCtx()
	defer cancel()
	var size int64
	err := s.store.pool.QueryRow(ctx, `SELECT size FROM git_objects WHERE project = $1 AND hash = $2`,
		s.project, h[:]).Scan(&size)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, plumbing.ErrObjectNotFound
	}
	if err != nil {
		return 0, s.wrap("read object "+h.String(), err)
	}
	return size, nil
}

// AddAlternate is not supported: repositories never share object stores.
func (s *Storer) AddAlternate(string) error {
	return errors.New("pgstorer: alternates are not supported")
}

// SetReference stores ref unconditionally, with the buffered objects.
func (s *Storer) SetReference(ref *plumbing.Reference) error {
	return s.CheckAndSetReference(ref, nil)
}

// CheckAndSetReference stores ref when the stored reference equals old
// (nil: unconditionally; a ZeroHash old: only when absent), in one
// transaction with the buffered objects. A mismatch is
// storage.ErrReferenceHasChanged.
func (s *Storer) CheckAndSetReference(ref, old *plumbing.Reference) error {
	target := ref.Strings()[1]
	return s.withObjects("set reference "+ref.Name().String(), func(ctx context.Context, tx pgx.Tx) error {
		var (
			tag pgconn.CommandTag
			err error
		)
		switch {
		case old == nil:
			tag, err = tx.Exec(ctx, `INSERT INTO git_references (project, name, target) VALUES ($1, $2, $3)
				ON CONFLICT (project, name) DO UPDATE SET target = excluded.target`,
				s.project, ref.Name().String(), target)
		case old.Type() == plumbing.HashReference && old.Hash().IsZero():
			tag, err = tx.Exec(ctx, `INSERT INTO git_references (project, name, target) VALUES ($1, $2, $3)
				ON CONFLICT DO NOTHING`, s.project, ref.Name().String(), target)
		default:
			tag, err = tx.Exec(ctx, `UPDATE git_references SET target = $3 WHERE project = $1 AND name = $2 AND target = $4`,
				s.project, ref.Name().String(), target, old.Strings()[1])
		}
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return storage.ErrReferenceHasChanged
		}
		return nil
	})
}

// withObjects runs fn in a transaction that first inserts the buffered
// objects; they stay buffered when the transaction fails.
func (s *Storer) withObjects(op string, fn func(context.Context, pgx.Tx) error) error {
	s.mu.Lock()
	objs := make([]*plumbing.MemoryObject, 0, len(s.pending))
	for _, o := range s.pending {
		objs = append(objs, o.(*plumbing.MemoryObject))
	}
	s.mu.Unlock()
	ctx, cancel := s.opCtx()
	defer cancel()
	err := pgx.BeginFunc(ctx, s.store.pool, func(tx pgx.Tx) error {
		if len(objs) > 0 {
			hashes := make([][]byte, len(objs))
			types := make([]int16, len(objs))
			sizes := make([]int64, len(objs))
			data := make([][]byte, len(objs))
			for i, o := range objs {
				h := o.Hash()
				hashes[i] = h[:]
				types[i] = int16(o.Type())
				sizes[i] = o.Size()
				b, err := objectBytes(o)
				if err != nil {
					return err
				}
				data[i] = b
			}
			_, err := tx.Exec(ctx, `INSERT INTO git_objects (project, hash, type, size, data)
				SELECT $1, h, t, sz, d FROM unnest($2::bytea[], $3::smallint[], $4::bigint[], $5::bytea[]) AS u(h, t, sz, d)
				ON CONFLICT DO NOTHING`, s.project, hashes, types, sizes, data)
			if err != nil {
				return err
			}
		}
		return fn(ctx, tx)
	})
	if errors.Is(err, storage.ErrReferenceHasChanged) {
		return err
	}
	if err != nil {
		return s.wrap(op, err)
	}
	s.mu.Lock()
	for _, o := range objs {
		delete(s.pending, o.Hash())
	}
	s.mu.Unlock()
	return nil
}

func objectBytes(o *plumbing.MemoryObject) ([]byte, error) {
	r, err := o.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b := bytes.NewBuffer(make([]byte, 0, o.Size()))
	_, err = io.Copy(b, r)
	return b.Bytes(), err
}

// Reference reads one reference.
func (s *Storer) Reference(name plumbing.ReferenceName) (*plumbing.Reference, error) {
	ctx, cancel := s.opCtx()
	defer cancel()
	var target string
	err := s.store.pool.QueryRow(ctx, `SELECT target FROM git_references WHERE project = $1 AND name = $2`,
		s.project, name.String()).Scan(&target)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, plumbing.ErrReferenceNotFound
	}
	if err != nil {
		return nil, s.wrap("read reference "+name.String(), err)
	}
	return plumbing.NewReferenceFromStrings(name.String(), target), nil
}

// IterReferences iterates all references.
func (s *Storer) IterReferences() (storer.ReferenceIter, error) {
	ctx, cancel := s.opCtx()
	defer cancel()
	rows, err := s.store.pool.Query(ctx, `SELECT name, target FROM git_references WHERE project = $1 ORDER BY name`, s.project)
	if err != nil {
		return nil, s.wrap("list references", err)
	}
	var refs []*plumbing.Reference
	for rows.Next() {
		var name, target string
		if err := rows.Scan(&name, &target); err != nil {
			rows.Close()
			return nil, s.wrap("list references", err)
		}
		refs = append(refs, plumbing.NewReferenceFromStrings(name, target))
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list references", err)
	}
	return storer.NewReferenceSliceIter(refs), nil
}

// RemoveReference deletes a reference; a missing one is no error.
func (s *Storer) RemoveReference(name plumbing.ReferenceName) error {
	ctx, cancel := s.opCtx()
	defer cancel()
	if _, err := s.store.pool.Exec(ctx, `DELETE FROM git_references WHERE project = $1 AND name = $2`,
		s.project, name.String()); err != nil {
		return s.wrap("remove reference "+name.String(), err)
	}
	return nil
}

// CountLooseRefs reports 0: there are no loose references to pack.
func (s *Storer) CountLooseRefs() (int, error) { return 0, nil }

// PackRefs does nothing: references are rows.
func (s *Storer) PackRefs() error { return nil }

// Config reads the repository's Git config.
func (s *Storer) Config() (*config.Config, error) {
	ctx, cancel := s.opCtx()
	defer cancel()
	var data []byte
	err := s.store.pool.QueryRow(ctx, `SELECT config FROM git_repositories WHERE project = $1`, s.project).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("read config: project %s: %w", s.project, resource.ErrProjectNotFound)
	}
	if err != nil {
		return nil, s.wrap("read config", err)
	}
	if len(data) == 0 {
		return config.NewConfig(), nil
	}
	cfg := config.NewConfig()
	if err := cfg.Unmarshal(data); err != nil {
		return nil, s.wrap("decode config", err)
	}
	return cfg, nil
}

// SetConfig stores the repository's Git config.
func (s *Storer) SetConfig(cfg *config.Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	data, err := cfg.Marshal()
	if err != nil {
		return err
	}
	ctx, cancel := s.opCtx()
	defer cancel()
	tag, err := s.store.pool.Exec(ctx, `UPDATE git_repositories SET config = $2 WHERE project = $1`, s.project, data)
	if err != nil {
		return s.wrap("write config", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("write config: project %s: %w", s.project, resource.ErrProjectNotFound)
	}
	return nil
}

// SetShallow stores the shallow commits (tend never fetches shallowly; kept
// for completeness of the interface).
func (s *Storer) SetShallow(hashes []plumbing.Hash) error {
	parts := make([]string, len(hashes))
	for i, h := range hashes {
		parts[i] = h.String()
	}
	ctx, cancel := s.opCtx()
	defer cancel()
	if _, err := s.store.pool.Exec(ctx, `UPDATE git_repositories SET shallow = $2 WHERE project = $1`,
		s.project, strings.Join(parts, "\n")); err != nil {
		return s.wrap("write shallow", err)
	}
	return nil
}

// Shallow returns the shallow commits.
func (s *Storer) Shallow() ([]plumbing.Hash, error) {
	ctx, cancel := s.opCtx()
	defer cancel()
	var text string
	err := s.store.pool.QueryRow(ctx, `SELECT shallow FROM git_repositories WHERE project = $1`, s.project).Scan(&text)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, s.wrap("read shallow", err)
	}
	var out []plumbing.Hash
	for _, line := range strings.Fields(text) {
		out = append(out, plumbing.NewHash(line))
	}
	return out, nil
}

// SetIndex keeps the index in memory: repositories are bare and tend never
// uses a worktree, so an index is never worth a table.
func (s *Storer) SetIndex(idx *index.Index) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.index = idx
	return nil
}

// Index returns the in-memory index, empty unless SetIndex was called.
func (s *Storer) Index() (*index.Index, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.index == nil {
		return &index.Index{Version: 2}, nil
	}
	return s.index, nil
}

// Module is not supported: resource repositories have no submodules.
func (s *Storer) Module(name string) (storage.Storer, error) {
	return nil, fmt.Errorf("pgstorer: submodule %q: submodules are not supported", name)
}
