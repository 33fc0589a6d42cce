package resource

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage"
)

// change is one edit of a tree: write content at path, delete the file at
// path, or (dir) delete the folder at path.
type change struct {
	path    string
	content []byte
	del     bool
	dir     bool
}

// errNotChanged is internal: a delete found nothing to delete.
type missingError struct{ path string }

func (e *missingError) Error() string { return e.path + " does not exist" }

// trees reads and writes tree objects of one repository, caching the trees it
// has read: they are immutable, so the cache needs no invalidation.
type trees struct {
	st    storage.Storer
	cache map[plumbing.Hash]*object.Tree
}

func newTrees(st storage.Storer) *trees {
	return &trees{st: st, cache: map[plumbing.Hash]*object.Tree{}}
}

func (t *trees) tree(h plumbing.Hash) (*object.Tree, error) {
	if tr, ok := t.cache[h]; ok {
		return tr, nil
	}
	tr, err := object.GetTree(t.st, h)
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", h, err)
	}
	t.cache[h] = tr
	return tr, nil
}

// lookup finds the entry at a slash-separated path below the tree root.
func (t *trees) lookup(root plumbing.Hash, p string) (object.TreeEntry, bool, error) {
	cur := root
	parts := strings.Split(p, "/")
	for i, name := range parts {
		tr, err := t.tree(cur)
		if err != nil {
			return object.TreeEntry{}, false, err
		}
		e, ok := findEntry(tr, name)
		if !ok {
			return object.TreeEntry{}, false, nil
		}
		if i == len(parts)-1 {
			return e, true, nil
		}
		if e.Mode != filemode.Dir {
			return object.TreeEntry{}, false, nil
		}
		cur = e.Hash
	}
	return object.TreeEntry{}, false, nil
}

// fileHash returns the blob hash of a regular file at p, or ZeroHash.
func (t *trees) fileHash(root plumbing.Hash, p string) (plumbing.Hash, error) {
	e, ok, err := t.lookup(root, p)
	if err != nil || !ok || !e.Mode.IsFile() {
		return plumbing.ZeroHash, err
	}
	return e.Hash, nil
}

func findEntry(tr *object.Tree, name string) (object.TreeEntry, bool) {
	for _, e := range tr.Entries {
		if e.Name == name {
			return e, true
		}
	}
	return object.TreeEntry{}, false
}

// files lists every regular file below the tree root with its path.
func (t *trees) files(root plumbing.Hash, prefix string, out map[string]plumbing.Hash) error {
	tr, err := t.tree(root)
	if err != nil {
		return err
	}
	for _, e := range tr.Entries {
		switch {
		case e.Mode == filemode.Dir:
			if err := t.files(e.Hash, prefix+e.Name+"/", out); err != nil {
				return err
			}
		case e.Mode.IsFile():
			out[prefix+e.Name] = e.Hash
		}
	}
	return nil
}

// apply writes the changes below the tree root (ZeroHash for an empty tree)
// and returns the new root. Paths in changes are relative to root.
func (t *trees) apply(root plumbing.Hash, changes []change) (plumbing.Hash, error) {
	entries := map[string]object.TreeEntry{}
	if !root.IsZero() {
		tr, err := t.tree(root)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		for _, e := range tr.Entries {
			entries[e.Name] = e
		}
	}
	sub := map[string][]change{}
	var order []string
	for _, c := range changes {
		name, rest, nested := strings.Cut(c.path, "/")
		if nested {
			if _, ok := sub[name]; !ok {
				order = append(order, name)
			}
			c.path = rest
			sub[name] = append(sub[name], c)
			continue
		}
		e, exists := entries[name]
		switch {
		case c.dir:
			if !exists || e.Mode != filemode.Dir {
				return plumbing.ZeroHash, &missingError{path: name}
			}
			delete(entries, name)
		case c.del:
			if !exists || !e.Mode.IsFile() {
				return plumbing.ZeroHash, &missingError{path: name}
			}
			delete(entries, name)
		default:
			if exists && e.Mode == filemode.Dir {
				return plumbing.ZeroHash, fmt.Errorf("%q is a folder and cannot be overwritten by a file", name)
			}
			h := plumbing.ComputeHash(plumbing.BlobObject, c.content)
			if !exists || e.Hash != h {
				if err := t.putBlob(c.content); err != nil {
					return plumbing.ZeroHash, err
				}
			}
			entries[name] = object.TreeEntry{Name: name, Mode: filemode.Regular, Hash: h}
		}
	}
	for _, name := range order {
		e, exists := entries[name]
		base := plumbing.ZeroHash
		if exists {
			if e.Mode != filemode.Dir {
				if allDeletes(sub[name]) {
					return plumbing.ZeroHash, &missingError{path: name + "/" + sub[name][0].path}
				}
				return plumbing.ZeroHash, fmt.Errorf("%q is a file and cannot hold %q", name, name+"/"+sub[name][0].path)
			}
			base = e.Hash
		} else if allDeletes(sub[name]) {
			return plumbing.ZeroHash, &missingError{path: name + "/" + sub[name][0].path}
		}
		h, err := t.apply(base, sub[name])
		if err != nil {
			var me *missingError
			if errors.As(err, &me) {
				me.path = name + "/" + me.path
			}
			return plumbing.ZeroHash, err
		}
		if h == emptyTree {
			delete(entries, name)
			continue
		}
		entries[name] = object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h}
	}
	list := make([]object.TreeEntry, 0, len(entries))
	for _, e := range entries {
		list = append(list, e)
	}
	sort.Sort(object.TreeEntrySorter(list))
	return t.putTree(list)
}

func allDeletes(cs []change) bool {
	for _, c := range cs {
		if !c.del && !c.dir {
			return false
		}
	}
	return true
}

// emptyTree is the hash of the tree without entries.
var emptyTree = plumbing.ComputeHash(plumbing.TreeObject, nil)

func (t *trees) putBlob(content []byte) error {
	o := t.st.NewEncodedObject()
	o.SetType(plumbing.BlobObject)
	o.SetSize(int64(len(content)))
	w, err := o.Writer()
	if err != nil {
		return err
	}
	if _, err := w.Write(content); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	if _, err := t.st.SetEncodedObject(o); err != nil {
		return fmt.Errorf("store blob: %w", err)
	}
	return nil
}

func (t *trees) putTree(entries []object.TreeEntry) (plumbing.Hash, error) {
	tr := &object.Tree{Entries: entries}
	o := t.st.NewEncodedObject()
	if err := tr.Encode(o); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("encode tree: %w", err)
	}
	h := o.Hash()
	if h == emptyTree && t.has(h) {
		return h, nil
	}
	if _, err := t.st.SetEncodedObject(o); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("store tree: %w", err)
	}
	return h, nil
}

func (t *trees) has(h plumbing.Hash) bool { return t.st.HasEncodedObject(h) == nil }

func readBlob(st storage.Storer, h plumbing.Hash) ([]byte, error) {
	b, err := object.GetBlob(st, h)
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", h, err)
	}
	r, err := b.Reader()
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", h, err)
	}
	defer r.Close()
	return io.ReadAll(r)
}
