package budget

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tendhq/tend/internal/yamlnode"
)

// Detect tells the format of data from its first document's header:
// `version: prometheus/v1`, `apiVersion: sloth.slok.dev/v1` or
// `apiVersion: openslo/v1alpha`. It returns "" when data is no budget SLO
// file (or no YAML mapping at all); Decode says why.
func Detect(data []byte) Format {
	doc, err := yamlnode.NewDecoder(data).Decode()
	if err != nil || len(doc.Content) == 0 {
		return ""
	}
	return formatOf(doc.Content[0])
}

func formatOf(root *yaml.Node) Format {
	if root == nil || root.Kind != yaml.MappingNode {
		return ""
	}
	var version, apiVersion string
	for k, v := range yamlnode.Pairs(root) {
		if v.Kind != yaml.ScalarNode {
			continue
		}
		switch k.Value {
		case "version":
			version = strings.TrimSpace(v.Value)
		case "apiVersion":
			apiVersion = strings.TrimSpace(v.Value)
		}
	}
	switch {
	case version == string(FormatSloth):
		return FormatSloth
	case apiVersion == string(FormatKubernetes):
		return FormatKubernetes
	case apiVersion == string(FormatOpenSLO):
		return FormatOpenSLO
	}
	return ""
}

var (
	// nameRE is Sloth's rule for service and SLO names (they become
	// label values and rule group names).
	nameRE = regexp.MustCompile(`^[A-Za-z0-9][-A-Za-z0-9_.]*[A-Za-z0-9]$`)
	// windowRE is the {{.window}} placeholder Sloth fills in every query.
	windowRE = regexp.MustCompile(`{{ *\.window *}}`)
	// alertNameRE is what Prometheus accepts as an alert name everywhere.
	alertNameRE = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
)

// Decode reads a budget SLO file and returns it with every problem found,
// errors and warnings, in file order. The file is nil when any problem is
// an error, so callers never generate rules from a half-read file.
func Decode(file string, data []byte) (*File, Diagnostics) {
	d := &decoder{Reporter: yamlnode.Reporter{File: file}}
	f := d.read(data)
	d.Sorted()
	if d.Diags.HasErrors() {
		return nil, d.Diags
	}
	return f, d.Diags
}

type decoder struct {
	yamlnode.Reporter
}

func (d *decoder) read(data []byte) *File {
	if len(bytes.TrimSpace(data)) == 0 {
		d.Errorf(nil, "empty file: a budget SLO file starts with `version: prometheus/v1` (Sloth), `apiVersion: sloth.slok.dev/v1` (Sloth's PrometheusServiceLevel) or `apiVersion: openslo/v1alpha` (OpenSLO)")
		return nil
	}
	dec := yamlnode.NewDecoder(data)
	f := &File{}
	for {
		doc, err := dec.Decode()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if le, ok := errors.AsType[*yamlnode.LimitError](err); ok {
				d.Add(SeverityError, &yaml.Node{Line: le.Line, Column: le.Column}, "%s", le.Message)
				return nil
			}
			line, msg := yamlnode.SyntaxError(err)
			d.Add(SeverityError, &yaml.Node{Line: line, Column: 1}, "not valid YAML: %s", msg)
			return nil
		}
		if len(doc.Content) == 0 || yamlnode.IsNull(doc.Content[0]) {
			continue // an empty document between two "---"
		}
		if doc := d.doc(doc); doc != nil {
			f.Docs = append(f.Docs, *doc)
		}
	}
	if len(f.Docs) == 0 && !d.Diags.HasErrors() {
		d.Errorf(nil, "the file holds no document")
	}
	return f
}

