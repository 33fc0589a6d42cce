package spec

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tendhq/tend/internal/yamlnode"
)

// RemediationFormat says which of Keptn's two remediation file formats a
// file was written in; it decides how problems are matched.
type RemediationFormat string

// The remediation file formats.
const (
	// RemediationLegacy is Keptn 0.6's format: a top-level remediations list
	// whose entry names are matched as prefixes of the problem title.
	RemediationLegacy RemediationFormat = "0.6"
	// RemediationV014 is apiVersion spec.keptn.sh/0.1.4 (kind Remediation):
	// spec.remediations matched by exact problem type.
	RemediationV014 RemediationFormat = "spec.keptn.sh/0.1.4"
)

// remediationAPIVersion is the only apiVersion Keptn's remediation service
// accepted.
const remediationAPIVersion = specGroup + "0.1.4"

// draftRemediationVersion is the "version:" value of the remediation spec's
// pre-release draft, which Keptn's remediation service read during the 0.7
// development cycle (struct RemediationV02 with a version field) before the
// released spec renamed it to apiVersion: spec.keptn.sh/0.1.4.
const draftRemediationVersion = "0.2.0"

// Remediation is a decoded remediation file, normalised over both formats.
type Remediation struct {
	// Format is the format the file was written in.
	Format RemediationFormat
	// APIVersion is the version as written: "spec.keptn.sh/0.1.4", the draft
	// "0.2.0" (from a version: key), or "" for the legacy format.
	APIVersion string
	// Name is metadata.name ("" for the legacy format, which has none).
	Name string
	// Entries are the remediations in file order: 0.1.4 problemType entries
	// or legacy named entries.
	Entries []RemediationEntry
}

// RemediationEntry is the list of actions for one kind of problem.
type RemediationEntry struct {
	// ProblemType is the 0.1.4 problemType (matched exactly against the
	// problem's root cause, then its title; "default" catches the rest) or
	// the legacy name (matched as a prefix of the problem title).
	ProblemType string
	// Actions are tried in order until an evaluation passes.
	Actions []RemediationAction
	// Line is the entry's line in the file, for messages.
	Line int
}

// RemediationAction is one action of an entry, in the shape of Keptn's
// action.triggered event data.
type RemediationAction struct {
	// Name is the display name (0.1.4 name; legacy files have none).
	Name string
	// Action selects the executor: scaling, toggle-feature, featuretoggle,
	// escalate, webhook or any external action name.
	Action string
	// Description is free text shown with the action.
	Description string
	// Value is the action's argument as plain Go values: string, int,
	// float64, bool, map[string]any, []any, or nil when absent or empty. An
	// unquoted `value: +1` is the integer 1, as YAML (and Keptn) read it.
	Value any
	// ValueText is a scalar value's source text, such as "+1" for an
	// unquoted +1, so executors can tell "+1" from "1"; "" for maps, lists
	// and null.
	ValueText string
	// Line is the action's line in the file, for messages.
	Line int
}

// defaultProblemType is the 0.1.4 catch-all entry.
const defaultProblemType = "default"

// Match returns the entry for a problem, as docs/keptn.md, "Remediation files" says. For
// 0.1.4 files: the entry whose problemType equals the root cause, else the
// title, else the "default" entry. For legacy files: the first entry whose
// name is a prefix of the title. Empty root causes and titles match nothing.
func (r *Remediation) Match(rootCause, title string) (*RemediationEntry, bool) {
	if r == nil {
		return nil, false
	}
	if r.Format == RemediationLegacy {
		if title == "" {
			return nil, false
		}
		for i := range r.Entries {
			if strings.HasPrefix(title, r.Entries[i].ProblemType) {
				return &r.Entries[i], true
			}
		}
		return nil, false
	}
	for _, want := range []string{rootCause, title, defaultProblemType} {
		if want == "" {
			continue
		}
		for i := range r.Entries {
			if r.Entries[i].ProblemType == want {
				return &r.Entries[i], true
			}
		}
	}
	return nil, false
}

var (
	remediationKeys       = []string{"apiVersion", "kind", "metadata", "spec"}
	remediationSpecKeys   = []string{"remediations"}
	remediationEntryKeys  = []string{"problemType", "actionsOnOpen"}
	remediationActionKeys = []string{"name", "action", "description", "value"}
	legacyRemediationKeys = []string{"remediations"}
	legacyEntryKeys       = []string{"name", "actions"}
	legacyActionKeys      = []string{"action", "value"}
	metadataKeys          = []string{"name"}
)

// DecodeRemediation decodes and validates a remediation file in either
// format. It returns the remediation, or nil when the diagnostics hold an
// error, and every problem found.
func DecodeRemediation(filename string, data []byte) (*Remediation, Diagnostics) {
	d := newDecoder(filename)
	out := d.remediation(data)
	return result(d, out)
}

