package spec

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tendhq/tend/internal/slo"
	"github.com/tendhq/tend/internal/yamlnode"
)

var (
	sloKeys        = []string{"spec_version", "filter", "comparison", "objectives", "total_score", "budget"}
	comparisonKeys = []string{"compare_with", "include_result_with_score", "number_of_comparison_results", "aggregate_function"}
	objectiveKeys  = []string{"sli", "displayName", "key_sli", "weight", "pass", "warning"}
	blockKeys      = []string{"criteria"}
	totalScoreKeys = []string{"pass", "warning"}
)

// sloSpecVersions are the spec_version values found in real SLO files. Keptn
// never read the field; tend reads all of them the same way.
var sloSpecVersions = []string{"1.0", "0.1.0", "0.1.1"}

// DecodeSLO decodes and validates an SLO file. It returns the SLO, or nil
// when the diagnostics hold an error, and every problem found.
func DecodeSLO(filename string, data []byte) (*slo.SLO, Diagnostics) {
	d := newDecoder(filename)
	out := d.slo(data)
	return result(d, out)
}

func (d *decoder) slo(data []byte) *slo.SLO {
	root := d.parse(data, KindSLO)
	if root == nil {
		return nil
	}
	if !d.isMapping(root, "an SLO file", "spec_version, comparison, objectives, total_score") {
		return nil
	}
	f := d.mapFields(root, "the SLO file", sloKeys, nil)
	out := &slo.SLO{Comparison: slo.DefaultComparison()}

	if e, ok := f["spec_version"]; !ok {
		d.Warnf(nil, "missing spec_version: add spec_version: \"1.0\" (Keptn ignored it; tend reads the file as 1.0)")
	} else if v, ok := d.str(e.val, "spec_version"); ok {
		out.SpecVersion = v
		if !slices.Contains(sloSpecVersions, v) {
			d.Warnf(e.val, "unknown spec_version %q: tend reads the file as spec_version \"1.0\" (known: %s)", v, strings.Join(sloSpecVersions, ", "))
		}
	}

	if e, ok := f["filter"]; ok && d.isMapping(e.val, "filter", "KEY: VALUE pairs used as $KEY placeholders") {
		out.Filter = make(map[string]string, len(e.val.Content)/2)
		ff := d.mapFields(e.val, "filter", nil, nil)
		for i := 0; i+1 < len(e.val.Content); i += 2 {
			k := e.val.Content[i].Value
			if v, ok := d.str(ff[k].val, "filter "+k); ok {
				out.Filter[k] = v
			}
		}
	}

	if e, ok := f["comparison"]; ok {
		d.comparison(e.val, &out.Comparison)
	}

	objectives, haveObjectives := f["objectives"]
	if haveObjectives {
		out.Objectives = d.objectives(objectives.val)
	}
	if e, ok := f["budget"]; ok {
		out.Budgets = d.budgets(e)
	}
	// Budget objectives alone make a usable file.
	if len(out.Budgets) == 0 && (!haveObjectives || yamlnode.IsNull(objectives.val) || (objectives.val.Kind == yaml.SequenceNode && len(objectives.val.Content) == 0)) {
		pos := (*yaml.Node)(nil)
		if haveObjectives {
			pos = objectives.key
		}
		d.Warnf(pos, "no objectives: tend fails an evaluation without objectives (Keptn passed it with score 100); add objectives: [{sli: NAME, pass: [{criteria: [\"<=800\"]}]}]")
	}

	// An objective counts as scored when it has pass criteria in the file,
	// even criteria that failed to decode: otherwise a file whose only
	// criteria are invalid would be told its missing threshold is harmless.
	scored := haveObjectives && hasPassCriteria(objectives.val)
	e, haveTotal := f["total_score"]
	d.totalScore(e, haveTotal, scored, &out.TotalScore)
	return out
}

