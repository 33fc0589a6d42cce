package spec

import (
	"math"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tendhq/tend/internal/slo"
	"github.com/tendhq/tend/internal/yamlnode"
)

var budgetKeys = []string{"slo", "displayName", "remainingAtLeast", "burnRateAtMost"}

// budgetExtensionWarning is the warning of the budget key: Keptn-compatible
// readers of the file must learn that Keptn would not gate on it.
const budgetExtensionWarning = "budget: tend extension, Keptn ignores it (tend fails the evaluation when a budget objective fails; docs/keptn.md, \"tend's extensions\")"

// budgets reads slo.yaml's "budget" list (docs/error-budgets.md).
func (d *decoder) budgets(e entry) []slo.BudgetObjective {
	d.Warnf(e.key, "%s", budgetExtensionWarning)
	items, ok := d.list(e.val, "budget", "- slo: NAME, remainingAtLeast: \"25%\", burnRateAtMost: 2")
	if !ok {
		return nil
	}
	var out []slo.BudgetObjective
	seen := map[string]int{}
	for _, item := range items {
		if !d.listEntry(item, "each budget objective", "slo: NAME, remainingAtLeast: \"25%\"", "empty budget objective: write - slo: NAME, remainingAtLeast: \"25%\"") {
			continue
		}
		f := d.mapFields(item, "a budget objective", budgetKeys, nil)
		var b slo.BudgetObjective
		good := true
		name, n, ok := d.requiredStr(item, f, "slo", "budget slo", "budget objective without slo: add slo: NAME (the Sloth SLO's name or id, as in its sloth_slo or sloth_id label)")
		switch {
		case !ok:
			good = false
		case strings.TrimSpace(name) == "":
			d.Errorf(n, "budget slo must name an SLO, not be empty")
			good = false
		case strings.ContainsAny(name, "\"\\{}\n"):
			d.Errorf(n, "budget slo %q holds characters no Sloth SLO name has (quotes, backslashes, braces, newlines)", name)
			good = false
		default:
			b.SLO = name
		}
		if e, has := f["displayName"]; has {
			b.DisplayName, _ = d.str(e.val, "budget displayName")
		}
		if e, has := f["remainingAtLeast"]; has && !yamlnode.IsNull(e.val) {
			v, ok := d.share(e.val)
			b.RemainingAtLeast, b.HasRemaining = v, ok
			good = good && ok
		}
		if e, has := f["burnRateAtMost"]; has && !yamlnode.IsNull(e.val) {
			v, ok := d.number(e.val, "burnRateAtMost", "burnRateAtMost: 2")
			if ok && (!(v > 0) || math.IsInf(v, 0)) {
				d.Errorf(e.val, "burnRateAtMost must be a positive factor such as 2 (2 burns the budget in half the period), not %s", e.val.Value)
				ok = false
			}
			b.BurnRateAtMost, b.HasBurnRate = v, ok
			good = good && ok
		}
		if good && !b.HasRemaining && !b.HasBurnRate {
			d.Errorf(item, "budget objective for %q has no limit: add remainingAtLeast: \"25%%\" or burnRateAtMost: 2", b.SLO)
			good = false
		}
		if !good {
			continue
		}
		if line, dup := seen[b.SLO]; dup {
			d.Warnf(item, "budget objective for %q repeats the one at line %d; both are checked", b.SLO, line)
		} else {
			seen[b.SLO] = item.Line
		}
		out = append(out, b)
	}
	return out
}

// share reads a share of the budget: "25%" or a ratio 0.25, between 0 and
// 100% inclusive.
func (d *decoder) share(n *yaml.Node) (float64, bool) {
	s, ok := d.str(n, "remainingAtLeast")
	if !ok {
		return 0, false
	}
	t := strings.TrimSpace(s)
	pct := strings.HasSuffix(t, "%")
	v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(t, "%")), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		d.Errorf(n, "remainingAtLeast must be a share of the budget such as \"25%%\" or 0.25, not %q", s)
		return 0, false
	}
	if pct {
		v /= 100
	} else if v > 1 {
		d.Errorf(n, "remainingAtLeast %s is above 1: write \"%s%%\" for a percentage, or a ratio between 0 and 1", s, s)
		return 0, false
	}
	if v < 0 || v > 1 {
		d.Errorf(n, "remainingAtLeast must lie between 0%% and 100%%, not %q", s)
		return 0, false
	}
	return v, true
}
