package auth

import (
	"context"
	"errors"
	"fmt"
)

// ErrUnauthenticated means a request carried no credential, or one that
// matches no token; the API answers 401.
var ErrUnauthenticated = errors.New("unauthenticated")

// ErrForbidden means a known credential may not do what was asked; the API
// answers 403. Can's errors match it with errors.Is.
var ErrForbidden = errors.New("forbidden")

// Scope is the permission level of an API token. Scopes are ordered: each
// includes everything the ones below it allow.
type Scope string

// The scopes, weakest first. Their names are the ones the CLI's --scope
// flag, the API and the store use.
const (
	ScopeRead  Scope = "read"
	ScopeWrite Scope = "write"
	ScopeAdmin Scope = "admin"
)

// rank orders scopes; 0 is an unknown scope, which allows nothing.
func (s Scope) rank() int {
	switch s {
	case ScopeRead:
		return 1
	case ScopeWrite:
		return 2
	case ScopeAdmin:
		return 3
	}
	return 0
}

// Includes reports whether s allows everything o allows. An unknown scope
// includes nothing and is included in nothing.
func (s Scope) Includes(o Scope) bool {
	return s.rank() > 0 && o.rank() > 0 && s.rank() >= o.rank()
}

// ParseScope reads a scope name, as given to --scope.
func ParseScope(s string) (Scope, error) {
	if sc := Scope(s); sc.rank() > 0 {
		return sc, nil
	}
	return "", fmt.Errorf("scope %q is unknown; use read, write or admin", s)
}

// Kind is the kind of credential a principal authenticated with.
type Kind string

// The kinds of credential.
const (
	// KindAPI is an API token, used by the CLI and scripts.
	KindAPI Kind = "api"
	// KindIntake is a project's intake token: it may only deliver problems
	// and events (ActionIngest) for its one project, so that a monitoring
	// system's stored credential cannot read or change anything.
	KindIntake Kind = "intake"
	// KindSession is a logged-in web UI session; it carries the scope and
	// project of the token the user logged in with.
	KindSession Kind = "session"
)

// Action is something a request asks to do; the API names one for each
// route and asks Principal.Can.
type Action string

// The actions. The project an action concerns is passed to Can beside it;
// "" means all projects or none in particular (listing every project,
// server-wide settings), which only an unrestricted principal may touch.
const (
	// ActionReadProject reads a project: its stages, services, resources, events,
	// evaluations, problems, remediations and settings (secrets masked).
	ActionReadProject Action = "read-project"
	// ActionWriteProject changes a project: services, resources, settings,
	// events sent through /api/v1/event, triggered evaluations, pausing
	// and resuming remediation.
	ActionWriteProject Action = "write-project"
	// ActionIngest delivers monitoring input: Alertmanager webhooks and
	// problem events. Write tokens and the project's intake token may.
	ActionIngest Action = "ingest"
	// ActionCreateProject creates a project. A project-restricted token
	// cannot, whatever its scope, as it would escape its restriction.
	ActionCreateProject Action = "create-project"
	// ActionDeleteProject deletes a project with its resources and
	// tokens; like creation it needs an unrestricted token.
	ActionDeleteProject Action = "delete-project"
	// ActionManageTokens lists, creates and revokes tokens. It needs the
	// admin scope; an admin token restricted to a project manages only
	// that project's tokens (project = the tokens' project).
	ActionManageTokens Action = "manage-tokens"
)

// Actions lists every action, for tests and documentation.
var Actions = []Action{ActionReadProject, ActionWriteProject, ActionIngest, ActionCreateProject, ActionDeleteProject, ActionManageTokens}

// rule is what an action needs of an API or session principal.
type rule struct {
	scope Scope
	// global actions need a principal restricted to no project.
	global bool
}

var rules = map[Action]rule{
	ActionReadProject:   {scope: ScopeRead},
	ActionWriteProject:  {scope: ScopeWrite},
	ActionIngest:        {scope: ScopeWrite},
	ActionCreateProject: {scope: ScopeWrite, global: true},
	ActionDeleteProject: {scope: ScopeWrite, global: true},
	ActionManageTokens:  {scope: ScopeAdmin},
}

// Principal is who a request acts for, as the API learned it from the
// request's credential.
type Principal struct {
	// TokenName names the token (or, for a session, the token the user
	// logged in with); it appears in audit logs and error messages,
	// never the secret.
	TokenName string
	Scope     Scope
	// Project restricts the principal to one project; "" means all.
	Project string
	Kind    Kind
}

// ForbiddenError says why a principal may not do an action. It matches
// ErrForbidden.
type ForbiddenError struct {
	Principal Principal
	Action    Action
	Project   string
	Reason    string
}

// Error names the token, the action and the reason; it holds no secret.
func (e *ForbiddenError) Error() string {
	what := string(e.Action)
	if e.Project != "" {
		what += " on project " + e.Project
	}
	return fmt.Sprintf("token %q may not %s: %s", e.Principal.TokenName, what, e.Reason)
}

// Unwrap makes ForbiddenError match ErrForbidden.
func (e *ForbiddenError) Unwrap() error { return ErrForbidden }

// Can returns nil when p may do action on project ("" for all projects or
// none in particular), and a *ForbiddenError otherwise. It denies by
// default: an unknown kind, scope or action is refused.
//
// The rules:
//   - an API or session principal needs the action's scope (read < write <
//     admin);
//   - a principal restricted to a project may act only on that project,
//     never on "" and never on a global action (creating or deleting
//     projects);
//   - an intake principal may only ingest, only for its own project, and
//     must name one.
func (p Principal) Can(action Action, project string) error {
	deny := func(format string, args ...any) error {
		return &ForbiddenError{Principal: p, Action: action, Project: project, Reason: fmt.Sprintf(format, args...)}
	}
	r, ok := rules[action]
	if !ok {
		return deny("the action is unknown")
	}
	switch p.Kind {
	case KindIntake:
		if action != ActionIngest {
			return deny("an intake token may only deliver alerts and problems")
		}
		if p.Project == "" {
			return deny("an intake token must belong to a project")
		}
		if project != p.Project {
			return deny("the intake token belongs to project %q", p.Project)
		}
		return nil
	case KindAPI, KindSession:
	default:
		return deny("the credential kind %q is unknown", p.Kind)
	}
	if p.Scope.rank() == 0 {
		return deny("the token's scope %q is unknown", p.Scope)
	}
	if !p.Scope.Includes(r.scope) {
		return deny("it has scope %s and this needs scope %s", p.Scope, r.scope)
	}
	if p.Project != "" {
		if r.global {
			return deny("the token is restricted to project %q and this needs an unrestricted token", p.Project)
		}
		if project != p.Project {
			if project == "" {
				return deny("the token is restricted to project %q and this concerns all projects", p.Project)
			}
			return deny("the token is restricted to project %q", p.Project)
		}
	}
	return nil
}

// principalKey is the context key of the request's principal.
type principalKey struct{}

// NewContext returns ctx carrying p, for the API's middleware to hand the
// authenticated principal to handlers.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal NewContext stored, and false when the
// request was not authenticated.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
