package helm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tendhq/tend/internal/delivery"
	"github.com/tendhq/tend/internal/yamlnode"
)

// This file holds the pure part of the adapter: reading the manifests a
// user's chart rendered to, converting removed Deployment API versions,
// and deriving a blue/green service's primary from them. Rendered
// manifests come from users' charts, so the parser holds them to limits
// and never panics on what it finds.

// Limits of one rendered manifest stream: a chart archive unpacks to at
// most 20 MiB, and templates may expand it, but a service's manifests are
// kilobytes.
var manifestLimits = yamlnode.Limits{Bytes: 16 << 20, Nodes: 500_000}

// object is one document of a manifest stream.
type object struct {
	doc        *yaml.Node // the document's top mapping
	APIVersion string
	Kind       string
	Name       string
}

// parseManifests splits a stream of Kubernetes manifests into objects,
// skipping empty documents. A document that is not a mapping with kind and
// metadata.name is an error naming its position.
func parseManifests(data []byte) ([]object, error) {
	dec := yamlnode.NewDecoderLimits(data, manifestLimits)
	var objs []object
	for i := 1; ; i++ {
		doc, err := dec.Decode()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("rendered manifest document %d: %w", i, err)
		}
		if len(doc.Content) == 0 {
			continue
		}
		top := doc.Content[0]
		if yamlnode.IsNull(top) {
			continue
		}
		if top.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("rendered manifest document %d (line %d) is %s, not a Kubernetes object", i, top.Line, yamlnode.Describe(top))
		}
		o := object{doc: top, APIVersion: scalar(top, "apiVersion"), Kind: scalar(top, "kind"), Name: scalar(top, "metadata", "name")}
		if o.Kind == "" || o.Name == "" {
			return nil, fmt.Errorf("rendered manifest document %d (line %d) has no kind or metadata.name", i, top.Line)
		}
		objs = append(objs, o)
	}
}

// encodeManifests writes objects as one stream of YAML documents.
func encodeManifests(objs []object) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	for _, o := range objs {
		if err := enc.Encode(o.doc); err != nil {
			return nil, fmt.Errorf("encode %s %s: %w", o.Kind, o.Name, err)
		}
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// lookup follows keys through mappings; nil when a step is missing or not
// a mapping.
func lookup(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		n = yamlnode.Resolve(n)
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return yamlnode.Resolve(n)
}

// scalar is the string value at keys, "" when it is missing or no scalar.
func scalar(n *yaml.Node, keys ...string) string {
	v := lookup(n, keys...)
	if v == nil || v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		return ""
	}
	return v.Value
}

// stringMap reads a mapping of strings (labels, selectors). ok is false
// when the node is present but not such a mapping.
func stringMap(n *yaml.Node) (m map[string]string, ok bool) {
	if n == nil || yamlnode.IsNull(n) {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		return nil, false
	}
	m = map[string]string{}
	for k, v := range yamlnode.Pairs(n) {
		v = yamlnode.Resolve(v)
		if k.Kind != yaml.ScalarNode || v == nil || v.Kind != yaml.ScalarNode {
			return nil, false
		}
		m[k.Value] = v.Value
	}
	return m, true
}

// set puts value at keys, creating the mappings on the way (replacing
// anything there that is no mapping).
func set(n *yaml.Node, value *yaml.Node, keys ...string) {
	for i, k := range keys {
		var next *yaml.Node
		for j := 0; j+1 < len(n.Content); j += 2 {
			if n.Content[j].Value == k {
				if i == len(keys)-1 {
					n.Content[j+1] = value
					return
				}
				next = yamlnode.Resolve(n.Content[j+1])
				if next == nil || next.Kind != yaml.MappingNode {
					next = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
					n.Content[j+1] = next
				}
				break
			}
		}
		if next == nil {
			key := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}
			if i == len(keys)-1 {
				n.Content = append(n.Content, key, value)
				return
			}
			next = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			n.Content = append(n.Content, key, next)
		}
		n = next
	}
}

