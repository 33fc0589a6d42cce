package resource

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/storage"
)

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

func (r *Repos) serviceMetadata(service string) []byte {
	return fmt.Appendf(nil, "servicename: %s\ncreationtimestamp: %s\n", service, r.opts.Now().UTC().Format(time.RFC3339Nano))
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