// doc decodes one document in the format its header names.
func (d *decoder) doc(doc *yaml.Node) *Doc {
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		d.Errorf(root, "a budget SLO document must be a mapping, not %s", yamlnode.Describe(root))
		return nil
	}
	out := &Doc{Format: formatOf(root), Line: root.Line}
	switch out.Format {
	case FormatSloth:
		m := d.fields(root, "the document", "version", "service", "labels", "slo_plugins", "slos")
		out.Service = d.name(m, root, "service", "the document")
		d.labels(m["labels"], "labels")
		out.SLOPluginIDs = d.plugins(m["slo_plugins"], "slo_plugins")
		d.slos(out, m, root, sloth)
	case FormatKubernetes:
		m := d.fields(root, "the document", "apiVersion", "kind", "metadata", "spec", "status")
		if kind := m["kind"]; kind == nil || kind.Value != "PrometheusServiceLevel" {
			d.Errorf(at(kind, root), "kind must be PrometheusServiceLevel in apiVersion sloth.slok.dev/v1, not %s", describe(kind))
		}
		spec := m["spec"]
		if spec == nil {
			d.Errorf(root, "spec is missing: a PrometheusServiceLevel holds its service and slos in spec")
			return nil
		}
		sm := d.fields(spec, "spec", "service", "labels", "sloPlugins", "slos")
		out.Service = d.name(sm, spec, "service", "spec")
		d.labels(sm["labels"], "spec.labels")
		out.SLOPluginIDs = d.plugins(sm["sloPlugins"], "spec.sloPlugins")
		d.slos(out, sm, spec, kube)
	case FormatOpenSLO:
		d.openSLO(out, root)
	default:
		d.Errorf(root, "not a budget SLO document: want `version: prometheus/v1` (Sloth), `apiVersion: sloth.slok.dev/v1` (Sloth's PrometheusServiceLevel) or `apiVersion: openslo/v1alpha` with `kind: SLO` (OpenSLO)")
		return nil
	}
	if d.Diags.HasErrors() {
		return out
	}
	src, err := yaml.Marshal(doc)
	if err != nil {
		d.Errorf(root, "cannot re-encode the document for Sloth: %v", err)
		return nil
	}
	out.Source = src
	return out
}

// keys are the field names of one of Sloth's two spellings (prometheus/v1
// uses snake_case, the Kubernetes resource camelCase).
type keys struct {
	errorQuery, totalQuery, errorRatioQuery, pageAlert, ticketAlert string
}

var (
	sloth = keys{errorQuery: "error_query", totalQuery: "total_query", errorRatioQuery: "error_ratio_query", pageAlert: "page_alert", ticketAlert: "ticket_alert"}
	kube  = keys{errorQuery: "errorQuery", totalQuery: "totalQuery", errorRatioQuery: "errorRatioQuery", pageAlert: "pageAlert", ticketAlert: "ticketAlert"}
)

// slos decodes the slos list of a Sloth document (either spelling), and
// writes the default alert name into SLOs that alert without one.
func (d *decoder) slos(out *Doc, m map[string]*yaml.Node, parent *yaml.Node, k keys) {
	list := m["slos"]
	if list == nil || yamlnode.IsNull(list) {
		d.Errorf(parent, "slos is missing: a budget SLO file lists at least one SLO under slos")
		return
	}
	if list.Kind != yaml.SequenceNode {
		d.Errorf(list, "slos must be a list, not %s", yamlnode.Describe(list))
		return
	}
	if len(list.Content) == 0 {
		d.Errorf(list, "slos is empty: list at least one SLO")
	}
	seen := map[string]*yaml.Node{}
	for i, item := range list.Content {
		item = yamlnode.Resolve(item)
		what := fmt.Sprintf("slos[%d]", i)
		sm := d.fields(item, what, "name", "description", "objective", "labels", "plugins", "sli", "alerting")
		if sm == nil {
			continue
		}
		s := SLO{Name: d.name(sm, item, "name", what)}
		if prev := seen[s.Name]; prev != nil && s.Name != "" {
			d.Errorf(sm["name"], "%s: SLO name %q is used twice (first at line %d); names must be unique within a service", what, s.Name, prev.Line)
		}
		seen[s.Name] = sm["name"]
		d.str(sm["description"], what+".description")
		s.Objective = d.objective(sm["objective"], item, what)
		d.labels(sm["labels"], what+".labels")
		out.SLOPluginIDs = append(out.SLOPluginIDs, d.plugins(sm["plugins"], what+".plugins")...)
		d.sli(&s, sm["sli"], item, what, k)
		d.alerting(&s, sm, item, what, out.Service, k)
		out.SLOs = append(out.SLOs, s)
	}
}

func (d *decoder) objective(n, parent *yaml.Node, what string) float64 {
	if n == nil {
		d.Errorf(parent, "%s: objective is missing: give the target in percent, such as 99.9", what)
		return 0
	}
	v, ok := d.number(n, what+".objective")
	if ok && (v <= 0 || v > 100) {
		d.Errorf(n, "%s.objective must be a percentage above 0 and at most 100 (99.9 means 99.9%% of events good), not %s", what, n.Value)
	}
	return v
}

