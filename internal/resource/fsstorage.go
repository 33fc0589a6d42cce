package resource

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// FSStorage keeps each project as a bare Git repository at
// "<dir>/<project>.git" that the git CLI can read.
//
// Durability: go-git's filesystem storer never calls fsync, and it rewrites
// reference files in place (truncate, then write), so a crash between the
// two leaves an empty branch file. FSStorage therefore
//   - wraps the billy filesystem so every file written through it is
//     fsynced before it is closed and every rename or new folder is followed
//     by an fsync of the folders concerned (loose objects, config);
//   - writes references itself the way git does: into a temporary file that
//     is fsynced and renamed over the reference, then the folder is fsynced.
//     A reference is thus always either the old or the new commit, and a Put
//     that returned survives kill -9 and power loss.
//
// Reference updates of one repository are serialised by an flock(2) on
// "<repo>/tend.lock", which the kernel releases when a process dies, so
// several processes may share one data directory. The git CLI does not take
// that lock: it may read at any time but must not write concurrently.
type FSStorage struct {
	dir    string
	mu     sync.Mutex
	caches map[string]cache.Object
}

// NewFSStorage keeps repositories in dir (tend uses
// "<data-dir>/projects"), creating it when missing.
func NewFSStorage(dir string) (*FSStorage, error) {
	if err := os.MkdirAll(dir, repoDirMode); err != nil {
		return nil, fmt.Errorf("create repository folder: %w", err)
	}
	if err := restrictRepos(dir); err != nil {
		return nil, err
	}
	return &FSStorage{dir: dir, caches: map[string]cache.Object{}}, nil
}

// repoDirMode is the mode of the repositories' folder and of each
// repository: resources may hold credentials of a project's services, and
// only tend's user may read them.
const repoDirMode = 0o700

// restrictRepos sets repoDirMode on dir and on every repository in it, also
// when an earlier start or an operator left them wider. The objects inside
// keep go-git's modes: nobody else can reach them through a 0700 folder.
func restrictRepos(dir string) error {
	if err := os.Chmod(dir, repoDirMode); err != nil {
		return fmt.Errorf("restrict repository folder: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("restrict repository folder: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasSuffix(e.Name(), ".git") {
			continue
		}
		if err := os.Chmod(filepath.Join(dir, e.Name()), repoDirMode); err != nil {
			return fmt.Errorf("restrict repository %s: %w", e.Name(), err)
		}
	}
	return nil
}

// Path returns the folder of a project's bare repository.
func (s *FSStorage) Path(project string) string {
	return filepath.Join(s.dir, project+".git")
}

func (s *FSStorage) cache(project string) cache.Object {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.caches[project]
	if !ok {
		c = cache.NewObjectLRU(4 * cache.MiByte)
		s.caches[project] = c
	}
	return c
}

// Create makes the repository folder or returns the existing repository.
func (s *FSStorage) Create(_ context.Context, project string) (storage.Storer, error) {
	if err := ValidateName("project", project); err != nil {
		return nil, err
	}
	p := s.Path(project)
	if err := os.MkdirAll(p, repoDirMode); err != nil {
		return nil, fmt.Errorf("create %s: %w", p, err)
	}
	if err := syncDir(s.dir); err != nil {
		return nil, err
	}
	return s.storer(project), nil
}

// Open returns the storer of an existing repository.
func (s *FSStorage) Open(_ context.Context, project string) (storage.Storer, error) {
	if err := ValidateName("project", project); err != nil {
		return nil, err
	}
	fi, err := os.Stat(s.Path(project))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("project %s: %w", project, ErrProjectNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("open repository of project %s: %w", project, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("open repository of project %s: %s is not a folder", project, s.Path(project))
	}
	return s.storer(project), nil
}

func (s *FSStorage) storer(project string) *fsStorer {
	p := s.Path(project)
	fsys := &syncFS{Filesystem: osfs.New(p)}
	return &fsStorer{
		Storage: filesystem.NewStorageWithOptions(fsys, s.cache(project), filesystem.Options{}),
		gitDir:  p,
	}
}

// Remove deletes a repository: it is first renamed away, so it disappears
// at once even if the deletion of its files is interrupted.
func (s *FSStorage) Remove(_ context.Context, project string) error {
	if err := ValidateName("project", project); err != nil {
		return err
	}
	p := s.Path(project)
	trash := filepath.Join(s.dir, ".deleted-"+project+"-"+randomSuffix())
	if err := os.Rename(p, trash); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("project %s: %w", project, ErrProjectNotFound)
	} else if err != nil {
		return fmt.Errorf("remove repository of project %s: %w", project, err)
	}
	if err := syncDir(s.dir); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.caches, project)
	s.mu.Unlock()
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("remove repository of project %s: %w", project, err)
	}
	return nil
}

func randomSuffix() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// fsStorer is go-git's filesystem storer with durable, atomic and locked
// reference updates.
type fsStorer struct {
	*filesystem.Storage
	gitDir string
}

func (s *fsStorer) SetReference(ref *plumbing.Reference) error {
	return s.CheckAndSetReference(ref, nil)
}

