package spec

import (
	"bytes"
	"errors"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tendhq/tend/internal/yamlnode"
)

// decoder walks the yaml.v3 node tree of one file and collects diagnostics
// with the position of the node they concern.
type decoder struct {
	yamlnode.Reporter
	// triggerRefs are the shipyard's triggeredOn event nodes, checked
	// against its stages once all are known.
	triggerRefs []*yaml.Node
	// slowYAML turns off yamlnode's fast path, so tests can check that
	// both paths decode every file alike.
	slowYAML bool
}

func newDecoder(file string) *decoder {
	return &decoder{Reporter: yamlnode.Reporter{File: file}}
}

// finish sorts the diagnostics into file order (whole-file ones first) and
// returns them.
func (d *decoder) finish() Diagnostics { return d.Sorted() }

// result returns v and the diagnostics, with a nil v when any diagnostic is
// an error, so callers never use a half-decoded file.
func result[T any](d *decoder, v *T) (*T, Diagnostics) {
	diags := d.finish()
	if diags.HasErrors() {
		return nil, diags
	}
	return v, diags
}

// parse reads the first YAML document of data and returns its root node, or
// nil after reporting why there is none. Keptn read only the first document,
// so a later one is reported as ignored. The document is held to yamlnode's
// limits, so walking it never costs more than those allow.
func (d *decoder) parse(data []byte, kind Kind) *yaml.Node {
	if len(bytes.TrimSpace(data)) == 0 {
		d.Errorf(nil, "empty file: %s", emptyHint(kind))
		return nil
	}
	dec := yamlnode.NewBlockDecoder(data)
	if d.slowYAML {
		dec = yamlnode.NewDecoder(data)
	}
	doc, err := dec.Decode()
	if err != nil {
		if errors.Is(err, io.EOF) {
			d.Errorf(nil, "empty file (only comments): %s", emptyHint(kind))
			return nil
		}
		d.decodeError(err)
		return nil
	}
	var root *yaml.Node
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		root = d.resolve(doc.Content[0])
	}
	if root == nil || yamlnode.IsNull(root) {
		d.Errorf(nil, "empty document: %s", emptyHint(kind))
		return nil
	}
	switch next, err := dec.Decode(); {
	case err == nil:
		pos := next
		if len(next.Content) > 0 {
			pos = next.Content[0]
		}
		d.Warnf(pos, "a second YAML document is ignored: Keptn read only the first; put each file's content in one document")
	case !errors.Is(err, io.EOF):
		d.decodeError(err)
	}
	return root
}

// decodeError reports an error of yamlnode's decoder: a document over a
// limit at the node to blame, or a syntax error at the line yaml.v3 names.
func (d *decoder) decodeError(err error) {
	if le, ok := errors.AsType[*yamlnode.LimitError](err); ok {
		d.Diags = append(d.Diags, Diagnostic{File: d.File, Line: le.Line, Col: le.Column, Severity: SeverityError, Message: le.Message})
		return
	}
	line, msg := yamlnode.SyntaxError(err)
	d.Diags = append(d.Diags, Diagnostic{File: d.File, Line: line, Col: 0, Severity: SeverityError, Message: "invalid YAML: " + msg})
}

func emptyHint(kind Kind) string {
	switch kind {
	case KindSLO:
		return "an SLO file needs at least objectives and total_score"
	case KindSLI:
		return "an SLI file needs spec_version: \"1.0\" and indicators: {NAME: QUERY}"
	case KindRemediation:
		return "a remediation file needs apiVersion: spec.keptn.sh/0.1.4, kind: Remediation and spec.remediations"
	case KindShipyard:
		return "a shipyard needs apiVersion: spec.keptn.sh/0.2.2, kind: Shipyard and spec.stages"
	}
	return "the file has no content"
}

// resolve follows aliases. parse refused documents whose aliases expand
// beyond yamlnode.MaxNodes or form a cycle, so a walk that follows them
// stays within that budget.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	return yamlnode.Resolve(n)
}

