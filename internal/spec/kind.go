package spec

import (
	"bytes"
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tendhq/tend/internal/budget"
	"github.com/tendhq/tend/internal/yamlnode"
)

// ParseKind maps a --kind flag value to its Kind. It accepts the kind names
// in any case.
func ParseKind(s string) (Kind, error) {
	k := Kind(strings.ToLower(strings.TrimSpace(s)))
	for _, known := range Kinds {
		if k == known {
			return k, nil
		}
	}
	return "", fmt.Errorf("unknown kind %q: use one of %s", s, kindList())
}

func kindList() string {
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

// DetectKind tells which kind of Keptn file data is. It looks, in order, at
// the apiVersion and kind keys (only remediation and shipyard files have
// them), at the file's base name (slo.yaml, sli-config-prometheus.yaml,
// shipyard-argo.yaml, podtatohead.remediation.yaml: any name whose words,
// split at '-', '_' and '.', include exactly one of slo, sli, remediation or
// shipyard), and at the top-level keys (objectives, indicators, remediations
// or spec.remediations, stages or spec.stages). It fails, saying how to use
// --kind, when none of these tells. A budget SLO file (Sloth's or
// OpenSLO's version or apiVersion, or any YAML file in a folder named slo)
// is KindBudget.
func DetectKind(filename string, data []byte) (Kind, error) {
	root := parseLoose(data)
	if k := kindFromHeader(root); k != "" {
		return k, nil
	}
	if budget.Detect(data) != "" {
		return KindBudget, nil
	}
	if k := kindFromName(filename); k != "" {
		return k, nil
	}
	if IsBudgetPath(filename) {
		return KindBudget, nil
	}
	if k := kindFromKeys(root); k != "" {
		return k, nil
	}
	return "", fmt.Errorf("%s: cannot tell which kind of Keptn file this is: it has no apiVersion/kind, its name does not contain slo, sli, remediation or shipyard, it has none of the keys objectives, indicators, remediations or stages, and it is no budget SLO file (version: prometheus/v1, apiVersion: sloth.slok.dev/v1 or openslo/v1alpha); pass --kind with one of %s", filename, kindList())
}

// parseLoose returns the root mapping of data, or nil when data is not a YAML
// mapping or is over yamlnode's limits. Detection never reports; Validate
// does.
func parseLoose(data []byte) *yaml.Node {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	doc, err := yamlnode.NewBlockDecoder(data).Decode()
	if err != nil {
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	return doc.Content[0]
}

// lookup returns the value of key in mapping n without following aliases.
func lookup(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return strings.TrimSpace(n.Value)
}

func kindFromHeader(root *yaml.Node) Kind {
	switch strings.ToLower(scalar(lookup(root, "kind"))) {
	case "remediation":
		return KindRemediation
	case "shipyard":
		return KindShipyard
	}
	v := scalar(lookup(root, "apiVersion"))
	v = strings.TrimPrefix(v, specGroup)
	switch {
	case strings.HasPrefix(v, "0.1."):
		return KindRemediation
	case strings.HasPrefix(v, "0.2."):
		return KindShipyard
	}
	return ""
}

func kindFromName(filename string) Kind {
	base := strings.ToLower(filepath.Base(filename))
	base = strings.TrimSuffix(strings.TrimSuffix(base, ".yaml"), ".yml")
	words := strings.FieldsFunc(base, func(r rune) bool { return r == '-' || r == '_' || r == '.' || r == ' ' })
	var found Kind
	for _, w := range words {
		var k Kind
		switch w {
		case "slo":
			k = KindSLO
		case "sli":
			k = KindSLI
		case "remediation":
			k = KindRemediation
		case "shipyard":
			k = KindShipyard
		default:
			continue
		}
		if found != "" && found != k {
			return "" // ambiguous, e.g. slo-and-sli.yaml
		}
		found = k
	}
	return found
}

func kindFromKeys(root *yaml.Node) Kind {
	spec := lookup(root, "spec")
	switch {
	case lookup(root, "objectives") != nil:
		return KindSLO
	case lookup(root, "indicators") != nil:
		return KindSLI
	case lookup(root, "remediations") != nil || lookup(spec, "remediations") != nil:
		return KindRemediation
	case lookup(root, "stages") != nil || lookup(spec, "stages") != nil:
		return KindShipyard
	}
	return ""
}

// specGroup prefixes the apiVersion of Keptn's versioned file formats.
const specGroup = "spec.keptn.sh/"

// Validate checks one file of the given kind, detecting the kind when it is
// "", and returns every problem found, errors and warnings, in file order.
// The returned kind is the one the file was checked as ("" when it could not
// be detected).
func Validate(filename string, data []byte, kind Kind) (Kind, Diagnostics) {
	if kind == "" {
		k, err := DetectKind(filename, data)
		if err != nil {
			// A file that is not YAML at all is better told so than that
			// its kind is unknown.
			d := newDecoder(filename)
			if d.parse(data, ""); d.finish().HasErrors() {
				return "", d.Diags
			}
			msg := strings.TrimPrefix(err.Error(), filename+": ")
			return "", Diagnostics{{File: filename, Severity: SeverityError, Message: msg}}
		}
		kind = k
	}
	var diags Diagnostics
	switch kind {
	case KindSLO:
		_, diags = DecodeSLO(filename, data)
	case KindSLI:
		_, diags = DecodeSLI(filename, data)
	case KindRemediation:
		_, diags = DecodeRemediation(filename, data)
	case KindShipyard:
		_, diags = DecodeShipyard(filename, data)
	case KindBudget:
		_, diags = budget.Decode(filename, data)
	default:
		return kind, Diagnostics{{File: filename, Severity: SeverityError, Message: fmt.Sprintf("unknown kind %q: use one of %s", kind, kindList())}}
	}
	return kind, diags
}

// IsBudgetPath reports whether a file's path puts it among a service's
// budget SLO files: a .yaml or .yml file directly in a folder named slo
// (the resource slo/availability.yaml).
func IsBudgetPath(name string) bool {
	name = filepath.ToSlash(name)
	dir, base := path.Split(name)
	ext := path.Ext(base)
	return (ext == ".yaml" || ext == ".yml") && len(base) > len(ext) && path.Base(strings.TrimSuffix(dir, "/")) == "slo" && dir != ""
}