func (d *decoder) comparison(n *yaml.Node, c *slo.Comparison) {
	if !d.isMapping(n, "comparison", "compare_with, include_result_with_score, number_of_comparison_results, aggregate_function") {
		return
	}
	f := d.mapFields(n, "comparison", comparisonKeys, nil)
	if e, ok := f["compare_with"]; ok {
		if v, ok := d.str(e.val, "comparison.compare_with"); ok && v != "" {
			if cw, ok := slo.ParseCompareWith(v); ok {
				c.CompareWith = cw
			} else {
				d.Errorf(e.val, "unknown compare_with %q: use single_result or several_results", v)
			}
		}
	}
	if e, ok := f["include_result_with_score"]; ok {
		if v, ok := d.str(e.val, "comparison.include_result_with_score"); ok && v != "" {
			if ir, ok := slo.ParseIncludeResults(v); ok {
				c.IncludeResults = ir
			} else {
				d.Errorf(e.val, "unknown include_result_with_score %q: use pass, pass_or_warn or all", v)
			}
		}
	}
	if e, ok := f["aggregate_function"]; ok {
		if v, ok := d.str(e.val, "comparison.aggregate_function"); ok && v != "" {
			if a, ok := slo.ParseAggregate(v); ok {
				c.Aggregate = a
			} else {
				msg := ""
				if s := yamlnode.Suggest(v, []string{"avg", "p50", "p90", "p95"}); s != "" {
					msg = fmt.Sprintf(" (did you mean %q?)", s)
				}
				d.Errorf(e.val, "unknown aggregate function %q%s: use avg, p50, p90 or p95", v, msg)
			}
		}
	}
	count, haveCount := f["number_of_comparison_results"]
	if haveCount && !yamlnode.IsNull(count.val) {
		if v, ok := d.integer(count.val, "comparison.number_of_comparison_results", "3"); ok {
			if v < 1 {
				d.Errorf(count.val, "number_of_comparison_results must be at least 1, not %d", v)
				haveCount = false
			} else {
				c.NumberOfResults = v
			}
		}
	} else {
		haveCount = false
	}
	switch {
	case c.CompareWith == slo.SingleResult:
		if haveCount && c.NumberOfResults != 1 {
			d.Warnf(count.val, "number_of_comparison_results: %d is ignored with compare_with: single_result, which compares with 1 result; use compare_with: several_results to compare with %d", c.NumberOfResults, c.NumberOfResults)
		}
		c.NumberOfResults = 1
	case !haveCount:
		c.NumberOfResults = 3
	}
}

// hasPassCriteria reports whether any objective in the objectives node has a
// non-empty pass entry, whether or not it decodes.
func hasPassCriteria(n *yaml.Node) bool {
	if n == nil || n.Kind != yaml.SequenceNode {
		return false
	}
	for _, item := range n.Content {
		if item.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i+1 < len(item.Content); i += 2 {
			v := item.Content[i+1]
			if item.Content[i].Value == "pass" && !yamlnode.IsNull(v) && !(v.Kind == yaml.SequenceNode && len(v.Content) == 0) {
				return true
			}
		}
	}
	return false
}

func (d *decoder) objectives(n *yaml.Node) []slo.Objective {
	items, ok := d.list(n, "objectives", "- sli: NAME with pass and warning criteria")
	if !ok {
		return nil
	}
	out := make([]slo.Objective, 0, len(items))
	first := map[string]int{}
	for _, item := range items {
		o, ok := d.objective(item)
		if !ok {
			continue
		}
		if line, dup := first[o.SLI]; dup {
			d.Warnf(item, "objective for SLI %q repeats the one at line %d: Keptn failed the second one, tend evaluates both on the same value; remove one or give each its own SLI", o.SLI, line)
		} else {
			first[o.SLI] = item.Line
		}
		out = append(out, o)
	}
	return out
}