// entry is one key of a mapping with its value (aliases resolved).
type entry struct {
	key, val *yaml.Node
}

// mapFields indexes a mapping by key. With a nil known list any key is
// allowed; otherwise keys not in known are reported as
// ignored, with a suggestion when one is close; ignored maps a known-ignored
// key to the reason it is ignored. A repeated key keeps the last value, as
// Keptn's YAML library did, with a warning.
func (d *decoder) mapFields(n *yaml.Node, where string, known []string, ignored map[string]string) map[string]entry {
	out := make(map[string]entry, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], d.resolve(n.Content[i+1])
		name := k.Value
		if prev, dup := out[name]; dup {
			d.Warnf(k, "key %q repeats the one at line %d: Keptn used this later value; remove one of them", name, prev.key.Line)
		}
		out[name] = entry{key: k, val: v}
		if known == nil || slices.Contains(known, name) {
			continue
		}
		if reason, ok := ignored[name]; ok {
			if reason != "" { // "" marks a key the caller reports itself
				d.Warnf(k, "%s", reason)
			}
			continue
		}
		d.unknownKey(k, where, known)
	}
	return out
}

// knownFields is mapFields without the map, for the mappings an SLO file
// repeats for every objective (at most 8 known keys): field i is known[i]
// and has[i] tells whether it is present. The diagnostics are mapFields':
// a mapping with a key that is not known is handed to mapFields.
func (d *decoder) knownFields(n *yaml.Node, where string, known []string) (f [8]entry, has [8]bool) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if !slices.Contains(known, n.Content[i].Value) {
			m := d.mapFields(n, where, known, nil)
			for j, k := range known {
				f[j], has[j] = m[k]
			}
			return f, has
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		j := slices.Index(known, k.Value)
		if has[j] {
			d.Warnf(k, "key %q repeats the one at line %d: Keptn used this later value; remove one of them", k.Value, f[j].key.Line)
		}
		f[j], has[j] = entry{key: k, val: d.resolve(n.Content[i+1])}, true
	}
	return f, has
}

func (d *decoder) unknownKey(k *yaml.Node, where string, known []string) {
	if s := yamlnode.Suggest(k.Value, known); s != "" {
		d.Warnf(k, "unknown key %q in %s is ignored (did you mean %q?)", k.Value, where, s)
		return
	}
	d.Warnf(k, "unknown key %q in %s is ignored; known keys: %s", k.Value, where, strings.Join(known, ", "))
}

// isMapping reports whether n is a mapping, reporting "what must be a
// mapping (hint)" otherwise. A null node is not reported; callers treat it as
// absent.
func (d *decoder) isMapping(n *yaml.Node, what, hint string) bool {
	if n == nil || yamlnode.IsNull(n) {
		return false
	}
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, "%s must be a mapping (%s), not %s", what, hint, yamlnode.Describe(n))
		return false
	}
	return true
}

// decodeList decodes every item of the list n (list with what and hint)
// with one; ok is false when the list or any of its items is bad.
func decodeList[T any](d *decoder, n *yaml.Node, what, hint string, one func(*yaml.Node) (T, bool)) ([]T, bool) {
	items, ok := d.list(n, what, hint)
	var out []T
	for _, item := range items {
		v, good := one(item)
		ok = ok && good
		out = append(out, v)
	}
	return out, ok
}

// listEntry reports whether n, an entry of a list, is a mapping (isMapping
// with what and hint); a null entry is reported with the message empty,
// which says what to write.
func (d *decoder) listEntry(n *yaml.Node, what, hint, empty string) bool {
	if d.isMapping(n, what, hint) {
		return true
	}
	if yamlnode.IsNull(n) {
		d.Errorf(n, "%s", empty)
	}
	return false
}

