package resource

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	format "github.com/go-git/go-git/v5/plumbing/format/config"
	"github.com/go-git/go-git/v5/plumbing/object"
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
}

// Repos is the resource store: project repositories in Keptn's layout with
// one commit per write. It is safe for concurrent use; writes to one project
// are serialised in the process and made safe across processes by
// check-and-set on branch references.
type Repos struct {
	opts  Options
	locks sync.Map // project -> *projectLocks
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
	return &Repos{opts: opts}, nil
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

// checkStageName refuses stage names that would collide with Git's own
// branch names in the repository.
func checkStageName(stage string) error {
	if stage == DefaultBranch || stage == "HEAD" {
		return fmt.Errorf("%w: stage name %q is reserved for the project's default branch", ErrInvalidName, stage)
	}
	return nil
}

func (r *Repos) createStageBranch(ctx context.Context, st storage.Storer, t *trees, stage string) error {
	root, err := t.putTree(nil)
	if err != nil {
		return err
	}
	c, err := r.commit(ctx, st, root, plumbing.ZeroHash, "Created stage "+stage)
	if err != nil {
		return err
	}
	if err := st.SetReference(plumbing.NewHashReference(branchRef(stage), c)); err != nil {
		return fmt.Errorf("set branch %s: %w", stage, err)
	}
	return nil
}

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

func (r *Repos) serviceMetadata(service string) []byte {
	return fmt.Appendf(nil, "servicename: %s\ncreationtimestamp: %s\n", service, r.opts.Now().UTC().Format(time.RFC3339Nano))
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
	at := head.Hash()
	if version != "" {
		at, err = parseVersion(version)
		if err != nil {
			return nil, "", err
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
		return nil, "", fmt.Errorf("resource %s in %s at version %s: %w", uri, ref, at, ErrResourceNotFound)
	}
	b, err := readBlob(st, h)
	if err != nil {
		return nil, "", err
	}
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

// Stages returns the stage branches of a project, sorted.
func (r *Repos) Stages(ctx context.Context, project string) ([]string, error) {
	if err := ValidateName("project", project); err != nil {
		return nil, err
	}
	st, _, err := r.open(ctx, Ref{Project: project})
	if err != nil {
		return nil, err
	}
	iter, err := st.IterReferences()
	if err != nil {
		return nil, fmt.Errorf("list branches of project %s: %w", project, err)
	}
	defer iter.Close()
	var out []string
	err = iter.ForEach(func(ref *plumbing.Reference) error {
		if ref.Name().IsBranch() && ref.Name().Short() != DefaultBranch {
			out = append(out, ref.Name().Short())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list branches of project %s: %w", project, err)
	}
	sort.Strings(out)
	return out, nil
}

// EnsureStage creates the branch of a stage added to the shipyard. An
// existing stage is left as it is.
func (r *Repos) EnsureStage(ctx context.Context, project, stage string) error {
	ref := Ref{Project: project, Stage: stage}
	if err := ref.validate(); err != nil {
		return err
	}
	if err := checkStageName(stage); err != nil {
		return err
	}
	l := r.lock(project)
	l.write.Lock()
	st, _, err := r.open(ctx, ref)
	if err == nil || !errors.Is(err, ErrStageNotFound) {
		l.write.Unlock()
		return err
	}
	err = r.createStageBranch(ctx, st, newTrees(st), stage)
	l.write.Unlock()
	if err != nil {
		return fmt.Errorf("create stage %s of project %s: %w", stage, project, err)
	}
	return r.pushAfterWrite(ctx, st, project, []string{stage}, "")
}

// EnsureService writes "<service>/metadata.yaml" into every stage branch
// that lacks it, one commit per branch, as Keptn did when a service was
// created. An existing service is left as it is.
func (r *Repos) EnsureService(ctx context.Context, project, service string) error {
	return r.eachStage(ctx, project, service, "Added service "+service, func(t *trees, root plumbing.Hash) ([]change, error) {
		h, err := t.fileHash(root, service+"/"+ServiceMarker)
		if err != nil || !h.IsZero() {
			return nil, err
		}
		return []change{{path: service + "/" + ServiceMarker, content: r.serviceMetadata(service)}}, nil
	})
}

// DeleteService removes "<service>/" from every stage branch that has it,
// one commit per branch.
func (r *Repos) DeleteService(ctx context.Context, project, service string) error {
	return r.eachStage(ctx, project, service, "Removed service "+service, func(t *trees, root plumbing.Hash) ([]change, error) {
		e, ok, err := t.lookup(root, service)
		if err != nil || !ok || e.Mode != filemode.Dir {
			return nil, err
		}
		return []change{{path: service, dir: true}}, nil
	})
}

// eachStage writes the service's edit into every stage branch of the
// project, one commit per branch with the message msg. A failed push does
// not stop the other branches; the last one is returned at the end.
func (r *Repos) eachStage(ctx context.Context, project, service, msg string, edit func(*trees, plumbing.Hash) ([]change, error)) error {
	if err := ValidateName("service", service); err != nil {
		return err
	}
	stages, err := r.Stages(ctx, project)
	if err != nil {
		return err
	}
	var pushErr error
	for _, stage := range stages {
		ref := Ref{Project: project, Stage: stage, Service: service}
		_, err := r.write(ctx, ref, msg, edit)
		var pe *PushError
		if errors.As(err, &pe) {
			pushErr = err
			continue
		}
		if err != nil {
			return err
		}
	}
	return pushErr
}