func (d *decoder) remediation(data []byte) *Remediation {
	root := d.parse(data, KindRemediation)
	if root == nil {
		return nil
	}
	if !d.isMapping(root, "a remediation file", "apiVersion: spec.keptn.sh/0.1.4, kind: Remediation, spec: {remediations: [...]}") {
		return nil
	}
	if lookup(root, "apiVersion") == nil && lookup(root, "kind") == nil && lookup(root, "spec") == nil &&
		lookup(root, "version") == nil && lookup(root, "remediations") != nil {
		return d.legacyRemediation(root)
	}
	return d.remediationV014(root)
}

func (d *decoder) remediationV014(root *yaml.Node) *Remediation {
	out := &Remediation{Format: RemediationV014}
	ignored := map[string]string{}
	if lookup(root, "apiVersion") != nil {
		ignored["version"] = "key \"version\" is ignored next to apiVersion; remove it"
	} else {
		ignored["version"] = "" // reported below as a misnamed apiVersion
	}
	ignored["remediations"] = "top-level remediations are the legacy 0.6 format and are ignored in a file with apiVersion/kind/spec; move them under spec.remediations"
	f := d.mapFields(root, "the remediation file", remediationKeys, ignored)
	ok := true

	av, haveAV := f["apiVersion"]
	ver, haveVersion := f["version"]
	switch {
	case haveAV:
		v, _ := d.str(av.val, "apiVersion")
		out.APIVersion = v
		if v != remediationAPIVersion {
			d.Errorf(av.val, "unsupported remediation apiVersion %q: Keptn's remediation service accepted only %s (or the legacy 0.6 format with a top-level remediations list and no apiVersion)", v, remediationAPIVersion)
			ok = false
		}
	case haveVersion:
		v, _ := d.str(ver.val, "version")
		if v == draftRemediationVersion {
			out.APIVersion = v
			d.Warnf(ver.key, "\"version: %s\" is the pre-release draft of the remediation spec, which Keptn read only during 0.7 development; released Keptn requires apiVersion: %s, so write that instead", v, remediationAPIVersion)
		} else {
			d.Errorf(ver.key, "\"version: %s\" is not an apiVersion: Keptn's remediation service found no apiVersion and rejected the file (\"does not conform to remediation spec %s\"); rename the key to apiVersion: %s", v, remediationAPIVersion, remediationAPIVersion)
			ok = false
		}
	default:
		d.Errorf(nil, "missing apiVersion: add apiVersion: %s (or use the legacy 0.6 format: a top-level remediations list)", remediationAPIVersion)
		ok = false
	}

	items, remKey, kindOK, listOK := d.envelopeList(f, envelope{
		kind: "Remediation", file: "a remediation file", list: "remediations", specKeys: remediationSpecKeys,
		listExample: "[{problemType: TITLE, actionsOnOpen: [...]}]", itemHint: "- problemType: TITLE",
	}, &out.Name)
	ok = ok && kindOK
	if !listOK {
		return nil
	}
	if len(items) == 0 {
		d.Warnf(remKey, "spec.remediations is empty: no problem will be remediated")
	}
	seen := map[string]int{}
	for _, item := range items {
		if !d.listEntry(item, "each remediation", "problemType: TITLE, actionsOnOpen: [...]", "empty remediation entry: write - problemType: TITLE") {
			ok = false
			continue
		}
		ef := d.mapFields(item, "a remediation", remediationEntryKeys, nil)
		entry := RemediationEntry{Line: item.Line}
		if v, vn, good := d.requiredStr(item, ef, "problemType", "problemType", "remediation without problemType: add problemType: TITLE (the problem title or root cause, or default)"); good {
			entry.ProblemType = v
			if line, dup := seen[v]; dup {
				d.Errorf(vn, "duplicate problemType %q (first at line %d): Keptn used only the first; merge their actions into one entry", v, line)
				ok = false
			}
			seen[v] = vn.Line
		} else {
			ok = false
		}
		acts, has := ef["actionsOnOpen"]
		if !has || yamlnode.IsNull(acts.val) {
			d.Warnf(item, "remediation%s has no actionsOnOpen: the problem is escalated at once", quoted(entry.ProblemType))
		} else if list, good := d.list(acts.val, "actionsOnOpen", "- action: scaling"); good {
			for _, an := range list {
				a, good := d.remediationAction(an, remediationActionKeys)
				ok = ok && good
				entry.Actions = append(entry.Actions, a)
			}
			if len(list) == 0 {
				d.Warnf(acts.key, "remediation%s has no actions: the problem is escalated at once", quoted(entry.ProblemType))
			}
		} else {
			ok = false
		}
		out.Entries = append(out.Entries, entry)
	}
	if !ok {
		return nil
	}
	return out
}

