package resource

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage"
)

func (r *Repos) commit(ctx context.Context, st storage.Storer, tree, parent plumbing.Hash, msg string) (plumbing.Hash, error) {
	now := r.opts.Now()
	a := r.author(ctx)
	c := &object.Commit{
		Author:    object.Signature{Name: a.Name, Email: a.Email, When: now},
		Committer: object.Signature{Name: r.opts.Committer.Name, Email: r.opts.Committer.Email, When: now},
		Message:   msg,
		TreeHash:  tree,
	}
	if !parent.IsZero() {
		c.ParentHashes = []plumbing.Hash{parent}
	}
	o := st.NewEncodedObject()
	if err := c.Encode(o); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("encode commit: %w", err)
	}
	h, err := st.SetEncodedObject(o)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("store commit: %w", err)
	}
	return h, nil
}

// Put writes one resource as one commit and returns the commit id. Writing
// the content a resource already has makes no commit and returns the
// current head. A *PushError means the commit was kept but not pushed.
func (r *Repos) Put(ctx context.Context, ref Ref, uri string, content []byte, msg string) (string, error) {
	return r.PutMany(ctx, ref, []File{{URI: uri, Content: content}}, msg)
}

// PutMany writes several resources as one commit.
func (r *Repos) PutMany(ctx context.Context, ref Ref, files []File, msg string) (string, error) {
	if err := ref.validate(); err != nil {
		return "", err
	}
	if len(files) == 0 {
		return "", fmt.Errorf("%w: no files to write", ErrInvalidURI)
	}
	changes := make([]change, 0, len(files)+1)
	seen := map[string]bool{}
	var uris []string
	for _, f := range files {
		uri, err := CleanURI(f.URI)
		if err != nil {
			return "", err
		}
		if seen[uri] {
			return "", fmt.Errorf("%w %q: given twice in one write", ErrInvalidURI, uri)
		}
		seen[uri] = true
		uris = append(uris, uri)
		changes = append(changes, change{path: ref.prefix() + uri, content: f.Content})
	}
	if msg == "" {
		msg = "Updated resource " + strings.Join(uris, ", ")
	}
	return r.write(ctx, ref, msg, func(t *trees, root plumbing.Hash) ([]change, error) {
		if ref.Service == "" || seen[ServiceMarker] {
			return changes, nil
		}
		// A service folder always carries its marker, so that listings
		// of the stage know it as a service.
		h, err := t.fileHash(root, ref.Service+"/"+ServiceMarker)
		if err != nil || !h.IsZero() {
			return changes, err
		}
		return append(changes, change{path: ref.Service + "/" + ServiceMarker, content: r.serviceMetadata(ref.Service)}), nil
	})
}

// Remove deletes one resource as one commit.
func (r *Repos) Remove(ctx context.Context, ref Ref, uri string) (string, error) {
	if err := ref.validate(); err != nil {
		return "", err
	}
	uri, err := CleanURI(uri)
	if err != nil {
		return "", err
	}
	return r.write(ctx, ref, "Removed resource "+uri, func(*trees, plumbing.Hash) ([]change, error) {
		return []change{{path: ref.prefix() + uri, del: true}}, nil
	})
}

// write commits the changes made by edit on top of the ref's branch head,
// retrying when another writer moved the branch in between, and then
// pushes the branch. edit may be called several times.
func (r *Repos) write(ctx context.Context, ref Ref, msg string, edit func(*trees, plumbing.Hash) ([]change, error)) (string, error) {
	l := r.lock(ref.Project)
	l.write.Lock()
	st, version, changed, err := r.commitLocked(ctx, ref, msg, edit)
	l.write.Unlock()
	if err != nil || !changed {
		return version, err
	}
	if err := r.pushAfterWrite(ctx, st, ref.Project, []string{ref.branch()}, version); err != nil {
		return version, err
	}
	return version, nil
}

func (r *Repos) commitLocked(ctx context.Context, ref Ref, msg string, edit func(*trees, plumbing.Hash) ([]change, error)) (storage.Storer, string, bool, error) {
	st, err := r.opts.Storage.Open(ctx, ref.Project)
	if err != nil {
		return nil, "", false, fmt.Errorf("open %s: %w", ref, err)
	}
	t := newTrees(st)
	for range maxAttempts {
		if err := ctx.Err(); err != nil {
			return nil, "", false, err
		}
		head, err := r.head(st, ref)
		if err != nil {
			return nil, "", false, err
		}
		parent, err := object.GetCommit(st, head.Hash())
		if err != nil {
			return nil, "", false, fmt.Errorf("read head of %s: %w", ref, err)
		}
		changes, err := edit(t, parent.TreeHash)
		if err != nil {
			return nil, "", false, fmt.Errorf("write %s: %w", ref, err)
		}
		root, err := t.apply(parent.TreeHash, changes)
		var me *missingError
		if errors.As(err, &me) {
			return nil, "", false, fmt.Errorf("resource %s in %s: %w", strings.TrimPrefix(me.path, ref.prefix()), ref, ErrResourceNotFound)
		}
		if err != nil {
			return nil, "", false, fmt.Errorf("write %s: %w", ref, err)
		}
		if root == parent.TreeHash {
			return st, head.Hash().String(), false, nil
		}
		c, err := r.commit(ctx, st, root, head.Hash(), msg)
		if err != nil {
			return nil, "", false, err
		}
		err = st.CheckAndSetReference(plumbing.NewHashReference(head.Name(), c), head)
		if errors.Is(err, storage.ErrReferenceHasChanged) {
			continue
		}
		if err != nil {
			return nil, "", false, fmt.Errorf("move branch %s of project %s: %w", ref.branch(), ref.Project, err)
		}
		return st, c.String(), true, nil
	}
	return nil, "", false, fmt.Errorf("write %s: branch %s kept moving under %d attempts", ref, ref.branch(), maxAttempts)
}