// remove deletes the last key of keys from the mapping the others lead to.
func remove(n *yaml.Node, keys ...string) {
	parent := lookup(n, keys[:len(keys)-1]...)
	if parent == nil || parent.Kind != yaml.MappingNode {
		return
	}
	last := keys[len(keys)-1]
	for j := 0; j+1 < len(parent.Content); j += 2 {
		if parent.Content[j].Value == last {
			parent.Content = slices.Delete(parent.Content, j, j+2)
			return
		}
	}
}

// mapNode builds a mapping of strings in key order.
func mapNode(m map[string]string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		n.Content = append(n.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k},
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: m[k], Style: yaml.DoubleQuotedStyle})
	}
	return n
}

// clone copies a node tree deeply (aliases are resolved into copies).
func clone(n *yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.AliasNode {
		return clone(n.Alias)
	}
	c := *n
	c.Anchor = ""
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, ch := range n.Content {
		c.Content[i] = clone(ch)
	}
	return &c
}

// removedDeploymentAPIs are the API versions Deployments were once served
// under and no cluster since Kubernetes 1.16 accepts; Keptn 0.6's carts-db
// chart still uses extensions/v1beta1.
var removedDeploymentAPIs = map[string]bool{"extensions/v1beta1": true, "apps/v1beta1": true, "apps/v1beta2": true}

// upgradeAPIs moves Deployments of removed API versions to apps/v1, whose
// schema is theirs but for the selector, which apps/v1 requires: one is
// derived from the template's labels when it is missing, as the old APIs
// did. It reports the names it converted.
func upgradeAPIs(objs []object) []string {
	var converted []string
	for _, o := range objs {
		if o.Kind != "Deployment" || !removedDeploymentAPIs[o.APIVersion] {
			continue
		}
		set(o.doc, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "apps/v1"}, "apiVersion")
		if lookup(o.doc, "spec", "selector") == nil {
			if labels, ok := stringMap(lookup(o.doc, "spec", "template", "metadata", "labels")); ok && len(labels) > 0 {
				set(o.doc, mapNode(labels), "spec", "selector", "matchLabels")
			}
		}
		converted = append(converted, o.Name)
	}
	return converted
}

// workload is a Deployment of a chart as blue/green needs it.
type workload struct {
	obj      object
	selector map[string]string // spec.selector.matchLabels
	labels   map[string]string // spec.template.metadata.labels
}

// frontend is a Service of a chart that selects one of its Deployments.
type frontend struct {
	obj     object
	canary  map[string]string // the chart's own selector
	primary map[string]string // the same with the Deployment's selector labels suffixed
}

// blueGreen is what a rendered chart holds for a blue/green service.
type blueGreen struct {
	workloads []workload
	frontends []frontend
}

// primarySuffix is appended to names and selector label values.
const primarySuffix = "-primary"

// maxLabelValue and maxServiceName are Kubernetes' limits (a label value
// and a DNS-1035 label are 63 characters).
const (
	maxLabelValue  = 63
	maxServiceName = 63
	maxObjectName  = 253
)

