// Package resource owns tend's Git-backed resource store: one Git repository
// per project in Keptn's layout, where the default branch holds project-level
// files (shipyard.yaml), one branch per stage holds stage-level files at its
// root and service files under "<service>/". Every write is one commit and the
// commit id is the version callers see.
//
// The package works on a go-git storage.Storer without a worktree: it builds
// blobs, trees and commits itself and moves branch references with
// check-and-set, so writers in several processes (tend replicas sharing one
// PostgreSQL) never lose each other's commits. Where repositories live is the
// business of a Storage: NewFSStorage keeps bare repositories on the local
// disk; the pgstorer subpackage keeps them in PostgreSQL.
package resource

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"
	"time"
)

// DefaultBranch is the branch holding project-level resources. Keptn used
// "master"; tend keeps it so that an upstream repository written by tend has
// the branch layout Keptn users, their scripts and their CI already know.
const DefaultBranch = "master"

// ServiceMarker is the file written into "<service>/" of every stage branch
// when a service is created. Git cannot hold an empty directory, and Keptn
// wrote the same file, so a repository made by tend looks like Keptn's; it
// also tells stage-level listings which top-level folders are services.
const ServiceMarker = "metadata.yaml"

// Errors callers branch on with errors.Is. Returned errors wrap them with the
// project, stage or URI concerned.
var (
	ErrProjectNotFound  = errors.New("project not found")
	ErrProjectExists    = errors.New("project already exists")
	ErrStageNotFound    = errors.New("stage not found")
	ErrResourceNotFound = errors.New("resource not found")
	ErrVersionNotFound  = errors.New("version not found")
	// ErrInvalidURI marks a resource URI that is not a clean relative path.
	ErrInvalidURI = errors.New("invalid resource URI")
	// ErrInvalidName marks a project, stage or service name that cannot be
	// used as a branch or folder name.
	ErrInvalidName = errors.New("invalid name")
	// ErrUpstreamNotEmpty is returned by Create when the upstream already
	// has branches: tend does not overwrite or merge someone else's history.
	ErrUpstreamNotEmpty = errors.New("upstream repository is not empty")
	// ErrUpstreamUnreachable is returned by Create when the upstream cannot
	// be listed; nothing is created then.
	ErrUpstreamUnreachable = errors.New("upstream repository unreachable")
)

// Ref names where a resource lives: the project alone (default branch), a
// stage (the stage branch) or a service in a stage ("<service>/" in the stage
// branch).
type Ref struct {
	Project string
	Stage   string
	Service string
}

// String names the ref the way error messages need it.
func (r Ref) String() string {
	s := "project " + r.Project
	if r.Stage != "" {
		s += " stage " + r.Stage
	}
	if r.Service != "" {
		s += " service " + r.Service
	}
	return s
}

// Author is the person or token a commit is attributed to.
type Author struct {
	Name  string
	Email string
}

// Upstream is a remote repository that every write is pushed to. The token is
// sent with HTTP basic auth and never appears in errors.
type Upstream struct {
	URL   string
	User  string
	Token string
}

// RedactedURL returns the URL without user information or query, safe for
// logs and API answers.
func (u Upstream) RedactedURL() string { return redactURL(u.URL) }

// InitOptions describe a new project repository.
type InitOptions struct {
	// Shipyard is stored as shipyard.yaml on the default branch.
	Shipyard []byte
	// Stages get one branch each.
	Stages []string
	// Upstream, when set, must be an empty repository; every branch is
	// pushed to it after creation.
	Upstream *Upstream
	// Author is recorded on the creation commits; empty means the
	// repository's default author.
	Author Author
}

// File is one resource to write with PutMany.
type File struct {
	URI     string
	Content []byte
}

// Resource is one listed file with the commit that last changed it.
type Resource struct {
	URI     string
	Version string
}

// Commit is one entry of a resource's history.
type Commit struct {
	ID      string
	Message string
	Author  Author
	Time    time.Time
}

// PushError reports that a write was committed locally (Version) but could
// not be pushed to the upstream. The commit is kept; callers must show the
// failure and the version, never hide either. URL and Err are redacted.
type PushError struct {
	URL      string
	Branches []string
	Version  string
	Err      error
}

