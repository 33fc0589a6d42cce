package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// match says how the project Can is asked about relates to the principal's.
type match string

const (
	sameProject  match = "same project"
	otherProject match = "other project"
	allProjects  match = "all projects"
)

// allowed is the expected decision of Can, by kind, scope, whether the
// principal is restricted to a project, action and project match. It is
// written out in full so that every combination is a deliberate decision.
func allowed(kind Kind, scope Scope, restricted bool, a Action, m match) bool {
	if kind == KindIntake {
		// Intake tokens ingest for their own project, whatever scope.
		return restricted && a == ActionIngest && m == sameProject
	}
	need := map[Action]Scope{
		ActionReadProject: ScopeRead, ActionWriteProject: ScopeWrite, ActionIngest: ScopeWrite,
		ActionCreateProject: ScopeWrite, ActionDeleteProject: ScopeWrite, ActionManageTokens: ScopeAdmin,
	}[a]
	order := map[Scope]int{ScopeRead: 1, ScopeWrite: 2, ScopeAdmin: 3}
	if order[scope] == 0 || order[scope] < order[need] {
		return false
	}
	if !restricted {
		return true
	}
	global := a == ActionCreateProject || a == ActionDeleteProject
	return !global && m == sameProject
}

func TestCan(t *testing.T) {
	kinds := []Kind{KindAPI, KindSession, KindIntake}
	scopes := []Scope{ScopeRead, ScopeWrite, ScopeAdmin}
	matches := []match{sameProject, otherProject, allProjects}
	n := 0
	for _, kind := range kinds {
		for _, scope := range scopes {
			for _, restricted := range []bool{false, true} {
				for _, a := range Actions {
					for _, m := range matches {
						if !restricted && m == otherProject {
							continue // an unrestricted token has no project to differ from
						}
						p := Principal{TokenName: "t", Scope: scope, Kind: kind}
						if restricted {
							p.Project = "sockshop"
						}
						project := map[match]string{sameProject: "sockshop", otherProject: "carts-shop", allProjects: ""}[m]
						if !restricted && m == sameProject {
							project = "sockshop"
						}
						want := allowed(kind, scope, restricted, a, m)
						name := fmt.Sprintf("%s/%s/restricted=%v/%s/%s", kind, scope, restricted, a, m)
						t.Run(name, func(t *testing.T) {
							err := p.Can(a, project)
							if want && err != nil {
								t.Fatalf("Can = %v, want allowed", err)
							}
							if !want {
								if !errors.Is(err, ErrForbidden) {
									t.Fatalf("Can = %v, want ErrForbidden", err)
								}
								var fe *ForbiddenError
								if !errors.As(err, &fe) || fe.Reason == "" || !strings.Contains(err.Error(), `token "t" may not `+string(a)) {
									t.Fatalf("error %q lacks the token, action or reason", err)
								}
							}
						})
						n++
					}
				}
			}
		}
	}
	if n != len(kinds)*len(scopes)*len(Actions)*5 {
		t.Errorf("covered %d combinations, want %d", n, len(kinds)*len(scopes)*len(Actions)*5)
	}
}

func TestCanSpotChecks(t *testing.T) {
	// The issue's own sentences, as readable cases beside the full table.
	tests := []struct {
		name    string
		p       Principal
		action  Action
		project string
		reason  string // "" means allowed
	}{
		{"a read token cannot change anything", Principal{TokenName: "ro", Scope: ScopeRead, Kind: KindAPI}, ActionWriteProject, "sockshop", "it has scope read and this needs scope write"},
		{"a project token sees only its own project", Principal{TokenName: "p", Scope: ScopeRead, Project: "sockshop", Kind: KindAPI}, ActionReadProject, "other", `restricted to project "sockshop"`},
		{"a project token cannot list all projects", Principal{TokenName: "p", Scope: ScopeAdmin, Project: "sockshop", Kind: KindAPI}, ActionReadProject, "", "concerns all projects"},
		{"a project admin manages its project's tokens", Principal{TokenName: "p", Scope: ScopeAdmin, Project: "sockshop", Kind: KindAPI}, ActionManageTokens, "sockshop", ""},
		{"a non-admin cannot manage tokens", Principal{TokenName: "w", Scope: ScopeWrite, Kind: KindAPI}, ActionManageTokens, "", "needs scope admin"},
		{"an intake token cannot read", Principal{TokenName: "am", Project: "sockshop", Kind: KindIntake}, ActionReadProject, "sockshop", "may only deliver alerts and problems"},
		{"an intake token refuses other projects' alerts", Principal{TokenName: "am", Project: "sockshop", Kind: KindIntake}, ActionIngest, "other", `belongs to project "sockshop"`},
		{"an intake token without project ingests nothing", Principal{TokenName: "am", Kind: KindIntake}, ActionIngest, "", "must belong to a project"},
		{"a write token ingests", Principal{TokenName: "w", Scope: ScopeWrite, Kind: KindAPI}, ActionIngest, "sockshop", ""},
		{"unknown action", Principal{TokenName: "a", Scope: ScopeAdmin, Kind: KindAPI}, Action("launch"), "", "the action is unknown"},
		{"unknown scope", Principal{TokenName: "a", Scope: "root", Kind: KindAPI}, ActionReadProject, "", `scope "root" is unknown`},
		{"zero principal", Principal{}, ActionReadProject, "", `credential kind "" is unknown`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Can(tt.action, tt.project)
			if tt.reason == "" {
				if err != nil {
					t.Errorf("Can = %v, want allowed", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("Can = %v, want an error containing %q", err, tt.reason)
			}
		})
	}
}

func TestScope(t *testing.T) {
	for _, tt := range []struct {
		s, o Scope
		want bool
	}{
		{ScopeAdmin, ScopeWrite, true}, {ScopeAdmin, ScopeRead, true}, {ScopeWrite, ScopeRead, true},
		{ScopeRead, ScopeRead, true}, {ScopeRead, ScopeWrite, false}, {ScopeWrite, ScopeAdmin, false},
		{"", ScopeRead, false}, {ScopeAdmin, "", false}, {"ADMIN", ScopeRead, false},
	} {
		if got := tt.s.Includes(tt.o); got != tt.want {
			t.Errorf("%q.Includes(%q) = %v, want %v", tt.s, tt.o, got, tt.want)
		}
	}
	for _, s := range []string{"read", "write", "admin"} {
		if got, err := ParseScope(s); err != nil || string(got) != s {
			t.Errorf("ParseScope(%q) = %q, %v", s, got, err)
		}
	}
	if _, err := ParseScope("Admin"); err == nil || !strings.Contains(err.Error(), "use read, write or admin") {
		t.Errorf("ParseScope(Admin) error = %v", err)
	}
}

func TestContext(t *testing.T) {
	if _, ok := FromContext(context.Background()); ok {
		t.Error("FromContext found a principal in an empty context")
	}
	p := Principal{TokenName: "ci", Scope: ScopeWrite, Project: "sockshop", Kind: KindAPI}
	got, ok := FromContext(NewContext(context.Background(), p))
	if !ok || got != p {
		t.Errorf("FromContext = %+v, %v; want %+v", got, ok, p)
	}
}
