package helm

import (
	"errors"
	"fmt"
	"strings"
	"text/template"

	"helm.sh/helm/v4/pkg/engine"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// A chart is user input: whoever may write a project's resources chooses
// what it renders, and tend applies it with its own ServiceAccount, which
// may act in every namespace tend delivers to (every namespace in the
// chart's default ClusterRole mode). So a service's chart is held to its
// target namespace: every object it renders (hooks included) must be
// namespaced and in that namespace, and its templates may look up objects
// of that namespace only. Otherwise one project could write into another
// project's namespace, tend's own or kube-system, create cluster-wide
// objects (ClusterRoles, bindings, CRDs, namespaces), or read another
// namespace's Secrets through lookup and print them into its own events.

// scopeFunc reports whether objects of a kind live in a namespace. An
// error wrapping errUnknownKind means the cluster serves no such kind.
type scopeFunc func(apiVersion, kind string) (namespaced bool, err error)

// errUnknownKind marks a kind the cluster does not serve.
var errUnknownKind = errors.New("the cluster serves no such kind")

// scopeOf answers scopeFunc from the cluster's discovery.
func scopeOf(mapper meta.RESTMapper) scopeFunc {
	return func(apiVersion, kind string) (bool, error) {
		gv, err := schema.ParseGroupVersion(apiVersion)
		if err != nil {
			return false, fmt.Errorf("%w: apiVersion %q: %v", errUnknownKind, apiVersion, err)
		}
		gk := schema.GroupKind{Group: gv.Group, Kind: kind}
		m, err := mapper.RESTMapping(gk, gv.Version)
		if r, ok := mapper.(meta.ResettableRESTMapper); ok && meta.IsNoMatchError(err) {
			// A kind whose CRD came after the cache was filled.
			r.Reset()
			m, err = mapper.RESTMapping(gk, gv.Version)
		}
		if meta.IsNoMatchError(err) {
			return false, fmt.Errorf("%w: %v", errUnknownKind, err)
		}
		if err != nil {
			return false, fmt.Errorf("map kind %s of %s: %w", kind, apiVersion, err)
		}
		return m.Scope.Name() == meta.RESTScopeNameNamespace, nil
	}
}

// checkScope refuses objects outside namespace ns: cluster-scoped kinds,
// a metadata.namespace other than ns, and kinds the cluster does not serve
// (among them List, whose items Helm would apply unchecked). Every problem
// is reported. An error of the cluster's discovery is returned as it is.
func checkScope(objs []object, ns string, scope scopeFunc) error {
	var problems []string
	for _, o := range objs {
		// The document's own apiVersion: upgradeAPIs may have changed it.
		apiVersion := scalar(o.doc, "apiVersion")
		what := fmt.Sprintf("%s %s (%s)", o.Kind, o.Name, apiVersion)
		namespaced, err := scope(apiVersion, o.Kind)
		switch {
		case errors.Is(err, errUnknownKind):
			problems = append(problems, fmt.Sprintf("%s: the cluster serves no kind %s in %s", what, o.Kind, apiVersion))
			continue
		case err != nil:
			return err
		case !namespaced:
			problems = append(problems, fmt.Sprintf("%s is cluster-scoped; a service's chart may hold only objects of its namespace %s", what, ns))
			continue
		}
		if got := scalar(o.doc, "metadata", "namespace"); got != "" && got != ns {
			problems = append(problems, fmt.Sprintf("%s sets metadata.namespace %q; a service's chart deploys into %s only: drop metadata.namespace or set it to {{ .Release.Namespace }}", what, got, ns))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// lookupFunc is the signature of Helm's lookup template function.
type lookupFunc = func(apiVersion, kind, namespace, name string) (map[string]any, error)

// scopedLookup is Helm's lookup held to namespace ns: a template may read
// namespaced objects of ns only. Anything else fails the rendering with
// the reason, rather than answer empty, so a chart that relies on it says
// why it broke.
func scopedLookup(ns string, scope scopeFunc, lookup lookupFunc) lookupFunc {
	return func(apiVersion, kind, namespace, name string) (map[string]any, error) {
		namespaced, err := scope(apiVersion, kind)
		if err != nil && !errors.Is(err, errUnknownKind) {
			return map[string]any{}, err
		}
		if err == nil && !namespaced {
			return map[string]any{}, fmt.Errorf("lookup %s %s: %s is cluster-scoped; a chart may look up objects of its namespace %s only", apiVersion, kind, kind, ns)
		}
		if namespace != ns {
			return map[string]any{}, fmt.Errorf("lookup %s %s in namespace %q: a chart may look up objects of its namespace %s only", apiVersion, kind, namespace, ns)
		}
		return lookup(apiVersion, kind, namespace, name)
	}
}

// templateFuncs are the template functions tend replaces in charts
// deployed to ns.
func (d *Deployer) templateFuncs(ns string) template.FuncMap {
	return template.FuncMap{"lookup": scopedLookup(ns, scopeOf(d.mapper), engine.NewLookupFunction(d.cfg))}
}