func (d *decoder) sli(s *SLO, n, parent *yaml.Node, what string, k keys) {
	what += ".sli"
	if n == nil {
		d.Errorf(parent, "%s is missing: give events (%s and %s), raw (%s) or plugin", what, k.errorQuery, k.totalQuery, k.errorRatioQuery)
		return
	}
	m := d.fields(n, what, "events", "raw", "plugin")
	if m == nil {
		return
	}
	set := 0
	if ev := m["events"]; ev != nil {
		set++
		em := d.fields(ev, what+".events", k.errorQuery, k.totalQuery)
		s.ErrorQuery = d.query(em, ev, k.errorQuery, what+".events")
		s.TotalQuery = d.query(em, ev, k.totalQuery, what+".events")
		if s.ErrorQuery != "" && s.ErrorQuery == s.TotalQuery {
			d.Errorf(em[k.totalQuery], "%s.events: %s and %s are the same query, so the error ratio would always be 1", what, k.errorQuery, k.totalQuery)
		}
	}
	if raw := m["raw"]; raw != nil {
		set++
		rm := d.fields(raw, what+".raw", k.errorRatioQuery)
		s.ErrorRatioQuery = d.query(rm, raw, k.errorRatioQuery, what+".raw")
	}
	if p := m["plugin"]; p != nil {
		set++
		pm := d.fields(p, what+".plugin", "id", "options")
		if id := pm["id"]; id == nil {
			d.Errorf(p, "%s.plugin: id is missing", what)
		} else {
			s.PluginID, _ = d.str(id, what+".plugin.id")
		}
		d.stringMap(pm["options"], what+".plugin.options", false)
	}
	switch {
	case set == 0:
		d.Errorf(n, "%s has no indicator: give events, raw or plugin", what)
	case set > 1:
		d.Errorf(n, "%s gives %d indicators: give only one of events, raw and plugin", what, set)
	}
}

// required returns m's key, reporting it missing at parent; nil when m is
// nil (its own problem was reported) or the key is missing.
func (d *decoder) required(m map[string]*yaml.Node, parent *yaml.Node, key, what string) *yaml.Node {
	if m == nil {
		return nil
	}
	n := m[key]
	if n == nil {
		d.Errorf(parent, "%s: %s is missing", what, key)
	}
	return n
}

// query reads a required SLI query, which must hold {{.window}}.
func (d *decoder) query(m map[string]*yaml.Node, parent *yaml.Node, key, what string) string {
	n := d.required(m, parent, key, what)
	if n == nil {
		return ""
	}
	q, ok := d.str(n, what+"."+key)
	if !ok {
		return ""
	}
	if strings.TrimSpace(q) == "" {
		d.Errorf(n, "%s.%s is empty: give a PromQL query", what, key)
		return ""
	}
	if !windowRE.MatchString(q) {
		d.Errorf(n, "%s.%s must use the {{.window}} placeholder as its range (such as rate(x[{{.window}}])): Sloth fills it with each alert window", what, key)
	}
	return q
}

func (d *decoder) alerting(s *SLO, sm map[string]*yaml.Node, item *yaml.Node, what, service string, k keys) {
	n := sm["alerting"]
	s.Page, s.Ticket = true, true
	var m map[string]*yaml.Node
	if n != nil && !yamlnode.IsNull(n) {
		m = d.fields(n, what+".alerting", "name", "labels", "annotations", k.pageAlert, k.ticketAlert)
		if m == nil {
			return
		}
	}
	d.labels(m["labels"], what+".alerting.labels")
	d.stringMap(m["annotations"], what+".alerting.annotations", true)
	for _, a := range []struct {
		key string
		on  *bool
	}{{k.pageAlert, &s.Page}, {k.ticketAlert, &s.Ticket}} {
		an := m[a.key]
		if an == nil || yamlnode.IsNull(an) {
			continue
		}
		am := d.fields(an, what+".alerting."+a.key, "disable", "labels", "annotations")
		if dis := am["disable"]; dis != nil {
			if v, ok := d.boolean(dis, what+".alerting."+a.key+".disable"); ok && v {
				*a.on = false
			}
		}
		d.labels(am["labels"], what+".alerting."+a.key+".labels")
		d.stringMap(am["annotations"], what+".alerting."+a.key+".annotations", true)
	}
	if !s.Page && !s.Ticket {
		return
	}
	if name := m["name"]; name != nil && !yamlnode.IsNull(name) {
		if v, ok := d.str(name, what+".alerting.name"); ok {
			if !alertNameRE.MatchString(v) {
				d.Warnf(name, "%s.alerting.name %q is no classic Prometheus alert name (letters, digits, '_' and ':', not starting with a digit): only Prometheus 3 loads it", what, v)
			}
			s.AlertName = v
		}
		return
	}
	// Sloth requires a name for alerts it generates; tend gives one.
	s.AlertName = DefaultAlertName(service, s.Name)
	if n == nil || yamlnode.IsNull(n) {
		n = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		item.Content = append(item.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "alerting"}, n)
	}
	n.Content = append(n.Content,
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "name"},
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s.AlertName})
}

