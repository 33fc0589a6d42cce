package slo

import (
	"math"
	"slices"
	"strconv"
)

// Messages of indicator values that had no usable value. They are constants
// so that tests, the UI and the CLI can recognise them.
const (
	// MessageNoValue is the value message of an objective whose SLI is not
	// among the values received, worded as Keptn worded it.
	MessageNoValue = "no value received from SLI provider"
	// MessageUnsuccessful replaces an empty provider message of an
	// unsuccessful value, so the reader always learns why the value is unusable.
	MessageUnsuccessful = "SLI provider reported no success"
)

// defaultSeveralResults is the number of earlier evaluations several_results
// compares with when the SLO does not say.
const defaultSeveralResults = 3

// Evaluate evaluates s against the SLI values of this evaluation and the
// earlier evaluations in previous, which must be ordered newest first, as
// docs/keptn.md, "SLO files and the evaluation" describes. It is pure and total: any input, including a
// nil SLO, yields an Evaluation whose numbers are finite, so it always
// serialises as JSON. TimeStart and TimeEnd are left for the caller.
//
// Where Keptn's rules leave room, Evaluate decides as follows.
//
//   - Baseline: an earlier evaluation is part of the baseline when its overall
//     result matches include_result_with_score and it is not invalidated; the
//     first N such evaluations are used (N is 1 for single_result, and 3 for
//     several_results without a count) and listed in ComparedEvents. Of each,
//     the first value of the objective's SLI counts when it was successful and
//     is a finite number.
//   - No baseline value: a relative criterion is satisfied; its target reports
//     TargetValue 0 and Violated false, and the indicator's ComparedValue is 0.
//     TargetValue 0 marks "nothing to compare with" (as Keptn reported); it is
//     not a threshold that was checked.
//   - Missing or unusable value: the objective fails and every target, absolute
//     or relative, reports Violated true (nothing was measured, so nothing
//     holds); targets still report the value they would have been checked
//     against. A successful value that is NaN or ±Inf is unusable: it is
//     reported with Success false, Value 0 and a message naming it, because a
//     missing number must never become a pass and JSON cannot carry it.
//   - Weight: a missing weight is 1 (the decoder's job); an explicit 0 means
//     "reported, not scored": the objective gets its status as usual, scores 0
//     and adds 0 to the maximum. A failing key SLI fails the evaluation even
//     with weight 0, since key_sli is a separate statement of the author. A
//     negative, NaN or infinite weight (which the decoder rejects) counts as 0.
//   - Maximum score 0 with at least one objective (all informational or all
//     weight 0): score 100, result pass unless a key SLI failed.
//   - An empty criteria block (which the decoder rejects) is never satisfied:
//     failing is safer than passing on no criterion.
//   - An empty displayName is reported as the SLI name.
//   - When values hold one SLI several times the first is used.
//   - Message: says why the result is what it is, e.g. "score 50% is below the
//     pass threshold 90% and reached the warning threshold 40%", "key SLI
//     response_time_p90 failed (score 100%)", "score 95% reached the pass
//     threshold 90%", followed by "; SLI values not used by any objective: a, b"
//     when the provider returned values no objective names.
func Evaluate(s *SLO, values []SLIResult, previous []Previous) Evaluation {
	ev := Evaluation{IndicatorResults: []IndicatorResult{}, ComparedEvents: []string{}}
	if s == nil || len(s.Objectives) == 0 {
		if s != nil && len(s.Budgets) > 0 {
			// Budget objectives alone: they decide.
			ev.Result, ev.Score = Pass, 100
			ev.Message = appendUnused(append([]byte(nil), "no Keptn objectives; the budget objectives decide"...), "", s, values)
			applyBudgets(&ev, s, values)
			return ev
		}
		ev.Result, ev.Score = Fail, 0
		ev.Message = appendUnused(nil, "the SLO has no objectives", s, values)
		return ev
	}

	// Select the baseline: indices into previous, kept on the stack for the
	// usual small N.
	var selBuf [16]int
	sel := selectBaseline(selBuf[:0], s.Comparison, previous)
	if len(sel) > 0 {
		ev.ComparedEvents = make([]string, len(sel))
		for i, p := range sel {
			ev.ComparedEvents[i] = previous[p].ID
		}
	}

	// One backing array for every target of every objective.
	n := 0
	for i := range s.Objectives {
		n += blocksLen(s.Objectives[i].Pass) + blocksLen(s.Objectives[i].Warning)
	}
	targets := make([]Target, n)
	ev.IndicatorResults = make([]IndicatorResult, len(s.Objectives))

	var scratch [16]float64
	var sum, maxScore float64
	keyFailed := false
	for i := range s.Objectives {
		o := &s.Objectives[i]
		ir := &ev.IndicatorResults[i]
		ir.DisplayName = o.DisplayName
		if ir.DisplayName == "" {
			ir.DisplayName = o.SLI
		}
		ir.KeySLI = o.KeySLI

		baseline, hasBaseline := aggregateBaseline(scratch[:0], o.SLI, s.Comparison.Aggregate, previous, sel)
		value, usable := currentValue(values, o.SLI)
		if hasBaseline {
			value.ComparedValue = baseline
		}
		ir.Value = value

		np, nw := blocksLen(o.Pass), blocksLen(o.Warning)
		ir.PassTargets = targets[:np:np]
		ir.WarningTargets = targets[np : np+nw : np+nw]
		targets = targets[np+nw:]
		passOK := checkBlocks(ir.PassTargets, o.Pass, value.Value, usable, baseline, hasBaseline)
		warnOK := checkBlocks(ir.WarningTargets, o.Warning, value.Value, usable, baseline, hasBaseline)

		if o.Informational() {
			ir.Status, ir.Score = StatusInfo, 0
			continue
		}
		w := o.Weight
		if !(w > 0) || math.IsInf(w, 1) {
			w = 0
		}
		maxScore += w
		switch {
		case usable && passOK:
			ir.Status, ir.Score = StatusPass, w
		case usable && warnOK:
			ir.Status, ir.Score = StatusWarning, w/2
		default:
			ir.Status, ir.Score = StatusFail, 0
			if o.KeySLI {
				keyFailed = true
			}
		}
		sum += ir.Score
	}

	ev.Score = totalScore(sum, maxScore)
	var msgBuf [160]byte
	msg := msgBuf[:0]
	switch {
	case keyFailed:
		ev.Result = Fail
		msg = keyFailureMessage(msg, ev.IndicatorResults, ev.Score)
	case maxScore == 0:
		ev.Result = Pass
		msg = append(msg, "no objective is scored (all are informational or have weight 0)"...)
	case ev.Score >= s.TotalScore.Pass:
		ev.Result = Pass
		msg = append(msg, "score "...)
		msg = appendPercent(msg, ev.Score)
		msg = append(msg, " reached the pass threshold "...)
		msg = appendPercent(msg, s.TotalScore.Pass)
	case s.TotalScore.HasWarning && ev.Score >= s.TotalScore.Warning:
		ev.Result = Warning
		msg = append(msg, "score "...)
		msg = appendPercent(msg, ev.Score)
		msg = append(msg, " is below the pass threshold "...)
		msg = appendPercent(msg, s.TotalScore.Pass)
		msg = append(msg, " and reached the warning threshold "...)
		msg = appendPercent(msg, s.TotalScore.Warning)
	default:
		ev.Result = Fail
		msg = append(msg, "score "...)
		msg = appendPercent(msg, ev.Score)
		if s.TotalScore.HasWarning {
			msg = append(msg, " is below the warning threshold "...)
			msg = appendPercent(msg, s.TotalScore.Warning)
		} else {
			msg = append(msg, " is below the pass threshold "...)
			msg = appendPercent(msg, s.TotalScore.Pass)
		}
	}
	ev.Message = appendUnused(msg, "", s, values)
	applyBudgets(&ev, s, values)
	return ev
}

