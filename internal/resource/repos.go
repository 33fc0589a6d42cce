package resource

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	format "github.com/go-git/go-git/v5/plumbing/format/config"
	"github.com/go-git/go-git/v5/storage"
)

// Storage creates, opens and removes the go-git storers of project
// repositories. Implementations: NewFSStorage (bare repositories on disk)
// and pgstorer.Store (PostgreSQL).
//
// Besides go-git's contract, Repos relies on two things from the returned
// storers: CheckAndSetReference is atomic against every other writer of the
// same repository (other goroutines, processes and replicas), and an old
// reference carrying plumbing.ZeroHash means "the reference must not exist".
type Storage interface {
	// Create makes an empty repository or returns the existing one, so a
	// creation interrupted by a crash can be finished by trying again.
	Create(ctx context.Context, project string) (storage.Storer, error)
	// Open returns the storer of an existing repository, or an error
	// wrapping ErrProjectNotFound. The storer may be bound to ctx.
	Open(ctx context.Context, project string) (storage.Storer, error)
	// Remove deletes the repository, or returns ErrProjectNotFound.
	Remove(ctx context.Context, project string) error
}

// Options configure Repos.
type Options struct {
	Storage Storage
	// Upstream returns the upstream of a project, or nil when it has none.
	// It is asked after every write; nil Upstream means no project is ever
	// pushed. Credentials stay with the caller (the project store) instead
	// of being written into the repository's Git config.
	Upstream func(ctx context.Context, project string) (*Upstream, error)
	// Committer signs every commit; the author comes from WithAuthor or
	// defaults to the committer.
	Committer Author
	// Now is the clock for commit times; nil means time.Now.
	Now func() time.Time
	// PushTimeout bounds one upstream operation; 0 means 30 seconds.
	PushTimeout time.Duration
	// CheckUpstream vets an upstream URL before every list and push (the
	// outbound policy: no local paths, no denied hosts), so an upstream
	// stored before the policy tightened is not used either; it returns
	// the problem, or "". nil checks nothing.
	CheckUpstream func(rawURL string) string
	// ContentCacheBytes bounds the cache of file contents by commit and
	// path that Get keeps; 0 means 4 MiB, a negative value no cache.
	ContentCacheBytes int
}

// Repos is the resource store: project repositories in Keptn's layout with
// one commit per write. It is safe for concurrent use; writes to one project
// are serialised in the process and made safe across processes by
// check-and-set on branch references.
type Repos struct {
	opts    Options
	locks   sync.Map // project -> *projectLocks
	content *contentCache
}

type projectLocks struct {
	write sync.Mutex
	push  sync.Mutex
}

