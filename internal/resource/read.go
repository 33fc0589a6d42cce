package resource

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage"
)

// Get returns a resource's content at version (a full commit id), or at the
// branch head when version is "". The returned version is the commit read.
func (r *Repos) Get(ctx context.Context, ref Ref, uri string, version string) ([]byte, string, error) {
	if err := ref.validate(); err != nil {
		return nil, "", err
	}
	uri, err := CleanURI(uri)
	if err != nil {
		return nil, "", err
	}
	st, head, err := r.open(ctx, ref)
	if err != nil {
		return nil, "", err
	}
	return r.read(st, ref, head, uri, version)
}

// Level is one level's answer of GetLevels: what Get would return for it.
type Level struct {
	Data    []byte
	Version string
	Err     error
}

// GetLevels reads uri at the three levels of a service, in order: the
// project (its default branch), the stage and the service (both in the
// stage branch), each answered as Get would answer it, version "" (the
// head). It opens the repository once and reads each branch's head once,
// where three Gets would open it and read a head three times: a layered
// file such as sli.yaml is read at every level for each evaluation, and
// on PostgreSQL each opening and each head is a round trip.
func (r *Repos) GetLevels(ctx context.Context, ref Ref, uri string) [3]Level {
	levels := [3]Ref{{Project: ref.Project}, {Project: ref.Project, Stage: ref.Stage}, {Project: ref.Project, Stage: ref.Stage, Service: ref.Service}}
	var out [3]Level
	uri, uriErr := CleanURI(uri)
	var st storage.Storer
	var openErr error
	type branchHead struct {
		ref *plumbing.Reference
		err error
	}
	heads := map[string]branchHead{}
	for i, l := range levels {
		if err := l.validate(); err != nil {
			out[i].Err = err
			continue
		}
		if uriErr != nil {
			out[i].Err = uriErr
			continue
		}
		if st == nil && openErr == nil {
			st, openErr = r.opts.Storage.Open(ctx, l.Project)
		}
		if openErr != nil {
			out[i].Err = fmt.Errorf("open %s: %w", l, openErr)
			continue
		}
		h, ok := heads[l.branch()]
		if !ok {
			h.ref, h.err = r.head(st, l)
			heads[l.branch()] = h
		}
		if h.err != nil {
			out[i].Err = h.err
			continue
		}
		out[i].Data, out[i].Version, out[i].Err = r.read(st, l, h.ref, uri, "")
	}
	return out
}

// read returns uri of ref at version, or at head when version is "".
func (r *Repos) read(st storage.Storer, ref Ref, head *plumbing.Reference, uri, version string) ([]byte, string, error) {
	at := head.Hash()
	if version != "" {
		var err error
		at, err = parseVersion(version)
		if err != nil {
			return nil, "", err
		}
	}
	key := contentKey{project: ref.Project, commit: at.String(), path: ref.prefix() + uri}
	// A version given by the caller must still be a commit of this
	// repository (a project may have been deleted and created again);
	// the head was just read from it.
	if version == "" || st.HasEncodedObject(at) == nil {
		if b, exists, ok := r.content.get(key); ok {
			if !exists {
				return nil, "", fmt.Errorf("resource %s in %s at version %s: %w", uri, ref, at, ErrResourceNotFound)
			}
			return b, at.String(), nil
		}
	}
	c, err := object.GetCommit(st, at)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return nil, "", fmt.Errorf("version %s of %s: %w", version, ref, ErrVersionNotFound)
	}
	if err != nil {
		return nil, "", fmt.Errorf("read commit %s of %s: %w", at, ref, err)
	}
	h, err := newTrees(st).fileHash(c.TreeHash, ref.prefix()+uri)
	if err != nil {
		return nil, "", err
	}
	if h.IsZero() {
		r.content.put(key, nil)
		return nil, "", fmt.Errorf("resource %s in %s at version %s: %w", uri, ref, at, ErrResourceNotFound)
	}
	b, err := readBlob(st, h)
	if err != nil {
		return nil, "", err
	}
	if b == nil {
		b = []byte{}
	}
	r.content.put(key, b)
	return b, at.String(), nil
}

func parseVersion(v string) (plumbing.Hash, error) {
	if len(v) != 40 || !plumbing.IsHash(v) {
		return plumbing.ZeroHash, fmt.Errorf("version %q: %w: a version is a full 40-character commit id", v, ErrVersionNotFound)
	}
	return plumbing.NewHash(strings.ToLower(v)), nil
}

