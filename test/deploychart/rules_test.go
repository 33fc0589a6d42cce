package deploychart

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// objectVerbs are what the delivery executor does with the objects of a
// service's chart through Helm's SDK: get (does it exist, whose is it),
// create and patch (server-side apply), update (Helm's client-side apply
// and the release records), list and watch (waiting until ready), delete
// (an object the chart no longer has, uninstall).
var objectVerbs = []string{"get", "list", "watch", "create", "update", "patch", "delete"}

// scalingRules are the calls of internal/action/kubernetes: GetScale and
// UpdateScale on deployments/scale; List of HPAs to find the one that
// targets the Deployment, then Get and Update of its minReplicas.
func scalingRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{"apps"}, Resources: []string{"deployments/scale"}, Verbs: []string{"get", "update"}},
		{APIGroups: []string{"autoscaling"}, Resources: []string{"horizontalpodautoscalers"}, Verbs: []string{"get", "list", "update"}},
	}
}

// deliveryRules are what Helm's SDK needs to install and upgrade a
// service's chart in one namespace: its release records (Secrets), the
// objects Keptn's carts charts and common charts hold, and the
// ReplicaSets and Pods it reads while waiting for a Deployment.
func deliveryRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: objectVerbs},
		{APIGroups: []string{""}, Resources: []string{"configmaps", "services", "serviceaccounts", "persistentvolumeclaims"}, Verbs: objectVerbs},
		{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: objectVerbs},
		{APIGroups: []string{"autoscaling"}, Resources: []string{"horizontalpodautoscalers"}, Verbs: objectVerbs},
		{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"ingresses"}, Verbs: objectVerbs},
		{APIGroups: []string{"apps"}, Resources: []string{"replicasets"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}},
	}
}

// neededRules are the rules of one namespace tend delivers to and scales in.
func neededRules() []rbacv1.PolicyRule { return append(deliveryRules(), scalingRules()...) }

// namespaceRule is the rule on namespaces themselves: get (and create
// under a ClusterRole) on the names given, or every one when none is.
func namespaceRule(names []string, verbs ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"namespaces"}, ResourceNames: names, Verbs: verbs}
}

// grants flattens rules into one line per (group, resource, name, verb),
// so two rule lists compare as the permissions they give.
func grants(rules []rbacv1.PolicyRule) []string {
	var out []string
	for _, r := range rules {
		names := r.ResourceNames
		if len(names) == 0 {
			names = []string{"(all)"}
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, n := range names {
					for _, v := range r.Verbs {
						out = append(out, fmt.Sprintf("%s %s/%s %s", v, g, res, n))
					}
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ruleDiff lists the permissions got gives beyond want, and those it
// lacks; "" when they give the same.
func ruleDiff(got, want []rbacv1.PolicyRule) string {
	g, w := grants(got), grants(want)
	var b strings.Builder
	for _, x := range g {
		if !slices.Contains(w, x) {
			fmt.Fprintf(&b, "  extra:   %s\n", x)
		}
	}
	for _, x := range w {
		if !slices.Contains(g, x) {
			fmt.Fprintf(&b, "  missing: %s\n", x)
		}
	}
	return b.String()
}

// checkRulesLeastPrivilege fails on any wildcard and on the verbs that
// grant more than they say (escalate, bind, impersonate) in every Role and
// ClusterRole rendered.
func checkRulesLeastPrivilege(t testing.TB, objs map[string]runtime.Object) {
	t.Helper()
	n := 0
	for key, obj := range objs {
		var rules []rbacv1.PolicyRule
		switch o := obj.(type) {
		case *rbacv1.Role:
			rules = o.Rules
		case *rbacv1.ClusterRole:
			rules = o.Rules
		default:
			continue
		}
		n++
		for _, r := range rules {
			for _, s := range slices.Concat(r.APIGroups, r.Resources, r.Verbs, r.ResourceNames) {
				if strings.Contains(s, "*") {
					t.Errorf("%s has a wildcard %q in %+v", key, s, r)
				}
			}
			for _, v := range r.Verbs {
				if v == "escalate" || v == "bind" || v == "impersonate" {
					t.Errorf("%s grants %q", key, v)
				}
			}
			if len(r.NonResourceURLs) > 0 {
				t.Errorf("%s grants non-resource URLs %q", key, r.NonResourceURLs)
			}
		}
	}
	if n == 0 {
		t.Error("no Role or ClusterRole rendered")
	}
}