// includes reports whether an earlier evaluation with overall result r may be
// part of the baseline. An unknown filter includes all, as a missing one does.
func includes(inc IncludeResults, r Result) bool {
	switch inc {
	case IncludePass:
		return r == Pass
	case IncludePassOrWarn:
		return r == Pass || r == Warning
	}
	return true
}

// comparisonCount is the number of earlier evaluations the baseline holds.
func comparisonCount(c Comparison) int {
	if c.CompareWith != SeveralResults {
		return 1
	}
	if c.NumberOfResults <= 0 {
		return defaultSeveralResults
	}
	return c.NumberOfResults
}

// selectBaseline appends to dst the indices of the earlier evaluations that
// form the baseline, newest first.
func selectBaseline(dst []int, c Comparison, previous []Previous) []int {
	want := comparisonCount(c)
	for i := range previous {
		if len(dst) == want {
			break
		}
		p := &previous[i]
		if p.Invalidated || !includes(c.IncludeResults, p.Result) {
			continue
		}
		dst = append(dst, i)
	}
	return dst
}

// aggregateBaseline folds the usable values of sli in the selected earlier
// evaluations with agg. ok is false when there is none. scratch is spare room
// for the percentile's sort.
func aggregateBaseline(scratch []float64, sli string, agg Aggregate, previous []Previous, sel []int) (v float64, ok bool) {
	vals := scratch
	for _, p := range sel {
		for j := range previous[p].Values {
			pv := &previous[p].Values[j]
			if pv.Metric != sli {
				continue
			}
			if pv.Success && finite(pv.Value) {
				vals = append(vals, pv.Value)
			}
			break
		}
	}
	if len(vals) == 0 {
		return 0, false
	}
	switch agg {
	case AggregateP50:
		v = percentile(vals, 0.50)
	case AggregateP90:
		v = percentile(vals, 0.90)
	case AggregateP95:
		v = percentile(vals, 0.95)
	default:
		v = mean(vals)
	}
	if !finite(v) {
		// Only a sum of huge values overflows; such a baseline compares as
		// none rather than as infinity.
		return 0, false
	}
	return v, true
}