func (d *decoder) legacyRemediation(root *yaml.Node) *Remediation {
	out := &Remediation{Format: RemediationLegacy}
	f := d.mapFields(root, "the remediation file", legacyRemediationKeys, nil)
	rem := f["remediations"]
	items, ok := d.list(rem.val, "remediations", "- name: TITLE PREFIX")
	if !ok {
		return nil
	}
	if len(items) == 0 {
		d.Warnf(rem.key, "remediations is empty: no problem will be remediated")
	}
	type seenEntry struct {
		name string
		line int
	}
	var seen []seenEntry
	for _, item := range items {
		if !d.listEntry(item, "each remediation", "name: TITLE PREFIX, actions: [...]", "empty remediation entry: write - name: TITLE PREFIX") {
			ok = false
			continue
		}
		ef := d.mapFields(item, "a remediation", legacyEntryKeys, nil)
		entry := RemediationEntry{Line: item.Line}
		if v, vn, good := d.requiredStr(item, ef, "name", "name", "remediation without name: add name: TITLE PREFIX (matched against the start of the problem title)"); good {
			entry.ProblemType = v
			for _, s := range seen {
				switch {
				case s.name == v:
					d.Errorf(vn, "duplicate remediation name %q (first at line %d): Keptn used only the first; merge their actions into one entry", v, s.line)
					ok = false
				case strings.HasPrefix(v, s.name):
					d.Warnf(vn, "remediation %q can never match: the earlier name %q (line %d) is a prefix of it and the first match wins; move this entry above it", v, s.name, s.line)
				default:
					continue
				}
				break
			}
			seen = append(seen, seenEntry{v, vn.Line})
		} else {
			ok = false
		}
		acts, has := ef["actions"]
		if !has || yamlnode.IsNull(acts.val) {
			d.Warnf(item, "remediation%s has no actions: the problem is escalated at once", quoted(entry.ProblemType))
		} else if list, good := d.list(acts.val, "actions", "- action: scaling"); good {
			for _, an := range list {
				a, good := d.remediationAction(an, legacyActionKeys)
				ok = ok && good
				if good && a.Value != nil && a.ValueText == "" {
					vn := lookup(an, "value")
					d.Errorf(vn, "a legacy (0.6) action value must be a string such as \"+1\" or \"EnablePromotion:off\", not %s (Keptn could not read it); use the spec.keptn.sh/0.1.4 format for map values", yamlnode.Describe(d.resolve(vn)))
					ok = false
				}
				entry.Actions = append(entry.Actions, a)
			}
		} else {
			ok = false
		}
		out.Entries = append(out.Entries, entry)
	}
	if !ok {
		return nil
	}
	return out
}

func (d *decoder) remediationAction(n *yaml.Node, keys []string) (RemediationAction, bool) {
	a := RemediationAction{Line: n.Line}
	if !d.listEntry(n, "each action", "action: NAME, value: ...", "empty action: write - action: scaling") {
		return a, false
	}
	f := d.mapFields(n, "an action", keys, nil)
	ok := true
	if e, has := f["action"]; !has || yamlnode.IsNull(e.val) {
		d.Errorf(n, "action without an action name: add action: NAME (e.g. scaling, toggle-feature, escalate)")
		ok = false
	} else if v, good := d.str(e.val, "action"); good && v != "" {
		a.Action = v
	} else {
		if good {
			d.Errorf(e.val, "action must name an action such as scaling, not be empty")
		}
		ok = false
	}
	if e, has := f["name"]; has {
		a.Name, _ = d.str(e.val, "name")
	}
	if e, has := f["description"]; has {
		a.Description, _ = d.str(e.val, "description")
	}
	if e, has := f["value"]; has && e.val != nil {
		a.Value = d.anyValue(e.val)
		if e.val.Kind == yaml.ScalarNode && !yamlnode.IsNull(e.val) {
			a.ValueText = e.val.Value
		}
		d.checkYAML11Bools(e.val)
	}
	return a, ok
}

// checkYAML11Bools warns about unquoted on/off/yes/no inside an action value:
// Keptn's YAML 1.1 library sent them as booleans, tend reads them as the
// strings they look like.
func (d *decoder) checkYAML11Bools(n *yaml.Node) {
	n = d.resolve(n)
	if n == nil {
		return
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if b, ok := yaml11Bools[n.Value]; ok && n.Style == 0 && n.ShortTag() == "!!str" {
			d.Warnf(n, "unquoted %s: Keptn read it as the boolean %t, tend reads the string %q; quote it (\"%s\") to say which you mean", n.Value, b, n.Value, n.Value)
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			d.checkYAML11Bools(n.Content[i])
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			d.checkYAML11Bools(c)
		}
	}
}

// String describes the action for logs and messages, e.g. "scaling +1".
func (a RemediationAction) String() string {
	switch {
	case a.ValueText != "":
		return a.Action + " " + a.ValueText
	case a.Value != nil:
		return fmt.Sprintf("%s %v", a.Action, a.Value)
	}
	return a.Action
}

// quoted formats a name for a message: ` "name"`, or nothing when empty.
func quoted(name string) string {
	if name == "" {
		return ""
	}
	return fmt.Sprintf(" %q", name)
}