// openSLO decodes an OpenSLO v1alpha SLO as far as Sloth reads it:
// ratioMetrics objectives over Prometheus queries and a time window in days.
func (d *decoder) openSLO(out *Doc, root *yaml.Node) {
	m := d.fields(root, "the document", "apiVersion", "kind", "metadata", "spec")
	if kind := m["kind"]; kind == nil || kind.Value != "SLO" {
		d.Errorf(at(kind, root), "kind must be SLO in apiVersion openslo/v1alpha (tend reads OpenSLO's SLO objects only), not %s", describe(kind))
		return
	}
	var name string
	if meta := m["metadata"]; meta == nil {
		d.Errorf(root, "metadata is missing: an OpenSLO SLO needs metadata.name")
	} else {
		mm := d.fieldsLoose(meta, "metadata")
		name = d.name(mm, meta, "name", "metadata")
	}
	spec := m["spec"]
	if spec == nil {
		d.Errorf(root, "spec is missing: an OpenSLO SLO holds its service and objectives in spec")
		return
	}
	sm := d.fields(spec, "spec", "description", "service", "indicator", "budgetingMethod", "timeWindows", "objectives")
	if sm == nil {
		return
	}
	out.Service = d.name(sm, spec, "service", "spec")
	d.str(sm["description"], "spec.description")
	if ind := sm["indicator"]; ind != nil && !yamlnode.IsNull(ind) {
		d.Warnf(ind, "spec.indicator is ignored: Sloth reads the objectives' ratioMetrics only")
	}
	if bm := sm["budgetingMethod"]; bm != nil {
		if v, ok := d.str(bm, "spec.budgetingMethod"); ok && v != "Occurrences" {
			d.Warnf(bm, "spec.budgetingMethod %q: Sloth's rules count occurrences (good events over all events) whatever the method", v)
		}
	}
	var period time.Duration
	if tw := sm["timeWindows"]; tw != nil && !yamlnode.IsNull(tw) {
		if tw.Kind != yaml.SequenceNode {
			d.Errorf(tw, "spec.timeWindows must be a list, not %s", yamlnode.Describe(tw))
		} else if len(tw.Content) > 1 {
			d.Errorf(tw, "spec.timeWindows lists %d windows: Sloth supports one", len(tw.Content))
		} else if len(tw.Content) == 1 {
			w := yamlnode.Resolve(tw.Content[0])
			wm := d.fields(w, "spec.timeWindows[0]", "count", "unit", "isRolling", "calendar")
			if u := wm["unit"]; u == nil {
				d.Errorf(w, "spec.timeWindows[0]: unit is missing: Sloth supports Day")
			} else if v, ok := d.str(u, "spec.timeWindows[0].unit"); ok && !strings.EqualFold(v, "day") {
				d.Errorf(u, "spec.timeWindows[0].unit %q: Sloth supports Day only", v)
			}
			if c := wm["count"]; c == nil {
				d.Errorf(w, "spec.timeWindows[0]: count is missing: give the days, such as 30")
			} else if v, ok := d.number(c, "spec.timeWindows[0].count"); ok {
				if v != 28 && v != 30 {
					d.Errorf(c, "spec.timeWindows[0].count %s: Sloth's burn-rate windows exist for 28 and 30 days", c.Value)
				}
				period = time.Duration(v) * 24 * time.Hour
			}
		}
	}
	list := sm["objectives"]
	if list == nil || yamlnode.IsNull(list) {
		d.Errorf(spec, "spec.objectives is missing: list at least one objective with ratioMetrics and target")
		return
	}
	if list.Kind != yaml.SequenceNode || len(list.Content) == 0 {
		d.Errorf(list, "spec.objectives must be a list of at least one objective, not %s", yamlnode.Describe(list))
		return
	}
	for i, item := range list.Content {
		item = yamlnode.Resolve(item)
		what := fmt.Sprintf("spec.objectives[%d]", i)
		om := d.fields(item, what, "displayName", "value", "op", "target", "timeSliceTarget", "ratioMetrics")
		if om == nil {
			continue
		}
		s := SLO{Name: fmt.Sprintf("%s-%d", name, i), Period: period, Page: true, Ticket: true}
		s.AlertName = DefaultAlertName(out.Service, s.Name)
		if t := om["target"]; t == nil {
			d.Errorf(item, "%s: target is missing: give the share of good events, such as 0.999", what)
		} else if v, ok := d.number(t, what+".target"); ok {
			if v <= 0 || v >= 1 {
				d.Errorf(t, "%s.target must be a ratio above 0 and below 1 (0.999 means 99.9%% good), not %s", what, t.Value)
			}
			s.Objective = v * 100
		}
		rm := om["ratioMetrics"]
		if rm == nil {
			d.Errorf(item, "%s: ratioMetrics is missing: Sloth reads objectives with ratioMetrics good and total", what)
		} else {
			rmm := d.fields(rm, what+".ratioMetrics", "good", "total", "counter", "incremental")
			s.GoodQuery = d.metric(rmm, rm, "good", what+".ratioMetrics")
			s.TotalQuery = d.metric(rmm, rm, "total", what+".ratioMetrics")
		}
		out.SLOs = append(out.SLOs, s)
	}
}