// analyze finds the Deployments and the Services selecting them in a
// rendered chart, and derives the primary's selectors. Every problem is
// reported, not only the first.
func analyze(objs []object) (blueGreen, error) {
	var bg blueGreen
	var problems []string
	for _, o := range objs {
		if o.Kind != "Deployment" {
			continue
		}
		if lookup(o.doc, "spec", "selector", "matchExpressions") != nil {
			problems = append(problems, fmt.Sprintf("deployment %s selects its pods with matchExpressions; blue/green needs spec.selector.matchLabels only", o.Name))
			continue
		}
		sel, ok := stringMap(lookup(o.doc, "spec", "selector", "matchLabels"))
		if !ok || len(sel) == 0 {
			problems = append(problems, fmt.Sprintf("deployment %s has no spec.selector.matchLabels of strings", o.Name))
			continue
		}
		labels, ok := stringMap(lookup(o.doc, "spec", "template", "metadata", "labels"))
		if !ok {
			problems = append(problems, fmt.Sprintf("deployment %s has template labels that are not strings", o.Name))
			continue
		}
		for _, k := range slices.Sorted(maps.Keys(sel)) {
			if len(sel[k])+len(primarySuffix) > maxLabelValue {
				problems = append(problems, fmt.Sprintf("deployment %s: selector label %s=%s is too long for its primary value %s%s (at most %d characters)", o.Name, k, sel[k], sel[k], primarySuffix, maxLabelValue))
			}
		}
		if len(o.Name)+len(primarySuffix) > maxObjectName {
			problems = append(problems, fmt.Sprintf("deployment %s: the name is too long for %s", o.Name, delivery.PrimaryName(o.Name)))
		}
		bg.workloads = append(bg.workloads, workload{obj: o, selector: sel, labels: labels})
	}
	if len(bg.workloads) == 0 && len(problems) == 0 {
		problems = append(problems, "the chart renders no Deployment; blue/green needs one")
	}
	for _, o := range objs {
		if o.Kind != "Service" {
			continue
		}
		sel, ok := stringMap(lookup(o.doc, "spec", "selector"))
		if !ok {
			problems = append(problems, fmt.Sprintf("service %s has a selector that is not a mapping of strings", o.Name))
			continue
		}
		w, found := selected(bg.workloads, sel)
		if !found {
			continue // not in front of a Deployment of the chart: traffic does not switch on it
		}
		primary := map[string]string{}
		suffixed := false
		for k, v := range sel {
			if w.selector[k] == v {
				v += primarySuffix
				suffixed = true
			}
			primary[k] = v
		}
		if !suffixed {
			problems = append(problems, fmt.Sprintf("service %s selects deployment %s by labels outside the deployment's selector; select it by one of %s", o.Name, w.obj.Name, labelList(w.selector)))
			continue
		}
		if len(o.Name)+len("-canary") > maxServiceName {
			problems = append(problems, fmt.Sprintf("service %s: the name is too long for %s-canary (at most %d characters)", o.Name, o.Name, maxServiceName))
			continue
		}
		bg.frontends = append(bg.frontends, frontend{obj: o, canary: sel, primary: primary})
	}
	if len(problems) > 0 {
		return blueGreen{}, errors.New(strings.Join(problems, "; "))
	}
	return bg, nil
}

// selected returns the first Deployment whose pods sel selects.
func selected(ws []workload, sel map[string]string) (workload, bool) {
	if len(sel) == 0 {
		return workload{}, false
	}
	for _, w := range ws {
		match := true
		for k, v := range sel {
			if w.labels[k] != v {
				match = false
				break
			}
		}
		if match {
			return w, true
		}
	}
	return workload{}, false
}

func labelList(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ", ")
}