func (d *decoder) objective(n *yaml.Node) (slo.Objective, bool) {
	var o slo.Objective
	if !d.listEntry(n, "each objective", "sli: NAME, pass: [{criteria: [...]}]", "empty objective: write - sli: NAME") {
		return o, false
	}
	fields, present := d.knownFields(n, "an objective", objectiveKeys)
	// field returns the entry of one of objectiveKeys.
	field := func(name string) (entry, bool) {
		i := slices.Index(objectiveKeys, name)
		return fields[i], present[i]
	}
	ok := true
	if e, has := field("sli"); !has || yamlnode.IsNull(e.val) {
		d.Errorf(n, "objective without sli: add sli: NAME (the indicator it evaluates)")
		ok = false
	} else if v, good := d.str(e.val, "sli"); !good || v == "" {
		if good {
			d.Errorf(e.val, "sli must name an indicator, not be empty")
		}
		ok = false
	} else {
		o.SLI = v
	}
	if e, has := field("displayName"); has {
		o.DisplayName, _ = d.str(e.val, "displayName")
	}
	if e, has := field("key_sli"); has {
		b, good := d.boolean(e.val, "key_sli")
		o.KeySLI = b
		ok = ok && good
	}
	o.Weight = 1
	if e, has := field("weight"); has && !yamlnode.IsNull(e.val) {
		w, good := d.number(e.val, "weight", "weight: 2")
		switch {
		case !good:
			ok = false
		case w < 0:
			d.Errorf(e.val, "weight must not be negative (use 0 for \"reported, not scored\"), not %s", e.val.Value)
			ok = false
		case w == 0:
			d.Warnf(e.val, "weight: 0 means \"reported, not scored\" in tend; Keptn read weight 0 as 1")
		}
		o.Weight = w
	}
	var passNodes, warnNodes [][]*yaml.Node
	var good bool
	if e, has := field("pass"); has {
		o.Pass, passNodes, good = d.blocks(e.val, "pass")
		ok = ok && good
	}
	if e, has := field("warning"); has {
		o.Warning, warnNodes, good = d.blocks(e.val, "warning")
		ok = ok && good
		if len(o.Pass) == 0 && len(o.Warning) > 0 && ok {
			d.Warnf(e.key, "warning criteria without pass criteria are ignored: the objective is informational; add pass criteria")
		}
	}
	if ok && o.KeySLI && o.Informational() {
		e, _ := field("key_sli")
		d.Warnf(e.key, "key_sli has no effect on an objective without pass criteria: it can never fail")
	}
	if ok {
		d.checkWarningBlocks(o, passNodes, warnNodes)
	}
	return o, ok
}

// blocks reads a pass or warning list: blocks OR-ed, criteria AND-ed. It also
// returns each criterion's node for positions.
// blockTexts are the names blocks gives its parts in diagnostics, made
// once rather than on every entry of every objective.
type blockTexts struct {
	each, empty, entry, criteria string
}

func newBlockTexts(what string) *blockTexts {
	return &blockTexts{
		each:     "each " + what + " entry",
		empty:    "empty " + what + " entry: write - criteria: [\"<=800\"]",
		entry:    "a " + what + " entry",
		criteria: what + " criteria",
	}
}

var blockTextsOf = map[string]*blockTexts{"pass": newBlockTexts("pass"), "warning": newBlockTexts("warning")}

func (d *decoder) blocks(n *yaml.Node, what string) ([]slo.Block, [][]*yaml.Node, bool) {
	items, ok := d.list(n, what, "- criteria: [\"<=800\"]")
	if !ok {
		return nil, nil, false
	}
	txt := blockTextsOf[what]
	if txt == nil {
		txt = newBlockTexts(what)
	}
	blocks := make([]slo.Block, 0, len(items))
	nodes := make([][]*yaml.Node, 0, len(items))
	for _, item := range items {
		if !d.listEntry(item, txt.each, "criteria: [\"<=800\", ...]", txt.empty) {
			ok = false
			continue
		}
		f, present := d.knownFields(item, txt.entry, blockKeys)
		e, has := f[0], present[0] // blockKeys is criteria alone
		if !has {
			d.Errorf(item, "%s entry without criteria: write - criteria: [\"<=800\"]", what)
			ok = false
			continue
		}
		crit, good := d.list(e.val, txt.criteria, "- \"<=800\"")
		if !good {
			ok = false
			continue
		}
		if len(crit) == 0 {
			d.Warnf(e.key, "empty %s criteria list is always met: list at least one criterion such as \"<=800\"", what)
		}
		b := make(slo.Block, 0, len(crit))
		bn := make([]*yaml.Node, 0, len(crit))
		for _, cn := range crit {
			c, good := d.criterion(cn)
			if !good {
				ok = false
				continue
			}
			b = append(b, c)
			bn = append(bn, cn)
		}
		blocks = append(blocks, b)
		nodes = append(nodes, bn)
	}
	return blocks, nodes, ok
}