func (d *decoder) metric(m map[string]*yaml.Node, parent *yaml.Node, key, what string) string {
	n := d.required(m, parent, key, what)
	if n == nil {
		return ""
	}
	what += "." + key
	mm := d.fields(n, what, "source", "queryType", "query")
	if src := mm["source"]; src == nil {
		d.Errorf(n, "%s: source is missing: Sloth reads source prometheus", what)
	} else if v, ok := d.str(src, what+".source"); ok && v != "prometheus" && v != "sloth" {
		d.Errorf(src, "%s.source %q: Sloth reads prometheus (or sloth) sources only", what, v)
	}
	if qt := mm["queryType"]; qt == nil {
		d.Errorf(n, "%s: queryType is missing: Sloth reads promql", what)
	} else if v, ok := d.str(qt, what+".queryType"); ok && v != "promql" {
		d.Errorf(qt, "%s.queryType %q: Sloth reads promql queries only", what, v)
	}
	return d.query(mm, n, "query", what)
}

// fields checks that n is a mapping with no key twice, warns about keys
// not in known (Sloth ignores them) and returns the values by key. It
// returns nil after reporting when n is no mapping.
func (d *decoder) fields(n *yaml.Node, what string, known ...string) map[string]*yaml.Node {
	m := d.fieldsLoose(n, what)
	if m == nil {
		return nil
	}
	for k := range yamlnode.Pairs(n) {
		if !contains(known, k.Value) {
			if s := yamlnode.Suggest(k.Value, known); s != "" {
				d.Warnf(k, "unknown key %q in %s, ignored; did you mean %q?", k.Value, what, s)
			} else {
				d.Warnf(k, "unknown key %q in %s, ignored; known keys are %s", k.Value, what, strings.Join(known, ", "))
			}
		}
	}
	return m
}

// fieldsLoose is fields without the check of unknown keys, for parts of
// a format tend does not read (OpenSLO metadata).
func (d *decoder) fieldsLoose(n *yaml.Node, what string) map[string]*yaml.Node {
	if n == nil {
		return map[string]*yaml.Node{}
	}
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, "%s must be a mapping, not %s", what, yamlnode.Describe(n))
		return nil
	}
	m := map[string]*yaml.Node{}
	for k, v := range yamlnode.Pairs(n) {
		if _, dup := m[k.Value]; dup {
			d.Errorf(k, "%s: key %q is given twice", what, k.Value)
			continue
		}
		m[k.Value] = v
	}
	return m
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// name reads a required name key of m: a string Sloth accepts as a name.
func (d *decoder) name(m map[string]*yaml.Node, parent *yaml.Node, key, what string) string {
	if m == nil {
		return ""
	}
	n := m[key]
	if n == nil || yamlnode.IsNull(n) {
		d.Errorf(parent, "%s: %s is missing", what, key)
		return ""
	}
	v, ok := d.str(n, what+"."+key)
	if ok && !nameRE.MatchString(v) {
		d.Errorf(n, "%s.%s %q: a name starts and ends with a letter or digit and holds only letters, digits, '.', '_' and '-'", what, key, v)
	}
	return v
}