// primaryObjects derives the primary's objects: for each Deployment a copy
// named <name>-primary whose selector and template labels have every
// selector label value suffixed -primary, and for each Service in front of
// one a <name>-primary selecting the primary's pods and a <name>-canary
// selecting the chart's own.
func primaryObjects(bg blueGreen) []object {
	var out []object
	for _, w := range bg.workloads {
		doc := clone(w.obj.doc)
		name := delivery.PrimaryName(w.obj.Name)
		scrubMetadata(doc)
		set(doc, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: name}, "metadata", "name")
		sel := map[string]string{}
		for k, v := range w.selector {
			sel[k] = v + primarySuffix
		}
		labels := maps.Clone(w.labels)
		if labels == nil {
			labels = map[string]string{}
		}
		maps.Copy(labels, sel)
		set(doc, mapNode(sel), "spec", "selector", "matchLabels")
		set(doc, mapNode(labels), "spec", "template", "metadata", "labels")
		out = append(out, object{doc: doc, APIVersion: "apps/v1", Kind: "Deployment", Name: name})
	}
	for _, f := range bg.frontends {
		for _, v := range []struct {
			name string
			sel  map[string]string
		}{{delivery.PrimaryName(f.obj.Name), f.primary}, {f.obj.Name + "-canary", f.canary}} {
			doc := clone(f.obj.doc)
			scrubMetadata(doc)
			set(doc, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v.name}, "metadata", "name")
			set(doc, mapNode(v.sel), "spec", "selector")
			// A copy cannot share the original's fixed addresses or ports.
			remove(doc, "spec", "clusterIP")
			remove(doc, "spec", "clusterIPs")
			remove(doc, "spec", "loadBalancerIP")
			if ports := lookup(doc, "spec", "ports"); ports != nil && ports.Kind == yaml.SequenceNode {
				for _, p := range ports.Content {
					if p = yamlnode.Resolve(p); p != nil && p.Kind == yaml.MappingNode {
						remove(p, "nodePort")
					}
				}
			}
			out = append(out, object{doc: doc, APIVersion: f.obj.APIVersion, Kind: "Service", Name: v.name})
		}
	}
	return out
}

// scrubMetadata drops what a copy must not carry over: server-set fields
// and Helm's ownership annotations, which Helm sets again for the
// generated release.
func scrubMetadata(doc *yaml.Node) {
	for _, k := range []string{"uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "ownerReferences", "generateName"} {
		remove(doc, "metadata", k)
	}
	remove(doc, "metadata", "annotations", "meta.helm.sh/release-name")
	remove(doc, "metadata", "annotations", "meta.helm.sh/release-namespace")
	remove(doc, "status")
}

// selectPrimary points every Service in front of a Deployment at the
// primary's pods: the canary release is applied that way, so traffic
// stays on the primary until the canary is ready and tend switches it.
func selectPrimary(bg blueGreen) {
	for _, f := range bg.frontends {
		set(f.obj.doc, mapNode(f.primary), "spec", "selector")
	}
}

// deploymentNames lists the Deployments among objs.
func deploymentNames(objs []object) []string {
	var names []string
	for _, o := range objs {
		if o.Kind == "Deployment" {
			names = append(names, o.Name)
		}
	}
	return names
}

// serviceURIs are the in-cluster URLs of the named Services, or of every
// Service among objs when names is empty: http://<name>.<namespace>:<port>
// with the first port.
func serviceURIs(objs []object, namespace string, names ...string) []string {
	var uris []string
	for _, o := range objs {
		if o.Kind != "Service" || (len(names) > 0 && !slices.Contains(names, o.Name)) {
			continue
		}
		port := ""
		if ports := lookup(o.doc, "spec", "ports"); ports != nil && ports.Kind == yaml.SequenceNode && len(ports.Content) > 0 {
			port = scalar(ports.Content[0], "port")
		}
		u := "http://" + o.Name + "." + namespace
		if port != "" {
			u += ":" + port
		}
		uris = append(uris, u)
	}
	return uris
}

// image is the first container's image of the Deployment named preferred,
// else of the first Deployment.
func image(objs []object, preferred string) string {
	first := ""
	for _, o := range objs {
		if o.Kind != "Deployment" {
			continue
		}
		img := ""
		if cs := lookup(o.doc, "spec", "template", "spec", "containers"); cs != nil && cs.Kind == yaml.SequenceNode && len(cs.Content) > 0 {
			img = scalar(cs.Content[0], "image")
		}
		if o.Name == preferred {
			return img
		}
		if first == "" {
			first = img
		}
	}
	return first
}

// canaryURI turns http://<name>.<rest> into http://<name>-canary.<rest>.
func canaryURI(u string) string {
	host, rest, ok := strings.Cut(strings.TrimPrefix(u, "http://"), ".")
	if !ok {
		return u
	}
	return "http://" + host + "-canary." + rest
}
