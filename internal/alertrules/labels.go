package alertrules

import (
	"fmt"
	"strconv"
)

// Default alert label names, the ones tend's intake reads unless tend.yaml
// intake.labels names others.
const (
	DefaultProjectLabel = "project"
	DefaultStageLabel   = "stage"
	DefaultServiceLabel = "service"
)

// LabelNames name the alert labels that carry an alert's project, stage
// and service. They must be the names tend's intake reads (tend.yaml
// intake.labels), or tend's own alerts arrive unmatched. A field left empty
// takes its default, so the zero value means project, stage and service.
type LabelNames struct {
	Project, Stage, Service string
}

// withDefaults fills the empty fields.
func (l LabelNames) withDefaults() LabelNames {
	if l.Project == "" {
		l.Project = DefaultProjectLabel
	}
	if l.Stage == "" {
		l.Stage = DefaultStageLabel
	}
	if l.Service == "" {
		l.Service = DefaultServiceLabel
	}
	return l
}

// reservedLabels are labels tend sets itself on every alert (Prometheus
// sets alertname; the rules set severity) or groups by, so a location
// label of that name would be overwritten or clash.
var reservedLabels = []string{"alertname", "severity"}

// problems says what is wrong with the names, which must have their
// defaults filled: a space or control character (as tend.yaml refuses
// too), two fields naming one label, or a label tend sets itself.
func (l LabelNames) problems() []string {
	fields := []struct{ key, name string }{{"project", l.Project}, {"stage", l.Stage}, {"service", l.Service}}
	var out []string
	for i, f := range fields {
		for _, r := range f.name {
			if r <= ' ' || r == 0x7f {
				out = append(out, fmt.Sprintf("the %s label name %q has a space or control character; want a label name such as k8s_namespace", f.key, f.name))
				break
			}
		}
		for _, g := range fields[:i] {
			if g.name == f.name {
				out = append(out, fmt.Sprintf("the %s and %s label names are both %q; each needs a label of its own", g.key, f.key, f.name))
			}
		}
		for _, r := range reservedLabels {
			if f.name == r {
				out = append(out, fmt.Sprintf("the %s label name is %q, a label tend sets itself; choose another name", f.key, f.name))
			}
		}
	}
	return out
}

// isClassicLabelName reports whether name matches [a-zA-Z_][a-zA-Z0-9_]*,
// the label names every Prometheus and Alertmanager version reads bare.
// Other names (app.kubernetes.io/name) need Prometheus 3 and Alertmanager
// 0.27 or later, and quotes in matchers.
func isClassicLabelName(name string) bool {
	if name == "" || ('0' <= name[0] && name[0] <= '9') {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isIdentByte(c) {
			return false
		}
	}
	return true
}

// quoteLabelName writes a label name for a matcher or a YAML flow list:
// bare when it is classic, else double-quoted (Alertmanager's UTF-8
// matchers and YAML read the same escapes for the characters tend allows).
func quoteLabelName(name string) string {
	if isClassicLabelName(name) {
		return name
	}
	return strconv.Quote(name)
}