// str reads a scalar as a string; a number or boolean is read as its
// text, as Sloth's reader does. A missing node is "".
func (d *decoder) str(n *yaml.Node, what string) (string, bool) {
	if n == nil {
		return "", false
	}
	if n.Kind != yaml.ScalarNode || yamlnode.IsNull(n) {
		d.Errorf(n, "%s must be a string, not %s", what, yamlnode.Describe(n))
		return "", false
	}
	return n.Value, true
}

func (d *decoder) number(n *yaml.Node, what string) (float64, bool) {
	if n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!int" || n.ShortTag() == "!!float") {
		if v, err := strconv.ParseFloat(strings.TrimSpace(n.Value), 64); err == nil && !math.IsNaN(v) && !math.IsInf(v, 0) {
			return v, true
		}
	}
	d.Errorf(n, "%s must be a number, not %s", what, yamlnode.Describe(n))
	return 0, false
}

func (d *decoder) boolean(n *yaml.Node, what string) (bool, bool) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		return n.Value == "true" || n.Value == "True" || n.Value == "TRUE", true
	}
	d.Errorf(n, "%s must be true or false, not %s", what, yamlnode.Describe(n))
	return false, false
}

// labels reads a mapping of Prometheus label names to non-empty values.
func (d *decoder) labels(n *yaml.Node, what string) {
	d.stringMap(n, what, false)
	if n == nil || n.Kind != yaml.MappingNode {
		return
	}
	for k := range yamlnode.Pairs(n) {
		if k.Value == "__name__" || strings.HasPrefix(k.Value, "__") {
			d.Errorf(k, "%s: label %q is reserved for Prometheus itself", what, k.Value)
		}
	}
}

// stringMap reads a mapping of strings to non-empty string values.
func (d *decoder) stringMap(n *yaml.Node, what string, annotations bool) {
	if n == nil || yamlnode.IsNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, "%s must be a mapping, not %s", what, yamlnode.Describe(n))
		return
	}
	seen := map[string]bool{}
	for k, v := range yamlnode.Pairs(n) {
		if seen[k.Value] {
			d.Errorf(k, "%s: key %q is given twice", what, k.Value)
		}
		seen[k.Value] = true
		if k.Value == "" {
			d.Errorf(k, "%s: a name must not be empty", what)
		}
		if v.Kind != yaml.ScalarNode || yamlnode.IsNull(v) {
			d.Errorf(v, "%s.%s must be a string, not %s", what, k.Value, yamlnode.Describe(v))
		} else if v.Value == "" {
			d.Errorf(v, "%s.%s is empty: Sloth requires a value", what, k.Value)
		}
	}
}

// plugins checks an SLO plugin chain's shape and returns the plugin IDs it
// names. Which plugin IDs exist is known only to Sloth's generator, which
// says so when rules are made.
func (d *decoder) plugins(n *yaml.Node, what string) (ids []string) {
	if n == nil || yamlnode.IsNull(n) {
		return nil
	}
	m := d.fields(n, what, "overridePrevious", "chain")
	if m == nil {
		return nil
	}
	if ov := m["overridePrevious"]; ov != nil {
		d.boolean(ov, what+".overridePrevious")
	}
	chain := m["chain"]
	if chain == nil || yamlnode.IsNull(chain) {
		return nil
	}
	if chain.Kind != yaml.SequenceNode {
		d.Errorf(chain, "%s.chain must be a list, not %s", what, yamlnode.Describe(chain))
		return nil
	}
	for i, p := range chain.Content {
		p = yamlnode.Resolve(p)
		pw := fmt.Sprintf("%s.chain[%d]", what, i)
		pm := d.fields(p, pw, "id", "config", "priority")
		if pm == nil {
			continue
		}
		if id := pm["id"]; id == nil {
			d.Errorf(p, "%s: id is missing", pw)
		} else if v, ok := d.str(id, pw+".id"); ok {
			ids = append(ids, v)
		}
		if pr := pm["priority"]; pr != nil {
			if v, ok := d.number(pr, pw+".priority"); ok && v != math.Trunc(v) {
				d.Errorf(pr, "%s.priority must be a whole number, not %s", pw, pr.Value)
			}
		}
	}
	return ids
}

// at returns n, or parent when n is missing, for a message's position.
func at(n, parent *yaml.Node) *yaml.Node {
	if n != nil {
		return n
	}
	return parent
}

func describe(n *yaml.Node) string {
	if n == nil {
		return "missing"
	}
	return yamlnode.Describe(n)
}