// New returns a Repos over opts.Storage.
func New(opts Options) (*Repos, error) {
	if opts.Storage == nil {
		return nil, errors.New("resource: Options.Storage is nil")
	}
	if opts.Committer.Name == "" {
		opts.Committer = Author{Name: "tend", Email: "tend@localhost"}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PushTimeout <= 0 {
		opts.PushTimeout = 30 * time.Second
	}
	r := &Repos{opts: opts}
	switch {
	case opts.ContentCacheBytes == 0:
		r.content = newContentCache(4 << 20)
	case opts.ContentCacheBytes > 0:
		r.content = newContentCache(opts.ContentCacheBytes)
	}
	return r, nil
}

type authorKey struct{}

// WithAuthor attributes the commits made with ctx to a, e.g. the API token
// that asked for the write.
func WithAuthor(ctx context.Context, a Author) context.Context {
	return context.WithValue(ctx, authorKey{}, a)
}

func (r *Repos) author(ctx context.Context) Author {
	if a, ok := ctx.Value(authorKey{}).(Author); ok && a.Name != "" {
		return a
	}
	return r.opts.Committer
}

func (r *Repos) lock(project string) *projectLocks {
	l, _ := r.locks.LoadOrStore(project, &projectLocks{})
	return l.(*projectLocks)
}

// maxAttempts bounds the check-and-set retries of one write; every retry
// means another writer committed in between, so running out needs a storm.
const maxAttempts = 50

func branchRef(branch string) plumbing.ReferenceName {
	return plumbing.NewBranchReferenceName(branch)
}

// Create makes the repository of a new project: shipyard.yaml on the
// default branch and one branch per stage, each starting with an empty
// commit of its own (stage branches hold only stage files, never a stale
// copy of the shipyard). With an upstream, the upstream must be reachable
// and empty (ErrUpstreamNotEmpty otherwise, and nothing is created); all
// branches are then pushed, and a failed push is returned as *PushError
// with the project kept.
func (r *Repos) Create(ctx context.Context, project string, init InitOptions) error {
	if err := ValidateName("project", project); err != nil {
		return err
	}
	for _, s := range init.Stages {
		if err := ValidateName("stage", s); err != nil {
			return err
		}
		if err := checkStageName(s); err != nil {
			return err
		}
	}
	if init.Upstream != nil {
		if err := r.checkUpstreamEmpty(ctx, *init.Upstream); err != nil {
			return err
		}
	}
	if init.Author.Name != "" {
		ctx = WithAuthor(ctx, init.Author)
	}
	l := r.lock(project)
	l.write.Lock()
	st, err := r.opts.Storage.Create(ctx, project)
	if err != nil {
		l.write.Unlock()
		return fmt.Errorf("create repository of project %s: %w", project, err)
	}
	if _, err := st.Reference(branchRef(DefaultBranch)); err == nil {
		l.write.Unlock()
		return fmt.Errorf("create project %s: %w", project, ErrProjectExists)
	}
	err = r.initRepo(ctx, st, project, init)
	l.write.Unlock()
	if err != nil {
		return fmt.Errorf("create project %s: %w", project, err)
	}
	if init.Upstream != nil {
		branches := append([]string{DefaultBranch}, init.Stages...)
		return r.push(ctx, st, project, *init.Upstream, branches, "")
	}
	return nil
}

func (r *Repos) initRepo(ctx context.Context, st storage.Storer, project string, init InitOptions) error {
	if in, ok := st.(interface{ Init() error }); ok {
		if err := in.Init(); err != nil {
			return fmt.Errorf("initialise repository: %w", err)
		}
	}
	cfg := config.NewConfig()
	cfg.Core.IsBare = true
	// Without a format version the git CLI ignores core.bare.
	cfg.Core.RepositoryFormatVersion = format.Version_0
	cfg.Init.DefaultBranch = DefaultBranch
	if err := st.SetConfig(cfg); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	head := plumbing.NewSymbolicReference(plumbing.HEAD, branchRef(DefaultBranch))
	if err := st.SetReference(head); err != nil {
		return fmt.Errorf("write HEAD: %w", err)
	}
	t := newTrees(st)
	for _, stage := range init.Stages {
		if err := r.createStageBranch(ctx, st, t, stage); err != nil {
			return err
		}
	}
	root, err := t.apply(plumbing.ZeroHash, []change{{path: "shipyard.yaml", content: init.Shipyard}})
	if err != nil {
		return err
	}
	c, err := r.commit(ctx, st, root, plumbing.ZeroHash, "Initialized project "+project)
	if err != nil {
		return err
	}
	// The default branch is set last: its existence is what makes the
	// project exist, so a crash before it leaves a repository Create can
	// finish.
	err = st.CheckAndSetReference(plumbing.NewHashReference(branchRef(DefaultBranch), c),
		plumbing.NewHashReference(branchRef(DefaultBranch), plumbing.ZeroHash))
	if errors.Is(err, storage.ErrReferenceHasChanged) {
		return ErrProjectExists
	}
	if err != nil {
		return fmt.Errorf("set branch %s: %w", DefaultBranch, err)
	}
	return nil
}

// Delete removes the project's repository. The upstream is left alone.
func (r *Repos) Delete(ctx context.Context, project string) error {
	if err := ValidateName("project", project); err != nil {
		return err
	}
	l := r.lock(project)
	l.write.Lock()
	defer l.write.Unlock()
	if err := r.opts.Storage.Remove(ctx, project); err != nil {
		return fmt.Errorf("delete project %s: %w", project, err)
	}
	return nil
}

// open returns the project's storer and the head of the ref's branch,
// telling a missing project from a missing stage.
func (r *Repos) open(ctx context.Context, ref Ref) (storage.Storer, *plumbing.Reference, error) {
	st, err := r.opts.Storage.Open(ctx, ref.Project)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", ref, err)
	}
	head, err := r.head(st, ref)
	return st, head, err
}

func (r *Repos) head(st storage.Storer, ref Ref) (*plumbing.Reference, error) {
	head, err := st.Reference(branchRef(ref.branch()))
	if err == nil {
		return head, nil
	}
	if !errors.Is(err, plumbing.ErrReferenceNotFound) {
		return nil, fmt.Errorf("read branch %s of project %s: %w", ref.branch(), ref.Project, err)
	}
	if ref.Stage != "" {
		if _, err := st.Reference(branchRef(DefaultBranch)); err == nil {
			return nil, fmt.Errorf("stage %s of project %s: %w", ref.Stage, ref.Project, ErrStageNotFound)
		}
	}
	return nil, fmt.Errorf("project %s: %w", ref.Project, ErrProjectNotFound)
}