// requiredStr returns the string field key of the mapping n, whose fields
// are f, with its value's node. A missing or null field is reported at n
// with the message missing, which says what to add.
func (d *decoder) requiredStr(n *yaml.Node, f map[string]entry, key, what, missing string) (string, *yaml.Node, bool) {
	e, has := f[key]
	if !has || yamlnode.IsNull(e.val) {
		d.Errorf(n, "%s", missing)
		return "", nil, false
	}
	v, good := d.str(e.val, what)
	return v, e.val, good
}

// list returns the items of a sequence (aliases resolved); null is an empty
// list. Anything else is reported.
func (d *decoder) list(n *yaml.Node, what, hint string) ([]*yaml.Node, bool) {
	if n == nil || yamlnode.IsNull(n) {
		return nil, true
	}
	if n.Kind != yaml.SequenceNode {
		d.Errorf(n, "%s must be a list (%s), not %s", what, hint, yamlnode.Describe(n))
		return nil, false
	}
	items := make([]*yaml.Node, 0, len(n.Content))
	for _, c := range n.Content {
		if c = d.resolve(c); c != nil {
			items = append(items, c)
		}
	}
	return items, true
}

// str returns a scalar's text. Keptn's YAML-to-JSON step turned numbers and
// booleans into strings where a string was expected, so any scalar is
// accepted; null is "". Mappings and lists are reported.
func (d *decoder) str(n *yaml.Node, what string) (string, bool) {
	if n == nil || yamlnode.IsNull(n) {
		return "", true
	}
	if n.Kind != yaml.ScalarNode {
		d.Errorf(n, "%s must be a string, not %s", what, yamlnode.Describe(n))
		return "", false
	}
	return n.Value, true
}

// yaml11Bools are the plain scalars YAML 1.1 (the YAML Keptn's Go library
// spoke) read as booleans and yaml.v3 reads as strings.
var yaml11Bools = map[string]bool{
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true, "on": true, "On": true, "ON": true,
	"n": false, "N": false, "no": false, "No": false, "NO": false, "off": false, "Off": false, "OFF": false,
}

// boolean reads true or false, including the YAML 1.1 words Keptn accepted.
func (d *decoder) boolean(n *yaml.Node, what string) (bool, bool) {
	if n == nil || yamlnode.IsNull(n) {
		return false, true
	}
	if n.Kind == yaml.ScalarNode {
		if n.ShortTag() == "!!bool" {
			switch n.Value {
			case "true":
				return true, true
			case "false":
				return false, true
			}
			var b bool
			if err := n.Decode(&b); err == nil {
				return b, true
			}
		}
		if b, ok := yaml11Bools[n.Value]; ok && n.Style == 0 {
			return b, true
		}
	}
	d.Errorf(n, "%s must be true or false, not %s", what, yamlnode.Describe(n))
	return false, false
}

// plainDecimal reads the common spelling of a YAML number (an optional sign,
// digits, a decimal point, an exponent) without yaml.v3's Node.Decode, which
// builds a decoder per call. Anything else (0x1F, 1_000, .inf) is left to
// yaml.v3, so both read every number the same way.
func plainDecimal(s string) (float64, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9', c == '.', c == 'e', c == 'E':
		case (c == '-' || c == '+') && (i == 0 || s[i-1] == 'e' || s[i-1] == 'E'):
		default:
			return 0, false
		}
	}
	digits := strings.TrimLeft(s, "+-")
	if len(digits) > 1 && digits[0] == '0' && digits[1] >= '0' && digits[1] <= '9' {
		return 0, false // a leading zero: yaml.v3 may read it as octal
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// number reads a finite number.
func (d *decoder) number(n *yaml.Node, what, example string) (float64, bool) {
	if n != nil && n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!int" || n.ShortTag() == "!!float") {
		if f, ok := plainDecimal(n.Value); ok {
			return f, true
		}
		var f float64
		if err := n.Decode(&f); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f, true
		}
	}
	d.Errorf(n, "%s must be a number (e.g. %s), not %s", what, example, yamlnode.Describe(n))
	return 0, false
}