var criterionHints = map[string]string{"=>": ">=", "=<": "<=", "==": "=", "!=": "", "<>": ""}

func (d *decoder) criterion(n *yaml.Node) (slo.Criterion, bool) {
	s, ok := d.str(n, "a criterion")
	if !ok {
		return slo.Criterion{}, false
	}
	c, err := slo.ParseCriterion(s)
	if err != nil {
		compact := strings.Join(strings.Fields(s), "")
		for bad, good := range criterionHints {
			if strings.HasPrefix(compact, bad) {
				if good != "" {
					d.Errorf(n, "invalid criterion %q: %q is not an operator (did you mean %q?); use <=, <, =, >=, or >", s, bad, good)
				} else {
					d.Errorf(n, "invalid criterion %q: %q is not an operator; use <=, <, =, >=, or > (Keptn has no 'not equal')", s, bad)
				}
				return slo.Criterion{}, false
			}
		}
		d.Errorf(n, "invalid %v", err)
		return slo.Criterion{}, false
	}
	if c.Percent {
		compact := strings.Join(strings.Fields(s), "")
		rest := compact[len(c.Op):]
		if !strings.HasPrefix(rest, "+") && !strings.HasPrefix(rest, "-") {
			d.Warnf(n, "criterion %q is relative: a '%%' without a sign means an increase over the baseline (%s+%s), not an absolute percentage; write %q to say so, or %q for an absolute value", s, c.Op, rest, string(c.Op)+"+"+rest, string(c.Op)+strings.TrimSuffix(rest, "%"))
		}
	}
	return c, true
}

// checkWarningBlocks warns about warning blocks that can never apply: a
// value is only given "warning" after it failed every pass block, so a
// warning block that repeats a pass block, or whose absolute criteria imply a
// pass block's, never decides anything.
func (d *decoder) checkWarningBlocks(o slo.Objective, passNodes, warnNodes [][]*yaml.Node) {
	for wi, w := range o.Warning {
		if len(w) == 0 || wi >= len(warnNodes) || len(warnNodes[wi]) == 0 {
			continue
		}
		pos := warnNodes[wi][0]
		for pi, p := range o.Pass {
			if len(p) == 0 || pi >= len(passNodes) || len(passNodes[pi]) == 0 {
				continue
			}
			if sameCriteria(w, p) {
				d.Warnf(pos, "warning criteria %s repeat the pass criteria at line %d: a value that meets them has already passed, so the warning can never apply; loosen the warning criteria (e.g. a higher limit)", rawList(w), passNodes[pi][0].Line)
				break
			}
			if blockImplies(w, p) {
				d.Warnf(pos, "warning criteria %s are stricter than the pass criteria %s at line %d: a value that meets them has already passed, so the warning can never apply; the warning limit should lie beyond the pass limit", rawList(w), rawList(p), passNodes[pi][0].Line)
				break
			}
		}
	}
}

func rawList(b slo.Block) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%q", c.Raw)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

type critKey struct {
	op                          slo.Operator
	amount                      float64
	relative, percent, decrease bool
}

func keyOf(c slo.Criterion) critKey {
	return critKey{c.Op, c.Amount, c.Relative, c.Percent, c.Decrease}
}

