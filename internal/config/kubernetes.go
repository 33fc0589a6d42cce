package config

import (
	"regexp"

	"gopkg.in/yaml.v3"

	"github.com/tendhq/tend/internal/yamlnode"
)

// Kubernetes says how tend reaches a cluster for scaling actions.
type Kubernetes struct {
	// Kubeconfig is the kubeconfig file; "" means in-cluster config, then
	// $KUBECONFIG, then ~/.kube/config.
	Kubeconfig string
	// Disabled turns the scaling executor's cluster access off: services
	// then scale only through HTTP scale targets.
	Disabled bool
	// Namespaces lists, per project, the namespaces besides
	// <project>-<stage> that tokens of the project may point scaling at;
	// other namespaces need an unrestricted admin token.
	Namespaces map[string][]string
}

// namespaces reads kubernetes.namespaces: project name to a list of
// namespace names.
func (d *decoder) namespaces(n *yaml.Node, dst *map[string][]string) {
	n = yamlnode.Resolve(n)
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "kubernetes.namespaces must be a mapping of project names to lists of namespaces, not %s", yamlnode.Describe(n))
		return
	}
	out := map[string][]string{}
	for k, v := range yamlnode.Pairs(n) {
		if k.Kind != yaml.ScalarNode || !namespaceRE.MatchString(k.Value) {
			d.errorf(k, "kubernetes.namespaces: %s is not a project name", yamlnode.Describe(k))
			continue
		}
		where := "kubernetes.namespaces." + k.Value
		if _, dup := out[k.Value]; dup {
			d.errorf(k, "%s is given twice; keep one", where)
			continue
		}
		if v.Kind != yaml.SequenceNode {
			d.errorf(v, "%s must be a list of namespaces, not %s", where, yamlnode.Describe(v))
			continue
		}
		list := []string{}
		for _, item := range v.Content {
			item = yamlnode.Resolve(item)
			if item.Kind != yaml.ScalarNode || item.Tag == "!!null" || len(item.Value) > 63 || !namespaceRE.MatchString(item.Value) {
				d.errorf(item, "%s: %s is not a Kubernetes namespace name (lower-case letters, digits and -)", where, yamlnode.Describe(item))
				continue
			}
			list = append(list, item.Value)
		}
		out[k.Value] = list
	}
	*dst = out
}

// namespaceRE is a Kubernetes namespace name, and a tend project name.
var namespaceRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