// CheckAndSetReference moves ref when the stored reference still equals old
// (nil: unconditionally; ZeroHash: only when absent).
func (s *fsStorer) CheckAndSetReference(ref, old *plumbing.Reference) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if old != nil {
		cur, err := s.Storage.Reference(old.Name())
		switch {
		case errors.Is(err, plumbing.ErrReferenceNotFound):
			if !old.Hash().IsZero() {
				return storage.ErrReferenceHasChanged
			}
		case err != nil:
			return err
		case old.Hash().IsZero() || cur.Hash() != old.Hash():
			return storage.ErrReferenceHasChanged
		}
	}
	return s.writeRef(ref)
}

func (s *fsStorer) RemoveReference(name plumbing.ReferenceName) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.Storage.RemoveReference(name); err != nil {
		return err
	}
	return syncDir(filepath.Dir(filepath.Join(s.gitDir, filepath.FromSlash(name.String()))))
}

func (s *fsStorer) lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.gitDir, "tend.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open reference lock: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock references: %w", err)
	}
	return func() { f.Close() }, nil
}

// writeRef writes a reference file the way git does: temporary file,
// fsync, rename, fsync of the folder.
func (s *fsStorer) writeRef(ref *plumbing.Reference) error {
	var content string
	switch ref.Type() {
	case plumbing.SymbolicReference:
		content = "ref: " + ref.Target().String() + "\n"
	case plumbing.HashReference:
		content = ref.Hash().String() + "\n"
	default:
		return fmt.Errorf("write reference %s: invalid reference type", ref.Name())
	}
	target := filepath.Join(s.gitDir, filepath.FromSlash(ref.Name().String()))
	dir := filepath.Dir(target)
	if err := mkdirAllSynced(dir); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(s.gitDir, "tend-ref-*.tmp")
	if err != nil {
		return fmt.Errorf("write reference %s: %w", ref.Name(), err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(content); err != nil {
		tmp.Close()
		return fmt.Errorf("write reference %s: %w", ref.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync reference %s: %w", ref.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write reference %s: %w", ref.Name(), err)
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return fmt.Errorf("write reference %s: %w", ref.Name(), err)
	}
	return syncDir(dir)
}

// mkdirAllSynced creates dir and its missing parents, fsyncing the parent
// of every folder it creates.
func mkdirAllSynced(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := mkdirAllSynced(filepath.Dir(dir)); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return syncDir(filepath.Dir(dir))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return nil
}

// syncFS is a billy filesystem whose written files are fsynced on Close and
// whose renames and new folders are fsynced in their parent folders.
type syncFS struct {
	billy.Filesystem
}

func (f *syncFS) osPath(name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(f.Root(), name)
}

func (f *syncFS) wrap(file billy.File, err error) (billy.File, error) {
	if err != nil {
		return nil, err
	}
	return &syncFile{File: file, path: f.osPath(file.Name())}, nil
}

func (f *syncFS) Create(name string) (billy.File, error) {
	return f.wrap(f.Filesystem.Create(name))
}

func (f *syncFS) OpenFile(name string, flag int, perm os.FileMode) (billy.File, error) {
	file, err := f.Filesystem.OpenFile(name, flag, perm)
	if err != nil || flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		return file, err
	}
	return f.wrap(file, nil)
}

func (f *syncFS) TempFile(dir, prefix string) (billy.File, error) {
	return f.wrap(f.Filesystem.TempFile(dir, prefix))
}

func (f *syncFS) Rename(from, to string) error {
	toDir := filepath.Dir(f.osPath(to))
	existed := true
	if _, err := os.Stat(toDir); err != nil {
		existed = false
	}
	if err := f.Filesystem.Rename(from, to); err != nil {
		return err
	}
	if !existed {
		// Rename created the folder (objects/ab/): make it durable too.
		if err := syncDir(filepath.Dir(toDir)); err != nil {
			return err
		}
	}
	if err := syncDir(toDir); err != nil {
		return err
	}
	if fromDir := filepath.Dir(f.osPath(from)); fromDir != toDir {
		return syncDir(fromDir)
	}
	return nil
}

func (f *syncFS) MkdirAll(name string, perm os.FileMode) error {
	return mkdirAllSynced(f.osPath(name))
}

func (f *syncFS) Chroot(p string) (billy.Filesystem, error) {
	c, err := f.Filesystem.Chroot(p)
	if err != nil {
		return nil, err
	}
	return &syncFS{Filesystem: c}, nil
}

// Capabilities passes the wrapped filesystem's capabilities on, so go-git
// keeps choosing its read-write code paths.
func (f *syncFS) Capabilities() billy.Capability {
	return billy.Capabilities(f.Filesystem)
}

// Chmod passes on to the wrapped filesystem; go-git makes loose objects
// read-only like git does.
func (f *syncFS) Chmod(name string, mode os.FileMode) error {
	if c, ok := f.Filesystem.(billy.Chmod); ok {
		return c.Chmod(name, mode)
	}
	return nil
}

type syncFile struct {
	billy.File
	path string
}

// Close fsyncs the file first. billy's chroot wrapper hides *os.File's
// Sync, so when the file does not offer it, the path is opened again:
// fsync flushes the file, not the descriptor.
func (f *syncFile) Close() error {
	if s, ok := f.File.(interface{ Sync() error }); ok {
		if err := s.Sync(); err != nil {
			f.File.Close()
			return fmt.Errorf("sync %s: %w", f.path, err)
		}
		return f.File.Close()
	}
	if d, err := os.Open(f.path); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			f.File.Close()
			return fmt.Errorf("sync %s: %w", f.path, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		f.File.Close()
		return fmt.Errorf("sync %s: %w", f.path, err)
	}
	return f.File.Close()
}