// mean is the arithmetic mean of a non-empty vals.
func mean(vals []float64) float64 {
	var s float64
	for _, v := range vals {
		s += v
	}
	return s / float64(len(vals))
}

// percentile sorts vals in place and returns its p-th percentile (0 < p < 1)
// by the rule pos = p*(n+1): below 1 the smallest value, from n on the
// largest, otherwise interpolated between the floor(pos)-th value and the
// next, counting from 1.
func percentile(vals []float64, p float64) float64 {
	slices.Sort(vals)
	n := len(vals)
	pos := p * float64(n+1)
	switch {
	case pos < 1:
		return vals[0]
	case pos >= float64(n):
		return vals[n-1]
	}
	k := math.Floor(pos)
	lo := vals[int(k)-1]
	hi := vals[int(k)]
	return lo + (pos-k)*(hi-lo)
}

// currentValue finds the first value of sli and reports whether it can be
// compared. The returned SLIResult is what the indicator result shows.
func currentValue(values []SLIResult, sli string) (SLIResult, bool) {
	for i := range values {
		if values[i].Metric != sli {
			continue
		}
		v := values[i]
		v.Metric = sli
		v.ComparedValue = 0
		switch {
		case !finite(v.Value):
			what := strconv.FormatFloat(v.Value, 'g', -1, 64)
			if v.Success || v.Message == "" {
				v.Message = "SLI value " + what + " is not a finite number"
			}
			v.Value, v.Success = 0, false
			return v, false
		case !v.Success:
			if v.Message == "" {
				v.Message = MessageUnsuccessful
			}
			return v, false
		}
		return v, true
	}
	return SLIResult{Metric: sli, Message: MessageNoValue}, false
}

