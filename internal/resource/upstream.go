package resource

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage"
	"github.com/go-git/go-git/v5/storage/memory"
)

const remoteName = "upstream"

// Push pushes all branches of a project to up, e.g. after the project's
// upstream was configured or changed. Failures are *PushError.
func (r *Repos) Push(ctx context.Context, project string, up Upstream) error {
	if err := ValidateName("project", project); err != nil {
		return err
	}
	stages, err := r.Stages(ctx, project)
	if err != nil {
		return err
	}
	st, err := r.opts.Storage.Open(ctx, project)
	if err != nil {
		return fmt.Errorf("open project %s: %w", project, err)
	}
	return r.push(ctx, st, project, up, append([]string{DefaultBranch}, stages...), "")
}

func (r *Repos) pushAfterWrite(ctx context.Context, st storage.Storer, project string, branches []string, version string) error {
	if r.opts.Upstream == nil {
		return nil
	}
	up, err := r.opts.Upstream(ctx, project)
	if err != nil {
		return &PushError{URL: "(unknown)", Branches: branches, Version: version,
			Err: fmt.Errorf("look up upstream of project %s: %w", project, err)}
	}
	if up == nil || up.URL == "" {
		return nil
	}
	return r.push(ctx, st, project, *up, branches, version)
}

// push sends branches to the upstream. Pushes of one project are
// serialised, and a push always sends the branch's current head, so a
// later push never tries to move the upstream back. When another replica
// moved the branch while we pushed, the rejected push is retried.
func (r *Repos) push(ctx context.Context, st storage.Storer, project string, up Upstream, branches []string, version string) error {
	if err := r.checkUpstream(up); err != nil {
		return &PushError{URL: up.RedactedURL(), Branches: branches, Version: version, Err: err}
	}
	l := r.lock(project)
	l.push.Lock()
	defer l.push.Unlock()
	specs := make([]config.RefSpec, 0, len(branches))
	for _, b := range branches {
		specs = append(specs, config.RefSpec(branchRef(b)+":"+branchRef(b)))
	}
	var err error
	for range 3 {
		before := heads(st, branches)
		err = r.pushOnce(ctx, st, up, specs)
		if err == nil || heads(st, branches) == before {
			break
		}
	}
	if err != nil {
		return &PushError{URL: up.RedactedURL(), Branches: branches, Version: version, Err: redactError(err, up)}
	}
	return nil
}

func heads(st storage.Storer, branches []string) string {
	var b strings.Builder
	for _, name := range branches {
		if ref, err := st.Reference(branchRef(name)); err == nil {
			b.WriteString(ref.Hash().String())
		}
		b.WriteByte(' ')
	}
	return b.String()
}

func (r *Repos) pushOnce(ctx context.Context, st storage.Storer, up Upstream, specs []config.RefSpec) error {
	ctx, cancel := context.WithTimeout(ctx, r.opts.PushTimeout)
	defer cancel()
	remote := git.NewRemote(st, &config.RemoteConfig{Name: remoteName, URLs: []string{up.URL}})
	err := remote.PushContext(ctx, &git.PushOptions{
		RemoteName: remoteName,
		RefSpecs:   specs,
		Auth:       auth(up),
	})
	if errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil
	}
	return err
}

// checkUpstreamEmpty lists the upstream's references. tend refuses to
// adopt an upstream with branches: merging or overwriting someone's history
// silently is worse than asking for an empty repository.
func (r *Repos) checkUpstreamEmpty(ctx context.Context, up Upstream) error {
	if err := r.checkUpstream(up); err != nil {
		return fmt.Errorf("%w: %w", ErrUpstreamUnreachable, err)
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.PushTimeout)
	defer cancel()
	remote := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: remoteName, URLs: []string{up.URL}})
	refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: auth(up)})
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: list %s: %w", ErrUpstreamUnreachable, up.RedactedURL(), redactError(err, up))
	}
	var names []string
	for _, ref := range refs {
		if ref.Name().IsBranch() || ref.Name().IsTag() {
			names = append(names, ref.Name().Short())
		}
	}
	if len(names) > 0 {
		return fmt.Errorf("%w: %s already has %s; give an empty repository", ErrUpstreamNotEmpty, up.RedactedURL(), strings.Join(names, ", "))
	}
	return nil
}

// ErrUpstreamRefused marks an upstream the outbound policy refuses.
var ErrUpstreamRefused = errors.New("upstream refused by the outbound policy")

// checkUpstream runs Options.CheckUpstream.
func (r *Repos) checkUpstream(up Upstream) error {
	if r.opts.CheckUpstream == nil {
		return nil
	}
	if p := r.opts.CheckUpstream(up.URL); p != "" {
		return fmt.Errorf("%w: %s", ErrUpstreamRefused, p)
	}
	return nil
}

// auth returns HTTP basic auth for http(s) upstreams with a token. Local
// and file:// upstreams take none.
func auth(up Upstream) transport.AuthMethod {
	if up.Token == "" && up.User == "" {
		return nil
	}
	u, err := url.Parse(up.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil
	}
	user := up.User
	if user == "" {
		// Git hosts ignore the user name of token authentication but
		// refuse an empty one.
		user = "tend"
	}
	return &githttp.BasicAuth{Username: user, Password: up.Token}
}

var userinfoRE = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]*@`)

// redactedError carries a redacted message and still answers errors.Is for
// the sentinel errors callers classify upstream failures by.
type redactedError struct {
	msg   string
	kinds []error
}

func (e *redactedError) Error() string { return e.msg }

func (e *redactedError) Is(target error) bool {
	for _, k := range e.kinds {
		if k == target {
			return true
		}
	}
	return false
}

var upstreamKinds = []error{
	context.DeadlineExceeded, context.Canceled,
	transport.ErrAuthenticationRequired, transport.ErrAuthorizationFailed,
	transport.ErrRepositoryNotFound, transport.ErrEmptyRemoteRepository,
	git.ErrNonFastForwardUpdate, plumbing.ErrReferenceNotFound,
}

// redactError rewrites err's message without the token, the user
// information of URLs and the raw URL, dropping the original chain so that
// nothing holding a secret can be unwrapped.
func redactError(err error, up Upstream) error {
	msg := err.Error()
	if up.URL != "" {
		msg = strings.ReplaceAll(msg, up.URL, up.RedactedURL())
	}
	msg = userinfoRE.ReplaceAllString(msg, "$1")
	if up.Token != "" {
		msg = strings.ReplaceAll(msg, up.Token, "[REDACTED]")
		if esc := url.QueryEscape(up.Token); esc != up.Token {
			msg = strings.ReplaceAll(msg, esc, "[REDACTED]")
		}
	}
	re := &redactedError{msg: msg}
	for _, k := range upstreamKinds {
		if errors.Is(err, k) {
			re.kinds = append(re.kinds, k)
		}
	}
	return re
}
