package integration

import (
	"fmt"
	"testing"

	"github.com/tendhq/tend/internal/auth"
	"github.com/tendhq/tend/internal/store"
)

func TestID(t *testing.T) {
	// The value Keptn's models.IntegrationID{Name: "hello-service",
	// Namespace: "keptn", NodeName: "node-1"}.Hash() computes.
	if got := ID("hello-service", "keptn", "node-1"); got != "07b4b593adfcc764436f9762e9a9daf648f2d1db" {
		t.Errorf("ID = %q", got)
	}
	if first, again := ID("a", "b", "c"), ID("a", "b", "c"); first != again || first == ID("a", "b", "d") {
		t.Error("ID is not a function of name, namespace and node")
	}
}

func TestVisible(t *testing.T) {
	in := store.Integration{ID: "i", Name: "n", Project: "", Subscriptions: []store.Subscription{
		{ID: "all", Event: "e"},
		{ID: "ab", Event: "e", Projects: []string{"a", "b"}},
		{ID: "b", Event: "e", Projects: []string{"b"}},
	}}
	onlyB := store.Integration{ID: "j", Name: "m", Subscriptions: []store.Subscription{{ID: "b", Event: "e", Projects: []string{"b"}}}}
	ownA := store.Integration{ID: "k", Name: "o", Project: "a"}
	tests := []struct {
		name    string
		project string
		in      store.Integration
		want    string
		visible bool
	}{
		{"unrestricted sees all", "", in, "[all:[] ab:[a b] b:[b]]", true},
		{"A sees what covers A, others' names cut", "a", in, "[all:[] ab:[a]]", true},
		{"A does not see B's integration", "a", onlyB, "[]", false},
		{"A sees its own integration without subscriptions", "a", ownA, "[]", true},
		{"B does not see A's own integration", "b", ownA, "[]", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Visible(auth.Principal{Scope: auth.ScopeRead, Project: tt.project, Kind: auth.KindAPI}, tt.in)
			var subs []string
			for _, s := range got.Subscriptions {
				subs = append(subs, fmt.Sprintf("%s:%v", s.ID, s.Projects))
			}
			if ok != tt.visible || (ok && fmt.Sprint(subs) != tt.want && !(len(subs) == 0 && tt.want == "[]")) {
				t.Errorf("got %v %v, want %s %v", subs, ok, tt.want, tt.visible)
			}
		})
	}
	// The caller's record is not changed.
	if fmt.Sprint(in.Subscriptions[1].Projects) != "[a b]" {
		t.Errorf("Visible changed its argument: %v", in.Subscriptions[1].Projects)
	}
}

func TestCovers(t *testing.T) {
	for _, c := range []struct {
		list []string
		v    string
		want bool
	}{{nil, "x", true}, {[]string{"a"}, "", true}, {[]string{"a"}, "a", true}, {[]string{"a"}, "b", false}} {
		if got := Covers(c.list, c.v); got != c.want {
			t.Errorf("Covers(%v, %q) = %v", c.list, c.v, got)
		}
	}
}