// integer reads a whole number.
func (d *decoder) integer(n *yaml.Node, what, example string) (int, bool) {
	if n != nil && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
		if f, ok := plainDecimal(n.Value); ok && f == math.Trunc(f) && math.Abs(f) < 1<<53 && !strings.ContainsAny(n.Value, ".eE") {
			return int(f), true
		}
		var i int
		if err := n.Decode(&i); err == nil {
			return i, true
		}
	}
	d.Errorf(n, "%s must be a whole number (e.g. %s), not %s", what, example, yamlnode.Describe(n))
	return 0, false
}

// anyValue converts a node to plain Go values: string, int, float64, bool,
// nil, map[string]any or []any. Unlike yaml.v3's own decoding it never fails:
// a non-scalar mapping key is keyed by its source text.
func (d *decoder) anyValue(n *yaml.Node) any {
	n = d.resolve(n)
	if n == nil {
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = d.anyValue(n.Content[i+1])
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			s = append(s, d.anyValue(c))
		}
		return s
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil
		case "!!bool":
			var b bool
			if n.Decode(&b) == nil {
				return b
			}
		case "!!int":
			var i int
			if n.Decode(&i) == nil {
				return i
			}
			var f float64
			if n.Decode(&f) == nil {
				return f
			}
		case "!!float":
			var f float64
			if n.Decode(&f) == nil {
				return f
			}
		}
		return n.Value
	}
	return nil
}

// envelope describes what the versioned formats (remediation
// spec.keptn.sh/0.1.4, shipyard spec.keptn.sh/0.2.x) share below apiVersion:
// a kind, an optional metadata.name and one list under spec.
type envelope struct {
	kind        string   // the required kind, e.g. "Remediation"
	file        string   // how messages name the file, e.g. "a remediation file"
	list        string   // the key of the list under spec, e.g. "remediations"
	specKeys    []string // the known keys of spec
	listExample string   // an example list for messages, e.g. "[{name: production}]"
	itemHint    string   // an example item for messages, e.g. "- name: STAGE"
}

// envelopeList checks kind and metadata (storing metadata.name in *name) and
// returns the items of spec.<list> with the list's key node. kindOK is false
// when the kind is wrong; items is nil and listOK false when spec or the list
// is missing or malformed. Every problem is reported.
func (d *decoder) envelopeList(f map[string]entry, e envelope, name *string) (items []*yaml.Node, listKey *yaml.Node, kindOK, listOK bool) {
	kindOK = true
	if k, has := f["kind"]; !has {
		d.Warnf(nil, "missing kind: add kind: %s", e.kind)
	} else if v, good := d.str(k.val, "kind"); good && v != e.kind {
		d.Errorf(k.val, "wrong kind %q for %s: write kind: %s", v, e.file, e.kind)
		kindOK = false
	}
	if m, has := f["metadata"]; has && d.isMapping(m.val, "metadata", "name: NAME") {
		mf := d.mapFields(m.val, "metadata", metadataKeys, nil)
		if n, has := mf["name"]; has {
			*name, _ = d.str(n.val, "metadata.name")
		}
	}
	spec, has := f["spec"]
	if !has || yamlnode.IsNull(spec.val) {
		var pos *yaml.Node
		if has {
			pos = spec.key
		}
		d.Errorf(pos, "missing spec.%s: add spec: {%s: %s}", e.list, e.list, e.listExample)
		return nil, nil, kindOK, false
	}
	if !d.isMapping(spec.val, "spec", e.list+": [...]") {
		return nil, nil, kindOK, false
	}
	sf := d.mapFields(spec.val, "spec", e.specKeys, nil)
	l, has := sf[e.list]
	if !has || yamlnode.IsNull(l.val) {
		d.Errorf(spec.key, "missing spec.%s: add %s: %s", e.list, e.list, e.listExample)
		return nil, nil, kindOK, false
	}
	items, good := d.list(l.val, "spec."+e.list, e.itemHint)
	if !good {
		return nil, nil, kindOK, false
	}
	return items, l.key, kindOK, true
}
