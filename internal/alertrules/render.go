package alertrules

import (
	"bytes"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// YAML encodes the rule file as Prometheus loads it (rule_files), with
// header as a leading comment when it is not empty.
func (f *RuleFile) YAML(header string) ([]byte, error) {
	return encode(header, f)
}

// PrometheusRule is the Kubernetes custom resource of prometheus-operator
// that carries rule groups: the operator writes spec.groups into the rule
// files of the Prometheus instances whose ruleSelector matches its labels.
type PrometheusRule struct {
	APIVersion string             `yaml:"apiVersion"`
	Kind       string             `yaml:"kind"`
	Metadata   PrometheusRuleMeta `yaml:"metadata"`
	Spec       RuleFile           `yaml:"spec"`
}

// PrometheusRuleMeta is the manifest's metadata.
type PrometheusRuleMeta struct {
	Name      string            `yaml:"name"`
	Namespace string            `yaml:"namespace,omitempty"`
	Labels    map[string]string `yaml:"labels,omitempty"`
}

// ManagedByLabel marks the manifests tend generates, so
// `kubectl get prometheusrules -l app.kubernetes.io/managed-by=tend` lists them.
const ManagedByLabel = "app.kubernetes.io/managed-by"

// Manifest wraps the rule file in a PrometheusRule named after its first
// group (see ResourceName), labelled app.kubernetes.io/managed-by: tend and
// with the extra labels (which operators' ruleSelectors often require, such
// as release: prometheus). namespace may be empty (kubectl -n decides).
func (f *RuleFile) Manifest(namespace string, labels map[string]string) PrometheusRule {
	l := map[string]string{ManagedByLabel: "tend"}
	for k, v := range labels {
		l[k] = v
	}
	name := "tend"
	if len(f.Groups) > 0 {
		name = ResourceName(f.Groups[0].Name)
	}
	return PrometheusRule{
		APIVersion: "monitoring.coreos.com/v1",
		Kind:       "PrometheusRule",
		Metadata:   PrometheusRuleMeta{Name: name, Namespace: namespace, Labels: l},
		Spec:       *f,
	}
}

// YAML encodes the manifest, with header as a leading comment.
func (m PrometheusRule) YAML(header string) ([]byte, error) {
	return encode(header, m)
}

// ResourceName turns s into a Kubernetes object name (an RFC 1123
// subdomain): lower case, characters other than [a-z0-9.-] become "-",
// no leading or trailing "-" or ".", at most 253 characters.
func ResourceName(s string) string {
	b := []byte(strings.ToLower(s))
	for i, c := range b {
		if !('a' <= c && c <= 'z') && !('0' <= c && c <= '9') && c != '-' && c != '.' {
			b[i] = '-'
		}
	}
	out := strings.Trim(string(b), "-.")
	if len(out) > 253 {
		out = strings.TrimRight(out[:253], "-.")
	}
	if out == "" {
		return "tend"
	}
	return out
}

func encode(header string, v any) ([]byte, error) {
	var buf bytes.Buffer
	for _, line := range strings.Split(strings.TrimRight(header, "\n"), "\n") {
		if header == "" {
			break
		}
		buf.WriteString(strings.TrimRight("# "+line, " ") + "\n")
	}
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode yaml: %w", err)
	}
	return buf.Bytes(), nil
}