func (e *PushError) Error() string {
	return fmt.Sprintf("push %s to %s: %v", strings.Join(e.Branches, ", "), e.URL, e.Err)
}

func (e *PushError) Unwrap() error { return e.Err }

// MaxNameLength is the longest project, stage or service name a repository
// accepts; Keptn's default limit for project names.
const MaxNameLength = 200

var nameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?$`)

// ValidateName checks that a project, stage or service name can be used as a
// Git branch and folder name. kind ("project", "stage", "service") appears
// in the error.
func ValidateName(kind, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: %s name is empty", ErrInvalidName, kind)
	case len(name) > MaxNameLength:
		return fmt.Errorf("%w: %s name %q is longer than %d characters", ErrInvalidName, kind, name, MaxNameLength)
	case !nameRE.MatchString(name):
		return fmt.Errorf("%w: %s name %q must consist of letters, digits, '-' and '_' and start and end with a letter or digit", ErrInvalidName, kind, name)
	}
	return nil
}

func (r Ref) validate() error {
	if err := ValidateName("project", r.Project); err != nil {
		return err
	}
	if r.Stage != "" {
		if err := ValidateName("stage", r.Stage); err != nil {
			return err
		}
	}
	if r.Service != "" {
		if r.Stage == "" {
			return fmt.Errorf("%w: service %q needs a stage: service resources live in a stage branch", ErrInvalidName, r.Service)
		}
		if err := ValidateName("service", r.Service); err != nil {
			return err
		}
	}
	return nil
}

// branch returns the branch holding the ref's files.
func (r Ref) branch() string {
	if r.Stage == "" {
		return DefaultBranch
	}
	return r.Stage
}

// prefix returns the folder of the ref's files inside its branch ("" or
// "<service>/").
func (r Ref) prefix() string {
	if r.Service == "" {
		return ""
	}
	return r.Service + "/"
}

// CleanURI validates a resource URI and returns it in canonical form. One
// leading "/" is removed, because Keptn's API paths carried it; everything
// else must already be a clean relative path.
func CleanURI(uri string) (string, error) {
	orig := uri
	uri = strings.TrimPrefix(uri, "/")
	bad := func(why string) error {
		return fmt.Errorf("%w %q: %s", ErrInvalidURI, orig, why)
	}
	switch {
	case uri == "":
		return "", bad("is empty; give a relative path such as slo.yaml or prometheus/sli.yaml")
	case strings.HasPrefix(uri, "/"):
		return "", bad("must be a relative path, not an absolute one")
	case strings.HasSuffix(uri, "/"):
		return "", bad("names a folder; give a file path")
	case strings.ContainsRune(uri, '\\'):
		return "", bad(`must use "/" as separator, not "\"`)
	case len(uri) > 1024:
		return "", bad("is longer than 1024 characters")
	}
	for _, c := range uri {
		if c < 0x20 || c == 0x7f {
			return "", bad("contains a control character")
		}
	}
	for _, part := range strings.Split(uri, "/") {
		switch {
		case part == "":
			return "", bad(`contains an empty path component ("//")`)
		case part == "." || part == "..":
			return "", bad(fmt.Sprintf("must not contain %q components", part))
		case strings.EqualFold(part, ".git"):
			return "", bad(`must not contain ".git" components`)
		}
	}
	if path.Clean(uri) != uri {
		return "", bad("is not a clean path")
	}
	return uri, nil
}

// redactURL drops user information, query and fragment from a URL so that
// credentials never reach an error message.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Opaque != "" {
		// A local path, an scp-like address ("user:pw@host:path" parses
		// as scheme "user" with an opaque rest), or something
		// unparsable: strip anything that looks like user information,
		// up to the last "@" before the first "/".
		head := raw
		if j := strings.Index(raw, "/"); j >= 0 {
			head = raw[:j]
		}
		if i := strings.LastIndex(head, "@"); i >= 0 {
			return raw[i+1:]
		}
		return raw
	}
	u.User = nil
	u.RawQuery = ""
	u.Fragment = ""
	return u.String()
}