// List returns the resources of a ref with the commit that last changed
// each, sorted by URI. Project level lists the default branch; service
// level lists "<service>/" with the prefix removed; stage level lists the
// stage branch except service folders (top-level folders holding
// ServiceMarker).
func (r *Repos) List(ctx context.Context, ref Ref) ([]Resource, error) {
	if err := ref.validate(); err != nil {
		return nil, err
	}
	st, head, err := r.open(ctx, ref)
	if err != nil {
		return nil, err
	}
	c, err := object.GetCommit(st, head.Hash())
	if err != nil {
		return nil, fmt.Errorf("read head of %s: %w", ref, err)
	}
	t := newTrees(st)
	files := map[string]plumbing.Hash{}
	switch {
	case ref.Service != "":
		e, ok, err := t.lookup(c.TreeHash, ref.Service)
		if err != nil {
			return nil, err
		}
		if ok && e.Mode == filemode.Dir {
			if err := t.files(e.Hash, ref.prefix(), files); err != nil {
				return nil, err
			}
		}
	case ref.Stage != "":
		root, err := t.tree(c.TreeHash)
		if err != nil {
			return nil, err
		}
		for _, e := range root.Entries {
			if e.Mode.IsFile() {
				files[e.Name] = e.Hash
				continue
			}
			if e.Mode != filemode.Dir {
				continue
			}
			if m, ok, err := t.lookup(e.Hash, ServiceMarker); err != nil {
				return nil, err
			} else if ok && m.Mode.IsFile() {
				continue
			}
			if err := t.files(e.Hash, e.Name+"/", files); err != nil {
				return nil, err
			}
		}
	default:
		if err := t.files(c.TreeHash, "", files); err != nil {
			return nil, err
		}
	}
	versions, err := lastChanged(st, t, c, files)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", ref, err)
	}
	out := make([]Resource, 0, len(files))
	for p := range files {
		out = append(out, Resource{URI: strings.TrimPrefix(p, ref.prefix()), Version: versions[p].String()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].URI < out[j].URI })
	return out, nil
}

// lastChanged walks the first-parent history from head and finds, for every
// path, the newest commit whose blob at that path differs from its parent's.
func lastChanged(st storage.Storer, t *trees, head *object.Commit, files map[string]plumbing.Hash) (map[string]plumbing.Hash, error) {
	out := make(map[string]plumbing.Hash, len(files))
	pending := make(map[string]plumbing.Hash, len(files))
	for p, h := range files {
		pending[p] = h
	}
	c := head
	for len(pending) > 0 {
		if len(c.ParentHashes) == 0 {
			for p := range pending {
				out[p] = c.Hash
			}
			break
		}
		parent, err := object.GetCommit(st, c.ParentHashes[0])
		if err != nil {
			return nil, fmt.Errorf("read commit %s: %w", c.ParentHashes[0], err)
		}
		for p, h := range pending {
			ph, err := t.fileHash(parent.TreeHash, p)
			if err != nil {
				return nil, err
			}
			if ph != h {
				out[p] = c.Hash
				delete(pending, p)
			}
		}
		c = parent
	}
	return out, nil
}

// History returns the commits that changed a resource (written or removed),
// newest first, or ErrResourceNotFound when none ever did.
func (r *Repos) History(ctx context.Context, ref Ref, uri string) ([]Commit, error) {
	if err := ref.validate(); err != nil {
		return nil, err
	}
	uri, err := CleanURI(uri)
	if err != nil {
		return nil, err
	}
	st, head, err := r.open(ctx, ref)
	if err != nil {
		return nil, err
	}
	t := newTrees(st)
	p := ref.prefix() + uri
	c, err := object.GetCommit(st, head.Hash())
	if err != nil {
		return nil, fmt.Errorf("read head of %s: %w", ref, err)
	}
	h, err := t.fileHash(c.TreeHash, p)
	if err != nil {
		return nil, err
	}
	var out []Commit
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var parent *object.Commit
		ph := plumbing.ZeroHash
		if len(c.ParentHashes) > 0 {
			parent, err = object.GetCommit(st, c.ParentHashes[0])
			if err != nil {
				return nil, fmt.Errorf("read commit %s: %w", c.ParentHashes[0], err)
			}
			if ph, err = t.fileHash(parent.TreeHash, p); err != nil {
				return nil, err
			}
		}
		if ph != h {
			out = append(out, Commit{
				ID:      c.Hash.String(),
				Message: c.Message,
				Author:  Author{Name: c.Author.Name, Email: c.Author.Email},
				Time:    c.Author.When,
			})
		}
		if parent == nil {
			break
		}
		c, h = parent, ph
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("resource %s in %s: %w", uri, ref, ErrResourceNotFound)
	}
	return out, nil
}