// checkBlocks fills dst with one target per criterion of blocks and reports
// whether any block holds entirely. Every criterion is checked, so each target
// says whether it was violated.
func checkBlocks(dst []Target, blocks []Block, value float64, usable bool, baseline float64, hasBaseline bool) bool {
	anyHolds := false
	k := 0
	for _, b := range blocks {
		all := len(b) > 0
		for i := range b {
			c := &b[i]
			t := &dst[k]
			k++
			t.Criteria = c.Raw
			if c.Relative && !hasBaseline {
				t.TargetValue = 0
				t.Violated = !usable
			} else {
				target := c.Target(baseline)
				t.TargetValue = clampFinite(target)
				t.Violated = !usable || !c.Holds(value, target)
			}
			if t.Violated {
				all = false
			}
		}
		if all {
			anyHolds = true
		}
	}
	return anyHolds
}

// blocksLen counts the criteria of blocks.
func blocksLen(blocks []Block) int {
	n := 0
	for _, b := range blocks {
		n += len(b)
	}
	return n
}

// totalScore is 100*sum/maxScore, kept finite and within [0, 100]. A maximum
// of 0 scores 100: nothing scored, nothing missed.
func totalScore(sum, maxScore float64) float64 {
	if maxScore == 0 {
		return 100
	}
	score := 100 * sum / maxScore
	if !finite(score) {
		// 100*sum overflowed; the ratio first cannot.
		score = sum / maxScore * 100
	}
	switch {
	case math.IsNaN(score):
		return 0
	case score > 100:
		return 100
	case score < 0:
		return 0
	}
	return score
}

// keyFailureMessage names the failed key SLIs.
func keyFailureMessage(msg []byte, irs []IndicatorResult, score float64) []byte {
	names := 0
	for i := range irs {
		if irs[i].KeySLI && irs[i].Status == StatusFail {
			names++
		}
	}
	if names == 1 {
		msg = append(msg, "key SLI "...)
	} else {
		msg = append(msg, "key SLIs "...)
	}
	first := true
	for i := range irs {
		if irs[i].KeySLI && irs[i].Status == StatusFail {
			if !first {
				msg = append(msg, ", "...)
			}
			first = false
			msg = append(msg, irs[i].Value.Metric...)
		}
	}
	msg = append(msg, " failed (score "...)
	msg = appendPercent(msg, score)
	return append(msg, ')')
}

// appendUnused appends head and then the names of values no objective uses.
func appendUnused(msg []byte, head string, s *SLO, values []SLIResult) string {
	msg = append(msg, head...)
	first := true
	for i := range values {
		name := values[i].Metric
		if usedBy(s, name) || seenBefore(values[:i], name) {
			continue
		}
		if first {
			if len(msg) > 0 {
				msg = append(msg, "; "...)
			}
			msg = append(msg, "SLI values not used by any objective: "...)
			first = false
		} else {
			msg = append(msg, ", "...)
		}
		msg = append(msg, name...)
	}
	return string(msg)
}

// usedBy reports whether an objective of s names sli.
func usedBy(s *SLO, sli string) bool {
	if s == nil {
		return false
	}
	for i := range s.Objectives {
		if s.Objectives[i].SLI == sli {
			return true
		}
	}
	if b, ok := ParseBudgetIndicator(sli); ok {
		for i := range s.Budgets {
			if s.Budgets[i].SLO == b.SLO {
				return true
			}
		}
	}
	return false
}

// seenBefore reports whether values already holds an SLI named name.
func seenBefore(values []SLIResult, name string) bool {
	for i := range values {
		if values[i].Metric == name {
			return true
		}
	}
	return false
}

// appendPercent appends v with a percent sign, in the shortest exact form.
func appendPercent(msg []byte, v float64) []byte {
	msg = strconv.AppendFloat(msg, v, 'f', -1, 64)
	return append(msg, '%')
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// clampFinite keeps a target that overflowed reportable in JSON.
func clampFinite(v float64) float64 {
	switch {
	case math.IsInf(v, 1):
		return math.MaxFloat64
	case math.IsInf(v, -1):
		return -math.MaxFloat64
	}
	return v
}