func sameCriteria(a, b slo.Block) bool {
	set := func(bl slo.Block) map[critKey]bool {
		m := map[critKey]bool{}
		for _, c := range bl {
			m[keyOf(c)] = true
		}
		return m
	}
	sa, sb := set(a), set(b)
	if len(sa) != len(sb) {
		return false
	}
	for k := range sa {
		if !sb[k] {
			return false
		}
	}
	return true
}

// blockImplies reports whether every value meeting the absolute criteria of w
// also meets all (absolute) criteria of p. Blocks with relative criteria are
// never compared: their targets depend on the baseline.
func blockImplies(w, p slo.Block) bool {
	for _, c := range w {
		if c.Relative {
			return false
		}
	}
	for _, pc := range p {
		if pc.Relative {
			return false
		}
		implied := false
		for _, wc := range w {
			if criterionImplies(wc, pc) {
				implied = true
				break
			}
		}
		if !implied {
			return false
		}
	}
	return true
}

func criterionImplies(w, p slo.Criterion) bool {
	upper := func(op slo.Operator) bool { return op == slo.OpLess || op == slo.OpLessEqual }
	lower := func(op slo.Operator) bool { return op == slo.OpGreater || op == slo.OpGreaterEqual }
	switch {
	case w.Op == slo.OpEqual:
		return p.Holds(w.Amount, p.Amount)
	case upper(w.Op) && upper(p.Op):
		return w.Amount < p.Amount || (w.Amount == p.Amount && (w.Op == slo.OpLess || p.Op == slo.OpLessEqual))
	case lower(w.Op) && lower(p.Op):
		return w.Amount > p.Amount || (w.Amount == p.Amount && (w.Op == slo.OpGreater || p.Op == slo.OpGreaterEqual))
	}
	return false
}

// totalScore reads total_score. A missing pass threshold is an error when an
// objective is scored: Keptn failed every such evaluation with "no target
// score defined". Without scored objectives Keptn never read the threshold
// (the maximum score was 0), so files such as keptn/examples' slo_empty.yaml
// worked and the gap is only a warning; Pass then stays 0, which no
// evaluation consults.
func (d *decoder) totalScore(e entry, present, scored bool, ts *slo.TotalScore) {
	missing := func(pos *yaml.Node) {
		if scored {
			d.Errorf(pos, "missing total_score.pass: add total_score: {pass: \"90%%\", warning: \"75%%\"} (Keptn failed every evaluation of this file with \"no target score defined\")")
		} else {
			d.Warnf(pos, "missing total_score.pass: harmless while no objective has pass criteria, but add total_score: {pass: \"90%%\", warning: \"75%%\"}")
		}
	}
	if !present || yamlnode.IsNull(e.val) {
		var pos *yaml.Node
		if present {
			pos = e.key
		}
		missing(pos)
		return
	}
	if !d.isMapping(e.val, "total_score", "pass: \"90%\", warning: \"75%\"") {
		return
	}
	f := d.mapFields(e.val, "total_score", totalScoreKeys, nil)
	p, ok := f["pass"]
	if !ok || yamlnode.IsNull(p.val) {
		pos := e.key
		if ok {
			pos = p.key
		}
		missing(pos)
	} else if v, good := d.score(p.val, "total_score.pass"); good {
		ts.Pass = v
	}
	if w, ok := f["warning"]; ok && !yamlnode.IsNull(w.val) {
		if v, good := d.score(w.val, "total_score.warning"); good {
			ts.Warning, ts.HasWarning = v, true
			if p, ok := f["pass"]; ok && !yamlnode.IsNull(p.val) && v >= ts.Pass && ts.Pass > 0 {
				d.Warnf(w.val, "total_score.warning (%s) is not below pass (%s): a score that reaches it also passes, so the warning result can never apply", w.val.Value, p.val.Value)
			}
		}
	}
}

func (d *decoder) score(n *yaml.Node, what string) (float64, bool) {
	s, ok := d.str(n, what)
	if !ok {
		return 0, false
	}
	v, err := slo.ParseScore(s)
	if err != nil {
		d.Errorf(n, "%s: %v", what, err)
		return 0, false
	}
	return v, true
}
